"""Speed rows against the PyTorch peers, on whatever backend is present (CPU here, the GPU of a lent machine).

Peer and jaxgan run alternately as separate processes, `--pairs` pairs per row, median ratio (the protocol of
`../shared/bench/compare.py`). One JSON file holds every run; it is rewritten after each pair, so a run cut short
keeps its pairs. Each peer prints `img/s=`; jaxgan runs `scripts/benchmark.py --json` (start-up, compile and first-call
seconds of the K-step program, then steady state; rows measured before 2026-12-02 recorded as compile_sec the
first call including its compilation).

  python benchmarks/peer_speed.py --peer_python=/tmp/torchpeer/bin/python --bench_dir=../shared/bench \\
      --data=../shared/data/mnist/t10k-images-idx3-ubyte.gz --json=/tmp/speed.json [--rows=mlp64,dcgan28]

Rows: mlp64, mlp256, mlp64_bf16 (jaxgan bfloat16 compute vs the float32 peer), dcgan28, dcgan28_bf16,
dcgan28_256 (batch 256 on both sides); and the compiled peers of benchmarks/torch_peers.py,
<model><batch>_<mode>_<dtype> (mode eager | default | max-autotune, dtype float32 | bfloat16 autocast against
jaxgan's float32 | bfloat16 compute), e.g. --rows=mlp64_default_float32,dcgan28_64_max-autotune_bfloat16. `--mlp_steps` / `--conv_steps` set jaxgan's timed steps for the MLP and the
DCGAN rows (accelerators are fast enough that the CPU defaults, 300 and 100, are too short to time).
"""
import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time

import jax

import _protocol  # benchmarks/_protocol.py (this script's folder is first on sys.path)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# name -> (peer script, peer batch, jaxgan config, extra jaxgan flags)
ROWS = {
    "mlp64": ("seed_torch_mlp_gan.py", 64, "mlp_mnist.py", ["--config.batch_size=64"]),
    "mlp256": ("seed_torch_mlp_gan.py", 256, "mlp_mnist.py", ["--config.batch_size=256"]),
    "mlp64_bf16": ("seed_torch_mlp_gan.py", 64, "mlp_mnist.py", ["--config.batch_size=64",
                                                                  "--config.model.dtype=bfloat16"]),
    "dcgan28": ("torch_dcgan28.py", 64, "dcgan28.py", ["--config.batch_size=64"]),
    "dcgan28_bf16": ("torch_dcgan28.py", 64, "dcgan28.py", ["--config.batch_size=64",
                                                             "--config.model.dtype=bfloat16"]),
    "dcgan28_256": ("torch_dcgan28.py", 256, "dcgan28.py", ["--config.batch_size=256"]),
}
# The peers' models as a serious user runs them (benchmarks/torch_peers.py): eager, torch.compile default and
# max-autotune, float32 and bfloat16 autocast, against jaxgan at the same batch and compute dtype. Rows
# <model><batch>_<mode>_<dtype>, e.g. mlp256_max-autotune_bfloat16, dcgan28_64_default_float32.
for _model, _batch, _config in (("mlp", 64, "mlp_mnist.py"), ("mlp", 256, "mlp_mnist.py"), ("dcgan28", 64, "dcgan28.py")):
  for _mode in ("eager", "default", "max-autotune"):
    for _dtype in ("float32", "bfloat16"):
      ROWS[f"{_model}{'_' if _model == 'dcgan28' else ''}{_batch}_{_mode}_{_dtype}"] = (
          ("torch_peers.py", [f"--model={_model}", f"--mode={_mode}", f"--dtype={_dtype}"]), _batch, _config,
          [f"--config.batch_size={_batch}", f"--config.model.dtype={_dtype}"])


def _run(cmd, timeout):
  t0 = time.perf_counter()
  out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
  text = out.stdout + "\n" + out.stderr
  if out.returncode != 0:
    raise RuntimeError(f"exit {out.returncode}: {' '.join(cmd)}\n{text[-3000:]}")
  return text, time.perf_counter() - t0


def peer(args, script, batch):
  """A peer script of --bench_dir, or (torch_peers.py, its flags): the peers' models run by benchmarks/."""
  if isinstance(script, tuple):
    name, extra = script
    cmd = [os.path.join(ROOT, "benchmarks", name), args.data, str(batch), *extra, f"--bench_dir={args.bench_dir}"]
  else:
    cmd = [os.path.join(args.bench_dir, script), args.data, str(batch)]
  text, wall = _run([args.peer_python, *cmd], args.timeout)
  m = re.findall(r"img/s=([0-9.]+)", text)
  if not m:
    raise RuntimeError(f"no img/s in the peer's output:\n{text[-2000:]}")
  line = [l for l in text.splitlines() if "img/s=" in l][-1]
  return {"images_per_sec": float(m[-1]), "line": line.strip(), "wall_sec": wall}


def jaxgan(args, config, flags, steps):
  cmd = [sys.executable, os.path.join(ROOT, "scripts", "benchmark.py"),
         f"--config={os.path.join(ROOT, 'jaxgan', 'configs', config)}", "--json", f"--steps={steps}", *flags]
  text, wall = _run(cmd, args.timeout)
  for line in reversed(text.strip().splitlines()):
    if line.strip().startswith("{"):
      r = json.loads(line)
      r["wall_sec"] = wall
      return r
  raise RuntimeError(f"no JSON in jaxgan's output:\n{text[-2000:]}")


def _write(path, result):
  with open(path, "w") as f:
    json.dump(result, f, indent=1)


def machine():
  info = _protocol.machine(python=platform.python_version(),
                           jax_devices=[str(d.device_kind) for d in jax.devices()])
  try:
    info["nvidia_smi"] = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
                                         "--format=csv,noheader"], capture_output=True, text=True,
                                        timeout=30).stdout.strip()
  except (OSError, subprocess.SubprocessError):  # no GPU driver on this machine
    pass
  return info


def main():
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("--peer_python", required=True)
  ap.add_argument("--bench_dir", required=True, help="folder with seed_torch_mlp_gan.py and torch_dcgan28.py")
  ap.add_argument("--data", required=True, help="MNIST idx .gz or uint8 .npy for the peers")
  ap.add_argument("--json", required=True, help="output file (rewritten after every run)")
  ap.add_argument("--rows", default="mlp64,mlp256,mlp64_bf16,dcgan28")
  ap.add_argument("--pairs", type=int, default=3)
  ap.add_argument("--mlp_steps", type=int, default=300)
  ap.add_argument("--conv_steps", type=int, default=100)
  ap.add_argument("--timeout", type=int, default=600)
  args = ap.parse_args()
  rows = args.rows.split(",")
  unknown = [r for r in rows if r not in ROWS]
  if unknown:
    sys.exit(f"unknown rows {unknown}; choose from {sorted(ROWS)}")
  for flag in ("pairs", "mlp_steps", "conv_steps", "timeout"):
    if getattr(args, flag) < 1:
      sys.exit(f"--{flag} must be positive, got {getattr(args, flag)}")
  result = {"machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "pairs": args.pairs, "rows": {}}
  print(json.dumps(result["machine"]), flush=True)
  for name in rows:
    script, batch, config, flags = ROWS[name]
    steps = args.mlp_steps if config.startswith("mlp") else args.conv_steps
    row = result["rows"][name] = {"peer": [], "jaxgan": [], "command_flags": flags, "jaxgan_steps": steps}
    try:
      for i in range(args.pairs):
        row["peer"].append(peer(args, script, batch))
        row["jaxgan"].append(jaxgan(args, config, flags, steps))
        a, b = row["peer"][-1]["images_per_sec"], row["jaxgan"][-1]["images_per_sec"]
        print(f"{name} pair {i + 1}: peer {a:.0f} img/s  jaxgan {b:.0f} img/s "
              f"(compile {row['jaxgan'][-1]['compile_sec']:.1f}s, K={row['jaxgan'][-1]['steps_per_call']})",
              flush=True)
        _write(args.json, result)
      ma = statistics.median(r["images_per_sec"] for r in row["peer"])
      mb = statistics.median(r["images_per_sec"] for r in row["jaxgan"])
      row.update(peer_median=ma, jaxgan_median=mb, ratio=mb / ma,
                 compile_sec=statistics.median(r["compile_sec"] for r in row["jaxgan"]))
    except Exception as e:  # noqa: BLE001 - keep the other rows
      row["error"] = str(e)
      print(f"{name}: FAILED {e}", flush=True)
    _write(args.json, result)
  print("\nrow            peer img/s   jaxgan img/s   ratio   jaxgan compile")
  for name, row in result["rows"].items():
    if "ratio" in row:
      print(f"{name:<14} {row['peer_median']:>10.0f} {row['jaxgan_median']:>14.0f} {row['ratio']:>7.2f}x "
            f"{row['compile_sec']:>8.1f}s")
    else:
      print(f"{name:<14} failed: {row.get('error', '')[:200]}")


if __name__ == "__main__":
  main()

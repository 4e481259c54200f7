"""2-D mixture protocol (PacGAN): train N seeds of a preset, score 2,500 samples each, print mean ± s.e.

  python benchmarks/mixtures.py --config=jaxgan/configs/ring8.py --seeds=10
  python benchmarks/mixtures.py --config=jaxgan/configs/grid25.py --seeds=10 --set steps=4000 --set pack=1
  python benchmarks/mixtures.py --config=jaxgan/configs/grid25.py --seeds=10 --json=grid25.json

Samples come from the EMA generator when the preset keeps one. Metrics: modes captured, high-quality fraction,
reverse KL (jaxgan.metrics.mixtures). Per run it reports CPU time (process time of the whole process, all threads,
compilation included) and wall time, from the first train call to the last generated sample. `--json` writes the
command, the machine (CPU affinity, XLA_FLAGS, jax version), per-seed rows and the mean ± s.e. summary.
"""
import argparse
import ast
import importlib.util
import json
import os
import platform
import shlex
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # _protocol, also when loaded by file path

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.data.clusters import cluster_labels
from jaxgan.data.mixtures import sample_mixture
from jaxgan.gan import build_gan, init_state
from jaxgan.loop import make_train_fn
from jaxgan.metrics.mixtures import mixture_metrics
from jaxgan.parallel import make_mesh, replicate

import _protocol  # noqa: E402  (benchmarks/_protocol.py)

NUM_EVAL = 2_500


def load_config(path):
  spec = importlib.util.spec_from_file_location("preset", path)
  mod = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(mod)
  return mod.get_config()


def apply_overrides(config, sets):
  for s in sets:
    key, value = s.split("=", 1)
    try:
      value = ast.literal_eval(value)
    except (ValueError, SyntaxError):
      pass
    node = config
    *parents, leaf = key.split(".")
    for p in parents:
      node = node[p]
    with node.unlocked() if hasattr(node, "unlocked") else _null():
      node[leaf] = value
  return config


class _null:
  def __enter__(self):
    return self

  def __exit__(self, *a):
    return False


def mixture_name(config) -> str:
  name = str(config.data.name)
  return name.split(":", 1)[1] if name.startswith("mixture:") else name


def train_and_score(config, seed: int, devices=None):
  """Trains `config` with `seed`; returns (metrics dict, generated points, timings)."""
  config.seed = seed
  mesh = make_mesh(devices or jax.devices()[:1])
  gan = build_gan(config, "data")
  gan.check_batch(int(config.batch_size), mesh.size)
  name = mixture_name(config)
  data = sample_mixture(jax.random.key(10_000 + seed), int(config.data.get("num", 100_000)), name)
  t_cpu, t_wall = time.process_time(), time.perf_counter()  # clustering counts as training time
  clusters = int(config.data.get("clusters", 0) or 0)
  if clusters:  # a cluster-conditioned GAN: k-means labels for the points, sampling ∝ the cluster sizes
    labels, counts = cluster_labels(np.asarray(data), clusters, seed=seed)
    gan = gan.with_label_prior(counts)
    data = {"real": data, "labels": jnp.asarray(labels)}
  else:
    data = {"real": data}
  data = replicate(data, mesh)
  state = replicate(gan.init_state(seed), mesh)
  k = int(config.steps_per_call) or 500
  steps = int(config.steps)
  fns = {}
  done = 0
  while done < steps:
    kk = min(k, steps - done)
    if kk not in fns:
      fns[kk] = make_train_fn(gan, mesh, int(config.batch_size), kk)
    state, metrics = fns[kk](state, data)
    done += kk
  jax.block_until_ready(state)
  params = state.ema.get("g", state.params("g"))
  z = gan.sample_latents(jax.random.key(20_000 + seed), NUM_EVAL)
  labels = gan.sample_labels(NUM_EVAL, jax.random.key(30_000 + seed)) if gan.conditional else None
  points = np.asarray(jax.jit(gan.generate)(params, state.vars("g"), z, labels))
  timing = {"cpu_s": time.process_time() - t_cpu, "wall_s": time.perf_counter() - t_wall}
  if not np.all(np.isfinite(points)):
    return {"modes": 0, "high_quality_fraction": 0.0, "reverse_kl": None, "nonfinite": True}, points, timing
  return mixture_metrics(points, name), points, timing


def summarize(rows, key):
  vals = np.array([np.nan if r[key] is None else r[key] for r in rows], np.float64)
  se = vals.std(ddof=1) / np.sqrt(len(vals)) if len(vals) > 1 else float("nan")
  return float(np.nanmean(vals)) if not np.all(np.isnan(vals)) else float("nan"), float(se), vals


SUMMARY_KEYS = ("modes", "high_quality_fraction", "reverse_kl", "cpu_s", "wall_s")


def report(args, rows, command: str) -> dict:
  """What `--json` writes: enough to rebuild a results-table row and to rerun it."""
  affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
  summary = {}
  for key in SUMMARY_KEYS:
    mean, se, _ = summarize(rows, key)
    summary[key] = {"mean": mean, "se": None if np.isnan(se) else se}
  return {
      "command": command,
      "config": args.config, "overrides": list(args.set), "seeds": [r["seed"] for r in rows],
      "num_eval": NUM_EVAL, "summary": summary, "runs": rows,
      "machine": _protocol.machine(processor=platform.processor(), cpu_affinity=affinity,
                                   xla_flags=os.environ.get("XLA_FLAGS", "")),
  }


def main(argv=None):
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--config", required=True)
  ap.add_argument("--seeds", type=int, default=10)
  ap.add_argument("--first_seed", type=int, default=0)
  ap.add_argument("--set", action="append", default=[], help="key=value override, e.g. pack=4 or optim.g.lr=1e-3")
  ap.add_argument("--json", default="", help="write per-seed results here")
  args = ap.parse_args(argv)
  command = shlex.join(["python"] + (sys.argv if argv is None else ["benchmarks/mixtures.py"] + list(argv)))
  rows = []
  for seed in range(args.first_seed, args.first_seed + args.seeds):
    config = apply_overrides(load_config(args.config), args.set)
    m, _, t = train_and_score(config, seed)
    rows.append({**{k: m[k] for k in ("modes", "high_quality_fraction", "reverse_kl")}, **t, "seed": seed,
                 "mode_histogram": m.get("mode_histogram")})
    print(f"seed {seed}: modes {m['modes']}  hq {100 * m['high_quality_fraction']:.1f}%  "
          f"kl {m['reverse_kl'] if m['reverse_kl'] is None else round(m['reverse_kl'], 4)}  "
          f"cpu {t['cpu_s']:.1f}s wall {t['wall_s']:.1f}s", flush=True)
  print(f"{args.config} {' '.join(args.set)}: {len(rows)} seeds")
  for key, scale, label in (("modes", 1, "modes"), ("high_quality_fraction", 100, "high quality %"),
                            ("reverse_kl", 1, "reverse KL"), ("cpu_s", 1, "CPU s/run"), ("wall_s", 1, "wall s/run")):
    mean, se, _ = summarize(rows, key)
    print(f"  {label:>15}: {scale * mean:.4g} ± {scale * se:.2g}")
  if args.json:
    with open(args.json, "w") as f:
      json.dump(report(args, rows, command), f, indent=1)
  return rows


if __name__ == "__main__":
  main()

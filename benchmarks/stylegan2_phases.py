"""Where a StyleGAN2-ADA step's time goes: each phase (Gmain, Greg, Dmain, Dreg) and the bare forward passes,
timed alone, on jaxgan's side or on NVIDIA's, at the same configuration.

  python benchmarks/stylegan2_phases.py [--config=jaxgan/configs/stylegan2_bench32.py] [--reps=10] [--json]
  <torch venv>/bin/python benchmarks/stylegan2_phases.py --nvidia=../shared/bench/stylegan2_ada_pytorch \\
      --res=32 --channels=3 --cbase=4096 --cmax=256 --batch=16 [--threads=1] [--json]

jaxgan: one jitted program per phase, the phase's update exactly as the trainer's step runs it (`step.run_phase`
with the phase known to run: its forward, terms, gradients, Adam update and after-functions), on one device, the
same state in every call (not donated); plus G's forward (mapping + synthesis, no gradients) and D's forward on a
real batch. NVIDIA: the driver's step cut into the same pieces (`StyleGAN2Loss.accumulate_gradients` of one
phase, `nan_to_num`, the Adam step) in torch eager, plus `G(z)` and `D(x)` under `no_grad`. Each piece: `--reps`
timed calls after two warm-up calls, median milliseconds. A step's cost is Gmain + Dmain every step, Greg every
4th and Dreg every 16th (`amortised_ms`), plus the EMA update (not timed: it is small on both sides).

Run the two sides alternately on one pinned core (taskset) with one thread each (jaxgan: XLA_FLAGS
"--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"; NVIDIA: --threads=1). Only NVIDIA's side
needs torch; this file imports jaxgan only on jaxgan's side.
"""
import argparse
import importlib.util
import json
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INTERVALS = {"Gmain": 1, "Greg": 4, "Dmain": 1, "Dreg": 16}


def _median_ms(fn, reps: int) -> float:
  fn()
  fn()
  times = []
  for _ in range(reps):
    t0 = time.perf_counter()
    fn()
    times.append((time.perf_counter() - t0) * 1000)
  return statistics.median(times)


def _summary(side: str, pieces: dict, extra: dict) -> dict:
  amortised = sum(pieces[p] / INTERVALS[p] for p in INTERVALS if p in pieces)
  return {"side": side, "ms": {k: round(v, 2) for k, v in pieces.items()}, "amortised_ms": round(amortised, 2),
          **extra}


def jaxgan_side(args) -> dict:
  sys.path.insert(0, ROOT)
  import jax

  from jaxgan import objective as objective_lib
  from jaxgan import step as step_lib
  from jaxgan.trainer import validate

  spec = importlib.util.spec_from_file_location("preset", os.path.join(ROOT, args.config))
  preset = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(preset)
  config = preset.get_config()
  if args.batch:
    config.batch_size = args.batch
  validate(config)
  obj = objective_lib.build(config)
  b = int(config.batch_size)
  state = obj.init_state(int(config.seed))
  h, w, c = obj.image_shape
  real = jax.random.uniform(jax.random.PRNGKey(1), (b, h, w, c), minval=-1.0, maxval=1.0)
  batch = {"real": real}
  pieces, compile_s = {}, {}
  names = {p.name: p for p in obj.phases}
  for label in INTERVALS:
    phase = names.get(label)
    if phase is None:
      continue

    def update(s, bt, key, phase=phase):
      return step_lib.run_phase(obj, phase, s, bt, key, s.step, known=True)

    fn = jax.jit(update)
    key = jax.random.PRNGKey(2)
    t0 = time.perf_counter()
    compiled = fn.lower(state, batch, key).compile()
    compile_s[label] = round(time.perf_counter() - t0, 1)
    pieces[label] = _median_ms(lambda: jax.block_until_ready(compiled(state, batch, key)), args.reps)
  gen = jax.jit(lambda s, z: obj.generate(s.players["g"].params, s.players["g"].vars, z))
  z = jax.random.normal(jax.random.PRNGKey(3), (b, obj.latent_dim))
  pieces["G_forward"] = _median_ms(lambda: jax.block_until_ready(gen(state, z)), args.reps)
  disc = jax.jit(lambda s, x: obj.d_apply({"params": s.players["d"].params, **s.players["d"].vars}, x))
  pieces["D_forward"] = _median_ms(lambda: jax.block_until_ready(disc(state, real)), args.reps)
  return _summary("jaxgan", pieces, {"compile_s": compile_s, "batch": b, "jax": jax.__version__,
                                     "config": args.config, "xla_flags": os.environ.get("XLA_FLAGS", "")})


def nvidia_side(args) -> dict:
  sys.path.insert(0, os.path.abspath(args.nvidia))
  sys.path.insert(0, os.path.join(ROOT, "scripts"))
  from _nvidia_stubs import stub_unused_imports
  stub_unused_imports()
  import torch
  from torch_utils import misc
  from training import loss as loss_lib, networks

  if args.threads:
    torch.set_num_threads(args.threads)
  torch.manual_seed(0)
  gamma = 0.0002 * args.res ** 2 / args.batch
  common = dict(channel_base=args.cbase, channel_max=args.cmax, num_fp16_res=0, conv_clamp=None)
  G = networks.Generator(z_dim=args.z_dim, c_dim=0, w_dim=args.w_dim, img_resolution=args.res,
                         img_channels=args.channels, mapping_kwargs=dict(num_layers=2),
                         synthesis_kwargs=common).train().requires_grad_(False)
  D = networks.Discriminator(c_dim=0, img_resolution=args.res, img_channels=args.channels,
                             epilogue_kwargs=dict(mbstd_group_size=4), **common).train().requires_grad_(False)
  loss = loss_lib.StyleGAN2Loss(device=torch.device("cpu"), G_mapping=G.mapping, G_synthesis=G.synthesis, D=D,
                                augment_pipe=None, style_mixing_prob=0.9, r1_gamma=gamma, pl_weight=2.0)
  opts = {}
  for name, module, interval in (("G", G, 4), ("D", D, 16)):
    r = interval / (interval + 1)
    opts[name] = torch.optim.Adam(module.parameters(), lr=0.0025 * r, betas=[0 ** r, 0.99 ** r], eps=1e-8)
  real = torch.rand([args.batch, args.channels, args.res, args.res]) * 2 - 1
  c0 = torch.zeros([args.batch, 0])
  z = torch.randn([args.batch, args.z_dim])

  def phase(label):
    module, opt = (G, opts["G"]) if label[0] == "G" else (D, opts["D"])

    def run():
      opt.zero_grad(set_to_none=True)
      module.requires_grad_(True)
      loss.accumulate_gradients(phase=label, real_img=real, real_c=c0, gen_z=z, gen_c=c0, sync=True,
                                gain=INTERVALS[label])
      module.requires_grad_(False)
      for p in module.parameters():
        if p.grad is not None:
          misc.nan_to_num(p.grad, nan=0, posinf=1e5, neginf=-1e5, out=p.grad)
      opt.step()
    return run

  pieces = {label: _median_ms(phase(label), args.reps) for label in INTERVALS}
  with torch.no_grad():
    pieces["G_forward"] = _median_ms(lambda: G(z, c0), args.reps)
    pieces["D_forward"] = _median_ms(lambda: D(real, c0), args.reps)
  return _summary("nvidia", pieces, {"batch": args.batch, "torch": torch.__version__,
                                     "threads": torch.get_num_threads()})


def main():
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--config", default="jaxgan/configs/stylegan2_bench32.py", help="jaxgan's side: a preset file")
  p.add_argument("--nvidia", default="", help="NVIDIA's side: the folder with dnnlib/, torch_utils/, training/")
  p.add_argument("--res", type=int, default=32)
  p.add_argument("--channels", type=int, default=3)
  p.add_argument("--cbase", type=int, default=4096)
  p.add_argument("--cmax", type=int, default=256)
  p.add_argument("--z_dim", type=int, default=512)
  p.add_argument("--w_dim", type=int, default=512)
  p.add_argument("--batch", type=int, default=0, help="batch (jaxgan: default the preset's; NVIDIA: 16)")
  p.add_argument("--threads", type=int, default=1, help="NVIDIA's side: torch threads")
  p.add_argument("--reps", type=int, default=10)
  p.add_argument("--json", action="store_true")
  a = p.parse_args()
  if a.reps < 1:
    p.error(f"--reps must be >= 1, got {a.reps}")
  if a.nvidia:
    if not os.path.isdir(os.path.join(a.nvidia, "training")):
      p.error(f"--nvidia={a.nvidia}: no training/ folder there (NVIDIA's stylegan2-ada-pytorch files)")
    a.batch = a.batch or 16
    r = nvidia_side(a)
  else:
    r = jaxgan_side(a)
  if a.json:
    print(json.dumps(r), flush=True)
  else:
    for k, v in r["ms"].items():
      print(f"{r['side']:7s} {k:10s} {v:9.2f} ms")
    print(f"{r['side']:7s} amortised step (Gmain + Dmain + Greg/4 + Dreg/16): {r['amortised_ms']:.2f} ms")


if __name__ == "__main__":
  main()

"""The PyTorch peers as a serious user would run them: eager, `torch.compile` (default or "max-autotune"), in
float32 or under bfloat16 autocast. Runs in the peers' own venv (torch), not jaxgan's.

  /tmp/torchpeer/bin/python benchmarks/torch_peers.py DATA BATCH --model=dcgan28 --mode=max-autotune \\
      --dtype=bfloat16 [--bench_dir=../shared/bench] [--steps=150 --warmup=20]

The models are the peers' own classes, imported from `--bench_dir` (seed_torch_mlp_gan.py's Generator and
Discriminator, torch_dcgan28.py's G and D), with their optimizers (Adam 2e-4, β = (0.5, 0.999)) and losses (the
MLP peer's log of D's sigmoid output, the DCGAN peer's softplus on logits). Unlike the MLP peer's DataLoader, every
model samples its real batch on the device, as the DCGAN peer and jaxgan do, so only the step is timed.
Compiled modes compile G and D (as torch_dcgan28.py's `compile` argument does); the warm-up steps absorb the
compilation. Prints one line with `img/s=`, as the peers do (benchmarks/peer_speed.py reads it).
"""
import argparse
import importlib.util
import os
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))


def _module(bench_dir, name):
  spec = importlib.util.spec_from_file_location(name, os.path.join(bench_dir, name + ".py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def _sync(dev):
  if dev.type == "cuda":
    torch.cuda.synchronize()


def main():
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("data")
  ap.add_argument("batch", type=int)
  ap.add_argument("--model", choices=("mlp", "dcgan28"), required=True)
  ap.add_argument("--mode", choices=("eager", "default", "max-autotune"), default="eager")
  ap.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
  ap.add_argument("--bench_dir", default=os.path.join(HERE, "..", "..", "shared", "bench"))
  ap.add_argument("--steps", type=int, default=150)
  ap.add_argument("--warmup", type=int, default=20)
  args = ap.parse_args()
  if args.batch < 1 or args.steps < 1 or args.warmup < 1:
    ap.error("batch, --steps and --warmup must be positive")
  torch.manual_seed(0)
  dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
  if args.model == "mlp":
    peer = _module(args.bench_dir, "seed_torch_mlp_gan")
    g, d, z_dim = peer.Generator(100).to(dev), peer.Discriminator().to(dev), 100
    d_loss = lambda r, f: -torch.mean(torch.log(d(r)) + torch.log(1 - d(f)))
    g_loss = lambda f: -torch.mean(torch.log(d(f)))
  else:
    peer = _module(args.bench_dir, "torch_dcgan28")
    g, d, z_dim = peer.G().to(dev), peer.D().to(dev), 64
    d_loss = lambda r, f: F.softplus(-d(r)).mean() + F.softplus(d(f)).mean()
    g_loss = lambda f: F.softplus(-d(f)).mean()
  x = torch.from_numpy(peer.load_digits(args.data)).float().div(127.5).sub(1).unsqueeze(1).to(dev)
  og = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.999))
  od = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999))
  if args.mode != "eager":
    kw = {} if args.mode == "default" else {"mode": args.mode}
    g, d = torch.compile(g, **kw), torch.compile(d, **kw)
  autocast = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=args.dtype == "bfloat16")
  t0 = compile_s = None
  start = time.perf_counter()
  for i in range(args.steps + args.warmup):
    if i == 1:
      _sync(dev)
      compile_s = time.perf_counter() - start  # the first step: compilation (compiled modes) and warm-up
    if i == args.warmup:
      _sync(dev)
      t0 = time.perf_counter()
    real = x[torch.randint(0, len(x), (args.batch,), device=dev)]
    with autocast:
      fake = g(torch.randn(args.batch, z_dim, device=dev))
      dl = d_loss(real, fake.detach())
    od.zero_grad()
    dl.backward()
    od.step()
    with autocast:
      gl = g_loss(g(torch.randn(args.batch, z_dim, device=dev)))
    og.zero_grad()
    gl.backward()
    og.step()
  _sync(dev)
  dt = time.perf_counter() - t0
  print(f"torch {torch.__version__} {dev} {args.model} {args.mode} {args.dtype} batch={args.batch} "
        f"first_step={compile_s:.1f}s steps/s={args.steps / dt:.1f} img/s={args.steps * args.batch / dt:.0f} "
        f"d_loss={dl.item():.3f} g_loss={gl.item():.3f}")


if __name__ == "__main__":
  main()

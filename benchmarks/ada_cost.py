"""Cost of ADA's augmentation pipeline on this machine: jaxgan's (default) or NVIDIA's AugmentPipe (--nvidia=DIR,
run with the torch venv). Forward, and forward+backward to the images (the G step's path), at a fixed p.

  nice -n 10 python benchmarks/ada_cost.py --batch=16 --res=32 --channels=3 --pipe=bgc --p=0.2
  nice -n 10 /work/torchvenv/bin/python benchmarks/ada_cost.py --nvidia=../shared/bench/stylegan2_ada_pytorch ...

Prints one line per measurement: median and minimum wall time and median process CPU time over --reps calls
(CPU time is the steadier figure on a shared machine), and for jaxgan the first call (trace + compile).
"""
import argparse
import os
import sys
import time

import numpy as np

PIPES = {"blit": dict(xflip=1, rotate90=1, xint=1), "geom": dict(scale=1, rotate=1, aniso=1, xfrac=1),
         "color": dict(brightness=1, contrast=1, lumaflip=1, hue=1, saturation=1)}
PIPES["bg"] = {**PIPES["blit"], **PIPES["geom"]}
PIPES["bgc"] = {**PIPES["bg"], **PIPES["color"]}


def report(name, fn, reps):
  wall, cpu = [], []
  for _ in range(reps):
    t, c = time.perf_counter(), time.process_time()
    fn()
    wall.append(time.perf_counter() - t)
    cpu.append(time.process_time() - c)
  print(f"{name:28s} wall median {np.median(wall) * 1e3:7.1f} ms  min {np.min(wall) * 1e3:7.1f} ms  "
        f"cpu median {np.median(cpu) * 1e3:7.1f} ms", flush=True)


def run_jaxgan(a, x_np):
  import jax
  import jax.numpy as jnp

  from jaxgan import ada
  x = jnp.asarray(x_np)
  p = jnp.float32(a.p)
  fwd = jax.jit(lambda x, k, p: ada.augment(x, k, p, a.pipe))
  fb = jax.jit(jax.value_and_grad(lambda x, k, p: jnp.sum(ada.augment(x, k, p, a.pipe) * x)))
  for name, f in (("jaxgan fwd", fwd), ("jaxgan fwd+bwd", fb)):
    t = time.perf_counter()
    jax.block_until_ready(f(x, jax.random.key(0), p))
    print(f"{name:28s} first call {time.perf_counter() - t:.1f} s")
    keys = iter(range(1, 10 ** 6))
    report(name, lambda: jax.block_until_ready(f(x, jax.random.key(next(keys)), p)), a.reps)


def run_nvidia(a, x_np):
  sys.path.insert(0, os.path.abspath(a.nvidia))
  sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))
  from _nvidia_stubs import stub_unused_imports
  stub_unused_imports()
  import warnings
  warnings.filterwarnings("ignore")
  import torch
  from training import augment
  if a.threads:
    torch.set_num_threads(a.threads)
  pipe = augment.AugmentPipe(**PIPES[a.pipe])
  pipe.p.copy_(torch.as_tensor(a.p))
  x = torch.from_numpy(np.ascontiguousarray(x_np.transpose(0, 3, 1, 2)))

  def fb():
    xi = x.clone().requires_grad_(True)
    (pipe(xi) * xi).sum().backward()

  with torch.no_grad():
    pipe(x)
  report(f"nvidia fwd (torch {torch.__version__})", lambda: pipe(x), a.reps)
  fb()
  report("nvidia fwd+bwd", fb, a.reps)


def main():
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("--batch", type=int, default=16)
  ap.add_argument("--res", type=int, default=32)
  ap.add_argument("--channels", type=int, default=3)
  ap.add_argument("--pipe", default="bgc", choices=sorted(PIPES))
  ap.add_argument("--p", type=float, default=0.2)
  ap.add_argument("--reps", type=int, default=15)
  ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
  ap.add_argument("--nvidia", default=None, help="NVIDIA's stylegan2-ada-pytorch files: time its AugmentPipe")
  a = ap.parse_args()
  x = np.random.default_rng(0).uniform(-1, 1, (a.batch, a.res, a.res, a.channels)).astype(np.float32)
  print(f"batch {a.batch}, {a.res}x{a.res}x{a.channels}, pipe {a.pipe}, p {a.p}")
  if a.nvidia:
    run_nvidia(a, x)
  else:
    run_jaxgan(a, x)


if __name__ == "__main__":
  main()

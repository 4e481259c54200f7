"""Times the upfirdn2d formulations (jaxgan/models/upfirdn.py) at StyleGAN2's shapes, forward + backward.

  nice -n 10 python benchmarks/upfirdn_bench.py [--reps=20] [--batch=16]

Each case is jit(value_and_grad(sum(upfirdn2d(x) · r))) with x and r arguments on one [B, H, W, C] input with NVIDIA's [1,3,3,1] filter; prints
the median ms per call of each method and the fastest.
"""
import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.models import upfirdn as U

F = U.setup_filter([1, 3, 3, 1])


def cases(b):
  # name, input shape, kwargs for upfirdn2d
  return [
      ("G up-conv FIR (33→32, C256)", (b, 33, 33, 256), dict(padding=1, gain=4)),
      ("G up-conv FIR (33→32, C128)", (b, 33, 33, 128), dict(padding=1, gain=4)),
      ("G img upsample2d (16→32, C3)", (b, 16, 16, 3), dict(up=2, padding=(2, 1, 2, 1), gain=4)),
      ("upsample2d (16→32, C256)", (b, 16, 16, 256), dict(up=2, padding=(2, 1, 2, 1), gain=4)),
      ("D down-conv prefilter (32→33, C256)", (b, 32, 32, 256), dict(padding=2)),
      ("D skip downsample2d (32→16, C256)", (b, 32, 32, 256), dict(down=2, padding=1)),
      ("D skip downsample2d (32→16, C3)", (b, 32, 32, 3), dict(down=2, padding=1)),
  ]


def time_fn(fn, x, r, reps):
  jax.block_until_ready(fn(x, r))
  ts = []
  for _ in range(reps):
    t = time.perf_counter()
    jax.block_until_ready(fn(x, r))
    ts.append(time.perf_counter() - t)
  return 1e3 * float(np.median(ts))


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--reps", type=int, default=20)
  p.add_argument("--batch", type=int, default=16)
  p.add_argument("--methods", default=",".join(U.METHODS), help="comma-separated subset of " + ",".join(U.METHODS))
  a = p.parse_args()
  methods = a.methods.split(",")
  print(f"jax {jax.__version__} backend {jax.default_backend()}; fwd+bwd ms (median of {a.reps})")
  print("| case | " + " | ".join(methods) + " | best |")
  print("|---|" + "---|" * (len(methods) + 1))
  for name, shape, kw in cases(a.batch):
    x = jnp.asarray(np.random.default_rng(0).normal(size=shape), jnp.float32)
    row = {}
    for m in methods:
      out_shape = jax.eval_shape(lambda v: U.upfirdn2d(v, F, method=m, **kw), x).shape
      r = jnp.asarray(np.random.default_rng(1).normal(size=out_shape), jnp.float32)
      # value and gradient, both from traced inputs (a constant cotangent would be constant-folded)
      fn = jax.jit(jax.value_and_grad(lambda v, r, m=m: jnp.sum(U.upfirdn2d(v, F, method=m, **kw) * r)))
      row[m] = time_fn(fn, x, r, a.reps)
    best = min(row, key=row.get)
    print(f"| {name} | " + " | ".join(f"{row[m]:.2f}" for m in methods) + f" | {best} |", flush=True)


if __name__ == "__main__":
  main()

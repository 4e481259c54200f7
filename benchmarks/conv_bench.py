"""DCGAN-28 speed on XLA:CPU: conv formulations, the full train step, and scan/unroll choices.

  python benchmarks/conv_bench.py                       # full train step, prints `img/s=<n>` (compare.py-ready)
  python benchmarks/conv_bench.py --up=lax              # ... with flax/lax's own transposed conv (the slow path)
  python benchmarks/conv_bench.py --mode=layers         # fwd+bwd ms of every formulation, interleaved rounds
  python benchmarks/conv_bench.py --mode=family       # the `dcgan` family's transposed convs (the auto rule)
  python benchmarks/conv_bench.py --mode=wgrad --batch=32  # 3x3 convs: XLA's weight gradient vs per-tap matmuls
  python benchmarks/conv_bench.py --mode=scan --k=4,8   # K steps: K jitted calls vs lax.scan rolled vs unroll=K
  /tmp/torchpeer/bin/python benchmarks/conv_bench.py --mode=torch_layers   # the same layers in PyTorch eager

Side by side with the PyTorch peer (same model, same step):
  ../shared/bench/compare.py --a "/tmp/torchpeer/bin/python ../shared/bench/torch_dcgan28.py" \\
                             --b "python benchmarks/conv_bench.py"

The step mirrors torch_dcgan28.py: fake = G(z1); D loss softplus(-D(real)) + softplus(D(fake)) with D applied to
the real and the fake batch separately (separate BatchNorm batches, as in the peer); Adam(2e-4, 0.5, 0.999) D
update; then G loss softplus(-D(G(z2))) and the G update — all in one jax.jit, state donated.
"""
import argparse
import gzip
import os
import statistics
import sys
import time

_MNIST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data", "mnist",
                      "t10k-images-idx3-ubyte.gz")


def _load_digits(path: str):
  import numpy as np
  if path and os.path.exists(path):
    return np.frombuffer(gzip.open(path).read(), np.uint8)[16:].reshape(-1, 28, 28, 1).copy()
  from jaxgan.data.embedded import load_mnist_5k
  return load_mnist_5k()[0]


# ----------------------------------------------------------------------------------------------- train step
def make_train_step(g, d, batch: int, latent_dim: int, data_Nx28x28x1, lr=2e-4, b1=0.5):
  """Returns (init_state(key), step(state) -> (state, (d_loss, g_loss)))."""
  import jax
  import jax.numpy as jnp
  import optax
  softplus = jax.nn.softplus
  tx = optax.adam(lr, b1=b1, b2=0.999)
  data = jnp.asarray(data_Nx28x28x1)

  def init_state(key):
    kg, kd, key = jax.random.split(key, 3)
    gv = g.init(kg, jnp.zeros((2, latent_dim)), train=True)
    dv = d.init(kd, jnp.zeros((2,) + data.shape[1:]), train=True)
    return dict(g=gv["params"], gs=gv["batch_stats"], d=dv["params"], ds=dv["batch_stats"],
                go=tx.init(gv["params"]), do=tx.init(dv["params"]), key=key)

  def step(s, _=None):
    key, kr, k1, k2 = jax.random.split(s["key"], 4)
    idx = jax.random.randint(kr, (batch,), 0, data.shape[0])
    real = data[idx].astype(jnp.float32) / 127.5 - 1.0
    fake, gv = g.apply({"params": s["g"], "batch_stats": s["gs"]}, jax.random.normal(k1, (batch, latent_dim)),
                       train=True, mutable=["batch_stats"])
    fake = jax.lax.stop_gradient(fake)

    def d_loss(dp):
      lr_, v = d.apply({"params": dp, "batch_stats": s["ds"]}, real, train=True, mutable=["batch_stats"])
      lf, v = d.apply({"params": dp, **v}, fake, train=True, mutable=["batch_stats"])
      return softplus(-lr_).mean() + softplus(lf).mean(), v["batch_stats"]

    (dl, ds), gd = jax.value_and_grad(d_loss, has_aux=True)(s["d"])
    upd, do = tx.update(gd, s["do"], s["d"])
    dp = optax.apply_updates(s["d"], upd)

    def g_loss(gp):
      x, v = g.apply({"params": gp, "batch_stats": gv["batch_stats"]}, jax.random.normal(k2, (batch, latent_dim)),
                     train=True, mutable=["batch_stats"])
      # D's statistics are not updated by the G step (DESIGN.md); its batch stats still normalise.
      lf, _ = d.apply({"params": dp, "batch_stats": ds}, x, train=True, mutable=["batch_stats"])
      return softplus(-lf).mean(), v["batch_stats"]

    (gl, gs), gg = jax.value_and_grad(g_loss, has_aux=True)(s["g"])
    upd, go = tx.update(gg, s["go"], s["g"])
    gp = optax.apply_updates(s["g"], upd)
    return dict(g=gp, gs=gs, d=dp, ds=ds, go=go, do=do, key=key), (dl, gl)

  return init_state, step


def _build(args):
  import ml_collections
  from jaxgan.models import get_model
  cfg = ml_collections.ConfigDict(dict(latent_dim=64, image_shape=(28, 28, 1), dtype=args.dtype,
                                       conv_transpose_method=args.up, conv_method=args.down))
  return get_model("dcgan28")(cfg, None)


def run_step(args):
  import jax
  g, d = _build(args)
  init_state, step = make_train_step(g, d, args.batch, 64, _load_digits(args.data))
  state = init_state(jax.random.key(0))
  t0 = time.perf_counter()
  fn = jax.jit(step, donate_argnums=0).lower(state).compile()
  compile_s = time.perf_counter() - t0
  for i in range(args.warmup + args.steps):
    if i == args.warmup:
      jax.block_until_ready(state)
      t0 = time.perf_counter()
    state, losses = fn(state)
  jax.block_until_ready(state)
  dt = time.perf_counter() - t0
  print(f"jaxgan {jax.default_backend()} dcgan28 batch={args.batch} up={args.up} down={args.down} "
        f"dtype={args.dtype} compile_s={compile_s:.1f} losses={float(losses[0]):.3f},{float(losses[1]):.3f} "
        f"steps/s={args.steps / dt:.2f} img/s={args.steps * args.batch / dt:.0f}", flush=True)


# ------------------------------------------------------------------------------------------------- scan / K
def run_scan(args):
  """Per-step time and compile time of K steps as K jitted calls, lax.scan rolled, lax.scan unroll=K."""
  import jax
  g, d = _build(args)
  init_state, step = make_train_step(g, d, args.batch, 64, _load_digits(args.data))
  for k in [int(v) for v in args.k.split(",")]:
    variants = {"calls": (step, k), "scan_rolled": (None, 1), f"scan_unroll{k}": (None, k)}
    for name, (fn, unroll) in variants.items():
      if args.variants and name.rstrip("0123456789") not in args.variants.split(","):
        continue
      if fn is None:
        fn = lambda s, u=unroll, k=k: jax.lax.scan(step, s, None, length=k, unroll=u)
        calls = 1
      else:
        calls = k
      state = init_state(jax.random.key(0))
      t0 = time.perf_counter()
      comp = jax.jit(fn, donate_argnums=0).lower(state).compile()
      compile_s = time.perf_counter() - t0
      state, _ = comp(state)  # warm-up
      times = []
      for _ in range(args.rounds):
        jax.block_until_ready(state)
        t0 = time.perf_counter()
        for _ in range(calls):
          state, _ = comp(state)
        jax.block_until_ready(state)
        times.append((time.perf_counter() - t0) / k)
      print(f"K={k} {name:13s} compile_s={compile_s:5.1f} ms/step min={1e3 * min(times):6.1f} "
            f"median={1e3 * statistics.median(times):6.1f}", flush=True)


# ---------------------------------------------------------------------------------------------- layer timing
def _layer_cases(batch: int):
  """(label, x shape NHWC, kernel shape HWIO, {variant: fn(x, k)}) for the DCGAN-28 conv layers."""
  import jax.numpy as jnp
  from jax import lax
  from jaxgan.models import layers as L

  def up_phase_nchw(x, k):  # the four phase convs in NCHW/OIHW
    h, w = x.shape[1:3]
    xp = jnp.pad(x.transpose(0, 3, 1, 2), ((0, 0), (0, 0), (1, 1), (1, 1)))
    ph = [lax.conv_general_dilated(xp[:, :, a:a + h + 1, b:b + w + 1], k[a::2, b::2].transpose(3, 2, 0, 1), (1, 1),
                                   "VALID", dimension_numbers=("NCHW", "OIHW", "NCHW")).transpose(0, 2, 3, 1)
          for a in (0, 1) for b in (0, 1)]
    return L._interleave(*ph)

  def down_nchw(x, k):
    y = lax.conv_general_dilated(x.transpose(0, 3, 1, 2), k.transpose(3, 2, 0, 1), (2, 2), ((1, 1), (1, 1)),
                                 dimension_numbers=("NCHW", "OIHW", "NCHW"))
    return y.transpose(0, 2, 3, 1)

  up = {m: (lambda x, k, m=m: L.conv_transpose_2x(x, k, m)) for m in L.UP_METHODS}
  up.update(phase_conv_nchw=up_phase_nchw)
  down = {m: (lambda x, k, m=m: L.conv_2x_down(x, k, m)) for m in L.DOWN_METHODS}
  down.update(lax_nchw=down_nchw)
  dense = {"dot": lambda x, k: x @ k}
  return [("G convT 128->64 7->14", (batch, 7, 7, 128), (4, 4, 128, 64), up),
          ("G convT 64->1 14->28", (batch, 14, 14, 64), (4, 4, 64, 1), up),
          ("D conv 1->64 28->14", (batch, 28, 28, 1), (4, 4, 1, 64), down),
          ("D conv 64->128 14->7", (batch, 14, 14, 64), (4, 4, 64, 128), down),
          ("G dense 1024->6272", (batch, 1024), (1024, 6272), dense),
          ("D dense 6272->1024", (batch, 6272), (6272, 1024), dense)]


def _family_cases(batch: int):
  """The `dcgan` family's transposed convs (64-pixel G and the small-output layers), for the auto rule."""
  from jaxgan.models import layers as L
  up = {m: (lambda x, k, m=m: L.conv_transpose_2x(x, k, m)) for m in ("phase_conv", "subpixel", "lax")}
  shapes = [(4, 512, 256), (8, 256, 128), (16, 128, 64), (32, 64, 3), (14, 64, 3), (7, 128, 16), (7, 128, 8)]
  return [(f"convT {i}->{o} {h}->{2 * h}", (batch, h, h, i), (4, 4, i, o), up) for h, i, o in shapes]


def _wgrad_cases(batch: int):
  """StyleGAN2's 3x3 convs at stylegan2_bench32 (D sees reals and fakes: batch 32): lax's weight gradient against
  `layers.conv2d`'s per-tap matmuls (the forward op is the same)."""
  from jaxgan.models import layers as L

  def variants(stride, pad):
    return {m: (lambda x, k, m=m: L.conv2d(x, k, stride, ((pad, pad), (pad, pad)), wgrad=m)) for m in ("lax", "taps")}
  return [("3x3 128->128 32px", (batch, 32, 32, 128), (3, 3, 128, 128), variants(1, 1)),
          ("3x3 256->256 16px", (batch, 16, 16, 256), (3, 3, 256, 256), variants(1, 1)),
          ("3x3 256->256 8px", (batch, 8, 8, 256), (3, 3, 256, 256), variants(1, 1)),
          ("3x3/2 128->256 33px", (batch, 33, 33, 128), (3, 3, 128, 256), variants(2, 0)),
          ("3x3/2 256->256 17px", (batch, 17, 17, 256), (3, 3, 256, 256), variants(2, 0))]


def run_layers(args):
  """fwd+bwd (grads of sum(y^2) w.r.t. input and weight) per formulation; rounds interleave the variants."""
  import jax
  import jax.numpy as jnp
  dtype = jnp.dtype(args.dtype)
  cases = {"family": _family_cases, "wgrad": _wgrad_cases}.get(args.mode, _layer_cases)(args.batch)
  for label, xs, ks, variants in cases:
    x = jax.random.normal(jax.random.key(0), xs, dtype)
    k = (jax.random.normal(jax.random.key(1), ks) * 0.05).astype(dtype)
    fns, ref = {}, None
    for name, f in variants.items():
      vg = jax.jit(jax.value_and_grad(lambda x, k, f=f: jnp.sum(jnp.square(f(x, k).astype(jnp.float32))), (0, 1)))
      out = jax.block_until_ready(vg(x, k))
      ref = out[1][1] if ref is None else ref
      err = float(jnp.max(jnp.abs(out[1][1].astype(jnp.float32) - ref.astype(jnp.float32))) /
                  jnp.max(jnp.abs(ref.astype(jnp.float32))))
      fns[name] = (vg, err)
    times = {n: [] for n in fns}
    for _ in range(args.rounds):
      for n, (vg, _) in fns.items():
        t0 = time.perf_counter()
        jax.block_until_ready(vg(x, k))
        times[n].append(time.perf_counter() - t0)
    for n, (vg, err) in fns.items():
      print(f"{label:22s} {n:16s} fwd+bwd min {1e3 * min(times[n]):7.1f} ms  median "
            f"{1e3 * statistics.median(times[n]):7.1f} ms  rel.err(dW) {err:.1e}", flush=True)


def run_torch_layers(args):
  """The same layers in PyTorch eager (run with the peer's venv); same timing protocol."""
  import torch
  nn = torch.nn
  cases = [("G convT 128->64 7->14", (args.batch, 128, 7, 7), nn.ConvTranspose2d(128, 64, 4, 2, 1)),
           ("G convT 64->1 14->28", (args.batch, 64, 14, 14), nn.ConvTranspose2d(64, 1, 4, 2, 1)),
           ("D conv 1->64 28->14", (args.batch, 1, 28, 28), nn.Conv2d(1, 64, 4, 2, 1)),
           ("D conv 64->128 14->7", (args.batch, 64, 14, 14), nn.Conv2d(64, 128, 4, 2, 1)),
           ("G dense 1024->6272", (args.batch, 1024), nn.Linear(1024, 6272)),
           ("D dense 6272->1024", (args.batch, 6272), nn.Linear(6272, 1024))]
  for label, xs, m in cases:
    x = torch.randn(*xs, requires_grad=True)
    times = []
    for i in range(args.rounds + 3):
      t0 = time.perf_counter()
      m.zero_grad()
      (m(x) ** 2).sum().backward()
      times.append(time.perf_counter() - t0)
    times = times[3:]
    print(f"{label:22s} {'torch':16s} fwd+bwd min {1e3 * min(times):7.1f} ms  median "
          f"{1e3 * statistics.median(times):7.1f} ms", flush=True)


def main(argv=None):
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("--mode", default="step", choices=["step", "layers", "family", "wgrad", "scan", "torch_layers"])
  ap.add_argument("--batch", type=int, default=64)
  ap.add_argument("--steps", type=int, default=150, help="timed steps (the peer: 150 after 20 warm-up)")
  ap.add_argument("--warmup", type=int, default=20)
  ap.add_argument("--rounds", type=int, default=10, help="timing rounds for --mode=layers/family/wgrad/scan")
  ap.add_argument("--k", default="4,8", help="comma-separated K for --mode=scan")
  ap.add_argument("--variants", default="", help="--mode=scan subset of calls,scan_rolled,scan_unroll (default all)")
  ap.add_argument("--up", default="auto", help="transposed-conv formulation (layers.UP_METHODS)")
  ap.add_argument("--down", default="lax", help="strided-conv formulation (layers.DOWN_METHODS)")
  ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
  ap.add_argument("--data", default=_MNIST, help="MNIST idx .gz (default: shared t10k; else the offline 5k)")
  args = ap.parse_args(argv)
  modes = {"step": run_step, "layers": run_layers, "family": run_layers, "wgrad": run_layers, "scan": run_scan,
           "torch_layers": run_torch_layers}
  modes[args.mode](args)


if __name__ == "__main__":
  sys.exit(main())

"""Is the scanned loop ever slower than K separately jitted steps? Measures jaxgan's own train function both ways.

  python benchmarks/scan_vs_steps.py --config=jaxgan/configs/mlp_mnist.py [--k=50] [--unroll=1] [--pairs=3]

Alternates (K calls of a 1-step function) and (1 call of a K-step scan), `pairs` times, and prints img/s of each,
their median ratio and both compile times, as one JSON line.
"""
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from absl import flags  # noqa: E402

from jaxgan import cli, configs  # noqa: E402

_CONFIG = cli.define_config(configs.path("mlp_mnist"), "Preset.")
_K = flags.DEFINE_integer("k", 0, "Steps per scanned call (0 = the backend's choice).")
_UNROLL = flags.DEFINE_integer("unroll", 0, "Scan unroll (0 = the backend's choice).")
_PAIRS = flags.DEFINE_integer("pairs", 3, "Alternating measurements.")
_ROUNDS = flags.DEFINE_integer("rounds", 4, "Scanned calls per measurement.")


def main(argv):
  import jax
  from jaxgan import data as data_lib
  from jaxgan.gan import build_gan
  from jaxgan.loop import make_train_fn
  from jaxgan.parallel import make_mesh, replicate, replicated
  from jaxgan.trainer import choose_k
  config = _CONFIG.value
  if _K.value:
    config.steps_per_call = _K.value
  if _UNROLL.value:
    config.unroll = _UNROLL.value
  k, unroll = choose_k(config, jax.default_backend())
  mesh = make_mesh(jax.devices()[:1])
  gan = build_gan(config, "data")
  images = jax.device_put({"real": data_lib.load(config.data).images}, replicated(mesh))
  fns = {"single": make_train_fn(gan, mesh, config.batch_size, 1), "scan": make_train_fn(gan, mesh, config.batch_size, k, unroll)}
  states, compile_s = {}, {}
  for name, fn in fns.items():
    s = replicate(gan.init_state(0), mesh)
    t = time.perf_counter()
    s, m = fn(s, images)
    jax.block_until_ready(m)
    compile_s[name] = time.perf_counter() - t
    states[name] = s
  rates = {"single": [], "scan": []}
  for _ in range(_PAIRS.value):
    for name, calls in (("single", k * _ROUNDS.value), ("scan", _ROUNDS.value)):
      s = states[name]
      t = time.perf_counter()
      for _ in range(calls):
        s, m = fns[name](s, images)
      jax.block_until_ready(m)
      rates[name].append(k * _ROUNDS.value * config.batch_size / (time.perf_counter() - t))
      states[name] = s
  med = {n: statistics.median(r) for n, r in rates.items()}
  print(json.dumps({"model": config.model.name, "k": k, "unroll": unroll, "single_img_per_sec": round(med["single"]),
                    "scan_img_per_sec": round(med["scan"]), "scan_over_single": round(med["scan"] / med["single"], 2),
                    "compile_single_sec": round(compile_s["single"], 1), "compile_scan_sec": round(compile_s["scan"], 1)}))


if __name__ == "__main__":
  cli.run(main)

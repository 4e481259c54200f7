"""Steady-state speed of a preset: steps/s, img/s, compile seconds, backend, device count.

  python scripts/benchmark.py --config=jaxgan/configs/mlp_mnist.py [--config.batch_size=B] [--json] [--steps=N]
  python scripts/benchmark.py --config=jaxgan/configs/mlp_mnist.py --sweep=64,128,256,512,1024,2048,4096
"""
import time

_T_START = time.perf_counter()  # before the imports: startup_sec counts them

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from absl import flags  # noqa: E402

from jaxgan import cli, configs  # noqa: E402

_CONFIG = cli.define_config(configs.path(configs.DEFAULT), "Preset config file.")
_JSON = flags.DEFINE_bool("json", False, "Print one JSON line.")
_STEPS = flags.DEFINE_integer("steps", 300, "Timed steps after warm-up.")
_SWEEP = flags.DEFINE_list("sweep", [], "Batch sizes to sweep, e.g. --sweep=64,256,1024,4096: one row (JSON with "
                           "--json) of img/s per global batch size, to see where the device saturates.")


def _sweep(config):
  from jaxgan.benchmark import benchmark
  try:
    sizes = [int(b) for b in _SWEEP.value]
  except ValueError:
    cli.fail(f"--sweep takes batch sizes, e.g. --sweep=64,256,1024; got {','.join(_SWEEP.value)!r}")
  if any(b <= 0 for b in sizes):
    cli.fail(f"--sweep batch sizes must be positive, got {sizes}")
  for b in sizes:
    config.batch_size = b
    r = benchmark(config, _STEPS.value)
    print(json.dumps(r) if _JSON.value else f"batch {b:5d}: {r['images_per_sec']:9.0f} img/s  "
          f"{r['steps_per_sec']:7.1f} steps/s  compile {r['compile_sec']:.1f}s", flush=True)


def main(argv):
  if _STEPS.value <= 0:
    cli.fail(f"--steps must be positive, got {_STEPS.value}")
  if _SWEEP.value:
    return _sweep(_CONFIG.value)
  from jaxgan.benchmark import benchmark
  r = benchmark(_CONFIG.value, _STEPS.value, t_start=_T_START)
  if _JSON.value:
    print(json.dumps(r))
  else:
    print(f"{r['model']} {r['dtype']} batch={r['batch_size']} on {r['devices']} {r['backend']} device(s), "
          f"K={r['steps_per_call']} unroll={r['unroll']}: steps/s={r['steps_per_sec']:.1f} "
          f"img/s={r['images_per_sec']:.0f} compile={r['compile_sec']:.1f}s first_call={r['first_call_sec']:.2f}s "
          f"startup={r['startup_sec']:.1f}s")


if __name__ == "__main__":
  cli.run(main)

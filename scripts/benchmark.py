"""Steady-state speed of a preset: steps/s, img/s, compile seconds, backend, device count.

  python scripts/benchmark.py --config=jaxgan/configs/mlp_mnist.py [--config.batch_size=B] [--json] [--steps=N]
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


def main(argv):
  if _STEPS.value <= 0:
    cli.fail(f"--steps must be positive, got {_STEPS.value}")
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

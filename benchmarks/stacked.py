"""Stacked-MNIST protocol: train a preset, then count the digit triples of 26,000 samples (MNIST judge per channel).

  python benchmarks/stacked.py --config=jaxgan/configs/stacked_mnist.py --workdir=runs/stacked_mnist [--json=out]

Prints one JSON line: modes (of 1,000), KL(p_gen ‖ uniform) over the triple histogram, the same for 26,000 real
stacks (the floor a perfect generator scores at this sample count), steps and training wall/CPU minutes. Samples
come from the EMA generator when the preset keeps one (seed 0).
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from absl import flags  # noqa: E402

from jaxgan import cli, configs  # noqa: E402

import _protocol  # noqa: E402  (benchmarks/_protocol.py)

_CONFIG = cli.define_config(configs.path("stacked_mnist"), "Preset.")
_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (resumed if it exists).")
_NUM = flags.DEFINE_integer("num", 26_000, "Samples to score (the protocol's 26,000).")
_EVAL_ONLY = flags.DEFINE_bool("eval_only", False, "Score the workdir's latest checkpoint without training.")
_JSON = flags.DEFINE_string("json", None, "Also write the row (with the machine and command) to this JSON file.")


def main(argv):
  from jaxgan import metrics
  from jaxgan.sampling import generate
  config = _CONFIG.value
  workdir = _WORKDIR.value or cli.fail("--workdir is required")
  run, row = _protocol.train_timed(config, workdir, train=not _EVAL_ONLY.value)
  r = metrics.evaluate("stacked_mnist", images=generate(run, _NUM.value, seed=0))
  row.update({k: v for k, v in r.items() if isinstance(v, (int, float, str))})
  print(json.dumps(row), flush=True)
  if _JSON.value:
    _protocol.write_row(_JSON.value, row, f"stacked MNIST, {_NUM.value} samples (seed 0), MNIST judge per channel",
                        config)


if __name__ == "__main__":
  cli.run(main)

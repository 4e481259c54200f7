"""Train a preset, then score it with the offline MNIST judge (protocol in docs/evaluation.md).

  python benchmarks/quality.py --config=jaxgan/configs/mnist_fast.py --workdir=/tmp/q [--config.steps=N] [--num=5000]

Prints one JSON line: preset, steps, wall and CPU minutes of training, Fréchet distance in the judge's features
(5,000 samples from fixed seed 0 vs the judge's held-out reference digits), the floor (as many real training digits
the judge never saw, vs the same reference), their ratio, the predicted-class balance (largest / smallest class) and
the judge version (`judge_version`: figures of different judges are not comparable).
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from absl import flags  # noqa: E402

from jaxgan import cli, configs  # noqa: E402

import _protocol  # noqa: E402  (benchmarks/_protocol.py)

_CONFIG = cli.define_config(configs.path(configs.DEFAULT), "Preset.")
_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (resumed if it exists).")
_NUM = flags.DEFINE_integer("num", 5000, "Samples to score.")
_EVAL_ONLY = flags.DEFINE_bool("eval_only", False, "Score the workdir's latest checkpoint without training.")
_JSON = flags.DEFINE_string("json", None, "Also write the row (with the machine and command) to this JSON file.")


def main(argv):
  from jaxgan import metrics
  from jaxgan.sampling import generate
  config = _CONFIG.value
  workdir = _WORKDIR.value or cli.fail("--workdir is required")
  run, row = _protocol.train_timed(config, workdir, train=not _EVAL_ONLY.value)
  for ema in ([False, True] if "g" in run.state.ema else [False]):
    r = metrics.evaluate("mnist_fd", images=generate(run, _NUM.value, seed=0, ema=ema))
    tag = "ema_" if ema else ""
    row.update({f"{tag}fd": round(r["fd"], 2), f"{tag}fd_over_floor": round(r["fd"] / r["floor"], 2),
                f"{tag}class_ratio": r["max_min_ratio"], f"{tag}classes": r["classes_present"]})
    row["floor"] = round(r["floor"], 2)
    row["judge"], row["judge_version"] = r["judge"], r["judge_version"]
  print(json.dumps(row), flush=True)
  if _JSON.value:
    _protocol.write_row(_JSON.value, row, f"MNIST judge v{r['judge_version']} FD, {_NUM.value} samples (seed 0) vs "
                        f"{r['reference']}; floor: {r['floor_n']} {r['floor_set']}", config)


if __name__ == "__main__":
  cli.run(main)

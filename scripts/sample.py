"""Write N samples of a trained run as an .npz (`images`: uint8 N×H×W×C, or `points` for 2-D models) + a PNG grid.

  python scripts/sample.py --workdir=DIR --num=N --out=FILE.npz [--seed=S] [--ema=true|false] [--class=C]

Same seed and checkpoint → identical output. --ema defaults to the EMA generator when the run has one. A
class-conditional run samples every class equally often (`labels` in the .npz; the grid has one class per column),
or only class C with --class.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from absl import flags  # noqa: E402

from jaxgan import cli  # noqa: E402

_WORKDIR = flags.DEFINE_string("workdir", None, "A training run's directory.")
_NUM = flags.DEFINE_integer("num", 64, "How many samples.")
_OUT = flags.DEFINE_string("out", None, "Output .npz path (a PNG grid of the first 64 goes beside it).")
_SEED = flags.DEFINE_integer("seed", 0, "Latent seed.")
_EMA = flags.DEFINE_enum("ema", "auto", ["auto", "true", "false"], "Use the EMA generator.")
_CLASS = flags.DEFINE_integer("class", None, "Class-conditional runs: sample only this class (default: all "
                              "classes equally often).")


def main(argv):
  if not _WORKDIR.value:
    cli.fail("--workdir is required")
  if _NUM.value <= 0:
    cli.fail(f"--num must be positive, got {_NUM.value}")
  out = _OUT.value or os.path.join(_WORKDIR.value, "samples.npz")
  if not out.endswith(".npz"):
    cli.fail(f"--out must end in .npz, got {out}")
  import numpy as np
  from jaxgan import logging as log_lib
  from jaxgan.sampling import generate, load_run
  run = load_run(_WORKDIR.value)
  ema = {"auto": None, "true": True, "false": False}[_EMA.value]
  label = _CLASS.value
  x = generate(run, _NUM.value, _SEED.value, ema, label=label)
  os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
  key = "points" if x.ndim == 2 else "images"
  arrays = {key: x}
  labels = run.gan.balanced_labels(len(x), label)
  if labels is not None:
    arrays["labels"] = np.asarray(labels)
  np.savez_compressed(out, **arrays)
  png = os.path.splitext(out)[0] + ".png"
  if key == "images":
    c = run.gan.num_classes
    columns = c if 0 < c <= 10 and label is None else None
    n = 8 * columns if columns else 64
    log_lib.save_image_grid(x[:n], png, nrow=columns)
  else:
    log_lib.save_points_plot(x, png)
  print(f"wrote {len(x)} {key} from step {run.step} to {out}" + (f" and {png}" if os.path.exists(png) else ""))


if __name__ == "__main__":
  cli.run(main, config_flag=None)

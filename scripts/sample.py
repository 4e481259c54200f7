"""Write N samples of a trained run as an .npz (`images`: uint8 N×H×W×C, or `points` for 2-D models) + a PNG grid.

  python scripts/sample.py --workdir=DIR --num=N --out=FILE.npz [--seed=S] [--ema=true|false]

Same seed and checkpoint → identical output. --ema defaults to the EMA generator when the run has one.
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
  x = generate(run, _NUM.value, _SEED.value, ema)
  os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
  key = "points" if x.ndim == 2 else "images"
  np.savez_compressed(out, **{key: x})
  png = os.path.splitext(out)[0] + ".png"
  if key == "images":
    log_lib.save_image_grid(x[:64], png)
  else:
    log_lib.save_points_plot(x, png)
  print(f"wrote {len(x)} {key} from step {run.step} to {out}" + (f" and {png}" if os.path.exists(png) else ""))


if __name__ == "__main__":
  cli.run(main, config_flag=None)

"""Write N samples of a trained run as an .npz (`images`: uint8 N×H×W×C, or `points` for 2-D models) + a PNG grid.

  python scripts/sample.py --workdir=DIR --num=N --out=FILE.npz [--seed=S] [--ema=true|false] [--class=C]
                           [--truncation=PSI] [--figures [--mixing_layers=coarse|middle|fine|A-B]]

Same seed and checkpoint → identical output. --ema defaults to the EMA generator when the run has one. A
class-conditional run samples every class equally often (`labels` in the .npz; the grid has one class per column),
or only class C with --class.

StyleGAN2 runs: --truncation=ψ (default 1.0) pulls w towards G's mean w (ψ < 1: typical, cleaner samples, less
variety). --figures also writes, beside FILE: FILE_truncation.png (rows = seeds, columns ψ = 1 … 0),
FILE_mixing.png (row sources take the column sources' styles at --mixing_layers), FILE_interp.gif and
FILE_interp.png (a loop through five seeds' w). The figures' seeds start at --seed.
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
_TRUNCATION = flags.DEFINE_float("truncation", 1.0, "StyleGAN2: truncation psi (1 = none, 0 = the mean w).")
_FIGURES = flags.DEFINE_bool("figures", False, "StyleGAN2: also write the truncation, style-mixing and "
                             "interpolation figures beside --out.")
_MIXING = flags.DEFINE_string("mixing_layers", "coarse", "StyleGAN2 --figures: which styles the mixing figure's "
                              "columns give: coarse, middle, fine or A-B (layer indices).")


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
  if _FIGURES.value:  # check what the figures need before the samples are written
    from jaxgan import style_figures
    style_figures.require_stylegan2(run)
    style_figures.layer_range(run, _MIXING.value)
  x = generate(run, _NUM.value, _SEED.value, ema, label=label, truncation=_TRUNCATION.value)
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
  if _FIGURES.value:
    for path in write_figures(run, os.path.splitext(out)[0], _SEED.value, ema, label, _TRUNCATION.value,
                              _MIXING.value):
      print(f"wrote {path}")


def write_figures(run, base, seed, ema, label, psi, layers):
  """The StyleGAN2 figures (module docstring); returns the paths written."""
  from PIL import Image
  from jaxgan import style_figures as sf
  r = run.gan.generator.resolution
  seeds = [seed + i for i in range(6)]
  psis = sf.DEFAULT_PSIS
  paths = []

  def png(name, grid):
    path = f"{base}_{name}.png"
    Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid).save(path)
    paths.append(path)

  png("truncation", sf.grid_with_caption(sf.truncation_sweep(run, seeds, psis, label, ema), len(psis),
                                        "columns: psi " + ", ".join(f"{p:g}" for p in psis)))
  rows, cols = seeds[:4], [seed + 10 + i for i in range(5)]
  start, stop = sf.layer_range(run, layers)
  png("mixing", sf.grid_with_caption(sf.style_mixing(run, rows, cols, layers, psi, label, ema), len(cols) + 1,
                                     f"columns give styles {start}-{stop - 1}, psi {psi:g}"))
  frames = sf.interpolation(run, seeds[:5], 16, psi, label, ema)
  gif = f"{base}_interp.gif"
  sf.save_gif(frames, gif, scale=max(1, 128 // r))
  paths.append(gif)
  png("interp", sf.grid_with_caption(sf.strip(frames, 10), 10, f"w interpolation, psi {psi:g}"))
  return paths


if __name__ == "__main__":
  cli.run(main, config_flag=None)

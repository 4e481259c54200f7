"""Projects a picture into a trained StyleGAN2 (finds the w whose image is closest to it) and edits it.

  python scripts/project.py --workdir=runs/stylegan2_mnist --image=digit.png [--out=DIR] [--steps=300]
      [--d_weight=1.0] [--w_plus] [--seed=0] [--ema=auto|true|false] [--class=C]

--image: a PNG/JPEG, square; grey for a 1-channel G, RGB for 3 (transparency composited on white). An image of
the run's data size before its padding (a 28x28 digit for stylegan2_mnist's 32 px) is padded as the data was;
other sizes are resized. The distance is pixel MSE plus the trained D's normalised block features (weight
--d_weight; NVIDIA uses LPIPS, whose weights cannot be had offline: jaxgan.projection says what this is and is not).
Writes into --out (default WORKDIR/projection/<image name>):
  projection.png   target | reconstruction, enlarged
  edits.png        row 1: target, reconstruction, the reconstruction truncated towards w_avg (psi .75 .5 .25 0);
                   row 2: target, reconstruction, its coarse and middle styles taken from seeds 1 and 2
  projected_w.npz  ws [num_ws, w_dim] (feed to jaxgan.style_figures.synthesis), target and reconstruction
                   (uint8), the loss curve (loss, pixel, dfeat per step), and the settings (JSON)
Bad input is one error line on stderr and exit status 2; nothing is written then.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from absl import flags  # noqa: E402

from jaxgan import cli  # noqa: E402

_WORKDIR = flags.DEFINE_string("workdir", None, "A trained StyleGAN2 run's directory.")
_IMAGE = flags.DEFINE_string("image", None, "The picture to project (PNG, JPEG, ...).")
_OUT = flags.DEFINE_string("out", None, "Output folder (default WORKDIR/projection/<image name>).")
_STEPS = flags.DEFINE_integer("steps", 300, "Optimisation steps.")
_LR = flags.DEFINE_float("lr", 0.1, "Adam's peak learning rate on w.")
_DW = flags.DEFINE_float("d_weight", 1.0, "Weight of the D-feature distance (0: pixels only).")
_WPLUS = flags.DEFINE_bool("w_plus", False, "Optimise one w per style input (W+) instead of one w.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the noise added to w during the optimisation.")
_EMA = flags.DEFINE_enum("ema", "auto", ["auto", "true", "false"], "Project into the EMA generator.")
_CLASS = flags.DEFINE_integer("class", None, "Class-conditional runs: the class of the edits' other latents.")


def main(argv):
  del argv
  if not _WORKDIR.value:
    cli.fail("--workdir is required")
  if not _IMAGE.value:
    cli.fail("--image is required")
  if not os.path.isfile(_IMAGE.value):  # before the run is loaded (seconds): a typo fails at once
    cli.fail(f"--image {_IMAGE.value} does not exist")
  import json
  import numpy as np
  from jaxgan import projection as proj
  from jaxgan import style_figures as sf
  from jaxgan.logging import add_caption, image_grid, images_to_uint8
  from jaxgan.sampling import load_run
  from PIL import Image

  settings = proj.Settings(steps=_STEPS.value, lr=_LR.value, d_weight=_DW.value, w_plus=_WPLUS.value,
                           seed=_SEED.value).check()
  run = load_run(_WORKDIR.value)
  sf.require_stylegan2(run)
  if run.gan.conditional and _CLASS.value is None:
    raise ValueError(f"this StyleGAN2 is class-conditional ({run.gan.num_classes} classes): pass --class")
  target = proj.target_from_image(_IMAGE.value, run)
  ema = {"auto": None, "true": True, "false": False}[_EMA.value]
  out = _OUT.value or os.path.join(_WORKDIR.value, "projection", os.path.splitext(os.path.basename(_IMAGE.value))[0])

  def progress(done, loss):
    print(f"\rprojecting: step {done}/{settings.steps}  loss {loss:.4f}", end="", file=sys.stderr, flush=True)

  res = proj.project(run, target, settings, ema, progress=progress)
  print(file=sys.stderr)
  trunc, mixed = proj.edits(run, res["ws"], ema=ema, label=_CLASS.value)
  t8, r8 = images_to_uint8(target[None]), images_to_uint8(res["image"][None])
  os.makedirs(out, exist_ok=True)
  r = t8.shape[1]
  scale = max(1, 128 // r)

  def save(name, grid):
    grid = np.repeat(np.repeat(grid, scale, axis=0), scale, axis=1) if name == "projection.png" else grid
    Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid).save(os.path.join(out, name))

  save("projection.png", image_grid(np.concatenate([t8, r8]), 2))
  rows = np.concatenate([t8, r8, trunc, t8, r8, mixed])
  save("edits.png", add_caption(image_grid(rows, 6), "target, projection, psi .75 .5 .25 0 / coarse, middle of 2 seeds"))
  psnr = proj.psnr(target, res["image"])
  np.savez_compressed(os.path.join(out, "projected_w.npz"), ws=res["ws"], target=t8[0], reconstruction=r8[0],
                      loss=res["loss"], pixel=res["pixel"], dfeat=res["dfeat"],
                      settings=json.dumps(dict(vars(settings), image=os.path.abspath(_IMAGE.value), step=run.step,
                                               psnr=psnr)))
  print(f"projected {_IMAGE.value} into step {run.step}: PSNR {psnr:.2f} dB, pixel MSE {res['pixel'][-1]:.4f}, "
        f"D-feature distance {res['dfeat'][-1]:.4f}; wrote projection.png, edits.png, projected_w.npz to {out}")


if __name__ == "__main__":
  cli.run(main, config_flag=None)

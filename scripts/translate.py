"""Applies a trained pix2pix generator to a user's inputs.

  python scripts/translate.py --workdir=runs/pix2pix_sr_mnist --input=FILE.npz|DIR --out=OUT.npz [--resize]
      [--grid=OUT.png] [--noise_seed=N]

--input: an `.npz` with `inputs` (uint8 N×H×W(×C), or floats in [0, 1] / [-1, 1]), and for an inpainting model
`masks` (N×H×W, nonzero/True = the hole to fill); optional `targets` (scored: PSNR/SSIM printed, shown in the
grid) and `labels`. Or a folder: images (PNG, JPEG, ...) read in sorted name order, or sub-folders inputs/,
masks/ (white = hole), targets/ with the same file names.
Inputs of another size than the model takes are an error unless --resize: then they are resized with Pillow's BOX
filter when shrinking and BICUBIC when enlarging (masks: nearest). Grey inputs for an RGB model are tiled to 3
channels; RGB inputs for a grey model are an error.
--out: an `.npz` with `outputs` (uint8 N×H×W×C), `inputs` (as the model took them) and whatever `masks`,
`targets`, `labels` came in. --grid: a PNG of the first 16 as input | output (| target).
--noise_seed: sample G's dropout noise (the paper's test-time dropout); default: deterministic inference.
Anything that does not fit is one error line on stderr and exit status 2; no file is written then.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # run from a checkout too

from absl import flags  # noqa: E402
import numpy as np  # noqa: E402

from jaxgan import cli  # noqa: E402

_WORKDIR = flags.DEFINE_string("workdir", None, "the trained pix2pix run")
_INPUT = flags.DEFINE_string("input", None, ".npz with `inputs` (and `masks`), or a folder of images")
_OUT = flags.DEFINE_string("out", None, "output .npz")
_RESIZE = flags.DEFINE_bool("resize", False, "resize inputs of another size (box down / bicubic up)")
_GRID = flags.DEFINE_string("grid", None, "also write a PNG grid of the first 16: input | output (| target)")
_NOISE = flags.DEFINE_integer("noise_seed", None, "sample G's dropout noise with this seed (default: none)")


def _resize(images: np.ndarray, size, mask: bool = False) -> np.ndarray:
  from PIL import Image
  h, w = size
  out = []
  for x in images:
    im = Image.fromarray(x[..., 0] if x.shape[-1] == 1 else x)
    if mask:
      method = Image.Resampling.NEAREST
    else:
      method = Image.Resampling.BOX if (x.shape[0] >= h and x.shape[1] >= w) else Image.Resampling.BICUBIC
    y = np.asarray(im.resize((w, h), method))
    out.append(y.reshape(h, w, -1))
  return np.stack(out)


def fit_inputs(pairs: dict, in_shape, out_shape, needs_mask: bool, resize: bool) -> dict:
  """The user's arrays checked against the model (ValueError, one line, for anything that does not fit)."""
  x = pairs["inputs"]
  h, w, c = in_shape
  if x.shape[-1] != c:
    if x.shape[-1] == 1 and c == 3:
      x = np.repeat(x, 3, axis=-1)
    else:
      raise ValueError(f"the inputs have {x.shape[-1]} channel(s) but this model takes {c}")
  if x.shape[1:3] != (h, w):
    if not resize:
      raise ValueError(f"the inputs are {x.shape[1]}x{x.shape[2]} but this model takes {h}x{w}; pass --resize "
                       f"to resize them (box filter when shrinking, bicubic when enlarging)")
    x = _resize(x, (h, w))
  masks = pairs.get("masks")
  if needs_mask and masks is None:
    raise ValueError("this model inpaints: give `masks` in the .npz (or a masks/ folder), white/True = hole")
  if not needs_mask and masks is not None:
    raise ValueError("this model takes no masks (it is not an inpainting model); drop `masks`")
  if masks is not None and masks.shape[1:3] != (h, w):
    if not resize:
      raise ValueError(f"the masks are {masks.shape[1]}x{masks.shape[2]} but this model takes {h}x{w}; pass "
                       f"--resize")
    masks = _resize(masks.astype(np.uint8) * 255, (h, w), mask=True) > 127
  if masks is not None:  # the masked input, as the model was trained on (hole = 0)
    x = np.where(masks, np.uint8(0), x).astype(np.uint8)
  targets = pairs.get("targets")
  if targets is not None and targets.shape[1:] != tuple(out_shape):
    raise ValueError(f"the targets are {'x'.join(map(str, targets.shape[1:]))} but this model makes "
                     f"{'x'.join(map(str, out_shape))}")
  return {"inputs": x, "masks": masks, "targets": targets, "labels": pairs.get("labels")}


def main(argv):
  if len(argv) > 1:
    cli.fail(f"unexpected arguments {argv[1:]}")
  for flag in (_WORKDIR, _INPUT, _OUT):
    if not flag.value:
      cli.fail(f"--{flag.name} is required")
  if not _OUT.value.endswith(".npz"):
    cli.fail(f"--out must be an .npz file, got {_OUT.value}")
  from jaxgan.checkpoint import CheckpointError
  from jaxgan.data.paired import read_pairs
  from jaxgan.sampling import load_run
  try:
    run = load_run(_WORKDIR.value)
    if hasattr(run.gan, "translate_maps"):  # a label-map run (spade, pix2pix_map): jaxgan/data/label_maps.py
      from jaxgan.data.label_maps import translate_file
      print(translate_file(run, _INPUT.value, _OUT.value, _GRID.value, _NOISE.value))
      return
    if run.config.get("objective", "gan") != "pix2pix":
      raise ValueError(f"{_WORKDIR.value} is a {run.config.get('objective', 'gan')} run, not an image-to-image "
                       f"(pix2pix) one")
    obj = run.gan
    pairs = fit_inputs(read_pairs(_INPUT.value, need_targets=False), obj.input_shape, obj.image_shape, obj.mask,
                       _RESIZE.value)
    from jaxgan.pix2pix import translate_uint8
    outputs = translate_uint8(obj, run.state.params("g"), run.state.vars("g"), pairs["inputs"], pairs["masks"],
                              noise_seed=_NOISE.value)
  except (FileNotFoundError, ValueError, CheckpointError) as e:
    cli.fail(" ".join(str(e).split()))
  out = {"outputs": outputs, **{k: v for k, v in pairs.items() if v is not None}}
  tmp = _OUT.value[:-4] + ".tmp.npz"
  np.savez_compressed(tmp, **out)
  os.replace(tmp, _OUT.value)
  msg = f"translated {len(outputs)} inputs with {_WORKDIR.value} (step {run.step}) -> {_OUT.value}"
  if pairs["targets"] is not None:
    from jaxgan.metrics.paired import psnr, ssim
    msg += f"; PSNR {psnr(outputs, pairs['targets']):.2f} dB"
    if min(outputs.shape[1:3]) >= 11:
      msg += f", SSIM {ssim(outputs, pairs['targets']):.4f}"
  if _GRID.value:
    from jaxgan.logging import save_image_grid
    from jaxgan.metrics.paired import bicubic_up
    n = min(16, len(outputs))
    shown = bicubic_up(pairs["inputs"][:n], obj.image_shape[:2])
    cols = [shown, outputs[:n]] + ([pairs["targets"][:n]] if pairs["targets"] is not None else [])
    rows = np.stack(cols, axis=1)
    save_image_grid(rows.reshape((-1,) + rows.shape[2:]), _GRID.value, nrow=len(cols))
  print(msg)


if __name__ == "__main__":
  cli.run(main)

"""Paired (image-to-image) datasets: aligned streams `input`, `target` (= the `real` images), optional `mask`,
and the base dataset's `labels`, all sampled with the same indices (jaxgan/data/__init__.py `ImageData`).

Names (`config.data.name`):
  sr:<base>       super-resolution ×`data.factor` (default 4): `input` is the target down-sampled by BOX filtering
                  (every low-resolution pixel is the mean of the factor×factor block it covers, rounded to uint8;
                  no randomness), e.g. sr:mnist 7×7 → 28×28, sr:emoji 16×16 → 64×64.
  inpaint:<base>  a rectangular hole of `data.hole`×`data.hole` pixels (default: half the image side, 14×14 on
                  digits) at a uniformly random place where it fits whole; `input` is the target with the hole
                  set to 0 (black), `mask` (bool [H, W, 1], True = hole) is given to G. The holes are a function
                  of (`data.seed`, `data.split`) only.
  paired:<path>   user data: an `.npz` with `inputs` and `targets` (uint8 N×H×W(×C), or floats in [0, 1] or
                  [-1, 1]), optional `labels` (int [N]) and `masks` (N×H×W, nonzero = hole); or a folder with
                  sub-folders `inputs/` and `targets/` (and optional `masks/`) of images with the same file names.

<base> is any dataset jaxgan reads (`data.split` picks its split): `mnist` means `mnist_full` (MNIST's 55,000
training digits; `data.split = "test"` its 10,000 test digits for evaluation), `emoji` the Twemoji images at
`data.resolution`. `data.num` > 0 keeps the first `data.num` items. Labels of the base are kept.
"""
import os
from typing import Dict, Optional, Tuple

import numpy as np

from jaxgan.data.arrays import IMAGE_EXTS, _as_nhwc_uint8

BASE_ALIASES = {"mnist": "mnist_full"}
TASKS = ("sr", "inpaint", "paired")


def box_down(images: np.ndarray, factor: int) -> np.ndarray:
  """uint8 [N, H, W, C] → uint8 [N, H/f, W/f, C]: the mean of each f×f block, rounded half to even."""
  n, h, w, c = images.shape
  if factor < 1 or h % factor or w % factor:
    raise ValueError(f"data.factor {factor} must divide the image size {h}x{w}")
  x = images.reshape(n, h // factor, factor, w // factor, factor, c).astype(np.float32).mean(axis=(2, 4))
  return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def hole_masks(num: int, size: Tuple[int, int], hole: int, seed: int, stream: int = 0) -> np.ndarray:
  """bool [num, H, W, 1]: one hole×hole square of True per item, its top-left corner uniform over the places where
  it fits, drawn from numpy's PCG64 seeded with (seed, stream)."""
  h, w = size
  if not 0 < hole <= min(h, w):
    raise ValueError(f"data.hole must be in 1..{min(h, w)} for {h}x{w} images, got {hole}")
  rng = np.random.default_rng([int(seed), int(stream)])
  top = rng.integers(0, h - hole + 1, num)
  left = rng.integers(0, w - hole + 1, num)
  rows, cols = np.arange(h), np.arange(w)
  in_r = (rows[None] >= top[:, None]) & (rows[None] < top[:, None] + hole)
  in_c = (cols[None] >= left[:, None]) & (cols[None] < left[:, None] + hole)
  return (in_r[:, :, None] & in_c[:, None, :])[..., None]


def apply_mask(images: np.ndarray, masks: np.ndarray) -> np.ndarray:
  """The masked input: hole pixels (mask True) set to 0."""
  return np.where(masks, np.uint8(0), images).astype(np.uint8)


def _split_stream(split: str) -> int:
  return {"train": 0, "test": 1}.get(str(split), 2 + sum(map(ord, str(split))))


def parse(name: str) -> Tuple[str, str]:
  task, _, base = name.partition(":")
  if task not in TASKS or not base:
    raise ValueError(f"a paired dataset is sr:<base>, inpaint:<base> or paired:<path>, got {name!r}")
  return task, base


def build(name: str, data_cfg, load_base) -> dict:
  """{"images", "labels", "arrays", "aliases"} of paired dataset `name`; `load_base(cfg)` reads a base dataset
  (jaxgan.data._load). ValueError / FileNotFoundError with the reason."""
  task, base = parse(name)
  if task == "paired":
    out = load_user_pairs(base)
  else:
    import ml_collections
    cfg = ml_collections.ConfigDict(data_cfg.to_dict() if hasattr(data_cfg, "to_dict") else dict(data_cfg))
    cfg.name = BASE_ALIASES.get(base, base)
    data = load_base(cfg)
    if data.images is None or len(data.shape) != 3:
      raise ValueError(f"{name}: the base dataset {base} must be images held in memory")
    images, labels = data.images, data.labels
    num = int(data_cfg.get("num", 0) or 0)
    if num > 0:
      images, labels = images[:num], (None if labels is None else labels[:num])
    if task == "sr":
      factor = int(data_cfg.get("factor", 4))
      arrays = {"input": box_down(images, factor)}
    else:
      hole = int(data_cfg.get("hole", 0) or 0) or images.shape[1] // 2
      masks = hole_masks(len(images), images.shape[1:3], hole, int(data_cfg.get("seed", 0)),
                         _split_stream(data_cfg.get("split", "train")))
      arrays = {"input": apply_mask(images, masks), "mask": masks}
    out = {"images": images, "labels": labels, "arrays": arrays}
  out["aliases"] = {"target": "real"}
  return out


# -- user data ---------------------------------------------------------------------------------------------------

def as_masks(x: np.ndarray, where: str) -> np.ndarray:
  """Masks N×H×W(×1) (bool, or numbers: nonzero / > half range = hole) → bool [N, H, W, 1]."""
  x = np.asarray(x)
  if x.ndim == 4 and x.shape[-1] == 1:
    x = x[..., 0]
  if x.ndim != 3:
    raise ValueError(f"{where}: masks must be N×H×W (True or white = hole), got shape {x.shape}")
  if x.dtype == bool:
    return x[..., None]
  if x.dtype == np.uint8 and x.max(initial=0) > 1:
    return (x > 127)[..., None]
  return (x > 0.5)[..., None]


def _read_png_folder(folder: str, names=None) -> Tuple[list, np.ndarray]:
  from PIL import Image
  if names is None:
    names = sorted(f for f in os.listdir(folder) if f.lower().endswith(IMAGE_EXTS))
    if not names:
      raise ValueError(f"no images ({', '.join(IMAGE_EXTS)}) found in {folder}")
  imgs = []
  for f in names:
    path = os.path.join(folder, f)
    if not os.path.isfile(path):
      raise ValueError(f"{folder}: no file {f} to pair with the other folder's")
    try:
      with Image.open(path) as im:
        mode = "L" if im.mode in ("L", "1", "I;16", "I") else "RGB"
        imgs.append(np.asarray(im.convert(mode)))
    except (OSError, SyntaxError) as e:
      raise ValueError(f"cannot read image {path}: {e}") from None
  shapes = {i.shape for i in imgs}
  if len(shapes) != 1:
    raise ValueError(f"images in {folder} have different sizes {sorted(shapes)[:3]}; resize them to one size")
  return names, np.stack(imgs)


def read_pair_file(path: str, need_targets: bool = True) -> Dict[str, Optional[np.ndarray]]:
  """{"inputs", "targets", "labels", "masks"} from an `.npz` (no pickle); absent optional arrays are None."""
  try:
    z = np.load(path, allow_pickle=False)
  except (OSError, ValueError) as e:
    raise ValueError(f"cannot read {path}: {e}") from None
  if not isinstance(z, np.lib.npyio.NpzFile):
    raise ValueError(f"{path}: a paired dataset is an .npz with `inputs` and `targets`")
  with z:
    keys = set(z.files)
    need = ("inputs", "targets") if need_targets else ("inputs",)
    if not set(need) <= keys:
      raise ValueError(f"{path} holds {sorted(keys)}; need arrays named {' and '.join(need)}")
    out = {k: (z[k] if k in keys else None) for k in ("inputs", "targets", "labels", "masks")}
  out["inputs"] = _as_nhwc_uint8(out["inputs"], f"{path} `inputs`")
  if out["targets"] is not None:
    out["targets"] = _as_nhwc_uint8(out["targets"], f"{path} `targets`")
  if out["masks"] is not None:
    out["masks"] = as_masks(out["masks"], f"{path} `masks`")
  return out


def read_pair_folder(path: str, need_targets: bool = True) -> Dict[str, Optional[np.ndarray]]:
  """The same from a folder with `inputs/`, `targets/`, optional `masks/` (matched by file name); a folder of
  images alone is read as inputs when targets are not needed."""
  sub = lambda s: os.path.join(path, s)
  if not os.path.isdir(sub("inputs")):
    if need_targets:
      raise ValueError(f"{path}: a paired folder needs sub-folders inputs/ and targets/ (same file names)")
    names, inputs = _read_png_folder(path)
    return {"inputs": _as_nhwc_uint8(inputs, path), "targets": None, "labels": None, "masks": None}
  names, inputs = _read_png_folder(sub("inputs"))
  out = {"inputs": _as_nhwc_uint8(inputs, sub("inputs")), "targets": None, "labels": None, "masks": None}
  if os.path.isdir(sub("targets")):
    out["targets"] = _as_nhwc_uint8(_read_png_folder(sub("targets"), names)[1], sub("targets"))
  elif need_targets:
    raise ValueError(f"{path}: no targets/ folder beside inputs/")
  if os.path.isdir(sub("masks")):
    out["masks"] = as_masks(_read_png_folder(sub("masks"), names)[1], sub("masks"))
  return out


def read_pairs(path: str, need_targets: bool = True) -> Dict[str, Optional[np.ndarray]]:
  """User pairs from an `.npz` or a folder (see the module doc), checked for alignment."""
  path = os.path.expanduser(path)
  if os.path.isdir(path):
    out = read_pair_folder(path, need_targets)
  elif os.path.isfile(path):
    out = read_pair_file(path, need_targets)
  else:
    raise FileNotFoundError(f"paired data not found: {path}")
  n = len(out["inputs"])
  for k in ("targets", "labels", "masks"):
    if out[k] is not None and len(out[k]) != n:
      raise ValueError(f"{path}: {len(out[k])} {k} for {n} inputs; they must be aligned one to one")
  if out["labels"] is not None:
    labels = np.asarray(out["labels"])
    if not np.issubdtype(labels.dtype, np.integer) or labels.ndim != 1:
      raise ValueError(f"{path}: `labels` must be one integer per pair, got {labels.dtype} {labels.shape}")
  if out["masks"] is not None and out["masks"].shape[1:3] != out["inputs"].shape[1:3]:
    raise ValueError(f"{path}: masks are {out['masks'].shape[1]}x{out['masks'].shape[2]} but inputs "
                     f"{out['inputs'].shape[1]}x{out['inputs'].shape[2]}")
  return out


def load_user_pairs(path: str) -> dict:
  pairs = read_pairs(path, need_targets=True)
  arrays = {"input": pairs["inputs"]}
  if pairs["masks"] is not None:
    arrays["mask"] = pairs["masks"]
  return {"images": pairs["targets"], "labels": pairs["labels"], "arrays": arrays}

"""Local image data: `.npz` / `.npy` arrays and folders of image files."""
import os

import numpy as np

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


def _as_nhwc_uint8(x: np.ndarray, where: str) -> np.ndarray:
  if x.ndim == 3:
    x = x[..., None]
  if x.ndim != 4 or x.shape[-1] not in (1, 3):
    raise ValueError(f"{where}: expected images N×H×W or N×H×W×C with C in (1, 3), got shape {x.shape}")
  if x.dtype == np.uint8:
    return x
  x = np.asarray(x, np.float32)
  lo, hi = float(x.min()), float(x.max())
  if lo >= -1.0 - 1e-6 and hi <= 1.0 + 1e-6 and lo < 0:  # already [-1, 1]
    x = (x + 1.0) * 127.5
  elif hi <= 1.0 + 1e-6:  # [0, 1]
    x = x * 255.0
  return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def load_array_file(path: str, with_labels: bool = False):
  """`.npy` array, or `.npz` with key `images` (or `x`, or its only array); a float array N×D is N points (2-D
  models, e.g. a playground run's drawn data) and is returned as float32. No pickle. With `with_labels`, returns
  (images, labels or None): an `.npz`'s integer `labels` (or `y`/`label`) array."""
  try:
    obj = np.load(path, allow_pickle=False)
  except (OSError, ValueError) as e:
    raise ValueError(f"cannot read {path}: {e}") from None
  labels = None
  if isinstance(obj, np.lib.npyio.NpzFile):
    keys = list(obj.keys())
    key = next((k for k in ("images", "x", "image") if k in keys), keys[0] if len(keys) == 1 else None)
    if key is None:
      raise ValueError(f"{path}: no `images` array among keys {keys}")
    arr = obj[key]
    label_key = next((k for k in ("labels", "y", "label") if k in keys), None)
    if label_key is not None:
      labels = obj[label_key]
      if not np.issubdtype(labels.dtype, np.integer) or labels.ndim != 1 or len(labels) != len(arr):
        raise ValueError(f"{path}: `{label_key}` must be one integer label per image, got {labels.dtype} "
                         f"{labels.shape} for {len(arr)} images")
  else:
    arr = obj
  if arr.ndim == 2 and np.issubdtype(arr.dtype, np.floating):  # N points in D dimensions (2-D models)
    if not np.all(np.isfinite(arr)):
      raise ValueError(f"{path}: the points contain NaN or Inf")
    points = np.asarray(arr, np.float32)
    return (points, labels) if with_labels else points
  images = _as_nhwc_uint8(arr, path)
  return (images, labels) if with_labels else images


def load_image_folder(path: str) -> np.ndarray:
  from PIL import Image
  files = sorted(os.path.join(root, f) for root, _, fs in os.walk(path) for f in fs
                 if f.lower().endswith(IMAGE_EXTS))
  if not files:
    raise ValueError(f"no images ({', '.join(IMAGE_EXTS)}) found under {path}")
  imgs = []
  for f in files:
    with Image.open(f) as im:
      mode = "L" if im.mode in ("L", "1", "I;16", "I") else "RGB"
      imgs.append(np.asarray(im.convert(mode)))
  shapes = {i.shape for i in imgs}
  if len(shapes) != 1:
    raise ValueError(f"images under {path} have different sizes {sorted(shapes)[:3]}…; resize them to one size")
  return _as_nhwc_uint8(np.stack(imgs), path)

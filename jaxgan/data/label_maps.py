"""Label maps as users have them: index PNGs (palette mode "P": the pixel's palette index is its class; greyscale
"L"/"I": the value is its class), colour PNGs painted in a palette (each colour of `palette` is its row's class, e.g.
scenes' `PALETTE`), int `.npy`/`.npz` arrays, or a folder of such PNGs. Maps of another size are resized with
nearest-neighbour sampling (classes are never blended). Anything else is one ValueError line.
"""
import os
from typing import Optional, Sequence, Tuple

import numpy as np

_EXTS = (".png", ".gif", ".bmp")


def _check(m: np.ndarray, num_classes: int, where: str) -> np.ndarray:
  if m.size and (m.min() < 0 or m.max() >= num_classes):
    raise ValueError(f"{where}: label map holds classes {int(m.min())}..{int(m.max())}, the model knows "
                     f"0..{num_classes - 1}")
  return m.astype(np.int32)


def _resize(m: np.ndarray, size: Optional[Tuple[int, int]]) -> np.ndarray:
  if size is None or m.shape == tuple(size):
    return m
  from PIL import Image
  return np.asarray(Image.fromarray(m.astype(np.int32)).resize((size[1], size[0]), Image.NEAREST))


def read_label_map_png(path: str, num_classes: int, palette: Optional[np.ndarray] = None,
                       size: Optional[Tuple[int, int]] = None) -> np.ndarray:
  """One PNG → int32 [H, W] classes (see the module docstring)."""
  from PIL import Image
  try:
    with Image.open(path) as im:
      mode = im.mode
      if mode == "P":
        m = np.asarray(im)
      elif mode in ("L", "I", "I;16"):
        m = np.asarray(im).astype(np.int64)
      else:
        rgb = np.asarray(im.convert("RGB"))
        if palette is None:
          raise ValueError(f"{path}: a colour label map needs the model's palette; give an index PNG (mode P or L)")
        pal = np.asarray(palette, np.int64)
        codes = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
        pal_codes = (pal[:, 0] << 16) | (pal[:, 1] << 8) | pal[:, 2]
        hit = codes[..., None] == pal_codes
        if not hit.any(-1).all():
          bad = rgb[~hit.any(-1)][0]
          raise ValueError(f"{path}: colour {tuple(int(v) for v in bad)} is not in the label palette")
        m = hit.argmax(-1)
  except OSError as e:
    raise ValueError(f"cannot read label map {path}: {e}") from None
  return _check(_resize(np.asarray(m), size), num_classes, path)


def read_label_maps(path: str, num_classes: int, palette: Optional[np.ndarray] = None,
                    size: Optional[Tuple[int, int]] = None) -> Tuple[np.ndarray, Sequence[str]]:
  """A PNG, a folder of PNGs (sorted by name), an int `.npy` [N, H, W] or an `.npz` with `label_maps` (or `inputs`)
  → (int32 [N, H, W], names)."""
  if os.path.isdir(path):
    names = sorted(f for f in os.listdir(path) if f.lower().endswith(_EXTS))
    if not names:
      raise ValueError(f"{path}: no label map images ({', '.join(_EXTS)}) in the folder")
    maps = [read_label_map_png(os.path.join(path, f), num_classes, palette, size) for f in names]
    if len({m.shape for m in maps}) > 1:
      raise ValueError(f"{path}: label maps of different sizes; give the size to resize them to")
    return np.stack(maps), names
  if not os.path.exists(path):
    raise ValueError(f"label maps not found: {path}")
  if path.endswith((".npy", ".npz")):
    try:
      z = np.load(path, allow_pickle=False)
      if isinstance(z, np.ndarray):
        arr = z
      else:
        with z:
          key = next((k for k in ("label_maps", "inputs", "input") if k in z.files), None)
          if key is None:
            raise ValueError(f"{path} holds {z.files}; expected `label_maps` (int N×H×W)")
          arr = z[key]
    except (OSError, ValueError) as e:
      raise ValueError(f"cannot read label maps {path}: {e}") from None
    if arr.ndim == 2:
      arr = arr[None]
    if arr.ndim != 3 or not np.issubdtype(arr.dtype, np.integer):
      raise ValueError(f"{path}: label maps must be integers N×H×W, got {arr.dtype} {arr.shape}")
    arr = np.stack([_resize(a, size) for a in arr]) if size is not None else arr
    return _check(arr, num_classes, path), [f"{i}" for i in range(len(arr))]
  return read_label_map_png(path, num_classes, palette, size)[None], [os.path.basename(path)]


def translate_file(run, path: str, out: str, grid: Optional[str] = None, noise_seed: Optional[int] = None) -> str:
  """scripts/translate.py for a label-map run (objective spade or pix2pix_map): label maps from `path` (any form
  `read_label_maps` takes; PNGs in the scenes palette or as index PNGs; other sizes resized nearest) → `out` .npz
  with `outputs` (uint8 N×H×W×C) and `label_maps`; `grid`: a PNG of map (palette) | output for the first 16.
  Returns the line to print; ValueErrors for anything that does not fit, and then nothing is written."""
  from jaxgan.data.scenes import PALETTE, colorize
  from jaxgan.metrics.scene_segmenter import translate_scenes
  gan = run.gan
  h, w = tuple(gan.image_shape)[:2]
  maps, _ = read_label_maps(path, int(gan.map_classes), PALETTE[:int(gan.map_classes)], size=(h, w))
  outputs = translate_scenes(gan, run.state, maps, seed=noise_seed)  # None: SPADE's z of key 0, pix2pix no dropout
  tmp = out[:-4] + ".tmp.npz"
  np.savez_compressed(tmp, outputs=outputs, label_maps=maps)
  os.replace(tmp, out)
  if grid:
    from jaxgan.logging import save_image_grid
    n = min(16, len(outputs))
    rows = np.stack([colorize(maps[:n]), outputs[:n]], axis=1)
    save_image_grid(rows.reshape((-1,) + rows.shape[2:]), grid, nrow=2)
  return f"translated {len(outputs)} label maps with {run.config.get('objective')} run (step {run.step}) -> {out}"

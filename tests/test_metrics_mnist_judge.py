"""The shipped MNIST judge (v2): version, held-out accuracy, the floor's real digits, and FD / score / histogram
ordering real ≈ floor ≪ one class < noise."""
import os

import numpy as np
import pytest

from jaxgan import metrics
from jaxgan.data.embedded import load_mnist_5k
from jaxgan.data.mnist_full import load_mnist_full
from jaxgan.metrics import frechet
from jaxgan.metrics import mnist_judge


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


def test_weights_ship_small_versioned_and_load_without_pickle():
  assert mnist_judge.JUDGE_VERSION == 2 and mnist_judge.JUDGE_NAME == "mnist_judge_v2"
  assert os.path.getsize(mnist_judge.DEFAULT_PATH) < 2e6
  with np.load(mnist_judge.DEFAULT_PATH, allow_pickle=False) as z:
    assert int(z["version"]) == 2 and int(z["ref_n"]) == 10_000
    assert z["ref_features_sigma"].shape == (128, 128) and z["ref_logits_mu"].shape == (10,)
    assert float(z["test_accuracy"]) >= 0.99


def test_a_judge_file_of_another_version_is_refused(tmp_path, judge):
  for version in (np.int32(1), np.str_("mnist_judge_v1"), None):
    meta = {k: v for k, v in judge.meta.items() if k != "version"}
    if version is not None:
      meta["version"] = version
    path = str(tmp_path / "judge.npz")
    mnist_judge.save_judge(path, judge.params, meta)
    with pytest.raises(ValueError, match="this code is judge v2"):
      mnist_judge._load(path)


def test_held_out_accuracy_and_reference_are_the_10k_test_digits(judge):
  images, labels = load_mnist_full("test")
  feats, logits = judge(images)
  assert feats.shape == (10_000, 128) and logits.shape == (10_000, 10)
  assert (logits.argmax(1) == labels).mean() >= 0.99
  # The stored reference statistics are these digits' statistics, so they score 0 against it.
  np.testing.assert_allclose(feats.mean(0), judge.reference_stats("features")[0], atol=1e-4)
  assert frechet.frechet_distance_from_stats(*frechet.feature_stats(feats), *judge.reference_stats("features")) < 1e-2


def test_embedded_digits_accuracy(judge):
  images, labels = load_mnist_5k()
  assert (judge(images)[1].argmax(1) == labels).mean() >= 0.985


def test_floor_digits_are_unseen_training_digits_in_a_fixed_order(judge):
  emb = judge.embedded_outputs()
  f5, l5 = judge.floor_outputs(5000)
  f10, l10 = judge.floor_outputs(10_000)
  assert f10.shape == (10_000, 128) and l10.shape == (10_000, 10)
  np.testing.assert_array_equal(f10[:5000], f5)  # a prefix: the floor at n ≤ 5,000 is the embedded digits
  np.testing.assert_array_equal(np.sort(f5[:, 0]), np.sort(emb[0][:, 0]))
  # Then mnist_full's training digits 50,000-54,999 (never trained on), in their own seed-0 permutation.
  held = load_mnist_full("train")[0][mnist_judge.FLOOR_HELD_OUT_START:]
  order = np.random.default_rng(0).permutation(5000)[:500]
  np.testing.assert_allclose(judge(held[order])[0], f10[5000:5500], atol=1e-5)
  np.testing.assert_array_equal(judge.floor_outputs(7)[0], f10[:7])
  with pytest.raises(ValueError, match="10000 real digits"):
    judge.floor_outputs(10_001)


def test_floor_at_5k_and_10k(judge):
  """The documented floors: 5,000 and 10,000 real training digits against the 10,000 test digits."""
  mu, sigma = judge.reference_stats("features")
  floors = {n: frechet.frechet_distance_from_stats(*frechet.feature_stats(judge.floor_outputs(n)[0]), mu, sigma)
            for n in (5000, 10_000)}
  assert 0 < floors[10_000] < floors[5000] < 3.0


def test_fd_orders_real_one_class_noise(judge, sets):
  fd = {k: mnist_judge.mnist_fd(v, judge=judge) for k, v in sets.items()}
  for r in fd.values():
    assert r["floor"] > 0 and r["floor_n"] == min(r["n"], 10_000)
    assert r["judge"] == "mnist_judge_v2" and r["judge_version"] == 2
  assert fd["real"]["fd"] < 1.5 * fd["real"]["floor"]  # real digits score at the floor
  assert fd["real"]["fd"] * 20 < fd["one_class"]["fd"] < fd["noise"]["fd"]
  assert fd["real"]["fd_logits"] * 10 < fd["one_class"]["fd_logits"]


def test_score_and_histogram(judge, sets):
  real = mnist_judge.mnist_score(sets["real"], judge=judge)
  one = mnist_judge.mnist_score(sets["one_class"], judge=judge)
  assert real["judge_version"] == 2 and one["judge"] == "mnist_judge_v2"
  assert real["score"] > 9.0 and real["floor"] > 9.0
  assert one["score"] < 1.3
  assert real["classes_present"] == 10 and real["max_min_ratio"] < 1.6
  assert one["class_histogram"][1] >= 490 and (one["max_min_ratio"] is None or one["max_min_ratio"] > 40)
  assert sum(one["class_histogram"]) == 500


def test_prdc_on_digits_names_the_judge(sets):
  pr = metrics.evaluate("prdc", images=sets["real"][:300])
  assert pr["judge"] == "mnist_judge_v2" and pr["judge_version"] == 2


def test_input_validation(judge):
  with pytest.raises(ValueError, match="uint8"):
    judge(np.zeros((4, 28, 28, 1), np.float32))
  with pytest.raises(ValueError, match="28, 28, 1"):
    judge(np.zeros((4, 32, 32, 3), np.uint8))

"""Stacked MNIST: the dataset builder and the 1,000-mode metric on real digits with known triples."""
import chex
import numpy as np
import pytest

from jaxgan.data import stacked
from jaxgan.data.embedded import load_mnist_5k
from jaxgan.metrics import mnist_judge
from jaxgan.metrics import stacked_mnist


def test_dataset_is_deterministic_and_labels_match_channels():
  images, labels = stacked.make_stacked_mnist(300, seed=5)
  chex.assert_shape(images, (300, 28, 28, 3))
  chex.assert_shape(labels, (300, 3))
  assert images.dtype == np.uint8
  again, _ = stacked.make_stacked_mnist(300, seed=5)
  chex.assert_trees_all_equal(images, again)
  assert not np.array_equal(images, stacked.make_stacked_mnist(300, seed=6)[0])
  digits, digit_labels = load_mnist_5k()
  index = stacked.stack_indices(300, seed=5, pool_size=5000)
  for c in range(3):
    chex.assert_trees_all_equal(images[..., c], digits[index[:, c], ..., 0])
    chex.assert_trees_all_equal(labels[:, c], digit_labels[index[:, c]])
  # Independent channels over a class-balanced pool: triples spread over most of the 1,000 cells.
  _, many = stacked.make_stacked_mnist(20000, seed=0)
  assert len(np.unique(stacked.triple_ids(many))) > 990


def test_exactly_500_triples_from_real_digits():
  judge = mnist_judge.load_judge()
  digits, labels = load_mnist_5k()
  # Use digits the judge classifies correctly, so the expected triples are known without trusting its accuracy.
  correct = np.flatnonzero(judge(digits)[1].argmax(1) == labels)
  by_class = [correct[labels[correct] == d] for d in range(10)]
  rng = np.random.default_rng(0)
  triples = rng.permutation(1000)[:500]
  ids = np.repeat(triples, 4)  # every chosen triple exactly 4 times: uniform over 500 → KL = log 2
  digit_of = np.stack([ids // 100, ids // 10 % 10, ids % 10], axis=1)
  index = np.vectorize(lambda d: rng.choice(by_class[d]))(digit_of)
  images = stacked.stack_digits(digits, index)
  chex.assert_trees_all_equal(stacked_mnist.predicted_triples(images, judge), ids)
  got = stacked_mnist.stacked_mnist_metrics(images, judge=judge)
  assert got["modes"] == 500
  assert got["kl"] == pytest.approx(np.log(2.0), rel=1e-12)
  # Real stacks of the same size reach far more modes than 500 and a KL near the sampling floor.
  assert got["floor_modes"] > 850 and got["floor_kl"] < 0.5


def test_one_triple_is_maximal_collapse():
  digits, labels = load_mnist_5k()
  i = int(np.flatnonzero(labels == 3)[0])
  images = stacked.stack_digits(digits, np.full((50, 3), i))
  got = stacked_mnist.stacked_mnist_metrics(images, with_floor=False)
  assert got["modes"] == 1 and got["kl"] == pytest.approx(np.log(1000.0))


def test_wrong_shape_raises():
  with pytest.raises(ValueError, match="28, 28, 3"):
    stacked_mnist.stacked_mnist_metrics(np.zeros((4, 28, 28, 1), np.uint8))


def test_kl_splits_into_channel_balance_and_dependence():
  rng = np.random.default_rng(0)
  # Independent channels, channel 0 skewed towards digit 7: the KL is the marginals' part, dependence ≈ 0.
  p0 = np.full(10, 1.0)
  p0[7] = 4.0
  d = np.stack([rng.choice(10, 200_000, p=p0 / p0.sum()), rng.integers(0, 10, 200_000), rng.integers(0, 10, 200_000)])
  got = stacked_mnist.triple_metrics(d[0] * 100 + d[1] * 10 + d[2])
  q = p0 / p0.sum()
  assert got["kl_marginals"] == pytest.approx(float((q * np.log(q * 10)).sum()), abs=2e-3)
  assert abs(got["kl_dependence"]) < 5e-3
  assert got["kl"] == pytest.approx(got["kl_marginals"] + got["kl_dependence"], rel=1e-12)
  assert got["channel_class_ratio"] == pytest.approx(4.0, rel=0.05)
  assert [sum(c) for c in got["channel_counts"]] == [200_000] * 3
  assert got["channel_counts"][0][7] == max(got["channel_counts"][0])  # the skewed digit
  # Balanced channels but only the 10 triples (d, d, d): every marginal uniform, all of the KL is dependence.
  ids = np.repeat(np.arange(10) * 111, 50)
  got = stacked_mnist.triple_metrics(ids)
  assert got["kl_marginals"] == pytest.approx(0.0, abs=1e-12)
  assert got["kl_dependence"] == pytest.approx(np.log(100.0), rel=1e-12)
  assert got["channel_class_ratio"] == pytest.approx(1.0)
  assert got["channel_counts"] == [[50] * 10] * 3
  # A digit missing from a channel: no finite ratio.
  assert stacked_mnist.triple_metrics(np.arange(100))["channel_class_ratio"] is None

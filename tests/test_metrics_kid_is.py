"""KID (unbiased MMD², cubic kernel) and the Inception Score formula on features/logits."""
import itertools

import numpy as np
import pytest

from jaxgan.metrics import inception_score
from jaxgan.metrics import kid


def test_mmd2_matches_the_definition_term_by_term():
  rng = np.random.default_rng(0)
  x, y = rng.normal(size=(12, 3)), rng.normal(size=(12, 3)) + 0.5
  k = lambda a, b: (a @ b / 3 + 1) ** 3
  m = 12
  xx = sum(k(x[i], x[j]) for i, j in itertools.permutations(range(m), 2))
  yy = sum(k(y[i], y[j]) for i, j in itertools.permutations(range(m), 2))
  xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m))
  want = (xx + yy) / (m * (m - 1)) - 2 * xy / m ** 2
  assert kid.mmd2_unbiased(x, y) == pytest.approx(want, rel=1e-10)


def test_kid_near_zero_for_one_distribution_and_positive_for_a_shift():
  rng = np.random.default_rng(0)
  a, b = rng.normal(size=(1500, 64)), rng.normal(size=(1500, 64))
  same = kid.kid(a, b, num_subsets=10, subset_size=500)
  shifted = kid.kid(a, b + 0.5, num_subsets=10, subset_size=500)
  assert abs(same["kid"]) < 0.01
  assert shifted["kid"] > 50 * abs(same["kid"]) and shifted["kid"] > 0.05
  assert same["subset_size"] == 500


def test_kid_subset_size_capped_by_sample_count():
  rng = np.random.default_rng(0)
  assert kid.kid(rng.normal(size=(40, 4)), rng.normal(size=(30, 4)), num_subsets=3)["subset_size"] == 30


def test_inception_score_extremes():
  c, n = 7, 700
  confident_uniform = 50.0 * np.eye(c)[np.arange(n) % c]  # every split sees all classes equally, sharply
  assert inception_score.inception_score(confident_uniform, splits=10)["mean"] == pytest.approx(c, rel=1e-6)
  one_class = 50.0 * np.eye(c)[np.zeros(n, int)]
  assert inception_score.inception_score(one_class)["mean"] == pytest.approx(1.0, abs=1e-6)
  flat = np.zeros((n, c))
  assert inception_score.inception_score(flat)["mean"] == pytest.approx(1.0, abs=1e-9)


def test_inception_score_needs_enough_samples():
  with pytest.raises(ValueError):
    inception_score.inception_score(np.zeros((5, 3)), splits=10)

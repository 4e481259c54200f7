"""Fréchet distance against closed forms."""
import numpy as np
import pytest

from jaxgan.metrics import frechet


def _rotation(d: int, seed: int) -> np.ndarray:
  q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
  return q


def test_identical_sets_give_zero():
  x = np.random.default_rng(0).normal(size=(2000, 32)) @ np.random.default_rng(1).normal(size=(32, 32))
  assert frechet.frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)


def test_mean_shift_gives_squared_norm():
  x = np.random.default_rng(0).normal(size=(1000, 8))
  shift = np.arange(8, dtype=np.float64) / 3
  assert frechet.frechet_distance(x, x + shift) == pytest.approx(float(shift @ shift), rel=1e-9)


def test_diagonal_covariances():
  a, b = np.array([1.0, 4.0, 9.0, 0.25]), np.array([4.0, 1.0, 16.0, 2.0])
  mu1, mu2 = np.zeros(4), np.array([1.0, 0.0, -2.0, 0.5])
  expected = float(((mu1 - mu2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum())
  got = frechet.frechet_distance_from_stats(mu1, np.diag(a), mu2, np.diag(b))
  assert got == pytest.approx(expected, rel=1e-10)


def test_commuting_full_covariances_in_a_rotated_basis():
  # Σ1 = Q diag(a) Qᵀ, Σ2 = Q diag(b) Qᵀ commute, so the distance is still Σ(√a − √b)²; Q makes them dense.
  d = 64
  q = _rotation(d, 3)
  rng = np.random.default_rng(4)
  a, b = rng.uniform(0.1, 5, d), rng.uniform(0.1, 5, d)
  got = frechet.frechet_distance_from_stats(np.zeros(d), q @ np.diag(a) @ q.T, np.zeros(d), q @ np.diag(b) @ q.T)
  assert got == pytest.approx(float(((np.sqrt(a) - np.sqrt(b)) ** 2).sum()), rel=1e-8)


def test_singular_covariances_stay_finite():
  # Rank-deficient features (fewer samples than dimensions): the classic source of NaN/complex sqrtm output.
  rng = np.random.default_rng(0)
  x, y = rng.normal(size=(10, 50)), rng.normal(size=(10, 50)) + 1.0
  d = frechet.frechet_distance(x, y)
  assert np.isfinite(d) and d > 50 * 0.5


def test_non_finite_input_raises():
  x = np.random.default_rng(0).normal(size=(100, 4))
  y = x.copy()
  y[3, 2] = np.nan
  with pytest.raises(ValueError):
    frechet.frechet_distance(x, y)

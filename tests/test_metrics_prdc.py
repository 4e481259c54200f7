"""Precision/recall/density/coverage: known answers and a brute-force reference."""
import chex
import numpy as np
import pytest

from jaxgan.metrics import prdc


def _brute_force(real, fake, k_pr=3, k_dc=5):
  real, fake = real.astype(np.float64), fake.astype(np.float64)
  d_rr = np.linalg.norm(real[:, None] - real[None], axis=-1)
  d_ff = np.linalg.norm(fake[:, None] - fake[None], axis=-1)
  d_rf = np.linalg.norm(real[:, None] - fake[None], axis=-1)
  r_pr, r_dc = np.sort(d_rr, 1)[:, k_pr], np.sort(d_rr, 1)[:, k_dc]
  f_pr = np.sort(d_ff, 1)[:, k_pr]
  return {
      "precision": (d_rf <= r_pr[:, None]).any(0).mean(),
      "recall": (d_rf <= f_pr[None, :]).any(1).mean(),
      "density": (d_rf <= r_dc[:, None]).sum() / (k_dc * fake.shape[0]),
      "coverage": (d_rf.min(1) <= r_dc).mean(),
  }


def test_identical_sets():
  x = np.random.default_rng(0).normal(size=(600, 16))
  got = prdc.prdc(x, x, block=256)
  # Each real ball B(x_i, r_5) holds x_i and its 5 neighbours: density = 6N / (5N) = 1.2 exactly.
  chex.assert_trees_all_close(got, {"precision": 1.0, "recall": 1.0, "density": 1.2, "coverage": 1.0})


def test_disjoint_sets():
  rng = np.random.default_rng(0)
  got = prdc.prdc(rng.normal(size=(300, 8)), rng.normal(size=(200, 8)) + 50.0)
  chex.assert_trees_all_close(got, {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0})


def test_matches_brute_force_with_ragged_blocks():
  rng = np.random.default_rng(1)
  real = rng.normal(size=(301, 5)).astype(np.float32)
  fake = (rng.normal(size=(203, 5)) * 1.3 + 0.4).astype(np.float32)
  want = _brute_force(real, fake)
  got = prdc.prdc(real, fake, block=64)  # 301 and 203 are not multiples of 64: exercises the padding
  for key in want:
    assert got[key] == pytest.approx(want[key], abs=1.5e-2), key  # float32 ties near radii may flip a point
  assert 0 < got["precision"] < 1 and 0 < got["recall"] < 1


def test_half_the_modes_lowers_recall_and_coverage_not_precision():
  rng = np.random.default_rng(2)
  centres = rng.normal(size=(10, 8)) * 20
  real = centres[rng.integers(0, 10, 1000)] + rng.normal(size=(1000, 8))
  half = centres[rng.integers(0, 5, 1000)] + rng.normal(size=(1000, 8))
  full = centres[rng.integers(0, 10, 1000)] + rng.normal(size=(1000, 8))
  got_half, got_full = prdc.prdc(real, half), prdc.prdc(real, full)
  assert abs(got_half["precision"] - got_full["precision"]) < 0.1
  assert got_full["recall"] > 0.7 and got_full["coverage"] > 0.9
  assert got_half["recall"] < 0.6 and got_half["coverage"] < 0.6

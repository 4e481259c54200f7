"""Ring-8 / grid-25 samplers and the PacGAN mode metrics on constructed samples."""
import chex
import jax
import numpy as np
import pytest

from jaxgan.data import mixtures as data_mixtures
from jaxgan.metrics import mixtures


def test_mixture_definitions():
  ring = data_mixtures.get_mixture("ring8")
  grid = data_mixtures.get_mixture("grid25")
  assert ring.std == 0.01 and grid.std == 0.05
  # Endpoint excluded: 8 distinct points 45° apart on the unit circle (linspace(0, 2π, 8) would repeat one).
  chex.assert_trees_all_close(np.linalg.norm(ring.centers_Kx2, axis=1), np.ones(8), atol=1e-12)
  gaps = np.linalg.norm(ring.centers_Kx2 - np.roll(ring.centers_Kx2, 1, axis=0), axis=1)
  chex.assert_trees_all_close(gaps, np.full(8, 2 * np.sin(np.pi / 8)), atol=1e-12)
  assert sorted(map(tuple, grid.centers_Kx2.tolist())) == [(x, y) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)]
  with pytest.raises(ValueError, match="ring8"):
    data_mixtures.get_mixture("ring9")


def test_sampler_is_jittable_and_deterministic():
  sample = jax.jit(data_mixtures.sample_mixture, static_argnums=(1, 2))
  a = sample(jax.random.PRNGKey(3), 64, "grid25")
  chex.assert_shape(a, (64, 2))
  assert a.dtype == np.float32
  chex.assert_trees_all_equal(a, sample(jax.random.PRNGKey(3), 64, "grid25"))
  chex.assert_trees_all_close(a, data_mixtures.sample_mixture(jax.random.PRNGKey(3), 64, "grid25"), atol=1e-6)


def test_real_ring8_samples_capture_all_modes():
  points = np.asarray(data_mixtures.sample_mixture(jax.random.PRNGKey(0), 2500, "ring8"))
  got = mixtures.mixture_metrics(points, "ring8")
  assert got["modes"] == 8
  # A 2-D Gaussian lies within 3 std with probability 1 − e^{−4.5} = 0.9889.
  assert got["high_quality_fraction"] == pytest.approx(1 - np.exp(-4.5), abs=0.01)
  assert got["reverse_kl"] < 0.01


def test_grid25_seventeen_modes_with_known_histogram_and_junk():
  grid = data_mixtures.get_mixture("grid25")
  rng = np.random.default_rng(0)
  chosen = rng.choice(25, 17, replace=False)
  counts = np.zeros(25, int)
  counts[chosen[:10]] = 100
  counts[chosen[10:]] = 50
  # Noise of 1 std per axis stays inside the 3-std disc only with prob. 0.99; clip it to keep every point HQ.
  on_mode = np.concatenate([grid.centers_Kx2[k] + np.clip(rng.normal(size=(c, 2)), -2, 2) * grid.std
                            for k, c in enumerate(counts) if c])
  junk = rng.uniform(-4, 4, size=(400, 2))
  junk = junk[np.min(np.linalg.norm(junk[:, None] - grid.centers_Kx2[None], axis=-1), axis=1) > 0.5][:300]
  got = mixtures.mixture_metrics(np.concatenate([on_mode, junk]), "grid25")
  p = counts[counts > 0] / counts.sum()
  assert got["modes"] == 17
  assert got["mode_histogram"] == counts.tolist()
  assert got["high_quality_fraction"] == pytest.approx(1350 / 1650)
  assert got["reverse_kl"] == pytest.approx(float((p * np.log(25 * p)).sum()), rel=1e-12)


def test_no_high_quality_sample_gives_no_kl():
  got = mixtures.mixture_metrics(np.full((10, 2), 0.5), "ring8")
  assert got["modes"] == 0 and got["high_quality_fraction"] == 0.0 and got["reverse_kl"] is None


def test_bad_points_raise():
  with pytest.raises(ValueError):
    mixtures.mixture_metrics(np.zeros((10, 3)), "ring8")

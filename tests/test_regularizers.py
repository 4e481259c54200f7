"""Gradient penalties against closed forms: a linear D has ∇D = w everywhere, a quadratic D has ∇D(x) = a·x."""
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from jaxgan import regularizers
from jaxgan.models import ops

W = jnp.array([0.3, -1.2, 0.4, 2.0, -0.5, 0.1], jnp.float32)  # ‖W‖ = √5.55 ≈ 2.356


def linear_d(w, x_Bx___):
  return x_Bx___.reshape(x_Bx___.shape[0], -1) @ w


def batches(seed=0, b=8):
  rng = np.random.default_rng(seed)
  real = jnp.asarray(rng.normal(size=(b, 3, 2)), jnp.float32)
  fake = jnp.asarray(rng.normal(size=(b, 3, 2)), jnp.float32)
  return real, fake


@pytest.mark.parametrize("name", ["gp", "dragan", "r1", "r2"])
def test_linear_d_penalty_and_its_gradient(name):
  real, fake = batches()
  fn = regularizers.PENALTIES[name]
  norm = float(jnp.linalg.norm(W))
  expect = (norm - 1.0) ** 2 if name in ("gp", "dragan") else 0.5 * norm ** 2
  # d/dw of (‖w‖−1)² is 2(‖w‖−1)·w/‖w‖; of ½‖w‖² it is w.
  expect_grad = 2 * (norm - 1) * W / norm if name in ("gp", "dragan") else W
  value, grad = jax.value_and_grad(lambda w: fn(linear_d, w, real, fake, jax.random.key(1)))(W)
  np.testing.assert_allclose(float(value), expect, rtol=1e-5)
  np.testing.assert_allclose(np.asarray(grad), np.asarray(expect_grad), rtol=1e-4, atol=1e-6)
  assert value.dtype == jnp.float32 and value.shape == ()


@pytest.mark.parametrize("name", ["gp", "r1"])
def test_packed_penalty_takes_the_norm_over_the_whole_pack(name):
  # D on packs of 2: logit = w·[x_i, x_{i+1}], so ∇ over the pack is the whole 12-vector w.
  w2 = jnp.concatenate([W, 0.5 * W])
  real, fake = batches()
  d_apply = lambda w, x: linear_d(w, ops.pack(x, 2))
  value = regularizers.PENALTIES[name](d_apply, w2, real, fake, jax.random.key(0), pack=2)
  norm = float(jnp.linalg.norm(w2))
  np.testing.assert_allclose(float(value), (norm - 1) ** 2 if name == "gp" else 0.5 * norm ** 2, rtol=1e-5)


def test_r1_r2_use_per_sample_gradients_of_a_quadratic_d():
  # D(x) = a/2 ‖x‖² → ∇D(x) = a·x, so R1 = ½ a² E‖x‖²: gradients must be per sample, not of a batch mean.
  a = jnp.float32(0.7)
  d_apply = lambda a_, x: 0.5 * a_ * jnp.sum(x.reshape(x.shape[0], -1) ** 2, axis=1)
  real, fake = batches(3)
  r1 = regularizers.r1(d_apply, a, real, fake, None)
  r2 = regularizers.r2(d_apply, a, real, fake, None)
  sq = lambda x: np.mean(np.sum(np.asarray(x).reshape(8, -1) ** 2, axis=1))
  np.testing.assert_allclose(float(r1), 0.5 * 0.49 * sq(real), rtol=1e-5)
  np.testing.assert_allclose(float(r2), 0.5 * 0.49 * sq(fake), rtol=1e-5)


def recording_d(seen):
  """A linear D that records the points it is evaluated at (the penalties evaluate it under jax.grad)."""
  def d_apply(p, x):
    jax.debug.callback(lambda v: seen.append(np.asarray(v)), x)
    return jnp.sum(x.reshape(x.shape[0], -1), axis=1) * p
  return d_apply


def test_gp_samples_between_real_and_fake():
  seen = []
  d_apply = recording_d(seen)
  real, fake = batches(4)
  regularizers.wgan_gp(d_apply, jnp.float32(1.0), real, fake, jax.random.key(2))
  x_hat = np.asarray(seen[0])
  # x̂ − fake = ε (real − fake), one ε in [0, 1] per sample
  eps = (x_hat - np.asarray(fake)).reshape(8, -1) / (np.asarray(real) - np.asarray(fake)).reshape(8, -1)
  np.testing.assert_allclose(eps, eps[:, :1].repeat(eps.shape[1], 1), rtol=1e-4, atol=1e-5)
  assert np.all((eps >= 0) & (eps <= 1)) and np.unique(eps[:, 0].round(5)).size > 1


def test_dragan_perturbs_reals_within_half_a_std():
  seen = []
  d_apply = recording_d(seen)
  real, fake = batches(5)
  regularizers.dragan(d_apply, jnp.float32(1.0), real, fake, jax.random.key(3))
  delta = np.asarray(seen[0]) - np.asarray(real)
  assert np.all(delta >= 0) and np.all(delta <= 0.5 * np.std(np.asarray(real)) + 1e-6) and delta.max() > 0


def test_from_config():
  assert not regularizers.from_config(None).enabled
  assert not regularizers.from_config(ml_collections.ConfigDict(dict(name="none"))).enabled
  p = regularizers.from_config(ml_collections.ConfigDict(dict(name="r1", weight=5.0, interval=4)))
  assert p.enabled and p.fn is regularizers.r1 and p.weight == 5.0 and p.interval == 4
  with pytest.raises(ValueError, match="unknown penalty 'wgan'"):
    regularizers.from_config(ml_collections.ConfigDict(dict(name="wgan")))
  with pytest.raises(ValueError, match="interval"):
    regularizers.from_config(ml_collections.ConfigDict(dict(name="gp", interval=0)))

"""Each loss against its textbook formula (written with sigmoid and log) on moderate logits; finite at |logit|=100."""
import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import losses

R = jnp.array([-2.0, -0.3, 0.5, 1.7])
F = jnp.array([-1.2, 0.1, 0.8, 2.5])
sig = jax.nn.sigmoid

TEXTBOOK = {
    "minimax": (lambda r, f: -jnp.mean(jnp.log(sig(r))) - jnp.mean(jnp.log(1 - sig(f))),
                lambda f: jnp.mean(jnp.log(1 - sig(f)))),
    "non_saturating": (lambda r, f: -jnp.mean(jnp.log(sig(r)) + jnp.log(1 - sig(f))),
                       lambda f: -jnp.mean(jnp.log(sig(f)))),
    "hinge": (lambda r, f: jnp.mean(jnp.maximum(0, 1 - r)) + jnp.mean(jnp.maximum(0, 1 + f)),
              lambda f: -jnp.mean(f)),
    "wasserstein": (lambda r, f: -(jnp.mean(r) - jnp.mean(f)), lambda f: -jnp.mean(f)),
    "least_squares": (lambda r, f: 0.5 * jnp.mean((r - 1) ** 2) + 0.5 * jnp.mean(f ** 2),
                      lambda f: 0.5 * jnp.mean((f - 1) ** 2)),
}


@pytest.mark.parametrize("name", sorted(TEXTBOOK))
def test_matches_textbook(name):
  loss = losses.get_loss(name)
  d_ref, g_ref = TEXTBOOK[name]
  np.testing.assert_allclose(loss.d(R, F), d_ref(R, F), rtol=1e-5)
  np.testing.assert_allclose(loss.g(F), g_ref(F), rtol=1e-5)


@pytest.mark.parametrize("name", sorted(TEXTBOOK))
def test_finite_at_extreme_logits(name):
  loss = losses.get_loss(name)
  big = jnp.array([-100.0, 100.0])
  vals = (loss.d(big, big), loss.g(big), jax.grad(loss.d, argnums=(0, 1))(big, big), jax.grad(loss.g)(big))
  chex.assert_tree_all_finite(vals)


def test_extreme_values_are_right_not_just_finite():
  # −log σ(−100) = 100 exactly in the limit; the naive log(sigmoid) form returns inf in float32.
  np.testing.assert_allclose(losses.g_non_saturating(jnp.array([-100.0])), 100.0, rtol=1e-6)
  assert not np.isfinite(float(-jnp.log(sig(jnp.float32(-200.0)))))


def test_losses_compute_in_float32_from_bfloat16_logits():
  out = losses.get_loss("non_saturating").d(R.astype(jnp.bfloat16), F.astype(jnp.bfloat16))
  assert out.dtype == jnp.float32


def test_unknown_loss_is_a_clear_error():
  with pytest.raises(ValueError, match="unknown loss 'bogus'.*hinge"):
    losses.get_loss("bogus")

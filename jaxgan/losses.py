"""Adversarial losses on raw discriminator outputs ("logits"), computed in float32.

Sigmoid-based losses use `log_sigmoid`/`softplus`, never `log(sigmoid(x))`, so they stay finite at |logit| = 100:
  -log σ(x) = softplus(-x),   -log(1 - σ(x)) = softplus(x).
Each D loss takes (real_logits, fake_logits); each G loss takes fake_logits. All return scalar means.
"""
from typing import Callable, Dict, NamedTuple

import jax
import jax.numpy as jnp


def _f32(x):
  return jnp.asarray(x, jnp.float32)


def d_minimax(real, fake):
  """Original GAN D loss: −[log D(x) + log(1 − D(G(z)))] = softplus(−r) + softplus(f)."""
  return jnp.mean(jax.nn.softplus(-_f32(real))) + jnp.mean(jax.nn.softplus(_f32(fake)))


def g_minimax(fake):
  """Saturating G loss of the minimax game: log(1 − D(G(z))) = −softplus(f), minimised by G."""
  return -jnp.mean(jax.nn.softplus(_f32(fake)))


def g_non_saturating(fake):
  """Non-saturating G loss: −log D(G(z)) = softplus(−f)."""
  return jnp.mean(jax.nn.softplus(-_f32(fake)))


def d_hinge(real, fake):
  """Hinge D loss: E[max(0, 1 − r)] + E[max(0, 1 + f)]."""
  return jnp.mean(jax.nn.relu(1.0 - _f32(real))) + jnp.mean(jax.nn.relu(1.0 + _f32(fake)))


def g_hinge(fake):
  """Hinge G loss: −E[f]."""
  return -jnp.mean(_f32(fake))


def d_wasserstein(real, fake):
  """Critic loss: E[f] − E[r] (the critic maximises E[r] − E[f])."""
  return jnp.mean(_f32(fake)) - jnp.mean(_f32(real))


def g_wasserstein(fake):
  """WGAN G loss: −E[f]."""
  return -jnp.mean(_f32(fake))


def d_least_squares(real, fake):
  """LSGAN D loss (a=0, b=1): ½E[(r − 1)²] + ½E[f²]."""
  return 0.5 * jnp.mean(jnp.square(_f32(real) - 1.0)) + 0.5 * jnp.mean(jnp.square(_f32(fake)))


def g_least_squares(fake):
  """LSGAN G loss (c=1): ½E[(f − 1)²]."""
  return 0.5 * jnp.mean(jnp.square(_f32(fake) - 1.0))


class GANLoss(NamedTuple):
  d: Callable
  g: Callable


LOSSES: Dict[str, GANLoss] = {
    # The original paper's game: D's cross-entropy and the saturating G loss.
    "minimax": GANLoss(d_minimax, g_minimax),
    # D's cross-entropy and −log D(G(z)); this is what the original MLP GAN code trains.
    "non_saturating": GANLoss(d_minimax, g_non_saturating),
    "hinge": GANLoss(d_hinge, g_hinge),
    "wasserstein": GANLoss(d_wasserstein, g_wasserstein),
    "least_squares": GANLoss(d_least_squares, g_least_squares),
}


def get_loss(name: str) -> GANLoss:
  if name not in LOSSES:
    raise ValueError(f"unknown loss {name!r}; known losses: {', '.join(sorted(LOSSES))}")
  return LOSSES[name]

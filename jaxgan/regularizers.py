"""Gradient penalties on D: pure functions of (d_apply, d_params, real, fake, key) → float32 scalar.

  config.penalty = ConfigDict(name="none" | "gp" | "dragan" | "r1" | "r2", weight=..., interval=1)

  gp      WGAN-GP (Gulrajani et al.):  E[(‖∇D(x̂)‖ − 1)²],  x̂ = εx + (1 − ε)G(z), ε ~ U[0, 1] per sample
  dragan  DRAGAN (Kodali et al.):       E[(‖∇D(x̂)‖ − 1)²],  x̂ = x + α·c·σ·u, α, u ~ U[0, 1), σ = std of the
                                        real batch (all entries), c = 0.5
  r1      R1 (Mescheder et al.):        ½ E‖∇D(x)‖² on reals
  r2      R2:                           ½ E‖∇D(G(z))‖² on fakes
D's loss gains `weight` × penalty (so `weight` is λ for gp/dragan, γ for r1/r2). With `interval` N > 1 the
penalty is lazy (StyleGAN2): computed on every N-th D update only, with weight × N, same expected gradient.

∇D(x) is the gradient of Σ_b D(x)_b with respect to x: each sample's own gradient when D treats samples
independently (with minibatch-stddev it includes the small cross-sample terms, as in StyleGAN). With PacGAN
packing (`pack` = m) D returns one logit per m consecutive samples and the norm is taken over the whole pack.
`d_apply(d_params, x_Bx...) -> logits_[B/pack]`. With `axis_name` the random draws are made for the global batch
and sliced per device, and batch statistics (DRAGAN's σ) are global, so 1 and N devices agree; the returned value
is this device's mean (the step averages it over devices with the loss).
"""
from typing import Callable, Dict, NamedTuple, Optional

import jax
import jax.numpy as jnp
from jax import lax

from jaxgan.augment import draw_global

DApply = Callable[..., jax.Array]


def _grad_sq_norms(d_apply: DApply, d_params, x, pack: int):
  """‖∇_x Σ D(x)‖² per pack of `pack` consecutive samples (float32, shape [B/pack])."""
  g = jax.grad(lambda x_: jnp.sum(d_apply(d_params, x_).astype(jnp.float32)))(x)
  sq_B = jnp.sum(jnp.square(g.astype(jnp.float32)).reshape(x.shape[0], -1), axis=1)
  return jnp.sum(sq_B.reshape(-1, pack), axis=1)


def _per_pack_uniform(key, x, pack: int, axis_name):
  """U[0, 1) per pack, repeated over the pack's samples, broadcastable against x."""
  u = draw_global(jax.random.uniform, key, (x.shape[0] // pack,), axis_name)
  return jnp.repeat(u, pack).reshape((x.shape[0],) + (1,) * (x.ndim - 1)).astype(x.dtype)


def wgan_gp(d_apply: DApply, d_params, real, fake, key, *, pack: int = 1, axis_name: Optional[str] = None):
  """E[(‖∇D(x̂)‖ − 1)²] on random interpolates of real and fake (one ε per pack)."""
  eps = _per_pack_uniform(key, real, pack, axis_name)
  x_hat = eps * real + (1.0 - eps) * fake.astype(real.dtype)
  norm = jnp.sqrt(_grad_sq_norms(d_apply, d_params, x_hat, pack) + 1e-12)  # finite grad of √ at 0
  return jnp.mean(jnp.square(norm - 1.0))


def dragan(d_apply: DApply, d_params, real, fake, key, *, pack: int = 1, axis_name: Optional[str] = None,
           c: float = 0.5):
  """E[(‖∇D(x̂)‖ − 1)²] at reals perturbed by α·c·σ·u (DRAGAN's reference implementation)."""
  del fake
  k_u, k_a = jax.random.split(key)
  x = real.astype(jnp.float32)
  mean, mean_sq = jnp.mean(x), jnp.mean(jnp.square(x))
  if axis_name is not None:
    mean, mean_sq = lax.pmean((mean, mean_sq), axis_name)
  std = jnp.sqrt(jnp.maximum(mean_sq - jnp.square(mean), 0.0))
  u = draw_global(jax.random.uniform, k_u, real.shape, axis_name)
  alpha = _per_pack_uniform(k_a, real, pack, axis_name)
  x_hat = (real + alpha * (c * lax.stop_gradient(std) * u).astype(real.dtype))
  norm = jnp.sqrt(_grad_sq_norms(d_apply, d_params, x_hat, pack) + 1e-12)
  return jnp.mean(jnp.square(norm - 1.0))


def r1(d_apply: DApply, d_params, real, fake, key, *, pack: int = 1, axis_name: Optional[str] = None):
  """½ E‖∇D(x)‖² on real samples."""
  del fake, key, axis_name
  return 0.5 * jnp.mean(_grad_sq_norms(d_apply, d_params, real, pack))


def r2(d_apply: DApply, d_params, real, fake, key, *, pack: int = 1, axis_name: Optional[str] = None):
  """½ E‖∇D(G(z))‖² on fake samples."""
  del real, key, axis_name
  return 0.5 * jnp.mean(_grad_sq_norms(d_apply, d_params, fake, pack))


PENALTIES: Dict[str, Callable] = {"gp": wgan_gp, "dragan": dragan, "r1": r1, "r2": r2}


class Penalty(NamedTuple):
  """A configured penalty: `fn` (None = off), its weight, and the lazy interval in D updates."""
  fn: Optional[Callable] = None
  weight: float = 0.0
  interval: int = 1

  @property
  def enabled(self) -> bool:
    return self.fn is not None and self.weight != 0.0


def from_config(cfg) -> Penalty:
  """`config.penalty` (a ConfigDict or None) → Penalty; unknown names and bad intervals raise ValueError."""
  if cfg is None:
    return Penalty()
  name = str(cfg.get("name", "none"))
  if name in ("none", ""):
    return Penalty()
  if name not in PENALTIES:
    raise ValueError(f"unknown penalty {name!r}; known penalties: none, {', '.join(PENALTIES)}")
  interval = int(cfg.get("interval", 1))
  if interval < 1:
    raise ValueError(f"penalty.interval must be >= 1, got {interval}")
  weight = float(cfg.get("weight", 10.0))
  if weight < 0:
    raise ValueError(f"penalty.weight must be >= 0, got {weight}")
  return Penalty(PENALTIES[name], weight, interval)

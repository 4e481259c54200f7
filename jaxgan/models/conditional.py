"""Class conditioning pieces shared by the model families.

  ConditionalBatchNorm  BatchNorm without its own affine, then γ(y)·x̂ + β(y) with per-class γ, β (de Vries et al.
                        2017; SNGAN/BigGAN generators). γ starts at 1, β at 0: at init it is plain BatchNorm.
  DiscriminatorHead     D's output from its last features h: Dense(1)(h) (unconditional), + ⟨embed(y), h⟩
                        (projection discriminator, Miyato & Koyama 2018), or [Dense(1)(h), Dense(C)(h)] (AC-GAN,
                        Odena et al. 2017: the real/fake logit, then class logits).
"""
from typing import Any, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp

Array = jax.Array


def check_cond(cfg, family: str):
  """(num_classes, cond_d) from a model config, with clear errors."""
  num_classes = int(cfg.get("num_classes", 0) or 0)
  cond_d = str(cfg.get("cond_d", "projection"))
  if num_classes < 0:
    raise ValueError(f"{family}: num_classes must be >= 0, got {num_classes}")
  if cond_d not in ("projection", "acgan"):
    raise ValueError(f"{family}: cond_d must be 'projection' or 'acgan', got {cond_d!r}")
  return num_classes, cond_d


def require_labels(labels, num_classes: int, batch: int):
  if num_classes and labels is None:
    raise ValueError(f"class-conditional model (num_classes={num_classes}) called without labels")
  if num_classes:
    if labels.shape != (batch,):
      raise ValueError(f"labels must have shape ({batch},), got {labels.shape}")


class ConditionalBatchNorm(nn.Module):
  """BatchNorm over all but the last axis; with `num_classes` > 0 the affine comes from the label."""
  num_classes: int = 0
  use_running_average: bool = False
  momentum: float = 0.9
  epsilon: float = 1e-5
  axis_name: Optional[str] = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array, labels: Optional[Array] = None) -> Array:
    if not self.num_classes:
      return nn.BatchNorm(use_running_average=self.use_running_average, momentum=self.momentum,
                          epsilon=self.epsilon, axis_name=self.axis_name, dtype=self.dtype)(x)
    x = nn.BatchNorm(use_running_average=self.use_running_average, momentum=self.momentum, epsilon=self.epsilon,
                     axis_name=self.axis_name, dtype=self.dtype, use_scale=False, use_bias=False)(x)
    c = x.shape[-1]
    gamma = nn.Embed(self.num_classes, c, embedding_init=nn.initializers.ones, name="gamma")(labels)
    beta = nn.Embed(self.num_classes, c, embedding_init=nn.initializers.zeros, name="beta")(labels)
    shape = (x.shape[0],) + (1,) * (x.ndim - 2) + (c,)
    return x * gamma.reshape(shape).astype(x.dtype) + beta.reshape(shape).astype(x.dtype)


class DiscriminatorHead(nn.Module):
  """h_BxF → float32 logits [B] (unconditional / projection) or [B, 1 + C] (acgan)."""
  num_classes: int = 0
  cond_d: str = "projection"
  dtype: Any = jnp.float32
  dense: Any = None  # a Dense-like module class (e.g. spectral-normalised); default nn.Dense

  @nn.compact
  def __call__(self, h: Array, labels: Optional[Array] = None) -> Array:
    dense = self.dense or nn.Dense
    logit = dense(1, dtype=self.dtype, name="out")(h).astype(jnp.float32)[:, 0]
    if not self.num_classes:
      return logit
    if self.cond_d == "acgan":
      cls = dense(self.num_classes, dtype=self.dtype, name="classes")(h).astype(jnp.float32)
      return jnp.concatenate([logit[:, None], cls], axis=1)
    embed = nn.Embed(self.num_classes, h.shape[-1], embedding_init=nn.initializers.normal(0.02), name="embed")
    return logit + jnp.sum(embed(labels).astype(jnp.float32) * h.astype(jnp.float32), axis=-1)

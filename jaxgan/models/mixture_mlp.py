"""MLP G and D for 2-D points (ring-8, grid-25): G z → R², D R² → logit.

Config keys (`config.model.*`): latent_dim, image_shape=(2,), width (hidden units of both nets, default 128),
d_width (D's, default width), g_depth / d_depth (hidden layers, default 3 / 3), mbstd (minibatch-stddev before
D's output layer, default False), mbstd_group (default 4), spectral_norm (D's dense layers, default False),
scale (default 1: G emits scale·MLP(z) and D reads x / scale, so both nets work at unit scale on wide data);
g_components (K > 0: the gated G below, default 0 = plain MLP G), g_temperature (gate τ, default 0.3),
g_learn_sharpness (a learned global gate sharpness, default False), g_offset_scale (default 1),
g_hard_gate (straight-through one-hot gate, default False), num_classes (> 0: class-conditional, as for a
cluster-conditioned GAN: G reads [z, embed(y)], D has a projection head; not with g_components or spectral_norm).
G's output is linear (no tanh): the grid spans ±4. D sees packed points [B/m, 2m] under PacGAN packing.
"""
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models import register
from jaxgan.models.conditional import DiscriminatorHead, check_cond, require_labels
from jaxgan.models.ops import mbstd_config, minibatch_stddev, spectral_norm

EMBED_DIM = 32  # a conditional G's label embedding, concatenated to z


class MixtureGenerator(nn.Module):
  out_dim: int = 2
  width: int = 128
  depth: int = 3
  scale: float = 1.0
  num_classes: int = 0
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, z_BxZ, labels=None, train: bool = True):
    h = z_BxZ.astype(self.dtype)
    if self.num_classes:
      require_labels(labels, self.num_classes, z_BxZ.shape[0])
      h = jnp.concatenate([h, nn.Embed(self.num_classes, EMBED_DIM, dtype=self.dtype)(labels)], axis=-1)
    for _ in range(self.depth):
      h = nn.relu(nn.Dense(self.width, dtype=self.dtype)(h))
    return self.scale * nn.Dense(self.out_dim, dtype=self.dtype)(h).astype(jnp.float32)


class GatedMixtureGenerator(nn.Module):
  """G(z) = scale · (Σ_k softmax(l(z) / τ)_k · μ_k + o(z)): K learned centres μ_k picked by a near-hard gate.

  A plain MLP is continuous in z, so between two modes it must leave mass on the path joining them. Here the
  trunk h(z) emits gate logits l(z) and a small offset o(z); with τ small the gate switches between centres
  over a thin band of z, so little mass lies between modes, while each centre's share of the mass (the z-volume
  of its gate region) still moves smoothly with the logits' parameters.
  """
  out_dim: int = 2
  width: int = 128
  depth: int = 3
  components: int = 32
  temperature: float = 0.3
  offset_scale: float = 1.0
  hard: bool = False
  learn_sharpness: bool = False
  scale: float = 1.0
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, z_BxZ, train: bool = True):
    h = z_BxZ.astype(self.dtype)
    for _ in range(self.depth):
      h = nn.relu(nn.Dense(self.width, dtype=self.dtype)(h))
    logits_BxK = nn.Dense(self.components, dtype=self.dtype)(h).astype(jnp.float32)
    if self.learn_sharpness:  # one scalar Adam can move by ~lr per step: G can sharpen all gates at once
      logits_BxK = logits_BxK * jnp.exp(self.param("log_sharpness", nn.initializers.zeros, ()))
    gate_BxK = nn.softmax(logits_BxK / self.temperature, axis=-1)
    if self.hard:  # straight-through: the forward pass picks one centre, the backward pass is the softmax's
      one_hot_BxK = jax.nn.one_hot(jnp.argmax(logits_BxK, axis=-1), self.components, dtype=gate_BxK.dtype)
      gate_BxK = gate_BxK + jax.lax.stop_gradient(one_hot_BxK - gate_BxK)
    mu_KxD = self.param("centres", lambda k, s: jax.random.uniform(k, s, minval=-1.0, maxval=1.0),
                        (self.components, self.out_dim))
    offset_BxD = self.offset_scale * nn.Dense(self.out_dim, dtype=self.dtype)(h).astype(jnp.float32)
    return self.scale * (gate_BxK @ mu_KxD + offset_BxD)


class MixtureDiscriminator(nn.Module):
  width: int = 128
  depth: int = 3
  mbstd: bool = False
  mbstd_group: int = 4
  sn: bool = False
  scale: float = 1.0
  num_classes: int = 0
  dtype: Any = jnp.float32

  def _dense(self, features, h, train):
    layer = nn.Dense(features, dtype=self.dtype)
    return spectral_norm(layer, h, train) if self.sn else layer(h)

  @nn.compact
  def __call__(self, x_BxD, labels=None, train: bool = True):
    h = (x_BxD.reshape((x_BxD.shape[0], -1)) / self.scale).astype(self.dtype)
    for _ in range(self.depth):
      h = nn.leaky_relu(self._dense(self.width, h, train), 0.2)
    self.sow("intermediates", "features", h)
    if self.mbstd:
      h = minibatch_stddev(h, self.mbstd_group)
    if self.num_classes:
      require_labels(labels, self.num_classes, x_BxD.shape[0])
      return DiscriminatorHead(self.num_classes, "projection", self.dtype)(h, labels)
    return self._dense(1, h, train)[:, 0].astype(jnp.float32)


@register("mixture_mlp")
def build(cfg, axis_name=None):
  del axis_name  # no batch statistics
  dtype = jnp.dtype(cfg.get("dtype", "float32"))
  width = int(cfg.get("width", 128))
  scale = float(cfg.get("scale", 1.0))
  out_dim = int(tuple(cfg.image_shape)[-1])
  components = int(cfg.get("g_components", 0))
  num_classes, cond_d = check_cond(cfg, "mixture_mlp")
  if num_classes and (components or cond_d != "projection" or bool(cfg.get("spectral_norm", False))):
    raise ValueError("mixture_mlp: a class-conditional model has the plain G (g_components = 0), a projection D "
                     "(cond_d = 'projection') and no spectral_norm")
  if components > 0:
    g = GatedMixtureGenerator(out_dim=out_dim, width=width, depth=int(cfg.get("g_depth", 3)), components=components,
                              temperature=float(cfg.get("g_temperature", 0.3)),
                              offset_scale=float(cfg.get("g_offset_scale", 1.0)),
                              hard=bool(cfg.get("g_hard_gate", False)),
                              learn_sharpness=bool(cfg.get("g_learn_sharpness", False)), scale=scale, dtype=dtype)
  else:
    g = MixtureGenerator(out_dim=out_dim, width=width, depth=int(cfg.get("g_depth", 3)), scale=scale,
                         num_classes=num_classes, dtype=dtype)
  mbstd, mbstd_group = mbstd_config(cfg, "mixture_mlp")
  d = MixtureDiscriminator(width=int(cfg.get("d_width", width)), depth=int(cfg.get("d_depth", 3)),
                           mbstd=mbstd, mbstd_group=mbstd_group,
                           sn=bool(cfg.get("spectral_norm", False)), scale=scale, num_classes=num_classes,
                           dtype=dtype)
  return g, d

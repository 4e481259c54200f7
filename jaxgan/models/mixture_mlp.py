"""MLP G and D for 2-D points (ring-8, grid-25): G z → R², D R² → logit.

Config keys (`config.model.*`): latent_dim, image_shape=(2,), width (hidden units of both nets, default 128),
d_width (D's, default width), g_depth / d_depth (hidden layers, default 3 / 3), mbstd (minibatch-stddev before
D's output layer, default False), mbstd_group (default 4), spectral_norm (D's dense layers, default False),
scale (default 1: G emits scale·MLP(z) and D reads x / scale, so both nets work at unit scale on wide data).
G's output is linear (no tanh): the grid spans ±4. D sees packed points [B/m, 2m] under PacGAN packing.
"""
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from jaxgan.models import register
from jaxgan.models.ops import minibatch_stddev, spectral_norm


class MixtureGenerator(nn.Module):
  out_dim: int = 2
  width: int = 128
  depth: int = 3
  scale: float = 1.0
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, z_BxZ, train: bool = True):
    h = z_BxZ.astype(self.dtype)
    for _ in range(self.depth):
      h = nn.relu(nn.Dense(self.width, dtype=self.dtype)(h))
    return self.scale * nn.Dense(self.out_dim, dtype=self.dtype)(h).astype(jnp.float32)


class MixtureDiscriminator(nn.Module):
  width: int = 128
  depth: int = 3
  mbstd: bool = False
  mbstd_group: int = 4
  sn: bool = False
  scale: float = 1.0
  dtype: Any = jnp.float32

  def _dense(self, features, h, train):
    layer = nn.Dense(features, dtype=self.dtype)
    return spectral_norm(layer, h, train) if self.sn else layer(h)

  @nn.compact
  def __call__(self, x_BxD, train: bool = True):
    h = (x_BxD.reshape((x_BxD.shape[0], -1)) / self.scale).astype(self.dtype)
    for _ in range(self.depth):
      h = nn.leaky_relu(self._dense(self.width, h, train), 0.2)
    if self.mbstd:
      h = minibatch_stddev(h, self.mbstd_group)
    return self._dense(1, h, train)[:, 0].astype(jnp.float32)


@register("mixture_mlp")
def build(cfg, axis_name=None):
  del axis_name  # no batch statistics
  dtype = jnp.dtype(cfg.get("dtype", "float32"))
  width = int(cfg.get("width", 128))
  scale = float(cfg.get("scale", 1.0))
  g = MixtureGenerator(out_dim=int(tuple(cfg.image_shape)[-1]), width=width, depth=int(cfg.get("g_depth", 3)),
                       scale=scale, dtype=dtype)
  d = MixtureDiscriminator(width=int(cfg.get("d_width", width)), depth=int(cfg.get("d_depth", 3)),
                           mbstd=bool(cfg.get("mbstd", False)), mbstd_group=int(cfg.get("mbstd_group", 4)),
                           sn=bool(cfg.get("spectral_norm", False)), scale=scale, dtype=dtype)
  return g, d

"""Networks of the anomaly-detection objectives (jaxgan/fanogan.py, jaxgan/ganomaly.py).

  ConvEncoder         x -> Conv 64-LReLU -> n-1 x [Conv (channels double)-LayerNorm-LReLU] -> flatten -> Dense out.
                      f-AnoGAN's encoder E (image -> G's latent z), GANomaly's two encoders. LayerNorm (per sample, no
                      running statistics): the encoder's output for an image never depends on the rest of its batch,
                      so a score is a function of the image alone.
  GANomalyGenerator   Akcay et al. 2018's G: encoder G_E (x -> z), decoder G_D (z -> x̂, the DCGAN generator of
                      models/dcgan.py) and a second encoder E (x̂ -> ẑ). `__call__` returns (x̂, z, ẑ);
                      `decode(z)` is G_D alone (the sample grids: G_D on random codes).

Registered family `ganomaly`: (GANomalyGenerator, the DCGAN discriminator); only the `ganomaly` objective trains it
(its G takes images, not latents).
"""
from typing import Any, Optional, Tuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models import register
from jaxgan.models.dcgan import _DCGAN_START, DCGANDiscriminator, DCGANGenerator, _common, _lrelu, _scale
from jaxgan.models.layers import Conv2xDown

Array = jax.Array


class ConvEncoder(nn.Module):
  """Image [B, H, W, C] in [-1, 1] -> code [B, features] (linear output: G's latents are N(0, I))."""
  features: int
  image_shape: Tuple[int, int, int]
  width: float = 1.0
  dtype: Any = jnp.float32
  down_method: str = "lax"

  @nn.compact
  def __call__(self, x_BxHxWxC: Array, train: bool = True) -> Array:
    del train  # no batch statistics: the same function in training and scoring
    size = self.image_shape[0]
    n_down = (size // _DCGAN_START[size]).bit_length() - 1
    c = lambda n: _scale(n, self.width)
    x = _lrelu(Conv2xDown(c(64), dtype=self.dtype, method=self.down_method)(x_BxHxWxC))
    for i in range(1, n_down):
      x = Conv2xDown(c(64 * 2 ** i), dtype=self.dtype, method=self.down_method)(x)
      x = _lrelu(nn.LayerNorm(epsilon=1e-5, dtype=self.dtype)(x))
    x = x.reshape(x.shape[0], -1)
    return nn.Dense(self.features, dtype=self.dtype)(x).astype(jnp.float32)


class GANomalyGenerator(nn.Module):
  """x -> (x̂ = G_D(G_E(x)), z = G_E(x), ẑ = E(x̂)); the anomaly score is the mean of (z − ẑ)²."""
  image_shape: Tuple[int, int, int]
  latent_dim: int = 100
  width: float = 1.0
  dtype: Any = jnp.float32
  axis_name: Optional[str] = None
  up_method: str = "auto"
  down_method: str = "lax"

  def setup(self):
    enc = lambda: ConvEncoder(self.latent_dim, self.image_shape, self.width, self.dtype, self.down_method)
    self.encoder = enc()
    self.decoder = DCGANGenerator(self.image_shape, self.width, self.dtype, self.axis_name, self.up_method)
    self.reencoder = enc()

  def __call__(self, x_BxHxWxC: Array, train: bool = True):
    z = self.encoder(x_BxHxWxC)
    x_hat = self.decoder(z, train=train)
    return x_hat, z, self.reencoder(x_hat)

  def decode(self, z_BxZ: Array, train: bool = False) -> Array:
    return self.decoder(z_BxZ, train=train)


@register("ganomaly")
def build_ganomaly_nets(cfg, axis_name: Optional[str] = None):
  """(GANomalyGenerator, DCGANDiscriminator) for 28/32/64-pixel images; trained by objective 'ganomaly' only."""
  shape, width, dtype, m = _common(cfg, tuple(_DCGAN_START), "ganomaly")
  norm = str(cfg.get("d_norm", "batch"))
  if norm not in ("batch", "layer", "none"):
    raise ValueError(f"ganomaly: d_norm must be 'batch', 'layer' or 'none', got {norm!r}")
  g = GANomalyGenerator(shape, int(cfg.latent_dim), width, dtype, axis_name, m["up_method"], m["down_method"])
  d = DCGANDiscriminator(shape, width, dtype, axis_name, m["down_method"], norm=norm)
  return g, d

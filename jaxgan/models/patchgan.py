"""The PatchGAN discriminator of pix2pix (Isola et al. 2017): a fully convolutional D that classifies every
overlapping patch of its input as real or fake, and returns one logit per patch.

D(x) for x [B, H, W, C] (pix2pix gives it the conditioning image ⊕ the real or generated output along channels):
  conv4×4/2(base) LReLU(0.2)                     no normalisation on the first layer
  (layers − 1) × [conv4×4/2(f) norm LReLU]        f doubles each time, at most max_features
  conv3×3(f) norm LReLU  →  conv3×3(1)            logits [B, H/2^layers, W/2^layers]
At 28 px with 2 layers: 7×7 patch logits, each seeing a 22-pixel square; at 64 px with 3 layers, 8×8 logits.
The last hidden features are sown as ("intermediates", "features") [B, F] (the model contract).
"""
from typing import Any, Optional

import flax.linen as nn
import jax.numpy as jnp

from jaxgan.models import layers as L
from jaxgan.models.layers import Conv2xDown
from jaxgan.models.unet import make_norm


class PatchGAN(nn.Module):
  base: int = 32
  layers: int = 2
  max_features: int = 256
  norm: str = "instance"
  dtype: Any = jnp.float32
  axis_name: Optional[str] = None

  @nn.compact
  def __call__(self, x, train: bool = False):
    h, w = x.shape[1:3]
    if h % 2 ** self.layers or w % 2 ** self.layers:
      raise ValueError(f"PatchGAN halves its input {self.layers} times: {h}x{w} must divide by {2 ** self.layers}")
    f = self.base
    y = nn.leaky_relu(Conv2xDown(f, dtype=self.dtype, name="down_0")(x), 0.2)
    for i in range(1, self.layers):
      f = min(f * 2, self.max_features)
      y = Conv2xDown(f, use_bias=self.norm == "none", dtype=self.dtype, name=f"down_{i}")(y)
      n = make_norm(self.norm, train, self.axis_name, self.dtype, f"norm_{i}")
      y = nn.leaky_relu(y if n is None else n(y), 0.2)
    y = L.Conv(f, (3, 3), use_bias=self.norm == "none", dtype=self.dtype, name="conv")(y)
    n = make_norm(self.norm, train, self.axis_name, self.dtype, "norm_last")
    y = nn.leaky_relu(y if n is None else n(y), 0.2)
    self.sow("intermediates", "features", jnp.mean(y, axis=(1, 2)))
    return L.Conv(1, (3, 3), dtype=self.dtype, name="logits")(y)[..., 0].astype(jnp.float32)

"""pix2pix's networks (Isola et al. 2017), sized for 28×28 and 64×64 images: a U-Net generator and a PatchGAN
discriminator (jaxgan/models/patchgan.py). Registered as model family `unet` (G = U-Net, D = PatchGAN).

U-Net (`UNet`): x [B, H, W, Cin] (the conditioning image in [-1, 1], already at the output size; see
jaxgan/pix2pix.py) →
  conv3×3(base) LReLU(0.2)                                   full resolution, kept as a skip
  `depth` × [conv4×4/2(f_i) norm LReLU]                     f_i = min(base·2^(i+1), max_features); skips
  conv3×3(f_last) norm ReLU                                  the bottleneck (7×7 at 28 px with depth 2)
  `depth` × [convT4×4/2(f_i) norm (dropout) ReLU, ⊕ skip]   the innermost `dropout_layers` decoder blocks drop
  conv3×3(out_channels) tanh                                 out half their units in training: pix2pix's noise
`norm`: "instance" (per image and channel; pix2pix's batch-of-one BatchNorm), "batch" (statistics over the
global batch via `axis_name`) or "none". Dropout masks are drawn for the global batch and sliced per device
(`rngs={"dropout": key}`), so a step does not depend on the device count. H and W must divide by 2^depth.
"""
from typing import Any, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan import parallel
from jaxgan.models import layers as L
from jaxgan.models import register
from jaxgan.models.layers import Conv2xDown, ConvTranspose2x

NORMS = ("instance", "batch", "none")


def make_norm(kind: str, train: bool, axis_name: Optional[str], dtype: Any, name: str):
  """A normalisation layer, or None for "none"."""
  if kind == "instance":
    return nn.InstanceNorm(epsilon=1e-5, dtype=dtype, name=name)
  if kind == "batch":
    return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5, axis_name=axis_name,
                        dtype=dtype, name=name)
  if kind == "none":
    return None
  raise ValueError(f"model.norm must be one of {', '.join(NORMS)}, got {kind!r}")


def global_dropout(module: nn.Module, x, rate: float, axis_name: Optional[str]):
  """Inverted dropout whose mask is drawn for the global batch from the module's "dropout" rng and sliced to
  this device's rows (identical results on 1 or N devices)."""
  if rate <= 0:
    return x
  key = module.make_rng("dropout")
  n = parallel.n_devices(axis_name)
  keep = jax.random.bernoulli(key, 1.0 - rate, (x.shape[0] * n,) + x.shape[1:])
  keep = parallel.local_slice(axis_name, keep, x.shape[0])
  return jnp.where(keep, x / (1.0 - rate), jnp.zeros_like(x))


class UNet(nn.Module):
  out_channels: int = 1
  base: int = 32
  depth: int = 2
  max_features: int = 256
  norm: str = "instance"
  dropout: float = 0.5
  dropout_layers: int = 1
  dtype: Any = jnp.float32
  axis_name: Optional[str] = None

  def features(self, i: int) -> int:
    return min(self.base * 2 ** (i + 1), self.max_features)

  @nn.compact
  def __call__(self, x, train: bool = False):
    h, w = x.shape[1:3]
    if h % 2 ** self.depth or w % 2 ** self.depth:
      raise ValueError(f"the U-Net halves its input {self.depth} times: {h}x{w} must divide by {2 ** self.depth}")
    norm = lambda y, name: (lambda n: y if n is None else n(y))(
        make_norm(self.norm, train, self.axis_name, self.dtype, name))
    y = nn.leaky_relu(L.Conv(self.base, (3, 3), dtype=self.dtype, name="stem")(x), 0.2)
    skips = [y]
    for i in range(self.depth):
      y = Conv2xDown(self.features(i), use_bias=self.norm == "none", dtype=self.dtype, name=f"down_{i}")(y)
      y = nn.leaky_relu(norm(y, f"down_norm_{i}"), 0.2)
      skips.append(y)
    y = L.Conv(self.features(self.depth - 1), (3, 3), use_bias=self.norm == "none", dtype=self.dtype,
                name="bottleneck")(y)
    y = nn.relu(norm(y, "bottleneck_norm"))
    skips.pop()  # the bottleneck's input is at the lowest level already
    for j, i in enumerate(reversed(range(self.depth))):
      f = self.base if i == 0 else self.features(i - 1)
      y = ConvTranspose2x(f, use_bias=self.norm == "none", dtype=self.dtype, name=f"up_{i}")(y)
      y = norm(y, f"up_norm_{i}")
      if train and j < self.dropout_layers:
        y = global_dropout(self, y, self.dropout, self.axis_name)
      y = jnp.concatenate([nn.relu(y), skips.pop()], axis=-1)
    y = L.Conv(self.out_channels, (3, 3), dtype=self.dtype, name="to_image")(y)
    return jnp.tanh(y.astype(jnp.float32))


def _positive(cfg, key, default):
  v = cfg.get(key, default)
  if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
    raise ValueError(f"model.{key} must be a positive integer, got {v!r}")
  return int(v)


@register("unet")
def build_unet(cfg, axis_name: Optional[str] = None):
  """(U-Net G, PatchGAN D) from `config.model`: image_shape (G's output), base, depth, max_features, norm,
  dropout, dropout_layers; d_base, d_layers, d_norm (D; see patchgan.py)."""
  from jaxgan.models.patchgan import PatchGAN
  shape = tuple(cfg.image_shape)
  if len(shape) != 3:
    raise ValueError(f"model 'unet' makes images H×W×C, got image_shape {shape}")
  norm = str(cfg.get("norm", "instance"))
  if norm not in NORMS:
    raise ValueError(f"model.norm must be one of {', '.join(NORMS)}, got {norm!r}")
  d_norm = str(cfg.get("d_norm", norm))
  if d_norm not in NORMS:
    raise ValueError(f"model.d_norm must be one of {', '.join(NORMS)}, got {d_norm!r}")
  rate = float(cfg.get("dropout", 0.5))
  if not 0 <= rate < 1:
    raise ValueError(f"model.dropout must be in [0, 1), got {rate}")
  dtype = jnp.dtype(cfg.get("dtype", "float32"))
  g = UNet(shape[2], _positive(cfg, "base", 32), _positive(cfg, "depth", 2), _positive(cfg, "max_features", 256),
           norm, rate, int(cfg.get("dropout_layers", 1)), dtype, axis_name)
  d = PatchGAN(_positive(cfg, "d_base", 32), _positive(cfg, "d_layers", 2), _positive(cfg, "max_features", 256),
               d_norm, dtype, axis_name)
  return g, d

"""SNGAN ResNet generator and discriminator (Miyato et al. 2018, as in Mimicry), optionally class-conditional.

  G: z -> Dense s·s·c0 -> n x UpBlock -> BN-ReLU-Conv3(C) -> tanh
     UpBlock(x) = Conv3(BN-ReLU(Conv3(Up(ReLU(BN(x)))))) + Conv1(Up(x))        (Up: nearest 2x)
  D: x -> OptBlock -> DownBlocks -> ReLU -> Σ_{h,w} -> SNDense(1)
     OptBlock(x)  = Pool(Conv3(ReLU(Conv3(x)))) + Conv1(Pool(x))                (Pool: 2x2 average)
     DownBlock(x) = [Pool](Conv3(ReLU(Conv3(ReLU(x))))) + [Pool](Conv1(x))      (shortcut conv only when needed)

Sizes at width 1 (the cfg `width` scales every hidden channel count):
  28 px: G 7x7 start, 2 up-blocks of 256; D 128: opt 28→14, down 14→7, 2 blocks at 7x7  (MNIST; not in the paper)
  32 px: G 4x4 start, 3 up-blocks of 256; D 128: opt 32→16, down 16→8, 2 blocks at 8x8  (SNGAN CIFAR-10: G ch 256,
         D ch 128, the paper's CIFAR-10 ResNet and Mimicry's SNGAN32)
  64 px: G 4x4 start, 4 up-blocks 1024→512→256→128→64; D 64→128→256→512→1024, all down (Mimicry's SNGAN64)
Every D layer is spectrally normalized (`spectral.py`) when `spectral_norm_d` (default True); G's Dense/Conv
layers too when `spectral_norm_g` (default False). Init: Xavier-uniform, gain √2 on the residual-branch 3x3 convs
and 1 elsewhere (as Mimicry).

Conditional (`num_classes` K > 0):
  G(z, labels) : every BatchNorm is conditional, BN(h; y) = γ_y ⊙ (h − μ)/σ + β_y, γ, β from Embed(K, C)
                 (γ initialised to 1, β to 0); the normalisation itself has no affine part.
  D(x, labels) : `cond_d` = "projection" (default; Miyato & Koyama 2018): logit = SNDense(1)(φ) + ⟨SNEmbed(y), φ⟩,
                 φ the pooled features; shape [B].
                 "acgan": [B, 1 + K] logits, column 0 real/fake, columns 1: class logits (labels are ignored).
With K = 0 labels are ignored, so `G(z, train=...)` / `D(x, train=...)` work unchanged. During `init` a missing
`labels` is taken as class 0 (parameter shapes do not depend on it); any other conditional call without labels
raises ValueError.

cfg keys the builder reads (all with `cfg.get`): image_shape, width, dtype, num_classes (default 0), cond_d (default
"projection"), spectral_norm_d (default True), spectral_norm_g (default False), mbstd (default False: the
minibatch-stddev feature, models/ops.py, appended to the last residual block's input) and mbstd_group (4); G's Dense
takes whatever z size the engine samples (`latent_dim`). BatchNorm is dcgan's: momentum 0.9, eps 1e-5, statistics in
"batch_stats" averaged over `axis_name`; spectral-norm vectors live in "spectral" and take their power-iteration step
only when called with train=True and "spectral" mutable (the engine's D step), so the G step's immutable D pass just
reads them. Layers compute in `dtype`; parameters, the power iteration and the outputs are float32.
"""
from typing import Any, Callable, Optional, Tuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models import layers as L
from jaxgan.models import register
from jaxgan.models.conditional import ConditionalBatchNorm
from jaxgan.models.ops import mbstd_config, minibatch_stddev
from jaxgan.models.spectral import SNConv, SNDense, SNEmbed

Array = jax.Array

# image size -> (G's start size, G channels per stage at width 1 (first = the Dense's), D channels per block at
# width 1, how many D blocks (after the optimized first one) downsample).
_ARCH = {
    28: (7, (256, 256, 256), (128, 128, 128, 128), 1),
    32: (4, (256, 256, 256, 256), (128, 128, 128, 128), 1),
    64: (4, (1024, 512, 256, 128, 64), (64, 128, 256, 512, 1024), 4),
}
COND_D = ("projection", "acgan")

_xavier = nn.initializers.xavier_uniform()
_xavier_relu = nn.initializers.variance_scaling(2.0, "fan_avg", "uniform")  # xavier_uniform with gain √2


def _scale(n: int, width: float) -> int:
  return max(1, int(round(n * width)))


def _upsample(x_BxHxWxC: Array) -> Array:
  b, h, w, c = x_BxHxWxC.shape
  x = jnp.broadcast_to(x_BxHxWxC[:, :, None, :, None, :], (b, h, 2, w, 2, c))
  return x.reshape(b, 2 * h, 2 * w, c)


def _avgpool(x_BxHxWxC: Array) -> Array:
  b, h, w, c = x_BxHxWxC.shape
  return x_BxHxWxC.reshape(b, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


class _Layers:
  """Conv/Dense factories, spectrally normalized or plain; `update` tells SN layers whether to step u."""

  def __init__(self, sn: bool, dtype: Any, axis_name: Optional[str], update: bool):
    self.sn, self.dtype, self.axis_name, self.update = sn, dtype, axis_name, update

  def conv(self, x: Array, features: int, k: int, init: Callable = _xavier, bias: bool = True) -> Array:
    if self.sn:
      layer = SNConv(features, (k, k), padding="SAME", use_bias=bias, dtype=self.dtype, kernel_init=init,
                     axis_name=self.axis_name)
      return layer(x, update=self.update)
    return L.Conv(features, (k, k), padding="SAME", use_bias=bias, dtype=self.dtype, kernel_init=init)(x)

  def dense(self, x: Array, features: int, bias: bool = True) -> Array:
    if self.sn:
      return SNDense(features, use_bias=bias, dtype=self.dtype, axis_name=self.axis_name)(x, update=self.update)
    return nn.Dense(features, use_bias=bias, dtype=self.dtype, kernel_init=_xavier)(x)


def _labels(mdl: nn.Module, num_classes: int, labels: Optional[Array], batch: int, who: str) -> Optional[Array]:
  if num_classes <= 0:
    return None
  if labels is None:
    if mdl.is_initializing():
      return jnp.zeros((batch,), jnp.int32)
    raise ValueError(f"{who} is class-conditional (num_classes={num_classes}): pass labels, int32 [B]")
  labels = jnp.asarray(labels)
  if labels.shape != (batch,):
    raise ValueError(f"{who}: labels must have shape ({batch},), got {labels.shape}")
  return labels.astype(jnp.int32)


class ResNetGenerator(nn.Module):
  """SNGAN ResNet G: (z [B, Z], labels [B] | None) -> images [B, S, S, C] in [-1, 1], float32."""
  image_shape: Tuple[int, int, int]
  width: float = 1.0
  num_classes: int = 0
  spectral_norm: bool = False
  dtype: Any = jnp.float32
  axis_name: Optional[str] = None

  @nn.compact
  def __call__(self, z_BxZ: Array, labels: Optional[Array] = None, train: bool = True) -> Array:
    size, _, channels = self.image_shape
    start, g_ch, _, _ = _ARCH[size]
    feats = [_scale(n, self.width) for n in g_ch]
    y = _labels(self, self.num_classes, labels, z_BxZ.shape[0], "ResNetGenerator")
    L = _Layers(self.spectral_norm, self.dtype, self.axis_name, update=train)
    bn = lambda h: ConditionalBatchNorm(self.num_classes, not train, 0.9, 1e-5, self.axis_name, self.dtype)(h, y)

    # No biases before the output conv: every path from them reaches a BatchNorm through linear maps only
    # (1x1 shortcut convs, nearest upsampling, sums), which removes a per-channel constant exactly. Such a bias's
    # gradient is rounding noise, which Adam turns into ±lr steps: a parameter that only records the machine.
    x = L.dense(z_BxZ, start * start * feats[0], bias=False).reshape(-1, start, start, feats[0])
    for f in feats[1:]:
      h = _upsample(nn.relu(bn(x)))
      h = L.conv(h, f, 3, _xavier_relu, bias=False)
      h = L.conv(nn.relu(bn(h)), f, 3, _xavier_relu, bias=False)
      # Nearest upsampling commutes with a 1x1 conv: convolving first is exact and 4x cheaper.
      x = h + _upsample(L.conv(x, f, 1, bias=False))
    x = L.conv(nn.relu(bn(x)), channels, 3)
    return jnp.tanh(x.astype(jnp.float32))


class ResNetDiscriminator(nn.Module):
  """SNGAN ResNet D: (x [B, S, S, C], labels [B] | None) -> float32 logits [B] ([B, 1 + K] for cond_d="acgan")."""
  image_shape: Tuple[int, int, int]
  width: float = 1.0
  num_classes: int = 0
  cond_d: str = "projection"
  spectral_norm: bool = True
  dtype: Any = jnp.float32
  axis_name: Optional[str] = None
  mbstd: bool = False  # minibatch-stddev feature (models/ops.py) into the last residual block's input
  mbstd_group: int = 4

  @nn.compact
  def __call__(self, x_BxHxWxC: Array, labels: Optional[Array] = None, train: bool = True) -> Array:
    _, _, d_ch, n_down = _ARCH[self.image_shape[0]]
    feats = [_scale(n, self.width) for n in d_ch]
    projection = self.num_classes > 0 and self.cond_d == "projection"
    y = _labels(self, self.num_classes if projection else 0, labels, x_BxHxWxC.shape[0], "ResNetDiscriminator")
    L = _Layers(self.spectral_norm, self.dtype, self.axis_name, update=train)

    x = x_BxHxWxC.astype(self.dtype)
    h = _avgpool(L.conv(nn.relu(L.conv(x, feats[0], 3, _xavier_relu)), feats[0], 3, _xavier_relu))
    x = h + L.conv(_avgpool(x), feats[0], 1)
    for i, f in enumerate(feats[1:]):
      down = i < n_down
      if self.mbstd and i == len(feats) - 2:  # its shortcut becomes a 1x1 conv (one more channel in than out)
        x = minibatch_stddev(x, self.mbstd_group)
      h = L.conv(nn.relu(x), f, 3, _xavier_relu)
      h = L.conv(nn.relu(h), f, 3, _xavier_relu)
      sc = L.conv(x, f, 1) if (down or f != x.shape[-1]) else x
      x = _avgpool(h + sc) if down else h + sc  # pooling is linear: one pool for both branches
    phi_BxF = jnp.sum(nn.relu(x).astype(jnp.float32), axis=(1, 2)).astype(self.dtype)
    self.sow("intermediates", "features", phi_BxF)

    logit = L.dense(phi_BxF, 1).astype(jnp.float32)[:, 0]
    if self.num_classes <= 0:
      return logit
    if projection:
      if self.spectral_norm:
        emb = SNEmbed(self.num_classes, phi_BxF.shape[-1], dtype=self.dtype, axis_name=self.axis_name)(y, update=train)
      else:
        emb = nn.Embed(self.num_classes, phi_BxF.shape[-1], dtype=self.dtype, embedding_init=_xavier)(y)
      return logit + jnp.sum(emb.astype(jnp.float32) * phi_BxF.astype(jnp.float32), axis=-1)
    class_logits = L.dense(phi_BxF, self.num_classes).astype(jnp.float32)
    return jnp.concatenate([logit[:, None], class_logits], axis=-1)


def _config(cfg):
  shape = tuple(int(s) for s in cfg.get("image_shape", (32, 32, 3)))
  if len(shape) != 3 or shape[0] != shape[1] or shape[0] not in _ARCH or shape[2] not in (1, 3):
    raise ValueError(f"resnet supports image_shape (S, S, C) with S in {tuple(_ARCH)} and C in (1, 3); got {shape}")
  dtype = cfg.get("dtype", "float32")
  if dtype not in ("float32", "bfloat16"):
    raise ValueError(f"resnet: dtype must be 'float32' or 'bfloat16', got {dtype!r}")
  width = cfg.get("width", 1.0)
  width = 1.0 if width is None else float(width)
  if not width > 0:
    raise ValueError(f"resnet: width must be a positive multiplier, got {width}")
  num_classes = int(cfg.get("num_classes", 0) or 0)
  if num_classes < 0:
    raise ValueError(f"resnet: num_classes must be >= 0 (0 = unconditional), got {num_classes}")
  cond_d = cfg.get("cond_d", "projection")
  if cond_d not in COND_D:
    raise ValueError(f"resnet: cond_d must be one of {COND_D}, got {cond_d!r}")
  return shape, width, jnp.dtype(dtype), num_classes, cond_d


@register("resnet")
def build_resnet(cfg, axis_name: Optional[str] = None):
  """SNGAN ResNet G and D for 28/32/64-pixel, 1 or 3-channel images; see the module docstring for cfg keys."""
  shape, width, dtype, num_classes, cond_d = _config(cfg)
  g = ResNetGenerator(shape, width, num_classes, bool(cfg.get("spectral_norm_g", False)), dtype, axis_name)
  d = ResNetDiscriminator(shape, width, num_classes, cond_d, bool(cfg.get("spectral_norm_d", True)), dtype, axis_name,
                          *mbstd_config(cfg, "resnet"))
  return g, d

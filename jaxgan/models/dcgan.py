"""DCGAN generators and discriminators (NHWC, BatchNorm, 4x4 stride-2 (transposed) convs).

Two registered families:
  dcgan28  the 28x28 InfoGAN-style DCGAN of Lucic et al. 2018 (compare_gan v1), layer for layer the PyTorch peer
           `shared/bench/torch_dcgan28.py` (same layers, so speed comparisons are fair), less the peer's biases
           before BatchNorms (below).
  dcgan    Radford et al. 2016 style for 28, 32 and 64-pixel images, 1 or 3 channels: 64 channels at the
           highest-resolution conv (torch dcgan's ngf/ndf), doubled at every halving of resolution.
`width` (float, default 1 = the sizes above) scales every hidden layer of both, as in the `mlp` family.
`dcgan` is class-conditional with cfg `num_classes` > 0: conditional BatchNorm in G, a projection (or, with
`cond_d="acgan"`, auxiliary-classifier) head on D (models/conditional.py). `d_norm` (batch | layer | none) picks
D's normalisation; gradient-penalty critics want layer or none. `spectral_norm_d` spectrally normalises every D
layer (SNDCGAN: usually with d_norm="none"). `mbstd` (default False; `mbstd_group`, default 4) appends the
minibatch-stddev feature (models/ops.py) to the input of D's last conv, as ProGAN/StyleGAN put it before their last
conv block; `dcgan28` has no such option (it stays layer for layer the PyTorch peer). `mbdisc` (kernels, default 0
= off; `mbdisc_dim`, `mbdisc_group`) adds minibatch discrimination to D's flattened features (models/ops.py).

No layer followed by a BatchNorm has a bias: BatchNorm subtracts the per-channel mean, so such a bias changes
nothing but its gradient is rounding noise, and Adam turns noise into ±lr steps: a parameter that random-walks by
the machine's rounding (it made runs differ between CPUs and between device counts).
BatchNorm follows PyTorch: momentum 0.9 in flax terms (torch 0.1), eps 1e-5; statistics in "batch_stats", averaged
over `axis_name` when given. Layers compute in `dtype`; parameters stay float32; outputs are float32.
Optional cfg keys `conv_transpose_method` (layers.UP_METHODS or "auto", the default: fastest measured for the
backend) and `conv_method` (layers.DOWN_METHODS, default "lax") pick the conv formulations; all are exact.
"""
from typing import Any, Optional, Sequence, Tuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models import register
from jaxgan.models.conditional import ConditionalBatchNorm, DiscriminatorHead, check_cond, require_labels
from jaxgan.models.layers import Conv2xDown, ConvTranspose2x
from jaxgan.models.ops import MinibatchDiscrimination, mbstd_config, minibatch_stddev
from jaxgan.models.spectral import SNConv, SNDense

Array = jax.Array

# Supported image sizes -> spatial size of the generator's first feature map (size = start * 2**n_up).
_DCGAN_START = {28: 7, 32: 4, 64: 4}


def _bn(train: bool, axis_name: Optional[str], dtype: Any) -> nn.BatchNorm:
  return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5, axis_name=axis_name, dtype=dtype)


def _scale(n: int, width: float) -> int:
  return max(1, int(round(n * width)))


def _lrelu(x: Array) -> Array:
  return nn.leaky_relu(x, 0.2)


class DCGAN28Generator(nn.Module):
  """z -> Dense 1024-BN-ReLU -> Dense 7*7*128-BN-ReLU -> (7,7,128) -> ConvT 64-BN-ReLU -> ConvT C -> tanh."""
  channels: int = 1
  width: float = 1.0
  dtype: Any = jnp.float32
  axis_name: Optional[str] = None
  up_method: str = "auto"

  @nn.compact
  def __call__(self, z_BxZ: Array, train: bool = True) -> Array:
    bn = lambda: _bn(train, self.axis_name, self.dtype)
    c = lambda n: _scale(n, self.width)
    x = nn.relu(bn()(nn.Dense(c(1024), use_bias=False, dtype=self.dtype)(z_BxZ)))
    x = nn.relu(bn()(nn.Dense(7 * 7 * c(128), use_bias=False, dtype=self.dtype)(x)))
    x = x.reshape(x.shape[0], 7, 7, c(128))
    x = nn.relu(bn()(ConvTranspose2x(c(64), use_bias=False, dtype=self.dtype, method=self.up_method)(x)))
    x = ConvTranspose2x(self.channels, dtype=self.dtype, method=self.up_method)(x)
    return jnp.tanh(x.astype(jnp.float32))


class DCGAN28Discriminator(nn.Module):
  """x -> Conv 64-LReLU -> Conv 128-BN-LReLU -> flatten -> Dense 1024-BN-LReLU -> Dense 1 (logits, shape (B,))."""
  width: float = 1.0
  dtype: Any = jnp.float32
  axis_name: Optional[str] = None
  down_method: str = "lax"

  @nn.compact
  def __call__(self, x_BxHxWxC: Array, train: bool = True) -> Array:
    bn = lambda: _bn(train, self.axis_name, self.dtype)
    c = lambda n: _scale(n, self.width)
    x = _lrelu(Conv2xDown(c(64), dtype=self.dtype, method=self.down_method)(x_BxHxWxC))
    x = _lrelu(bn()(Conv2xDown(c(128), use_bias=False, dtype=self.dtype, method=self.down_method)(x)))
    x = x.reshape(x.shape[0], -1)
    x = _lrelu(bn()(nn.Dense(c(1024), use_bias=False, dtype=self.dtype)(x)))
    self.sow("intermediates", "features", x)
    return nn.Dense(1, dtype=self.dtype)(x).astype(jnp.float32)[:, 0]


class DCGANGenerator(nn.Module):
  """z -> Dense (s*s*64*2**(n-1))-BN-ReLU -> n-1 x [ConvT (channels halve)-BN-ReLU] -> ConvT C -> tanh.

  n upsamplings from s x s: s = 7 for 28-pixel images (n = 2), 4 for 32 (n = 3) and 64 (n = 4).
  """
  image_shape: Tuple[int, int, int]
  width: float = 1.0
  dtype: Any = jnp.float32
  axis_name: Optional[str] = None
  up_method: str = "auto"
  num_classes: int = 0  # > 0: conditional BatchNorm (γ, β per class) everywhere

  @nn.compact
  def __call__(self, z_BxZ: Array, labels: Optional[Array] = None, train: bool = True) -> Array:
    require_labels(labels, self.num_classes, z_BxZ.shape[0])
    size, _, channels = self.image_shape
    start = _DCGAN_START[size]
    n_up = (size // start).bit_length() - 1
    if self.num_classes:
      bn = lambda: (lambda x: ConditionalBatchNorm(self.num_classes, not train, 0.9, 1e-5, self.axis_name,
                                                   self.dtype)(x, labels))
    else:
      bn = lambda: _bn(train, self.axis_name, self.dtype)
    feats = [_scale(64 * 2 ** i, self.width) for i in reversed(range(n_up))]  # e.g. 512, 256, 128, 64
    x = nn.relu(bn()(nn.Dense(start * start * feats[0], use_bias=False, dtype=self.dtype)(z_BxZ)))
    x = x.reshape(x.shape[0], start, start, feats[0])
    for f in feats[1:]:
      x = nn.relu(bn()(ConvTranspose2x(f, use_bias=False, dtype=self.dtype, method=self.up_method)(x)))
    x = ConvTranspose2x(channels, dtype=self.dtype, method=self.up_method)(x)
    return jnp.tanh(x.astype(jnp.float32))


class DCGANDiscriminator(nn.Module):
  """x -> Conv 64-LReLU -> n-1 x [Conv (channels double)-BN-LReLU] -> flatten -> Dense 1 (logits, shape (B,))."""
  image_shape: Tuple[int, int, int]
  width: float = 1.0
  dtype: Any = jnp.float32
  axis_name: Optional[str] = None
  down_method: str = "lax"
  num_classes: int = 0
  cond_d: str = "projection"  # with num_classes > 0: projection → logits [B]; acgan → [B, 1 + C]
  norm: str = "batch"         # batch | layer | none: WGAN-GP's critic must not mix samples (no BatchNorm)
  spectral_norm: bool = False  # every conv/dense weight W/σ(W) (Miyato et al. 2018; models/spectral.py)
  mbstd: bool = False          # minibatch-stddev feature (models/ops.py) into the last conv's input
  mbstd_group: int = 4
  info_outputs: int = 0        # > 0 (set by build_gan for InfoGAN codes): output [B, 1 + info_outputs], Q's logits
  info_per_channel: bool = False  # Q reads code c from channel c alone (its own small conv net), not D's features
  mbdisc: int = 0              # > 0 (set by build_gan from model.mbdisc): minibatch discrimination kernels
  mbdisc_dim: int = 5          # on the flattened features, before the heads (models/ops.py)
  mbdisc_group: int = 16

  @nn.compact
  def __call__(self, x_BxHxWxC: Array, labels: Optional[Array] = None, train: bool = True) -> Array:
    if self.cond_d == "projection":
      require_labels(labels, self.num_classes, x_BxHxWxC.shape[0])
    size = self.image_shape[0]
    n_down = (size // _DCGAN_START[size]).bit_length() - 1
    c = lambda n: _scale(n, self.width)
    if self.spectral_norm:
      down = lambda f, bias=True: (lambda x: SNConv(f, (4, 4), (2, 2), ((1, 1), (1, 1)), use_bias=bias,
                                                    dtype=self.dtype, axis_name=self.axis_name)(x, update=train))
    else:
      down = lambda f, bias=True: Conv2xDown(f, use_bias=bias, dtype=self.dtype, method=self.down_method)
    x = _lrelu(down(c(64))(x_BxHxWxC))
    for i in range(1, n_down):
      if self.mbstd and i == n_down - 1:
        x = minibatch_stddev(x, self.mbstd_group)
      x = down(c(64 * 2 ** i), bias=self.norm != "batch")(x)
      if self.norm == "batch":
        x = _bn(train, self.axis_name, self.dtype)(x)
      elif self.norm == "layer":
        x = nn.LayerNorm(epsilon=1e-5, dtype=self.dtype)(x)
      x = _lrelu(x)
    x = x.reshape(x.shape[0], -1)
    self.sow("intermediates", "features", x)
    if self.mbdisc:
      x = MinibatchDiscrimination(self.mbdisc, self.mbdisc_dim, self.mbdisc_group, self.dtype)(x)
    dense = None
    if self.spectral_norm:
      dense = lambda f, **kw: (lambda h: SNDense(f, axis_name=self.axis_name, **kw)(h, update=train))
    if self.num_classes:
      return DiscriminatorHead(self.num_classes, self.cond_d, self.dtype, dense=dense)(x, labels)
    logit = (dense or nn.Dense)(1, dtype=self.dtype)(x).astype(jnp.float32)
    if not self.info_outputs:
      return logit[:, 0]
    if self.info_per_channel:
      return jnp.concatenate([logit, self._channel_q(x_BxHxWxC)], axis=1)
    # InfoGAN's Q: a hidden layer on D's features (shared trunk), then the codes' logits
    q = _lrelu(nn.Dense(c(128), dtype=self.dtype, name="q_hidden")(x))
    q = nn.Dense(self.info_outputs, dtype=self.dtype, name="q_out")(q).astype(jnp.float32)
    return jnp.concatenate([logit, q], axis=1)

  def _channel_q(self, x_PxHxWxMC: Array) -> Array:
    """Per-channel Q: every channel of every (packed) input is one grey image, read by one shared small conv net
    (Conv 16-LReLU, Conv 32-LReLU, Dense 64-LReLU, Dense K at width 1) into K code logits; [P, M·C·K], channel by
    channel within each pack member, as the InfoGAN term (terms.info) expects."""
    p, h, w, mc = x_PxHxWxMC.shape
    k = self.info_outputs // mc
    c = lambda n: _scale(n, self.width)
    g = jnp.moveaxis(x_PxHxWxMC, -1, 1).reshape(p * mc, h, w, 1)
    g = _lrelu(Conv2xDown(c(16), dtype=self.dtype, method=self.down_method, name="q_conv0")(g))
    g = _lrelu(Conv2xDown(c(32), dtype=self.dtype, method=self.down_method, name="q_conv1")(g))
    g = _lrelu(nn.Dense(c(64), dtype=self.dtype, name="q_hidden")(g.reshape(p * mc, -1)))
    q = nn.Dense(k, dtype=self.dtype, name="q_out")(g).astype(jnp.float32)
    return q.reshape(p, mc * k)


def _common(cfg, supported: Sequence[int], family: str):
  shape = tuple(int(s) for s in cfg.get("image_shape", (28, 28, 1)))
  if len(shape) != 3 or shape[0] != shape[1] or shape[0] not in supported or shape[2] not in (1, 3):
    raise ValueError(f"{family} supports image_shape (S, S, C) with S in {tuple(supported)} and C in (1, 3); "
                     f"got {shape}")
  dtype = cfg.get("dtype", "float32")
  if dtype not in ("float32", "bfloat16"):
    raise ValueError(f"{family}: dtype must be 'float32' or 'bfloat16', got {dtype!r}")
  width = cfg.get("width", 1.0)
  width = 1.0 if width is None else float(width)
  if not width > 0:
    raise ValueError(f"{family}: width must be a positive multiplier, got {width}")
  methods = dict(up_method=cfg.get("conv_transpose_method", "auto"),
                 down_method=cfg.get("conv_method", "lax"))
  return shape, width, jnp.dtype(dtype), methods


@register("dcgan28")
def build_dcgan28(cfg, axis_name: Optional[str] = None):
  """The PyTorch peer's 28x28 DCGAN (at width 1; its z size is whatever `latent_dim` the engine samples, 64)."""
  shape, width, dtype, m = _common(cfg, (28,), "dcgan28")
  if cfg.get("mbstd", False):
    raise ValueError("dcgan28 mirrors the PyTorch peer layer for layer and has no minibatch-stddev feature; "
                     "use model.name='dcgan' for model.mbstd")
  if check_cond(cfg, "dcgan28")[0]:
    raise ValueError("dcgan28 mirrors the unconditional PyTorch peer; use model.name='dcgan' for num_classes > 0")
  return (DCGAN28Generator(shape[2], width, dtype, axis_name, m["up_method"]),
          DCGAN28Discriminator(width, dtype, axis_name, m["down_method"]))


@register("dcgan")
def build_dcgan(cfg, axis_name: Optional[str] = None):
  """Radford-style DCGAN for 28/32/64-pixel, 1 or 3-channel images; `width` scales the channel counts."""
  shape, width, dtype, m = _common(cfg, tuple(_DCGAN_START), "dcgan")
  num_classes, cond_d = check_cond(cfg, "dcgan")
  norm = str(cfg.get("d_norm", "batch"))
  if norm not in ("batch", "layer", "none"):
    raise ValueError(f"dcgan: d_norm must be 'batch', 'layer' or 'none', got {norm!r}")
  return (DCGANGenerator(shape, width, dtype, axis_name, m["up_method"], num_classes),
          DCGANDiscriminator(shape, width, dtype, axis_name, m["down_method"], num_classes, cond_d, norm,
                             bool(cfg.get("spectral_norm_d", False)), *mbstd_config(cfg, "dcgan")))

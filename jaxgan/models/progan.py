"""Progressive GAN networks (Karras et al. 2018, "Progressive Growing of GANs"): G and D that grow from 4×4 to the
target resolution, one resolution per *stage*.

Both networks hold the parameters of every resolution from the start (so the state's tree never changes), and
are called with a static `stage` s (the output resolution 4·2^s) and a traced fade-in `alpha` ∈ [0, 1]:

  G  z → pixel-norm → dense to 4×4 → conv 3×3 (block 4), then per stage: 2× nearest up-sampling, two 3×3 convs
     (block 2^(s+2)); every conv is followed by leaky ReLU 0.2 and pixel-wise feature normalisation; a 1×1 toRGB
     per resolution, linear (as in the paper; sampling clips to [-1, 1]).
     In stage s > 0 the output is (1 − α)·up(toRGB_{s−1}(h_{s−1})) + α·toRGB_s(h_s): at α = 0 exactly the previous
     stage's image up-sampled, at α = 1 the new block alone.
  D  mirrors G: a 1×1 fromRGB per resolution, blocks of two 3×3 convs and 2× average pooling, and at 4×4
     minibatch-stddev, a 3×3 conv, a dense layer and the logit. In stage s > 0 the first features are
     (1 − α)·fromRGB_{s−1}(pool(x)) + α·block_s(fromRGB_s(x)), so at α = 0 D(x) = D_{s−1}(pool(x)).

Class-conditional (`num_classes` C > 0; e.g. a cluster-conditioned run on k-means labels, data.clusters): G embeds the
label (a C → z_dim equalized dense layer on the one-hot label, i.e. an embedding table) and concatenates the
pixel-normalised embedding to the pixel-normalised z, as StyleGAN2's mapping does with its c_dim embedding; D adds
the projection term ⟨embed(y), h⟩ / √F on its last features h (Miyato & Koyama 2018), as StyleGAN2's D does.

Every layer uses the equalized learning rate: weights are drawn from N(0, 1) and scaled at run time by
gain/√fan_in (He's constant), so Adam's per-parameter steps are alike across layers of any width.
Widths follow NVIDIA's configs: min(channel_base / resolution, channel_max) channels at each resolution.
"""
import math
from typing import Any, Optional, Tuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models import layers as L
from jaxgan.models import register
from jaxgan.models.conditional import check_cond, require_labels
from jaxgan.models.ops import mbstd_config, minibatch_stddev

Array = jax.Array
SQRT2 = math.sqrt(2.0)


def channels_at(resolution: int, channel_base: int, channel_max: int) -> int:
  return max(1, min(channel_base // resolution, channel_max))


def num_stages(resolution: int) -> int:
  """Stages from 4×4 to `resolution` (a power of two ≥ 8): 4 px is stage 0."""
  return int(round(math.log2(resolution))) - 1


def check_resolution(resolution: int, max_resolution: int = 1024) -> None:
  if resolution < 8 or resolution > max_resolution or resolution & (resolution - 1):
    raise ValueError(f"progan: the target resolution must be a power of two from 8 to {max_resolution} "
                     f"(the networks grow from 4×4 by doubling), got {resolution}")


def pixel_norm(x: Array, eps: float = 1e-8) -> Array:
  """Each pixel's feature vector scaled to unit mean square (computed in float32)."""
  x32 = x.astype(jnp.float32)
  return (x32 * jax.lax.rsqrt(jnp.mean(jnp.square(x32), axis=-1, keepdims=True) + eps)).astype(x.dtype)


def upsample2x(x: Array) -> Array:
  """Nearest-neighbour 2× up-sampling of NHWC images."""
  b, h, w, c = x.shape
  return jnp.broadcast_to(x[:, :, None, :, None, :], (b, h, 2, w, 2, c)).reshape(b, 2 * h, 2 * w, c)


def downsample(x: Array, factor: int = 2) -> Array:
  """`factor`× average pooling of NHWC images (the box filter the paper uses)."""
  if factor == 1:
    return x
  b, h, w, c = x.shape
  return x.reshape(b, h // factor, factor, w // factor, factor, c).mean(axis=(2, 4))


def fade(old: Array, new: Array, alpha) -> Array:
  """(1 − α)·old + α·new: exactly `old` at α = 0 and exactly `new` at α = 1."""
  alpha = jnp.asarray(alpha, jnp.float32).astype(new.dtype)
  return (1 - alpha) * old.astype(new.dtype) + alpha * new


def _lrelu(x: Array) -> Array:
  return nn.leaky_relu(x, 0.2)


class EqConv(nn.Module):
  """A stride-1 'SAME' convolution with the equalized learning rate."""
  features: int
  kernel: int = 3
  gain: float = SQRT2
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array) -> Array:
    cin = x.shape[-1]
    w = self.param("kernel", nn.initializers.normal(1.0), (self.kernel, self.kernel, cin, self.features))
    b = self.param("bias", nn.initializers.zeros, (self.features,))
    scale = self.gain / math.sqrt(self.kernel * self.kernel * cin)
    y = L.conv2d(x.astype(self.dtype), (w * scale).astype(self.dtype), 1, "SAME")
    return y + b.astype(self.dtype)


class EqDense(nn.Module):
  """A dense layer with the equalized learning rate."""
  features: int
  gain: float = SQRT2
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array) -> Array:
    w = self.param("kernel", nn.initializers.normal(1.0), (x.shape[-1], self.features))
    b = self.param("bias", nn.initializers.zeros, (self.features,))
    scale = self.gain / math.sqrt(x.shape[-1])
    return x.astype(self.dtype) @ (w * scale).astype(self.dtype) + b.astype(self.dtype)


class _Growing(nn.Module):
  """What G and D share: the target resolution, the width of each stage and the check of a stage number."""
  resolution: int = 32
  channel_base: int = 2048
  channel_max: int = 128

  @property
  def max_stage(self) -> int:
    return num_stages(self.resolution) - 1

  def widths(self) -> Tuple[int, ...]:
    """Channels at each stage's resolution (4·2^s px), after checking the target resolution."""
    check_resolution(self.resolution)
    return tuple(channels_at(4 * 2 ** s, self.channel_base, self.channel_max) for s in range(self.max_stage + 1))

  def _stage(self, stage: Optional[int], who: str) -> int:
    stage = self.max_stage if stage is None else int(stage)
    if not 0 <= stage <= self.max_stage:
      raise ValueError(f"progan {who}: stage {stage} is outside 0..{self.max_stage}")
    return stage


class ProGANGenerator(_Growing):
  channels: int = 1
  num_classes: int = 0
  embed_dim: int = 128   # the label embedding's width (build: model.latent_dim)
  dtype: Any = jnp.float32

  def setup(self):
    ch = self.widths()
    self.dense = EqDense(16 * ch[0], gain=SQRT2 / 4, dtype=self.dtype)  # the paper's 4×4 "conv" from z
    self.conv0 = EqConv(ch[0], dtype=self.dtype)
    self.convs = [(EqConv(c, dtype=self.dtype), EqConv(c, dtype=self.dtype)) for c in ch[1:]]
    self.to_rgb = [EqConv(self.channels, kernel=1, gain=1.0, dtype=self.dtype) for _ in ch]
    if self.num_classes:
      self.embed = EqDense(self.embed_dim, gain=1.0, dtype=jnp.float32)

  def __call__(self, z: Array, labels: Optional[Array] = None, train: bool = False, stage: Optional[int] = None,
               alpha=1.0) -> Array:
    stage = self._stage(stage, "G")
    require_labels(labels, self.num_classes, z.shape[0])
    act = lambda x: pixel_norm(_lrelu(x))
    h = pixel_norm(z.astype(jnp.float32))
    if self.num_classes:
      h = jnp.concatenate([h, pixel_norm(self.embed(jax.nn.one_hot(labels, self.num_classes)))], axis=-1)
    h = self.dense(h)
    h = act(h.reshape(z.shape[0], 4, 4, -1))
    h = act(self.conv0(h))
    feats = [h]
    last = self.max_stage if self.is_initializing() else stage  # init creates every resolution's parameters
    for s in range(1, last + 1):
      conv_a, conv_b = self.convs[s - 1]
      h = act(conv_b(act(conv_a(upsample2x(h)))))
      feats.append(h)
    if self.is_initializing():
      for s in range(last + 1):
        self.to_rgb[s](feats[s])
    out = self.to_rgb[stage](feats[stage])
    if stage > 0:
      out = fade(upsample2x(self.to_rgb[stage - 1](feats[stage - 1])), out, alpha)
    return out.astype(jnp.float32)


class ProGANDiscriminator(_Growing):
  mbstd: bool = True
  mbstd_group: int = 4
  num_classes: int = 0
  dtype: Any = jnp.float32

  def setup(self):
    ch = self.widths()
    self.from_rgb = [EqConv(c, kernel=1, dtype=self.dtype) for c in ch]
    # block s (s ≥ 1) maps resolution 4·2^s to 4·2^(s−1): conv at this width, conv to the next one's, pool
    self.convs = [(EqConv(ch[s], dtype=self.dtype), EqConv(ch[s - 1], dtype=self.dtype)) for s in range(1, len(ch))]
    self.conv0 = EqConv(ch[0], dtype=self.dtype)
    self.dense0 = EqDense(ch[0], dtype=self.dtype)
    self.logit = EqDense(1, gain=1.0, dtype=self.dtype)
    if self.num_classes:
      self.embed = EqDense(ch[0], gain=1.0, dtype=jnp.float32)  # the projection's class vectors

  def _block(self, s: int, h: Array) -> Array:
    conv_a, conv_b = self.convs[s - 1]
    return downsample(_lrelu(conv_b(_lrelu(conv_a(h)))))

  def __call__(self, x: Array, labels: Optional[Array] = None, train: bool = False, stage: Optional[int] = None,
               alpha=1.0) -> Array:
    stage = self._stage(stage, "D")
    require_labels(labels, self.num_classes, x.shape[0])
    if x.shape[1] != 4 * 2 ** stage:
      raise ValueError(f"progan D: stage {stage} takes {4 * 2 ** stage}×{4 * 2 ** stage} images, got {x.shape[1:3]}")
    if self.is_initializing():  # every resolution's fromRGB gets its parameters
      for s in range(stage):
        self.from_rgb[s](downsample(x, 2 ** (stage - s)))
    h = _lrelu(self.from_rgb[stage](x))
    if stage > 0:
      h = fade(_lrelu(self.from_rgb[stage - 1](downsample(x))), self._block(stage, h), alpha)
    for s in range(stage - 1, 0, -1):
      h = self._block(s, h)
    if self.mbstd:
      h = minibatch_stddev(h, self.mbstd_group)
    h = _lrelu(self.conv0(h))
    h = _lrelu(self.dense0(h.reshape(h.shape[0], -1)))
    self.sow("intermediates", "features", h)
    logit = self.logit(h)[:, 0].astype(jnp.float32)
    if self.num_classes:
      proj = self.embed(jax.nn.one_hot(labels, self.num_classes))
      logit = logit + jnp.sum(proj * h.astype(jnp.float32), axis=-1) / math.sqrt(h.shape[-1])
    return logit


@register("progan")
def build(cfg, axis_name: Optional[str] = None) -> Tuple[nn.Module, nn.Module]:
  """cfg keys: image_shape (R, R, C) the target (R a power of two ≥ 8), channel_base, channel_max, dtype, mbstd
  (default True), mbstd_group, num_classes (0 = unconditional; D conditions by projection only)."""
  shape = tuple(cfg.image_shape)
  if len(shape) != 3 or shape[0] != shape[1]:
    raise ValueError(f"progan: model.image_shape must be square (R, R, C), got {shape}")
  check_resolution(int(shape[0]))
  num_classes, cond_d = check_cond(cfg, "progan")
  if num_classes and cond_d != "projection":
    raise ValueError(f"progan: a class-conditional D is a projection D; model.cond_d={cond_d!r} is not supported")
  dtype = jnp.dtype(cfg.get("dtype", "float32"))
  base, cmax = int(cfg.get("channel_base", 2048)), int(cfg.get("channel_max", 128))
  if base < 1 or cmax < 1:
    raise ValueError(f"progan: model.channel_base and model.channel_max must be positive, got {base}, {cmax}")
  mbstd = cfg.get("mbstd", True)
  _, group = mbstd_config(cfg, "progan")
  g = ProGANGenerator(int(shape[0]), base, cmax, channels=int(shape[2]), num_classes=num_classes,
                      embed_dim=int(cfg.get("latent_dim", 128)), dtype=dtype)
  d = ProGANDiscriminator(int(shape[0]), base, cmax, mbstd=bool(mbstd), mbstd_group=group, num_classes=num_classes,
                          dtype=dtype)
  return g, d

"""SPADE / GauGAN networks (Park et al. 2019), sized for 64×64 label maps on a CPU.

  SPADE(x, m) = norm(x) · (1 + γ(m)) + β(m)
    norm: parameter-free instance normalisation (per sample and channel over H, W; ε = 1e-5). The paper's default is
          synchronised batch norm; per-sample statistics need no cross-device reduction, so the family is device-
          count invariant by construction (NVIDIA's code offers the same choice, `spadeinstance3x3`).
    γ, β: 3×3 convs on ReLU(3×3 conv(m)) with `hidden` channels, m the one-hot label map resized (nearest) to x's
          size.
  SPADEResBlock(fout): shortcut = x, or 1×1 conv(SPADE(x)) (no bias) when the width changes;
          main = conv3×3(lrelu(SPADE(conv3×3(lrelu(SPADE(x)))))) with min(fin, fout) channels in the middle.
  SPADEGenerator: starts at 64 / 2^(n−1) px (n = len(widths)) from a 3×3 conv of the label map downsampled
          (`start="map"`, the paper's choice without the VAE) or from a dense layer of z (`start="noise"`, needed
          with the encoder), then one block per width, nearest 2× up-sampling between them, lrelu, 3×3 conv, tanh.
  SPADEEncoder: the optional VAE encoder: stride-2 3×3 convs with instance norm and lrelu to 4×4, then dense μ and
          log σ² of z; the generator's parameters hold it (NVIDIA trains E with G's optimizer too).
  MultiscaleDiscriminator: `num_d` PatchGANs on (one-hot map ⊕ image), the second on a 2×2 average-pooled copy;
          each returns its intermediate features (for feature matching) and its patch logits last.
          4×4 convs: stride 2, 2, 1, then a 1-channel 4×4 conv; instance norm after all but the first; spectral norm
          on every conv (`spectral=True`, as the paper's D).
"""
from typing import Any, Optional, Sequence, Tuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models import layers as L
from jaxgan.models.spectral import SNConv

Array = jax.Array


def instance_norm(x: Array, eps: float = 1e-5) -> Array:
  """Parameter-free instance norm of NHWC x: per sample and channel over H, W, in float32."""
  x32 = x.astype(jnp.float32)
  mean = jnp.mean(x32, axis=(1, 2), keepdims=True)
  var = jnp.mean(jnp.square(x32 - mean), axis=(1, 2), keepdims=True)
  return ((x32 - mean) * jax.lax.rsqrt(var + eps)).astype(x.dtype)


def resize_map(m: Array, size: Tuple[int, int]) -> Array:
  """A one-hot map [B, H, W, C] resized (nearest, as F.interpolate's default) to `size`; H, W multiples of it."""
  h, w = m.shape[1:3]
  if (h, w) == tuple(size):
    return m
  fh, fw = h // size[0], w // size[1]
  if fh * size[0] != h or fw * size[1] != w:
    raise ValueError(f"label map {h}x{w} does not downsample evenly to {size[0]}x{size[1]}")
  return m[:, ::fh, ::fw]


def upsample2x(x: Array) -> Array:
  return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


def avg_pool2x(x: Array) -> Array:
  b, h, w, c = x.shape
  return x.reshape(b, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


def _lrelu(x):
  return nn.leaky_relu(x, 0.2)


class SPADE(nn.Module):
  """norm(x)·(1 + γ(m)) + β(m); m: one-hot label map at any size that x's divides."""
  hidden: int = 32
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array, m: Array) -> Array:
    m = resize_map(m, x.shape[1:3]).astype(self.dtype)
    a = nn.relu(L.Conv(self.hidden, (3, 3), dtype=self.dtype, name="shared")(m))
    gamma = L.Conv(x.shape[-1], (3, 3), dtype=self.dtype, name="gamma")(a)
    beta = L.Conv(x.shape[-1], (3, 3), dtype=self.dtype, name="beta")(a)
    return instance_norm(x) * (1 + gamma) + beta


class SPADEResBlock(nn.Module):
  features: int
  hidden: int = 32
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array, m: Array) -> Array:
    fin = x.shape[-1]
    mid = min(fin, self.features)
    conv = lambda f, k, name, bias=True: L.Conv(f, (k, k), use_bias=bias, dtype=self.dtype, name=name)
    if fin != self.features:
      shortcut = conv(self.features, 1, "conv_s", bias=False)(SPADE(self.hidden, self.dtype, name="norm_s")(x, m))
    else:
      shortcut = x
    # No biases: a per-channel constant is removed again by the instance norm of a later SPADE (every path to the
    # output crosses one once a block changes width), so its gradient is rounding noise, which Adam scales up to
    # full steps — and which differs with the device count.
    dx = conv(mid, 3, "conv_0", bias=False)(_lrelu(SPADE(self.hidden, self.dtype, name="norm_0")(x, m)))
    dx = conv(self.features, 3, "conv_1", bias=False)(_lrelu(SPADE(self.hidden, self.dtype, name="norm_1")(dx, m)))
    return shortcut + dx


class SPADEEncoder(nn.Module):
  """Image [B, H, W, 3] → (μ, log σ²) of z [B, z_dim]."""
  widths: Sequence[int] = (16, 32, 64, 64)
  z_dim: int = 64
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array) -> Tuple[Array, Array]:
    x = x.astype(self.dtype)
    for i, w in enumerate(self.widths):
      x = L.Conv(w, (3, 3), strides=(2, 2), use_bias=i == 0, dtype=self.dtype, name=f"conv_{i}")(x)
      x = _lrelu(instance_norm(x) if i else x)
    x = x.reshape(x.shape[0], -1)
    mu = nn.Dense(self.z_dim, name="mu")(x).astype(jnp.float32)
    logvar = nn.Dense(self.z_dim, name="logvar")(x).astype(jnp.float32)
    return mu, logvar


class SPADEGenerator(nn.Module):
  """G(label map one-hot [B, H, W, C], z [B, z_dim] or None) → images [B, H, W, channels] in [−1, 1]."""
  image_size: int = 64
  channels: int = 3
  widths: Sequence[int] = (64, 64, 32, 32, 16)
  hidden: int = 32
  z_dim: int = 64
  start: str = "map"     # "map" | "noise"
  use_vae: bool = False
  encoder_widths: Sequence[int] = (16, 32, 64, 64)
  dtype: Any = jnp.float32

  @property
  def base(self) -> int:
    return self.image_size // 2 ** (len(self.widths) - 1)

  @nn.compact
  def __call__(self, m: Array, z: Optional[Array] = None, image: Optional[Array] = None,
               eps: Optional[Array] = None, train: bool = False):
    """(images, stats): with the encoder and an `image`, z = μ + σ·eps from the image's encoding and stats = (μ,
    log σ²); otherwise z as given and stats None."""
    del train
    if self.start not in ("map", "noise"):
      raise ValueError(f"model.start must be 'map' or 'noise', got {self.start!r}")
    stats = None
    if self.use_vae:
      encoder = SPADEEncoder(self.encoder_widths, self.z_dim, self.dtype, name="encoder")
      if image is not None:
        if eps is None:
          raise ValueError("encoding an image needs eps ~ N(0, I) of shape [B, z_dim]")
        mu, logvar = encoder(image)
        z = mu + jnp.exp(0.5 * logvar) * eps
        stats = (mu, logvar)
      elif self.is_initializing():
        encoder(jnp.zeros(m.shape[:3] + (self.channels,), self.dtype))
    s, w0 = self.base, self.widths[0]
    if self.start == "noise":
      if z is None:
        raise ValueError("this SPADE generator starts from noise: pass z")
      x = nn.Dense(s * s * w0, dtype=self.dtype, name="fc")(z.astype(self.dtype)).reshape(z.shape[0], s, s, w0)
    else:
      x = L.Conv(w0, (3, 3), use_bias=False, dtype=self.dtype, name="fc")(resize_map(m, (s, s)).astype(self.dtype))
    for i, w in enumerate(self.widths):
      if i:
        x = upsample2x(x)
      x = SPADEResBlock(w, self.hidden, self.dtype, name=f"block_{i}")(x, m)
    x = L.Conv(self.channels, (3, 3), dtype=self.dtype, name="to_rgb")(_lrelu(x))
    return jnp.tanh(x.astype(jnp.float32)), stats


class PatchDiscriminator(nn.Module):
  """One PatchGAN: features of each layer, the patch logits [B, h, w, 1] last."""
  width: int = 32
  spectral: bool = True
  axis_name: Optional[str] = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array, update: bool = True):
    feats = []
    for i, (f, s) in enumerate(((self.width, 2), (2 * self.width, 2), (4 * self.width, 1), (1, 1))):
      bias = i in (0, 3)  # instance norm follows the others (see SPADEResBlock on biases before a norm)
      if self.spectral:
        x = SNConv(f, (4, 4), (s, s), padding="SAME", use_bias=bias, dtype=self.dtype, axis_name=self.axis_name,
                   name=f"conv_{i}")(x, update=update)
      else:
        x = L.Conv(f, (4, 4), (s, s), padding="SAME", use_bias=bias, dtype=self.dtype, name=f"conv_{i}")(x)
      if i < 3:
        x = _lrelu(instance_norm(x) if i else x)
      feats.append(x)
    feats[-1] = feats[-1].astype(jnp.float32)
    return feats


class MultiscaleDiscriminator(nn.Module):
  """D(one-hot map, image) → a list per scale of that PatchGAN's features (logits last)."""
  num_d: int = 2
  width: int = 32
  spectral: bool = True
  axis_name: Optional[str] = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, m: Array, x: Array, train: bool = True):
    h = jnp.concatenate([m.astype(self.dtype), x.astype(self.dtype)], axis=-1)
    out = []
    for i in range(self.num_d):
      if i:
        h = avg_pool2x(h)
      out.append(PatchDiscriminator(self.width, self.spectral, self.axis_name, self.dtype, name=f"d_{i}")(
          h, update=train))
    return out


def count_params(params) -> int:
  return int(sum(x.size for x in jax.tree.leaves(params)))

"""Model-side mode-collapse counters and helpers any model file can use.

  minibatch_stddev  StyleGAN's layer: the std of each feature over a group of G consecutive samples, averaged
                    into F statistics per group and appended as F extra channels/features. Groups are
                    *consecutive* samples, so with a per-device batch divisible by G they never straddle devices
                    and 1 vs N devices agree.
  MinibatchDiscrimination
                    Salimans et al. 2016: each sample's features are projected to K rows of C numbers; for every
                    row k the layer appends the mean over the other samples j of its group of exp(−‖M_ik − M_jk‖₁),
                    a soft count of near neighbours. Where G draws one kind of sample more often than the data
                    has it, its samples have more neighbours than real ones, which D can see and G must undo.
                    Groups are consecutive samples, as for minibatch-stddev.
  pack / unpack     PacGAN: m consecutive samples concatenated along the last (channel/feature) axis,
                    [B, ..., C] ↔ [B/m, ..., m·C].
  spectral_norm     a layer wrapped in flax's nn.SpectralNorm (σ from one power iteration; its vector lives in
                    the 'batch_stats' collection and is updated only when train=True).
"""
from typing import Any, Tuple

import flax.linen as nn
import jax.numpy as jnp


def minibatch_stddev(x_BxF, group_size: int = 4, num_features: int = 1, eps: float = 1e-8):
  """[B, ..., C] → [B, ..., C + num_features]. Group size min(group_size, B); B must divide by it."""
  b, rest = x_BxF.shape[0], x_BxF.shape[1:]
  g = min(group_size, b)
  if b % g:
    raise ValueError(f"minibatch-stddev: batch {b} does not divide by the group size {g}")
  c = rest[-1]
  if c % num_features:
    raise ValueError(f"minibatch-stddev: {c} channels do not divide into {num_features} statistics")
  y = x_BxF.astype(jnp.float32).reshape((b // g, g) + rest)
  std = jnp.sqrt(jnp.var(y, axis=1) + eps)                                  # [B/g, ..., C]
  std = std.reshape((b // g,) + rest[:-1] + (num_features, c // num_features))
  stat = jnp.mean(std, axis=tuple(range(1, std.ndim - 2)) + (std.ndim - 1,))  # [B/g, F]
  stat = jnp.repeat(stat, g, axis=0).reshape((b,) + (1,) * (len(rest) - 1) + (num_features,))
  stat = jnp.broadcast_to(stat, (b,) + rest[:-1] + (num_features,)).astype(x_BxF.dtype)
  return jnp.concatenate([x_BxF, stat], axis=-1)


def mbstd_config(cfg, family: str) -> Tuple[bool, int]:
  """(model.mbstd, model.mbstd_group) of a model config, the group checked to be a positive int."""
  group = cfg.get("mbstd_group", 4)
  if isinstance(group, bool) or not isinstance(group, int) or group < 1:
    raise ValueError(f"{family}: model.mbstd_group must be a positive number of samples, got {group!r}")
  return bool(cfg.get("mbstd", False)), group


class MinibatchDiscrimination(nn.Module):
  """[B, F] → [B, F + kernels]: soft neighbour counts within groups of min(group_size, B) consecutive samples."""
  kernels: int
  kernel_dim: int = 5
  group_size: int = 16
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x_BxF):
    b = x_BxF.shape[0]
    g = min(self.group_size, b)
    if b % g:
      raise ValueError(f"minibatch discrimination: batch {b} does not divide by the group size {g}")
    m = nn.Dense(self.kernels * self.kernel_dim, use_bias=False, dtype=self.dtype, name="projection")(x_BxF)
    m = m.astype(jnp.float32).reshape(b // g, g, self.kernels, self.kernel_dim)
    dist = jnp.sum(jnp.abs(m[:, :, None] - m[:, None, :]), axis=-1)      # [B/g, g, g, K]; 0 on the diagonal
    near = (jnp.sum(jnp.exp(-dist), axis=2) - 1.0) / max(g - 1, 1)        # the others' mean; exp(0) = 1 is self
    return jnp.concatenate([x_BxF, near.reshape(b, self.kernels).astype(x_BxF.dtype)], axis=-1)


def mbdisc_config(cfg) -> Tuple[int, int, int]:
  """(model.mbdisc, model.mbdisc_dim, model.mbdisc_group) of a model config, each checked: kernels ≥ 0 (0 = off),
  a kernel size and a group size ≥ 1."""
  out = []
  for key, default, least in (("mbdisc", 0, 0), ("mbdisc_dim", 5, 1), ("mbdisc_group", 16, 1)):
    v = cfg.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int) or v < least:
      what = "a number of kernels (0 = off)" if key == "mbdisc" else "a positive int"
      raise ValueError(f"model.{key} must be {what}, got {v!r}")
    out.append(v)
  return tuple(out)


def pack(x_Bx___xC, m: int):
  """PacGAN packing: [B, ..., C] → [B/m, ..., m·C]; sample j of a pack fills channels j·C … (j+1)·C − 1."""
  if m == 1:
    return x_Bx___xC
  b, rest = x_Bx___xC.shape[0], x_Bx___xC.shape[1:]
  if b % m:
    raise ValueError(f"packing: batch {b} does not divide by pack size {m}")
  y = jnp.moveaxis(x_Bx___xC.reshape((b // m, m) + rest), 1, -2)
  return y.reshape((b // m,) + rest[:-1] + (m * rest[-1],))


def unpack(x_Px___xMC, m: int):
  """Inverse of `pack`."""
  if m == 1:
    return x_Px___xMC
  p, rest = x_Px___xMC.shape[0], x_Px___xMC.shape[1:]
  y = x_Px___xMC.reshape((p,) + rest[:-1] + (m, rest[-1] // m))
  return jnp.moveaxis(y, -2, 1).reshape((p * m,) + rest[:-1] + (rest[-1] // m,))


def packed_shape(image_shape, m: int):
  """The shape D sees per pack."""
  image_shape = tuple(image_shape)
  return image_shape[:-1] + (image_shape[-1] * m,)


def spectral_norm(layer: nn.Module, x, train: bool, **kw) -> Any:
  """`layer(x)` with its weights divided by their spectral norm (call inside an `nn.compact` method)."""
  return nn.SpectralNorm(layer, **kw)(x, update_stats=train)

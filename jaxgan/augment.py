"""DiffAugment (Zhao et al. 2020): differentiable augmentations applied to real *and* fake images before D.

  config.augment = "translation,cutout,color"   ("" = off; any comma-separated subset, applied in that order)

  color:        brightness x + (u − ½); saturation (x − x̄_c)·2u + x̄_c; contrast (x − x̄)·(u + ½) + x̄,
                u ~ U[0, 1) per image, x̄_c the mean over channels, x̄ the mean over pixels and channels
  translation:  shift by t ~ U{−r, …, r} pixels along H and along W, r = ⌊⅛·size + ½⌋, zero fill
  cutout:       zero a ⌊½·size + ½⌋ square whose centre is uniform over the image (clipped at the edges)

Every op is a pure function of (key, x_BxHxWxC), linear in x for a fixed draw, so gradients flow to G's images.
The step uses them on D's inputs in both the D and the G step (and in penalties, as StyleGAN2-ADA does).
Draws are made for the *global* batch and sliced per device (`draw_global`), so 1 and N devices see the same
augmentations, like the latents.
"""
from typing import Callable, Optional, Sequence, Tuple

import jax
import jax.numpy as jnp
from jax import lax

POLICIES = ("color", "translation", "cutout")


def draw_global(fn: Callable, key, local_shape: Tuple[int, ...], axis_name: Optional[str] = None, **kw):
  """`fn(key, shape, **kw)` drawn for the global batch (first axis × devices), returning this device's rows."""
  if axis_name is None:
    return fn(key, local_shape, **kw)
  n = lax.axis_size(axis_name)
  full = fn(key, (local_shape[0] * n,) + tuple(local_shape[1:]), **kw)
  return lax.dynamic_slice_in_dim(full, lax.axis_index(axis_name) * local_shape[0], local_shape[0], axis=0)


def parse(policy: str) -> Tuple[str, ...]:
  """"translation,cutout" → ("translation", "cutout"); unknown names raise ValueError."""
  names = tuple(p.strip() for p in str(policy or "").split(",") if p.strip())
  for p in names:
    if p not in POLICIES:
      raise ValueError(f"unknown augmentation {p!r}; known: {', '.join(POLICIES)}")
  return names


def color(key, x_BxHxWxC, axis_name=None):
  b = x_BxHxWxC.shape[0]
  k1, k2, k3 = jax.random.split(key, 3)
  u = lambda k: draw_global(jax.random.uniform, k, (b, 1, 1, 1), axis_name)
  x = x_BxHxWxC + (u(k1) - 0.5)
  mean_c = jnp.mean(x, axis=3, keepdims=True)
  x = (x - mean_c) * (u(k2) * 2.0) + mean_c
  mean = jnp.mean(x, axis=(1, 2, 3), keepdims=True)
  return (x - mean) * (u(k3) + 0.5) + mean


def _shift_matrix(t_B, size: int):
  """One-hot [B, size, size] with out[i] = in[i + t] (zero when i + t falls outside): a differentiable shift."""
  i = jnp.arange(size)
  return (i[None, None, :] == (i[None, :, None] + t_B[:, None, None])).astype(jnp.float32)


def translation(key, x_BxHxWxC, ratio: float = 0.125, axis_name=None):
  b, h, w, _ = x_BxHxWxC.shape
  kx, ky = jax.random.split(key)
  sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
  tx = draw_global(jax.random.randint, kx, (b,), axis_name, minval=-sh, maxval=sh + 1)
  ty = draw_global(jax.random.randint, ky, (b,), axis_name, minval=-sw, maxval=sw + 1)
  # Shifts as one-hot matmuls: exact, and the backward pass is a matmul too (no scatter).
  x = jnp.einsum("bij,bjwc->biwc", _shift_matrix(tx, h).astype(x_BxHxWxC.dtype), x_BxHxWxC)
  return jnp.einsum("bij,bhjc->bhic", _shift_matrix(ty, w).astype(x_BxHxWxC.dtype), x)


def cutout(key, x_BxHxWxC, ratio: float = 0.5, axis_name=None):
  b, h, w, _ = x_BxHxWxC.shape
  kx, ky = jax.random.split(key)
  ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
  ox = draw_global(jax.random.randint, kx, (b,), axis_name, minval=0, maxval=h + (1 - ch % 2))
  oy = draw_global(jax.random.randint, ky, (b,), axis_name, minval=0, maxval=w + (1 - cw % 2))
  lo_x, lo_y = ox - ch // 2, oy - cw // 2
  rows = jnp.arange(h)[None, :]
  cols = jnp.arange(w)[None, :]
  in_x = (rows >= lo_x[:, None]) & (rows < lo_x[:, None] + ch)    # B×H
  in_y = (cols >= lo_y[:, None]) & (cols < lo_y[:, None] + cw)    # B×W
  keep = 1.0 - (in_x[:, :, None] & in_y[:, None, :]).astype(x_BxHxWxC.dtype)
  return x_BxHxWxC * keep[..., None]


_OPS = {"color": color, "translation": translation, "cutout": cutout}


def diff_augment(key, x_BxHxWxC, policy: Sequence[str], axis_name: Optional[str] = None):
  """Applies the ops of `policy` in order, each with its own key. Identity for an empty policy."""
  if isinstance(policy, str):
    policy = parse(policy)
  if policy and x_BxHxWxC.ndim != 4:
    raise ValueError(f"DiffAugment needs images [B, H, W, C], got shape {x_BxHxWxC.shape}; set config.augment=''")
  for i, name in enumerate(policy):
    x_BxHxWxC = _OPS[name](jax.random.fold_in(key, i), x_BxHxWxC, axis_name=axis_name)
  return x_BxHxWxC

"""upfirdn2d in plain XLA: up-sample by zero insertion, pad (or crop), FIR-filter, down-sample; NHWC.

For every image and channel, along each spatial axis:

  1. up-sample by `up`: x_up[i·up] = x[i], zeros in between and `up − 1` zeros after the last pixel (length H·up);
  2. pad by (p0, p1) zeros (a negative count crops);
  3. convolve with the FIR filter f (a true convolution, i.e. correlation with the flipped taps; `flip_filter=True`
     correlates with f as given), keeping only outputs whose footprint lies inside the padded signal:
     length H·up + p0 + p1 − taps + 1;
  4. keep every `down`-th output, starting at the first.

This is the definition of NVIDIA's `upfirdn2d` (StyleGAN2/3) and of scipy.signal.upfirdn. `padding` is an int
(all four sides), (px, py), or (x0, x1, y0, y1) with x the width axis, in NVIDIA's order. The filter is a static
numpy array: 1-D (separable: the same taps along height and width) or 2-D [fh, fw]; it is multiplied by
gain^(ndim/2), so the 2-D response is scaled by `gain` either way.

Formulations (`method`; all compute the same numbers to float rounding):
  "shift"   separable: the zero-inserted, padded signal is built by one `lax.pad` (interior padding), then each
            axis is one sum of taps·strided slices (the stride does the down-sampling): element-wise work that
            XLA fuses, and whose gradient is pads and slices. 2-D filters that are not rank one use the 2-D sum.
  "conv"    one depthwise `conv_general_dilated` with the 2-D filter (lhs dilation = up, window stride = down).
  "conv_sep" two depthwise convs with the 1-D filter.
  "matmul"  two small dense matrices that do the whole up-pad-filter-down along height and width, applied
            with einsum (no zero insertion at all, but Hout·Hin multiplies per column).
`"auto"` (the default, `auto_method`) is the fastest on XLA:CPU at StyleGAN2's shapes (benchmarks/upfirdn_bench.py;
the table is in the StyleGAN2 notes): "matmul" for separable filters up to 64 px, else "shift"; the depthwise
convs were 5–15× slower than either everywhere.

`setup_filter`, `upsample2d`, `downsample2d`, `filter2d` wrap `upfirdn2d` with the paddings that keep the
output a multiple (or fraction) of the input size, as StyleGAN2 uses them.
"""
from typing import Sequence, Tuple, Union

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

Array = jax.Array
METHODS = ("shift", "conv", "conv_sep", "matmul")
_DN = ("NHWC", "HWIO", "NHWC")


def setup_filter(taps, normalize: bool = True) -> np.ndarray:
  """A float64 numpy FIR filter from taps (1-D = separable, 2-D), normalised to unit DC gain."""
  f = np.asarray(taps, np.float64)
  if f.ndim == 0:
    f = f[None]
  if f.ndim not in (1, 2) or f.size == 0:
    raise ValueError(f"upfirdn2d: a filter must be 1-D or 2-D taps, got shape {f.shape}")
  if normalize:
    f = f / f.sum()
  return f


def parse_padding(padding) -> Tuple[int, int, int, int]:
  """int | (px, py) | (x0, x1, y0, y1) → (x0, x1, y0, y1)."""
  if isinstance(padding, (int, np.integer)):
    return (int(padding),) * 4
  padding = tuple(int(p) for p in padding)
  if len(padding) == 2:
    return padding[0], padding[0], padding[1], padding[1]
  if len(padding) != 4:
    raise ValueError(f"upfirdn2d: padding must be an int, (px, py) or (x0, x1, y0, y1), got {padding}")
  return padding


def _scaling(v, what: str) -> Tuple[int, int]:
  """int | (sx, sy) → (sx, sy)."""
  if isinstance(v, (int, np.integer)):
    v = (int(v), int(v))
  v = tuple(int(s) for s in v)
  if len(v) != 2 or min(v) < 1:
    raise ValueError(f"upfirdn2d: {what} must be a positive int or (x, y), got {v}")
  return v


def _factor(f: np.ndarray):
  """(fy, fx) 1-D factors with f = outer(fy, fx) when f is separable (1-D, or a rank-one 2-D filter), else None."""
  if f.ndim == 1:
    return f, f
  u, s, vt = np.linalg.svd(f)
  if s.size > 1 and s[1] > 1e-7 * s[0]:
    return None
  fy, fx = u[:, 0] * np.sqrt(s[0]), vt[0] * np.sqrt(s[0])
  if fy.sum() < 0:
    fy, fx = -fy, -fx
  return fy, fx


def out_size(n: int, taps: int, up: int, down: int, p0: int, p1: int) -> int:
  return (n * up + p0 + p1 - taps) // down + 1


def upfirdn2d(x: Array, f, up=1, down=1, padding=0, flip_filter: bool = False, gain: float = 1.0,
              method: str = "auto") -> Array:
  """[B, H, W, C] → [B, H', W', C] with H' = (H·up_y + y0 + y1 − fh) // down_y + 1 (likewise W')."""
  if x.ndim != 4:
    raise ValueError(f"upfirdn2d takes NHWC images, got shape {x.shape}")
  f = np.asarray(f, np.float64) if f is not None else np.ones((1, 1))
  if f.ndim not in (1, 2):
    raise ValueError(f"upfirdn2d: a filter must be 1-D or 2-D taps, got shape {f.shape}")
  upx, upy = _scaling(up, "up")
  downx, downy = _scaling(down, "down")
  x0, x1, y0, y1 = parse_padding(padding)
  f = f * gain ** (f.ndim / 2)
  if not flip_filter:
    f = f[::-1] if f.ndim == 1 else f[::-1, ::-1]
  # from here on the filter is correlated with the signal
  fh, fw = (f.shape[0], f.shape[0]) if f.ndim == 1 else f.shape
  ho, wo = out_size(x.shape[1], fh, upy, downy, y0, y1), out_size(x.shape[2], fw, upx, downx, x0, x1)
  if ho < 1 or wo < 1:
    raise ValueError(f"upfirdn2d: output would be {ho}×{wo} (input {x.shape[1:3]}, filter {fh}×{fw}, "
                     f"up {upx, upy}, down {downx, downy}, padding {(x0, x1, y0, y1)})")
  if method == "auto":
    method = auto_method(x.shape, f)
  if method not in METHODS:
    raise ValueError(f"upfirdn2d: unknown method {method!r}; choose from {METHODS + ('auto',)}")
  if method == "matmul":
    return _matmul(x, f, (upy, upx), (downy, downx), ((y0, y1), (x0, x1)))
  dt = x.dtype
  # steps 1 and 2 in one op: interior padding inserts the zeros, edge padding pads or crops
  xp = lax.pad(x, jnp.zeros((), dt), ((0, 0, 0), (y0, y1 + upy - 1, upy - 1), (x0, x1 + upx - 1, upx - 1), (0, 0, 0)))
  if method == "conv":
    k = f if f.ndim == 2 else np.outer(f, f)
    return _depthwise(xp, k, (downy, downx))
  factors = _factor(f)
  if method == "conv_sep":
    if factors is None:
      return _depthwise(xp, f, (downy, downx))
    fy, fx = factors
    y = _depthwise(xp, fy[:, None], (downy, 1))
    return _depthwise(y, fx[None, :], (1, downx))
  # shift
  if factors is None:
    return _shift2d(xp, f, (downy, downx), (ho, wo))
  fy, fx = factors
  y = _shift1d(xp, fy, 1, downy, ho)
  return _shift1d(y, fx, 2, downx, wo)


def auto_method(shape, f: np.ndarray) -> str:
  """The measured-fastest formulation on XLA:CPU (benchmarks/upfirdn_bench.py; table in the StyleGAN2 notes):
  the two small resampling matmuls for separable filters on images up to 64 px (StyleGAN2's 32-px shapes:
  1.1–10× faster than "shift", ≥ 5× faster than the depthwise convs); beyond 64 px their Hout·Hin multiplies per
  column outgrow the taps, so "shift" (not measured there: chosen by operation count)."""
  if _factor(np.asarray(f)) is not None and max(shape[1], shape[2]) <= 64:
    return "matmul"
  return "shift"


def _depthwise(xp: Array, k2d: np.ndarray, strides) -> Array:
  c = xp.shape[-1]
  k = jnp.asarray(np.broadcast_to(k2d[:, :, None, None], k2d.shape + (1, c)), xp.dtype)
  return lax.conv_general_dilated(xp, k, strides, "VALID", dimension_numbers=_DN, feature_group_count=c)


def _shift1d(xp: Array, taps: np.ndarray, axis: int, down: int, n_out: int) -> Array:
  out = None
  for t, v in enumerate(taps):
    if v == 0:
      continue
    sl = lax.slice_in_dim(xp, t, t + (n_out - 1) * down + 1, down, axis)
    term = sl * jnp.asarray(v, xp.dtype)
    out = term if out is None else out + term
  if out is None:
    shape = list(xp.shape)
    shape[axis] = n_out
    out = jnp.zeros(shape, xp.dtype)
  return out


def _shift2d(xp: Array, f: np.ndarray, down, n_out) -> Array:
  out = None
  for i in range(f.shape[0]):
    for j in range(f.shape[1]):
      if f[i, j] == 0:
        continue
      sl = xp[:, i:i + (n_out[0] - 1) * down[0] + 1:down[0], j:j + (n_out[1] - 1) * down[1] + 1:down[1]]
      term = sl * jnp.asarray(f[i, j], xp.dtype)
      out = term if out is None else out + term
  return out if out is not None else jnp.zeros((xp.shape[0],) + tuple(n_out) + (xp.shape[-1],), xp.dtype)


def resample_matrix(n: int, taps: np.ndarray, up: int, down: int, p0: int, p1: int) -> np.ndarray:
  """The [n_out, n] matrix of steps 1–4 along one axis, taps already in correlation order."""
  length = n * up + p0 + p1
  n_out = (length - len(taps)) // down + 1
  m = np.zeros((n_out, n))
  for o in range(n_out):
    for t, v in enumerate(taps):
      j = o * down + t - p0            # index into the zero-inserted (uncropped) signal
      if 0 <= j < n * up and j % up == 0:
        m[o, j // up] += v
  return m


def _matmul(x: Array, f: np.ndarray, up, down, pads) -> Array:
  factors = _factor(f)
  if factors is None:
    raise ValueError("upfirdn2d: method 'matmul' needs a separable filter (1-D or rank-one 2-D)")
  fy, fx = factors
  my = jnp.asarray(resample_matrix(x.shape[1], fy, up[0], down[0], *pads[0]), x.dtype)
  mx = jnp.asarray(resample_matrix(x.shape[2], fx, up[1], down[1], *pads[1]), x.dtype)
  y = jnp.einsum("oh,bhwc->bowc", my, x)
  return jnp.einsum("pw,bowc->bopc", mx, y)


def _filter_size(f) -> Tuple[int, int]:
  f = np.asarray(f)
  return (f.shape[0], f.shape[0]) if f.ndim == 1 else (f.shape[1], f.shape[0])   # (fw, fh)


def upsample2d(x: Array, f, up: int = 2, padding=0, gain: float = 1.0, method: str = "auto") -> Array:
  """up× up-sampling with filter f: [B, H, W, C] → [B, up·H, up·W, C] (plus `padding`), DC gain kept."""
  fw, fh = _filter_size(f)
  x0, x1, y0, y1 = parse_padding(padding)
  p = (x0 + (fw + up - 1) // 2, x1 + (fw - up) // 2, y0 + (fh + up - 1) // 2, y1 + (fh - up) // 2)
  return upfirdn2d(x, f, up=up, padding=p, gain=gain * up * up, method=method)


def downsample2d(x: Array, f, down: int = 2, padding=0, gain: float = 1.0, method: str = "auto") -> Array:
  """down× down-sampling with filter f: [B, H, W, C] → [B, H/down, W/down, C] (plus `padding`)."""
  fw, fh = _filter_size(f)
  x0, x1, y0, y1 = parse_padding(padding)
  p = (x0 + (fw - down + 1) // 2, x1 + (fw - down) // 2, y0 + (fh - down + 1) // 2, y1 + (fh - down) // 2)
  return upfirdn2d(x, f, down=down, padding=p, gain=gain, method=method)


def filter2d(x: Array, f, padding=0, gain: float = 1.0, method: str = "auto") -> Array:
  """Filtering that keeps the size (plus `padding`)."""
  fw, fh = _filter_size(f)
  x0, x1, y0, y1 = parse_padding(padding)
  p = (x0 + fw // 2, x1 + (fw - 1) // 2, y0 + fh // 2, y1 + (fh - 1) // 2)
  return upfirdn2d(x, f, padding=p, gain=gain, method=method)

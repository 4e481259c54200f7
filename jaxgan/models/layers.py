"""Convolution layers for DCGAN-style models, written for speed on XLA:CPU.

`ConvTranspose2x` is a drop-in for `nn.ConvTranspose(f, (4, 4), (2, 2), padding=((2, 2), (2, 2)))`
(= PyTorch `ConvTranspose2d(k=4, s=2, p=1)`, exact 2x upsampling): same parameter names and shapes, same outputs.
`lax.conv_transpose` puts the weight gradient on a slow XLA:CPU path (jax-ml/jax#12868 family; ~5x slower than
PyTorch); here the layer is computed by phase decomposition instead. With the flax kernel convention
(`transpose_kernel=False`), along one spatial axis

  y[2m]   = x[m-1] K[0] + x[m]   K[2]
  y[2m+1] = x[m]   K[1] + x[m+1] K[3]

so output phase (a, b) in {0,1}^2 is a stride-1 2x2 VALID conv of the 1-padded input, started at offset (a, b),
with kernel K[a::2, b::2]; the four phases are interleaved into the 2Hx2W output. PyTorch weights W_t[in, out, kh,
kw] map to K = W_t.permute(2, 3, 0, 1) flipped on both spatial axes (`kernel_from_torch_conv_transpose`).

`Conv2xDown` is the matching 4x4 stride-2 padding-1 conv (exact 2x downsampling), kernel as `nn.Conv`'s.
"""
import functools
from typing import Any, Callable, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

Array = jax.Array
Dtype = Any
_DN = ("NHWC", "HWIO", "NHWC")

# Formulations of the 4x4/s2 transposed conv, all exact (benchmarks/conv_bench.py times them).
UP_METHODS = ("phase_conv", "phase_matmul", "fused_conv", "subpixel", "lax")
# Formulations of the 4x4/s2 conv.
DOWN_METHODS = ("lax", "auto", "taps", "s2d_conv", "matmul")


def _interleave(p00: Array, p01: Array, p10: Array, p11: Array) -> Array:
  """y[:, 2i+a, 2j+b] = p_ab[:, i, j]."""
  b, h, w, c = p00.shape
  row0 = jnp.stack([p00, p01], axis=3)  # B,H,W,2,C
  row1 = jnp.stack([p10, p11], axis=3)
  return jnp.stack([row0, row1], axis=2).reshape(b, 2 * h, 2 * w, c)


def _phase_kernels(kernel_4x4xIxO: Array) -> Array:
  """(4,4,I,O) -> (2,2,I,4,O): phase (a,b) = K[a::2, b::2] at index 2a+b."""
  return jnp.stack([kernel_4x4xIxO[a::2, b::2] for a in (0, 1) for b in (0, 1)], axis=3)


def conv_transpose_2x(x_BxHxWxI: Array, kernel_4x4xIxO: Array, method: str = "auto") -> Array:
  """Transposed conv 4x4, stride 2, torch padding 1: (B,H,W,I) -> (B,2H,2W,O); no bias.

  Equals `lax.conv_transpose(x, kernel, (2, 2), ((2, 2), (2, 2)), dimension_numbers=NHWC/HWIO)`. `method` is
  one of UP_METHODS or "auto" (`auto_up_method`).
  """
  if kernel_4x4xIxO.shape[:2] != (4, 4):
    raise ValueError(f"conv_transpose_2x needs a 4x4 kernel, got {kernel_4x4xIxO.shape}")
  x, k = x_BxHxWxI, kernel_4x4xIxO
  bsz, h, w, cin = x.shape
  cout = k.shape[-1]
  if method == "auto":
    method = auto_up_method(cin, cout)
  if method == "lax":
    return lax.conv_transpose(x, k, (2, 2), ((2, 2), (2, 2)), dimension_numbers=_DN)
  if method == "subpixel":
    # One SAME 3x3 conv with 4*O outputs (phase (a,b) uses taps [a:a+2, b:b+2], zeros elsewhere), then
    # depth-to-space: 2.25x the FLOPs, but one well-shaped conv when O is too small for the phase convs.
    k3 = jnp.zeros((3, 3, cin, 4, cout), k.dtype)
    for a in (0, 1):
      for b in (0, 1):
        k3 = k3.at[a:a + 2, b:b + 2, :, 2 * a + b].set(k[a::2, b::2])
    z = _xla_conv(x, k3.reshape(3, 3, cin, 4 * cout), 1, ((1, 1), (1, 1)))
    z = z.reshape(bsz, h, w, 2, 2, cout).transpose(0, 1, 3, 2, 4, 5)
    return z.reshape(bsz, 2 * h, 2 * w, cout)
  xp = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
  if method == "phase_conv":  # each phase a `conv2d` (the per-tap weight gradient where it pays)
    return _interleave(*[conv2d(xp[:, a:a + h + 1, b:b + w + 1], k[a::2, b::2]) for a in (0, 1) for b in (0, 1)])
  # Both fused forms compute all four phase kernels at every (H+1)x(W+1) window of the padded input (one big
  # op, (1+1/H)(1+1/W) times the exact FLOPs), then take phase (a, b) at window offset (a, b).
  k_2x2xIx4O = _phase_kernels(k).reshape(2, 2, cin, 4 * cout)
  if method == "fused_conv":
    z = _xla_conv(xp, k_2x2xIx4O, 1, ((0, 0), (0, 0)))
  elif method == "phase_matmul":
    patches = jnp.concatenate([xp[:, i:i + h + 1, j:j + w + 1] for i in (0, 1) for j in (0, 1)], axis=-1)
    z = patches @ k_2x2xIx4O.reshape(4 * cin, 4 * cout)
  else:
    raise ValueError(f"unknown conv_transpose_2x method {method!r}; choose from {UP_METHODS + ('auto',)}")
  z = z.reshape(bsz, h + 1, w + 1, 4, cout)
  return _interleave(*[z[:, a:a + h, b:b + w, 2 * a + b] for a in (0, 1) for b in (0, 1)])


def auto_up_method(cin: int, cout: int) -> str:
  """The measured-fastest formulation for this backend (benchmarks/conv_bench.py --mode=layers)."""
  # XLA:CPU, batch 64 (fwd+bwd): lax's slow weight-gradient path costs 5-10x at >= 16 output channels, where the
  # four phase convs win; below 16 the single subpixel conv wins: 2x lax at 8, and at 1 and 3 (32 -> 1 or 3
  # channels, 14 -> 28 px, one thread) 2.2 vs 2.8 ms and 7.5 vs 12.7 ms, where lax's gradients inside a rolled
  # scan take 13 and 44 ms (XLA:CPU's loop trap, see `conv2d`). Elsewhere lax.conv_transpose maps onto the vendor
  # library's native transposed conv.
  del cin
  if jax.default_backend() != "cpu":
    return "lax"
  return "subpixel" if cout < 16 else "phase_conv"


def conv_2x_down(x_BxHxWxI: Array, kernel_4x4xIxO: Array, method: str = "lax") -> Array:
  """Conv 4x4, stride 2, padding 1 (torch Conv2d(k=4, s=2, p=1)): (B,H,W,I) -> (B,H//2,W//2,O); no bias.

  y[o] = sum_k xp[2o+k] K[k] with xp the 1-padded input; writing 2o+k = 2(o+q)+r (k = 2q+r) makes it a stride-1
  2x2 conv over the space-to-depth of xp (`s2d_conv`) or a matmul over 4x4 patches (`matmul`).
  """
  x, k = x_BxHxWxI, kernel_4x4xIxO
  if k.shape[:2] != (4, 4):
    raise ValueError(f"conv_2x_down needs a 4x4 kernel, got {k.shape}")
  bsz, h, w, cin = x.shape
  cout = k.shape[-1]
  if method == "lax":
    return _xla_conv(x, k, 2, ((1, 1), (1, 1)))
  if method in ("auto", "taps"):  # the same conv, its weight gradient per tap (`conv2d`; "auto": where it pays)
    return conv2d(x, k, 2, ((1, 1), (1, 1)), wgrad=method)
  ho, wo = h // 2, w // 2
  # Pad to exactly 2*(out+1) so odd sizes floor like torch.
  xp = jnp.pad(x, ((0, 0), (1, 2 * ho + 1 - h), (1, 2 * wo + 1 - w), (0, 0)))
  if method == "s2d_conv":
    s = xp.reshape(bsz, ho + 1, 2, wo + 1, 2, cin).transpose(0, 1, 3, 2, 4, 5).reshape(bsz, ho + 1, wo + 1, 4 * cin)
    k2 = k.reshape(2, 2, 2, 2, cin, cout).transpose(0, 2, 1, 3, 4, 5).reshape(2, 2, 4 * cin, cout)
    return _xla_conv(s, k2, 1, ((0, 0), (0, 0)))
  if method == "matmul":
    patches = jnp.concatenate([xp[:, i:i + 2 * ho:2, j:j + 2 * wo:2] for i in range(4) for j in range(4)], -1)
    return patches @ k.reshape(16 * cin, cout)
  raise ValueError(f"unknown conv_2x_down method {method!r}; choose from {DOWN_METHODS}")


def kernel_from_torch_conv_transpose(w_IxOx4x4: np.ndarray) -> np.ndarray:
  """PyTorch ConvTranspose2d weight (in, out, kh, kw) -> this layer's / flax's (kh, kw, in, out) kernel."""
  return np.ascontiguousarray(np.transpose(w_IxOx4x4, (2, 3, 0, 1))[::-1, ::-1])


class ConvTranspose2x(nn.Module):
  """Exact 2x upsampling transposed conv (4x4, stride 2, torch padding 1), phase-decomposed.

  Parameters `kernel` (4, 4, in, features) and `bias` (features,) as in `nn.ConvTranspose`.
  """
  features: int
  use_bias: bool = True
  dtype: Optional[Dtype] = None
  param_dtype: Dtype = jnp.float32
  kernel_init: Callable = nn.initializers.lecun_normal()
  bias_init: Callable = nn.initializers.zeros_init()
  method: str = "auto"  # UP_METHODS, or "auto": chosen per backend and shape by `auto_up_method`

  @nn.compact
  def __call__(self, x_BxHxWxI: Array) -> Array:
    kernel = self.param("kernel", self.kernel_init, (4, 4, x_BxHxWxI.shape[-1], self.features), self.param_dtype)
    bias = self.param("bias", self.bias_init, (self.features,), self.param_dtype) if self.use_bias else None
    x, kernel, bias = nn.dtypes.promote_dtype(x_BxHxWxI, kernel, bias, dtype=self.dtype)
    y = conv_transpose_2x(x, kernel, self.method)
    return y + bias if bias is not None else y


class Conv2xDown(nn.Module):
  """4x4 stride-2 padding-1 conv (torch Conv2d(k=4, s=2, p=1)); parameters as in `nn.Conv`."""
  features: int
  use_bias: bool = True
  dtype: Optional[Dtype] = None
  param_dtype: Dtype = jnp.float32
  kernel_init: Callable = nn.initializers.lecun_normal()
  bias_init: Callable = nn.initializers.zeros_init()
  method: str = "auto"

  @nn.compact
  def __call__(self, x_BxHxWxI: Array) -> Array:
    kernel = self.param("kernel", self.kernel_init, (4, 4, x_BxHxWxI.shape[-1], self.features), self.param_dtype)
    bias = self.param("bias", self.bias_init, (self.features,), self.param_dtype) if self.use_bias else None
    x, kernel, bias = nn.dtypes.promote_dtype(x_BxHxWxI, kernel, bias, dtype=self.dtype)
    y = conv_2x_down(x, kernel, self.method)
    return y + bias if bias is not None else y


# -- convolutions with a matmul weight gradient ------------------------------------------------------------------
#
# XLA:CPU (jax 0.10, YNNPACK) computes a conv's weight gradient as a convolution whose "kernel" is the whole
# output-gradient image, and runs that shape 3-7x slower than the forward conv of the same FLOPs: in StyleGAN2's
# D step at 32 px (batch 32, 128 channels, 3x3) the weight gradient of one layer took 1,015 ms against 149 ms for
# its forward (an XLA profile of the step, AVX2, one thread; `benchmarks/conv_bench.py --mode=wgrad` times such
# layers both ways). Written instead as one matmul per kernel tap,
#   dW[a, b] = Σ_{n,h,w} x_pad[n, s·h + a, s·w + b, :]ᵀ g[n, h, w, :]   ([N·Ho·Wo, I]ᵀ @ [N·Ho·Wo, O]),
# it runs at matmul speed. `conv2d` is a plain `lax.conv_general_dilated` forward with that weight gradient; its
# input gradient is again `conv2d` (stride 1) so that a gradient of a gradient (R1) keeps the fast path.

#
# Inside a loop (a rolled `lax.scan`, a `while`), XLA:CPU runs both gradients of `lax.conv_general_dilated` on a
# naive path: outside loops its layout passes rewrite the weight gradient (dims f01b_i01o->01bf) and the input
# gradient into the canonical NHWC/HWIO form with explicit transposes, which the library kernels run; in a loop
# body they stay as they are. One conv's weight gradient in a 1-step scan: 431 ms against 2.1 ms outside it (a
# 3x3 conv, 16 channels, batch 16 at 32 px, one AVX2 thread, the suite's fast-compile level; 84 vs 4.7 ms at the
# default level). `wgrad="canonical"` writes both gradients in that canonical form itself: bit for bit what
# XLA computes outside a loop, at that speed inside one. ("auto" on CPU: taps where they pay, else canonical.)

WGRAD_METHODS = ("auto", "taps", "canonical", "lax")


def _lax_conv(x: Array, w: Array, stride: int, padding) -> Array:
  return lax.conv_general_dilated(x, w, (stride, stride), padding, dimension_numbers=_DN)


def _xla_conv(x: Array, w: Array, stride: int, padding) -> Array:
  """XLA's own conv (the "lax" formulations above): on CPU with its gradients in canonical form (`conv2d`'s
  "canonical": the same numbers outside loops, the fast path inside them)."""
  if jax.default_backend() == "cpu":
    return _conv_canonical(x, w, stride, padding)
  return _lax_conv(x, w, stride, padding)


def _tap_weight_grad(x: Array, g: Array, w_shape, stride: int, padding) -> Array:
  kh, kw, cin, cout = w_shape
  (p0, p1), (q0, q1) = padding
  xp = jnp.pad(x, ((0, 0), (p0, p1), (q0, q1), (0, 0)))
  ho, wo = g.shape[1], g.shape[2]
  g2 = g.reshape(-1, cout)
  taps = []
  for a in range(kh):
    for b in range(kw):
      xs = xp[:, a:a + stride * (ho - 1) + 1:stride, b:b + stride * (wo - 1) + 1:stride, :]
      taps.append(lax.dot_general(xs.reshape(-1, cin), g2, (((0,), (0,)), ((), ()))))
  return jnp.stack(taps).reshape(kh, kw, cin, cout)


def _taps_fwd(x, w, stride, padding):
  # The primal through the custom-VJP function itself, not lax: differentiated again (R1's gradient of a
  # gradient), this forward conv then takes this rule too instead of lax's transposes (slow inside loops on CPU).
  return _conv_taps(x, w, stride, padding), (x, w)


def _conv_bwd(stride, padding, res, g):
  x, w = res
  dx = _input_grad(g, w, x.shape, stride, padding, lambda v, k, pad: _conv_taps(v, k, 1, pad))
  dw = _tap_weight_grad(x, g.astype(x.dtype), w.shape, stride, padding).astype(w.dtype)
  return _like(dx.astype(x.dtype), x), _like(dw, w)


def _like(ct: Array, primal: Array) -> Array:
  """Under `shard_map`, a replicated primal used with per-device values was implicitly made per-device (pvary),
  whose transpose is a sum over devices; a custom VJP has to return that sum itself."""
  extra = tuple(sorted(_varying_axes(ct) - _varying_axes(primal)))
  return lax.psum(ct, extra) if extra else ct


def _varying_axes(x: Array) -> frozenset:
  t = jax.typeof(x)
  mat = getattr(t, "manual_axis_type", None)  # jax >= 0.10; earlier releases call it `vma`
  return frozenset(mat.varying if mat is not None else getattr(t, "vma", ()))


def conv_transpose_phases(x_BxHxWxI: Array, kernel_KhxKwxIxO: Array, stride: int) -> Array:
  """The stride-s transposed conv with no padding, the kernel used as a true convolution kernel (unflipped):
  y[s·m + t] += x[m]·K[t], [B, H, W, I] → [B, s(H−1)+Kh, s(W−1)+Kw, O]; by output phases, each a stride-1
  `conv2d`. XLA:CPU runs the lhs-dilated form and its weight gradient on a slow path: StyleGAN2's
  [16, 16, 16, 256] → 128 up-conv, fwd+bwd, took 2.2 s by phases against 17.8 s (benchmarks/upconv_bench.py).
  On CPU each phase's weight gradient is per tap whatever its size (`taps_pay` says no to most of these small
  2×2/2×1/1×2 kernels, but XLA folds their kernel reversal into a conv form it runs slowly): `stylegan2_bench32`
  1.085× the whole step (3 alternating pairs, one AVX2 thread: 4.32–4.57 vs 3.99–4.21 img/s), same compile time."""
  n, h, w, _ = x_BxHxWxI.shape
  kh, kw, _, cout = kernel_KhxKwxIxO.shape
  out_shape = (n, stride * (h - 1) + kh, stride * (w - 1) + kw, cout)
  wgrad = "taps" if jax.default_backend() == "cpu" else "auto"
  return _strided_input_grad(x_BxHxWxI, jnp.swapaxes(kernel_KhxKwxIxO, 2, 3), out_shape, stride, ((0, 0), (0, 0)),
                             conv=lambda v, k, pad: conv2d(v, k, 1, pad, wgrad=wgrad))


def _strided_input_grad(g: Array, w: Array, x_shape, stride: int, padding, conv) -> Array:
  """The input gradient of a stride-s conv, by output phases: the padded input's rows s·i + r receive
  Σ_t g[i − t]·W[r + s·t]ᵀ, a stride-1 conv of g with the taps W[r::s] reversed (a transposed conv, as
  `conv_transpose_phases`). `conv(v, k, padding)` computes each phase (a taps or canonical conv, so that its own
  gradients stay on the fast path; XLA's lhs-dilated form is both slower and, differentiated again for R1, has
  the slow weight gradient)."""
  s = stride
  kh, kw = w.shape[:2]
  (p0, p1), (q0, q1) = padding
  n, h, wd, cin = x_shape
  hp, wp = h + p0 + p1, wd + q0 + q1
  ho, wo = g.shape[1], g.shape[2]
  nh, nw = -(-hp // s), -(-wp // s)
  wt = jnp.swapaxes(w, 2, 3)
  rows = []
  for r in range(s):
    cols = []
    for c in range(s):
      tr, tc = len(range(r, kh, s)), len(range(c, kw, s))
      if tr == 0 or tc == 0:
        cols.append(jnp.zeros((n, nh, nw, cin), g.dtype))
        continue
      n_r, n_c = len(range(r, hp, s)), len(range(c, wp, s))
      k = wt[r::s, c::s][::-1, ::-1]
      ph = conv(g, k, ((tr - 1, n_r - ho), (tc - 1, n_c - wo)))
      cols.append(jnp.pad(ph, ((0, 0), (0, nh - n_r), (0, nw - n_c), (0, 0))))
    rows.append(jnp.stack(cols, axis=3))                                # [N, nh, nw, s, I]
  dxp = jnp.stack(rows, axis=2).reshape(n, nh * s, nw * s, cin)          # [N, nh, s, nw, s, I]
  return dxp[:, p0:p0 + h, q0:q0 + wd]


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _conv_taps(x, w, stride, padding):
  return _lax_conv(x, w, stride, padding)


_conv_taps.defvjp(_taps_fwd, _conv_bwd)


def _canonical_weight_grad(x: Array, g: Array, w_shape, stride: int, padding) -> Array:
  """dW[a, b, i, o] = Σ_{n,h,w} x_pad[n, s·h + a, s·w + b, i]·g[n, h, w, o] as a canonical NHWC/HWIO conv: the
  input's channels as its batch, its batch as the channels, g (window-dilated by s) as the kernel."""
  kh, kw = w_shape[:2]
  (p0, _), (q0, _) = padding
  h, wd = x.shape[1], x.shape[2]
  ho, wo = g.shape[1], g.shape[2]
  pad = ((p0, kh + stride * (ho - 1) - h - p0), (q0, kw + stride * (wo - 1) - wd - q0))
  out = lax.conv_general_dilated(jnp.transpose(x, (3, 1, 2, 0)), jnp.transpose(g, (1, 2, 0, 3)), (1, 1), pad,
                                 rhs_dilation=(stride, stride), dimension_numbers=_DN)   # [I, Kh, Kw, O]
  return jnp.transpose(out, (1, 2, 0, 3))


def _input_grad(g: Array, w: Array, x_shape, stride: int, padding, conv) -> Array:
  """dx of a conv, with `conv(v, k, pad)` a stride-1 conv of the caller's kind (taps or canonical, so that a
  gradient of dx, R1's, stays on that path): for stride 1 with the "back" padding non-negative, g convolved with
  the kernel flipped and its in/out swapped; else by output phases (`_strided_input_grad`), each such a conv.
  (XLA's own lhs-dilated form of a strided dx is slower, and its gradients take XLA:CPU's slow path in loops.)"""
  kh, kw = w.shape[:2]
  (p0, p1), (q0, q1) = padding
  back = ((kh - 1 - p0, kh - 1 - p1), (kw - 1 - q0, kw - 1 - q1))
  if stride == 1 and min(min(p) for p in back) >= 0:
    return conv(g, jnp.swapaxes(w[::-1, ::-1], 2, 3), back)
  return _strided_input_grad(g, w, x_shape, stride, padding, conv=conv)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _conv_canonical(x, w, stride, padding):
  return _lax_conv(x, w, stride, padding)


def _canonical_bwd(stride, padding, res, g):
  x, w = res
  g = g.astype(x.dtype)
  dx = _input_grad(g, w, x.shape, stride, padding, lambda v, k, pad: _conv_canonical(v, k, 1, pad))
  dw = _canonical_weight_grad(x, g, w.shape, stride, padding)
  return _like(dx.astype(x.dtype), x), _like(dw.astype(w.dtype), w)


def _canonical_fwd(x, w, stride, padding):
  return _conv_canonical(x, w, stride, padding), (x, w)  # see _taps_fwd


_conv_canonical.defvjp(_canonical_fwd, _canonical_bwd)


def taps_pay(x_shape, w_shape, stride: int, padding) -> bool:
  """Whether the per-tap weight gradient beats XLA:CPU's for this conv (`wgrad="auto"`). Measured fwd+bwd, one
  AVX2 thread, 3x3 convs (`benchmarks/conv_bench.py --mode=wgrad` and a grid of sizes): lax's weight gradient
  falls off a cliff on big problems (StyleGAN2's 32-px layers 2.6-5.3x slower: 128 channels at batch 32, and 64
  channels at batch 32 too) but is as fast or faster on small ones, where a [N·H·W, C]ᵀ[N·H·W, C] matmul with
  C = 32 runs slowly (taps 0.67-0.96x at 32 channels). So, per tap: at least 1.1·10⁸ multiply-adds (10⁹ for a
  3x3), or 5.5·10⁷ with at least 96 channels in and out. Tiny test models stay on lax, which compiles faster."""
  n, h, w, _ = x_shape
  kh, kw, cin, cout = w_shape
  (p0, p1), (q0, q1) = padding
  ho, wo = (h + p0 + p1 - kh) // stride + 1, (w + q0 + q1 - kw) // stride + 1
  per_tap = n * max(ho, 0) * max(wo, 0) * cin * cout
  return per_tap >= 1.1e8 or (per_tap >= 5.5e7 and min(cin, cout) >= 96)


def conv2d(x_BxHxWxI: Array, kernel_KhxKwxIxO: Array, stride: int = 1, padding=((0, 0), (0, 0)),
           wgrad: str = "auto") -> Array:
  """`lax.conv_general_dilated` (NHWC, HWIO, square stride, explicit padding ((top, bottom), (left, right))) with
  the weight gradient as one matmul per tap (`wgrad="taps"`), both gradients in XLA's canonical conv form
  (`"canonical"`: fast inside loops too, bit for bit lax's outside them) or XLA's own (`"lax"`). `"auto"`: on CPU
  taps where `taps_pay`, else canonical; lax elsewhere (cuDNN and TPUs compute these gradients well). Forward
  values are identical; gradients agree to float32 rounding. taps and canonical are reverse mode only (a
  `custom_vjp`): `jax.jvp` through them raises."""
  if isinstance(padding, str):
    padding = lax.padtype_to_pads(x_BxHxWxI.shape[1:3], kernel_KhxKwxIxO.shape[:2], (stride, stride), padding)
  padding = tuple((int(a), int(b)) for a, b in padding)
  if wgrad == "auto":
    if jax.default_backend() == "cpu" and taps_pay(x_BxHxWxI.shape, kernel_KhxKwxIxO.shape, stride, padding):
      return _conv_taps(x_BxHxWxI, kernel_KhxKwxIxO, int(stride), padding)
    return _xla_conv(x_BxHxWxI, kernel_KhxKwxIxO, int(stride), padding)  # canonical on CPU, lax elsewhere
  if wgrad == "lax":
    return _lax_conv(x_BxHxWxI, kernel_KhxKwxIxO, int(stride), padding)
  if wgrad == "taps":
    return _conv_taps(x_BxHxWxI, kernel_KhxKwxIxO, int(stride), padding)
  if wgrad == "canonical":
    return _conv_canonical(x_BxHxWxI, kernel_KhxKwxIxO, int(stride), padding)
  raise ValueError(f"conv2d: wgrad must be one of {WGRAD_METHODS}, got {wgrad!r}")


def conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=None, rhs_dilation=None,
                         dimension_numbers=None, feature_group_count=1, batch_group_count=1, precision=None,
                         preferred_element_type=None):
  """`lax.conv_general_dilated`'s signature, for `flax.linen.Conv(conv_general_dilated=...)`: a 2-D NHWC/HWIO
  conv with equal strides and no dilation or groups goes to `conv2d` (whose "auto" picks the weight gradient);
  anything else to lax unchanged."""
  plain = (len(window_strides) == 2 and window_strides[0] == window_strides[1]
           and all(d in (None, 1) for d in tuple(lhs_dilation or ()) + tuple(rhs_dilation or ()))
           and feature_group_count == 1 and batch_group_count == 1 and precision is None
           and preferred_element_type is None and _is_nhwc_hwio(dimension_numbers, lhs.ndim))
  if not plain:
    return lax.conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                                    dimension_numbers, feature_group_count, batch_group_count, precision,
                                    preferred_element_type)
  return conv2d(lhs, rhs, int(window_strides[0]), padding)


def _is_nhwc_hwio(dn, ndim: int) -> bool:
  if ndim != 4 or dn is None:
    return False
  if isinstance(dn, tuple) and len(dn) == 3 and all(isinstance(d, str) for d in dn):
    return tuple(dn) == _DN
  return tuple(dn) == tuple(lax.conv_dimension_numbers((1,) * 4, (1,) * 4, _DN))


def Conv(*args, **kwargs) -> nn.Conv:
  """`flax.linen.Conv` with `conv_general_dilated` above: the same module, parameters and names, and on CPU the
  per-tap weight gradient for its plain 2-D convolutions."""
  return nn.Conv(*args, conv_general_dilated=conv_general_dilated, **kwargs)

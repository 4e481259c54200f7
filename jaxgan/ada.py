"""ADA (Karras et al. 2020, "Training GANs with limited data"): adaptive discriminator augmentation in pure JAX.

Two pure pieces: the augmentation pipeline, applied to every image D sees (real and fake, in the D and G phases and
inside R1, as StyleGAN2-ADA does), and the controller that adapts its probability p from the sign of D's logits on
real images. Both follow NVIDIA's stylegan2-ada-pytorch (training/augment.py, training/training_loop.py) and are
golden-tested against it (tests/test_ada.py, data from scripts/make_ada_golden.py).

Pipeline
  augment(images_BxHxWxC, key, p, spec="bgc", axis_name=None) -> images   (NHWC in [-1, 1], C = 1 or 3)
  spec: "blit" | "geom" | "color" | "bg" | "bgc", a single transform's name ("xflip", "rotate", "hue", ...), a
        `Spec`, or a dict of Spec fields. p: a traced scalar (float32); p = 0 returns the images unchanged.
  Each sample draws, independently per transform, whether the transform applies (probability multiplier·p, all
  multipliers 1 in NVIDIA's pipes) and its strength:
    x-flip; 90° rotations (k·90°, k ∈ {0..3}); integer translation (±⅛ of the size, rounded to whole pixels);
    isotropic scaling (2^N(0, 0.2²)); pre-rotation (uniform angle, probability 1 − √(1 − p) so that pre OR post
    happens with p); anisotropic scaling (x by 2^N(0, 0.2²), y by its inverse); post-rotation; fractional
    translation (N(0, 0.125²) of the size) — composed into one 3×3 inverse matrix per sample, applied once:
    reflect padding, 2× upsampling with the sym6 wavelet low-pass, bilinear sampling, sym6 downsampling.
    brightness (+N(0, 0.2²)); contrast (×2^N(0, 0.5²)); luma flip (Householder reflection about the luma axis);
    hue rotation (uniform angle about the luma axis); saturation (×2^N(0, 1) off the luma axis) — composed into
    one 4×4 colour matrix. One-channel images get brightness, contrast and luma flip through the mean of the
    matrix's RGB rows (luma flip becomes x → −x); hue and saturation are skipped (NVIDIA does the same).
  Reflect padding: NVIDIA pads the batch by one margin, the largest any sample's corners need (+ the filter's
  reach), clamped to size − 1, and zero beyond. The pipeline reproduces that exactly with static shapes: it
  reflect-pads by size − 1 and zeroes outside the batch's margin. The margin is computed from the *global* batch's
  draws, so 1 and N devices agree (in NVIDIA each GPU uses its own local batch's margin).
  Random draws are made for the global batch (`local batch × devices`) and sliced per device; every transform has
  its own key (fold_in of its index), so turning one off does not change the others' draws.
  Differentiable in the images, twice too (R1 through the pipe): the bilinear gathers' transposes are autodiff's
  scatter-adds; the polyphase upsampler and its strided transpose are declared each other's VJP (faster on
  XLA:CPU than autodiff's transpose of the slices).
  Lower-level: `draw(key, batch, spec, channels)` (the raw uniforms and normals, NVIDIA's call order),
  `matrices(draws, p, spec, height, width, channels)` (G_inv [B, 3, 3], C [B, 4, 4]) and
  `apply(images, G_inv, C, margin)` — the golden test drives NVIDIA's code with the same draws.

Controller (a pure function of `state.aux`, which holds `AdaState`)
  selected(config.augment)                True for "ada" / "ada_fixed" (DiffAugment's policies stay augment.py's)
  ctrl = Controller.from_config(config)   config.augment "ada" (adaptive) | "ada_fixed" (p = ada_p throughout) |
                                          "" / "noaug" (off; augment returns images, nothing accumulates)
                                          config.ada_p (initial or fixed p, default 0), ada_target (0.6),
                                          ada_interval (4), ada_kimg (500), augpipe ("bgc")
  aux = ctrl.init()                       AdaState(p, signs_sum, signs_count), float32 scalars, replicated
  p = aux.p                               the value to pass to `augment` (traced)
  x = ctrl.augment(aux, x, key, axis_name)   D's view of real and fake images (augment at aux.p, spec from
                                          config.augpipe; identity when off) — in D, G and R1 alike
  aux = ctrl.accumulate(aux, real_logits, axis_name)   after any D forward on real images (NVIDIA reports the
                                          signs in the Dmain *and* the lazy Dreg phase): adds Σ sign(logits) and
                                          their count, psum'ed over `axis_name` (replicated result)
  aux = ctrl.update(aux, step, global_batch)   after the step whose index is `step` (0-based, the step that just
                                          ran): when (step + 1) % interval == 0 and something was accumulated,
                                          p ← max(0, p + sign(Σ/n − target)·global_batch·interval/(kimg·1000)),
                                          then Σ, n ← 0. Exactly NVIDIA's rule: p is clamped below at 0 only (p > 1
                                          gates like p = 1; NVIDIA does not clamp above either). Fixed/off: no-op.
"""
import dataclasses
import functools
from typing import Any, Dict, NamedTuple, Optional, Tuple, Union

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxgan import parallel

# -- the pipeline's specification ---------------------------------------------------------------------------------

GEOMETRIC = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac")
COLOR = ("brightness", "contrast", "lumaflip", "hue", "saturation")


@dataclasses.dataclass(frozen=True)
class Spec:
  """Probability multipliers (0 = off) and strengths; NVIDIA's AugmentPipe defaults."""
  xflip: float = 0.0
  rotate90: float = 0.0
  xint: float = 0.0
  scale: float = 0.0
  rotate: float = 0.0
  aniso: float = 0.0
  xfrac: float = 0.0
  brightness: float = 0.0
  contrast: float = 0.0
  lumaflip: float = 0.0
  hue: float = 0.0
  saturation: float = 0.0
  xint_max: float = 0.125      # integer translation range, relative to the size
  scale_std: float = 0.2       # log2 std of isotropic scaling
  rotate_max: float = 1.0      # rotation range, 1 = full circle
  aniso_std: float = 0.2       # log2 std of anisotropic scaling
  xfrac_std: float = 0.125     # std of fractional translation, relative to the size
  brightness_std: float = 0.2
  contrast_std: float = 0.5    # log2
  hue_max: float = 1.0         # 1 = full circle
  saturation_std: float = 1.0  # log2

  def geometric(self) -> bool:
    return any(getattr(self, n) > 0 for n in GEOMETRIC)

  def color(self) -> bool:
    return any(getattr(self, n) > 0 for n in COLOR)


PIPES = {
    "blit": dict(xflip=1, rotate90=1, xint=1),
    "geom": dict(scale=1, rotate=1, aniso=1, xfrac=1),
    "color": dict(brightness=1, contrast=1, lumaflip=1, hue=1, saturation=1),
}
PIPES["bg"] = {**PIPES["blit"], **PIPES["geom"]}
PIPES["bgc"] = {**PIPES["bg"], **PIPES["color"]}


def make_spec(spec: Union[str, Spec, Dict[str, Any]] = "bgc") -> Spec:
  """A Spec from a pipe name, one transform's name (at multiplier 1), a dict of fields, or a Spec."""
  if isinstance(spec, Spec):
    return spec
  if isinstance(spec, str):
    if spec in PIPES:
      return Spec(**{k: float(v) for k, v in PIPES[spec].items()})
    if spec in GEOMETRIC + COLOR:
      return Spec(**{spec: 1.0})
    raise ValueError(f"unknown ADA pipe {spec!r}; known: {', '.join(list(PIPES) + list(GEOMETRIC + COLOR))}")
  fields = {f.name for f in dataclasses.fields(Spec)}
  bad = sorted(set(spec) - fields)
  if bad:
    raise ValueError(f"unknown ADA spec fields {bad}; known: {sorted(fields)}")
  return Spec(**{k: float(v) for k, v in dict(spec).items()})


# -- random draws ------------------------------------------------------------------------------------------------
# NVIDIA's order of torch.rand/randn calls, one (value, gate) pair per transform; shapes with B the batch.
# "u" uniform [0, 1), "n" standard normal. Rotation draws twice (pre and post).
_DRAWS = (
    ("xflip", "u", (), ()), ("rotate90", "u", (), ()), ("xint", "u", (2,), (1,)),
    ("scale", "n", (), ()), ("rotate_pre", "u", (), ()), ("aniso", "n", (), ()), ("rotate_post", "u", (), ()),
    ("xfrac", "n", (2,), (1,)),
    ("brightness", "n", (), ()), ("contrast", "n", (), ()), ("lumaflip", "u", (1, 1), (1, 1)),
    ("hue", "u", (), ()), ("saturation", "n", (1, 1), (1, 1)),
)


def _enabled(spec: Spec, name: str, channels: int) -> bool:
  base = name.split("_")[0]
  if base in ("hue", "saturation") and channels == 1:
    return False
  return getattr(spec, base) > 0


def _layout():
  """Where each draw of _DRAWS sits in the two blocks `draw` takes: {name: ((block, start, stop, shape) of the value,
  (block, start, stop, shape) of the gate)} and the blocks' widths {"u": n_uniform, "n": n_normal}. Static and
  independent of the spec, so a transform's numbers do not depend on which others are on."""
  widths, where = {"u": 0, "n": 0}, {}
  for name, kind, vshape, gshape in _DRAWS:
    parts = []
    for block, shape in ((kind, vshape), ("u", gshape)):
      start = widths[block]
      widths[block] += int(np.prod(shape, dtype=np.int64))
      parts.append((block, start, widths[block], shape))
    where[name] = tuple(parts)
  return where, widths


_WHERE, _WIDTHS = _layout()


def draw(key, batch: int, spec: Spec, channels: int) -> Dict[str, Tuple[jax.Array, jax.Array]]:
  """{transform: (value draw, gate draw)} for the enabled transforms, in NVIDIA's call order (a dict keeps it).

  Two random calls in all — one uniform block [batch, n_u] and one normal block [batch, n_n] holding every
  transform's numbers at fixed columns (`_layout`) — not two per transform: each jax.random call is its own
  threefry computation in the program, and the 26 draws (with a key fold and split per transform) made ADA's
  sampling most of its compile time (≈ 2 s of the 2.9 s of `augment` alone at 8 px, at XLA's fast-compile level;
  a StyleGAN2 step holds several augments)."""
  ku, kn = jax.random.split(key)
  blocks = {"u": jax.random.uniform(ku, (batch, _WIDTHS["u"]), jnp.float32),
            "n": jax.random.normal(kn, (batch, _WIDTHS["n"]), jnp.float32)}
  take = lambda block, start, stop, shape: blocks[block][:, start:stop].reshape((batch,) + tuple(shape))
  return {name: tuple(take(*part) for part in _WHERE[name])
          for name, _, _, _ in _DRAWS if _enabled(spec, name, channels)}


def draw_calls(spec: Spec, channels: int):
  """[(kind, shape-suffix)] of the draws in order: value then gate per transform (for the golden script)."""
  calls = []
  for name, kind, vshape, gshape in _DRAWS:
    if _enabled(spec, name, channels):
      calls += [(name, kind, vshape), (name, "u", gshape)]
  return calls


# -- matrices ----------------------------------------------------------------------------------------------------


def _mat(rows, batch):
  """A [B, n, n] matrix from rows of scalars or [B] arrays."""
  return jnp.stack([jnp.stack([jnp.broadcast_to(jnp.asarray(e, jnp.float32), (batch,)) for e in r], -1)
                    for r in rows], -2)


def _translate2(tx, ty, b):
  return _mat([[1, 0, tx], [0, 1, ty], [0, 0, 1]], b)


def _scale2(sx, sy, b):
  return _mat([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], b)


def _rotate2(t, b):
  return _mat([[jnp.cos(t), jnp.sin(-t), 0], [jnp.sin(t), jnp.cos(t), 0], [0, 0, 1]], b)


_LUMA = (np.asarray([1, 1, 1, 0]) / np.sqrt(3)).astype(np.float32)


def matrices(draws, p, spec: Spec, height: int, width: int, channels: int):
  """(G_inv [B, 3, 3] or None, C [B, 4, 4] or None) from `draw`'s output: G_inv maps output pixel coordinates
  (centred) to input ones, C maps colours (homogeneous) — composed in NVIDIA's order and float32 arithmetic."""
  p = jnp.asarray(p, jnp.float32)
  batch = next(iter(draws.values()))[0].shape[0] if draws else 0
  where = lambda gate, mult, on, off: jnp.where(gate < mult * p, on, off)
  g = None
  if spec.geometric():
    g = jnp.broadcast_to(jnp.eye(3, dtype=jnp.float32), (batch, 3, 3))
    mul = lambda m: g @ m
    if "xflip" in draws:
      u, gate = draws["xflip"]
      i = where(gate, spec.xflip, jnp.floor(u * 2), 0.0)
      g = mul(_scale2(1 / (1 - 2 * i), 1.0, batch))
    if "rotate90" in draws:
      u, gate = draws["rotate90"]
      i = where(gate, spec.rotate90, jnp.floor(u * 4), 0.0)
      g = mul(_rotate2(-(-np.float32(np.pi / 2) * i), batch))
    if "xint" in draws:
      u, gate = draws["xint"]
      t = where(gate, spec.xint, (u * 2 - 1) * spec.xint_max, 0.0)
      g = mul(_translate2(-jnp.round(t[:, 0] * width), -jnp.round(t[:, 1] * height), batch))
    if "scale" in draws:
      n, gate = draws["scale"]
      s = where(gate, spec.scale, jnp.exp2(n * spec.scale_std), 1.0)
      g = mul(_scale2(1 / s, 1 / s, batch))
    p_rot = 1 - jnp.sqrt(jnp.clip(1 - spec.rotate * p, 0, 1))
    if "rotate_pre" in draws:
      u, gate = draws["rotate_pre"]
      theta = jnp.where(gate < p_rot, (u * 2 - 1) * np.float32(np.pi) * spec.rotate_max, 0.0)
      g = mul(_rotate2(theta, batch))
    if "aniso" in draws:
      n, gate = draws["aniso"]
      s = where(gate, spec.aniso, jnp.exp2(n * spec.aniso_std), 1.0)
      g = mul(_scale2(1 / s, 1 / (1 / s), batch))
    if "rotate_post" in draws:
      u, gate = draws["rotate_post"]
      theta = jnp.where(gate < p_rot, (u * 2 - 1) * np.float32(np.pi) * spec.rotate_max, 0.0)
      g = mul(_rotate2(theta, batch))
    if "xfrac" in draws:
      n, gate = draws["xfrac"]
      t = where(gate, spec.xfrac, n * spec.xfrac_std, 0.0)
      g = mul(_translate2(-(t[:, 0] * width), -(t[:, 1] * height), batch))
  c = None
  if spec.color():
    eye4 = jnp.eye(4, dtype=jnp.float32)
    c = jnp.broadcast_to(eye4, (batch, 4, 4))
    v = jnp.asarray(_LUMA)
    vv = jnp.outer(v, v)
    if "brightness" in draws:
      n, gate = draws["brightness"]
      b = where(gate, spec.brightness, n * spec.brightness_std, 0.0)
      c = _mat([[1, 0, 0, b], [0, 1, 0, b], [0, 0, 1, b], [0, 0, 0, 1]], batch) @ c
    if "contrast" in draws:
      n, gate = draws["contrast"]
      k = where(gate, spec.contrast, jnp.exp2(n * spec.contrast_std), 1.0)
      c = _mat([[k, 0, 0, 0], [0, k, 0, 0], [0, 0, k, 0], [0, 0, 0, 1]], batch) @ c
    if "lumaflip" in draws:
      u, gate = draws["lumaflip"]
      i = where(gate, spec.lumaflip, jnp.floor(u * 2), 0.0)    # [B, 1, 1]
      c = (eye4 - 2 * vv * i) @ c
    if "hue" in draws:
      u, gate = draws["hue"]
      t = where(gate, spec.hue, (u * 2 - 1) * np.float32(np.pi) * spec.hue_max, 0.0)
      c = _rotate_about(v, t, batch) @ c
    if "saturation" in draws:
      n, gate = draws["saturation"]
      s = where(gate, spec.saturation, jnp.exp2(n * spec.saturation_std), 1.0)   # [B, 1, 1]
      c = (vv + (eye4 - vv) * s) @ c
  return g, c


def _rotate_about(v, theta, batch):
  """Rotation by theta [B] about the unit 3-vector v (homogeneous 4×4)."""
  vx, vy, vz = v[0], v[1], v[2]
  s, c = jnp.sin(theta), jnp.cos(theta)
  cc = 1 - c
  return _mat([[vx * vx * cc + c, vx * vy * cc - vz * s, vx * vz * cc + vy * s, 0],
               [vy * vx * cc + vz * s, vy * vy * cc + c, vy * vz * cc - vx * s, 0],
               [vz * vx * cc - vy * s, vz * vy * cc + vx * s, vz * vz * cc + c, 0],
               [0, 0, 0, 1]], batch)


# -- the geometric resampler -------------------------------------------------------------------------------------
# sym6 wavelet low-pass (12 taps), normalised to sum 1: orthogonal, so 2× up then 2× down is the identity.
_SYM6 = np.asarray([
    0.015404109327027373, 0.0034907120842174702, -0.11799011114819057, -0.048311742585633, 0.4910559419267466,
    0.787641141030194, 0.3379294217276218, -0.07263752278646252, -0.021060292512300564, 0.04472490177066578,
    0.0017677118642428036, -0.007800708325034148], np.float64)
_F = (_SYM6 / _SYM6.sum()).astype(np.float32)
_HZ_PAD = _F.size // 4   # 3: the output grid reaches this many pixels beyond the image, the margin twice that


def margin(g_inv, height: int, width: int):
  """NVIDIA's reflect-padding margin (x0, y0, x1, y1), int32, for a batch of G_inv: the farthest mapped corner
  plus twice the filter's reach, clamped to [0, size − 1]."""
  cx, cy = (width - 1) / 2, (height - 1) / 2
  corners = jnp.asarray([[-cx, -cy, 1], [cx, -cy, 1], [cx, cy, 1], [-cx, cy, 1]], jnp.float32)
  cp = g_inv @ corners.T                                   # [B, 3, 4]
  xy = jnp.transpose(cp[:, :2, :], (1, 0, 2)).reshape(2, -1)
  m = jnp.max(jnp.concatenate([-xy, xy]), axis=1)
  m = m + jnp.asarray([_HZ_PAD * 2 - cx, _HZ_PAD * 2 - cy] * 2, jnp.float32)
  m = jnp.minimum(jnp.maximum(m, 0.0), jnp.asarray([width - 1, height - 1] * 2, jnp.float32))
  return jnp.ceil(m).astype(jnp.int32)


def _reflect_index(n: int, pad: int) -> np.ndarray:
  """Source index of each of n + 2·pad positions under reflect padding (edge not repeated); pad ≤ n − 1."""
  i = np.arange(-pad, n + pad)
  i = np.abs(i)
  return np.where(i > n - 1, 2 * (n - 1) - i, i)


def _upsample_matrix(n: int) -> np.ndarray:
  """[2n, n]: NVIDIA's upsample2d along one axis (zero insertion, sym6 convolution, gain 2, zero outside), as a
  dense matrix (the reference for the polyphase form below; tests compare them)."""
  u = np.zeros((2 * n, n), np.float32)
  taps = _F.size
  # y[k] = 2 Σ_t f[taps-1-t] z[k + t − 6], z[2a] = x[a]
  for k in range(2 * n):
    for t in range(taps):
      m = k + t - (taps + 1) // 2
      if m % 2 == 0 and 0 <= m // 2 < n:
        u[k, m // 2] += 2 * _F[taps - 1 - t]
  return u


# Polyphase form of that matrix: y[2a] = Σ_u E[u]·x[a + u − 3], y[2a + 1] = Σ_u O[u]·x[a + u − 2], u = 0..5.
_EVEN = [float(2 * _F[_F.size - 1 - 2 * u]) for u in range(_F.size // 2)]
_ODD = [float(2 * _F[_F.size - 2 - 2 * u]) for u in range(_F.size // 2)]
_R = _F.size // 4   # 3


def _pad_axis(x, axis, lo, hi):
  pad = [(0, 0)] * x.ndim
  pad[axis] = (lo, hi)
  return jnp.pad(x, pad)


def _up_poly(x, axis):
  n = x.shape[axis]
  xp = _pad_axis(x, axis, _R, _R)
  sl = lambda s: lax.slice_in_dim(xp, s, s + n, axis=axis)
  even = sum(c * sl(u) for u, c in enumerate(_EVEN))
  odd = sum(c * sl(u + 1) for u, c in enumerate(_ODD))
  shape = list(x.shape)
  shape[axis] = 2 * n
  return jnp.stack([even, odd], axis + 1).reshape(shape)


# Its transpose is a stride-2 correlation: dx[a] = Σ_k T[k]·dy[2a + k], k = −5..6, T[6 − 2u] = E[u], T[5 − 2u] = O[u].
_T = {**{2 * _R - 2 * u: c for u, c in enumerate(_EVEN)}, **{2 * _R - 1 - 2 * u: c for u, c in enumerate(_ODD)}}


def _up_poly_t(dy, axis):
  """The transpose of `_up_poly` as strided slices (3× faster on XLA:CPU than de-interleaving first)."""
  n = dy.shape[axis] // 2
  lo = -min(_T)
  dyp = _pad_axis(dy, axis, lo, max(_T))
  return sum(c * lax.slice_in_dim(dyp, k + lo, k + lo + 2 * n - 1, stride=2, axis=axis) for k, c in _T.items())


# Autodiff's own transpose of the slices and the interleave is ~15× slower on XLA:CPU than the forward (pads that
# do not fuse); each form is declared the other's transpose instead, to any order (R1 differentiates twice).
@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def upsample_axis(x, axis):
  """NVIDIA's upsample2d (sym6, up 2) along one axis of x: length n → 2n."""
  return _up_poly(x, axis)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def _upsample_axis_t(dy, axis):
  return _up_poly_t(dy, axis)


upsample_axis.defvjp(lambda x, axis: (upsample_axis(x, axis), None),
                     lambda axis, _, g: (_upsample_axis_t(g, axis),))
_upsample_axis_t.defvjp(lambda dy, axis: (_upsample_axis_t(dy, axis), None),
                        lambda axis, _, g: (upsample_axis(g, axis),))


def _downsample_matrix(n_out: int) -> np.ndarray:
  """[n_out, 2·n_out + 4·HZ_PAD]: NVIDIA's downsample2d(flip_filter, padding −2·HZ_PAD) along one axis:
  d[k] = Σ_t f[t] s[2k + t + 1]."""
  n_in = 2 * (n_out + 2 * _HZ_PAD)
  d = np.zeros((n_out, n_in), np.float32)
  for k in range(n_out):
    for t in range(_F.size):
      d[k, 2 * k + t + 1] += _F[t]
  return d


def _bilinear(img_BxHxWxC, ix_BxN, iy_BxN):
  """torch grid_sample(bilinear, zeros, align_corners=False) at pixel-index coordinates."""
  b, h, w, c = img_BxHxWxC.shape
  flat = img_BxHxWxC.reshape(b, h * w, c)
  x0, y0 = jnp.floor(ix_BxN), jnp.floor(iy_BxN)
  wx1, wy1 = ix_BxN - x0, iy_BxN - y0
  out = 0.0
  for dy, wy in ((0, 1 - wy1), (1, wy1)):
    for dx, wx in ((0, 1 - wx1), (1, wx1)):
      xi, yi = x0 + dx, y0 + dy
      ok = (xi >= 0) & (xi <= w - 1) & (yi >= 0) & (yi <= h - 1)
      idx = (jnp.clip(yi, 0, h - 1) * w + jnp.clip(xi, 0, w - 1)).astype(jnp.int32)
      v = jnp.take_along_axis(flat, idx[:, :, None], axis=1)
      out = out + v * jnp.where(ok, wx * wy, 0.0)[:, :, None]
  return out


def _geometric(x_BxHxWxC, g_inv, m):
  """NVIDIA's execution of G_inv with static shapes: reflect pad by size − 1, zero outside the margin m, 2× up,
  zero outside the margin's upsampled extent, bilinear sampling on the 2(size + 2·HZ_PAD) grid, 2× down."""
  b, h, w, c = x_BxHxWxC.shape
  if h < 2 or w < 2:
    raise ValueError(f"ADA's geometric transforms need images of at least 2×2 pixels, got {h}×{w}")
  py, px = h - 1, w - 1
  x = x_BxHxWxC[:, _reflect_index(h, py)][:, :, _reflect_index(w, px)]       # [B, 3h−2, 3w−2, C]
  hp, wp = h + 2 * py, w + 2 * px
  mx0, my0, mx1, my1 = m[0], m[1], m[2], m[3]
  ry, rx = jnp.arange(hp), jnp.arange(wp)
  keep_y = (ry >= py - my0) & (ry < py + h + my1)
  keep_x = (rx >= px - mx0) & (rx < px + w + mx1)
  x = x * (keep_y[:, None] & keep_x[None, :]).astype(x.dtype)[None, :, :, None]
  x = upsample_axis(upsample_axis(x, 1), 2)                                      # [B, 2hp, 2wp, C]
  ruy, rux = jnp.arange(2 * hp), jnp.arange(2 * wp)
  keep_y = (ruy >= 2 * (py - my0)) & (ruy < 2 * (py + h + my1))
  keep_x = (rux >= 2 * (px - mx0)) & (rux < 2 * (px + w + mx1))
  x = x * (keep_y[:, None] & keep_x[None, :]).astype(x.dtype)[None, :, :, None]
  # Output grid: 2(size + 2·HZ_PAD) points per axis at centred original-scale coordinates
  # o = (j + 1 − size − 2·HZ_PAD)/2; the input index in the padded, upsampled image is 2·(G_inv o) + 2·pad + size − 1.
  ho, wo = 2 * (h + 2 * _HZ_PAD), 2 * (w + 2 * _HZ_PAD)
  oy = (jnp.arange(ho, dtype=jnp.float32) + 1 - h - 2 * _HZ_PAD) / 2
  ox = (jnp.arange(wo, dtype=jnp.float32) + 1 - w - 2 * _HZ_PAD) / 2
  oyy, oxx = jnp.meshgrid(oy, ox, indexing="ij")
  pts = jnp.stack([oxx.ravel(), oyy.ravel(), jnp.ones(ho * wo, jnp.float32)])     # [3, N]
  src = jnp.einsum("bij,jn->bin", g_inv, pts, precision=lax.Precision.HIGHEST)
  ix = 2 * src[:, 0] + (2 * px + w - 1)
  iy = 2 * src[:, 1] + (2 * py + h - 1)
  s = _bilinear(x, ix, iy).reshape(b, ho, wo, c)
  dy, dx = jnp.asarray(_downsample_matrix(h)), jnp.asarray(_downsample_matrix(w))
  s = jnp.einsum("ij,bjwc->biwc", dy, s, precision=lax.Precision.HIGHEST)
  return jnp.einsum("ij,bhjc->bhic", dx, s, precision=lax.Precision.HIGHEST)


def _color(x_BxHxWxC, c):
  ch = x_BxHxWxC.shape[-1]
  if ch == 3:
    y = jnp.einsum("bij,bhwj->bhwi", c[:, :3, :3], x_BxHxWxC, precision=lax.Precision.HIGHEST)
    return y + c[:, None, None, :3, 3]
  if ch == 1:
    rows = jnp.mean(c[:, :3, :], axis=1)                                  # [B, 4]
    return x_BxHxWxC * jnp.sum(rows[:, :3], -1)[:, None, None, None] + rows[:, None, None, 3:]
  raise ValueError(f"ADA's colour transforms need 1 or 3 channels, got {ch}")


def apply(images_BxHxWxC, g_inv, c, m):
  """Executes the matrices (either may be None): geometric with margin m, then colour. float32 inside."""
  dtype = images_BxHxWxC.dtype
  x = images_BxHxWxC.astype(jnp.float32)
  if g_inv is not None:
    x = _geometric(x, g_inv, m)
  if c is not None:
    x = _color(x, c)
  return x.astype(dtype)


def augment(images_BxHxWxC, key, p, spec: Union[str, Spec, Dict[str, Any]] = "bgc",
            axis_name: Optional[str] = None):
  """ADA's pipeline on this device's images with probability p (traced); draws for the global batch."""
  spec = make_spec(spec)
  if images_BxHxWxC.ndim != 4:
    raise ValueError(f"ADA needs images [B, H, W, C], got shape {images_BxHxWxC.shape}")
  b, h, w, ch = images_BxHxWxC.shape
  if ch not in (1, 3) and spec.color():
    raise ValueError(f"ADA's colour transforms need 1 or 3 channels, got {ch}")
  if not (spec.geometric() or spec.color()):
    return images_BxHxWxC
  n = parallel.n_devices(axis_name)
  draws = draw(key, b * n, spec, ch)
  p = jnp.asarray(p, jnp.float32)
  g_inv, c = matrices(draws, p, spec, h, w, ch)
  m = None if g_inv is None else lax.stop_gradient(margin(g_inv, h, w))
  local = lambda a: None if a is None else parallel.local_slice(axis_name, a, b)
  g_inv, c = local(g_inv), local(c)

  def run(x):
    return apply(x, g_inv, c, m)

  return lax.cond(p > 0, run, lambda x: x, images_BxHxWxC)


# -- the p controller ----------------------------------------------------------------------------------------------


class AdaState(NamedTuple):
  p: jax.Array              # float32 [], the augmentation probability
  signs_sum: jax.Array      # float32 [], Σ sign(D(real)) since the last adjustment, over all devices
  signs_count: jax.Array    # float32 [], how many logits that sum covers


MODES = ("ada", "ada_fixed", "off")


def selected(augment) -> bool:
  """Whether a config's `augment` value asks for ADA ("ada" or "ada_fixed") rather than DiffAugment or nothing."""
  return str(augment or "") in ("ada", "ada_fixed")


@dataclasses.dataclass(frozen=True)
class Controller:
  mode: str = "ada"          # ada: adaptive p; ada_fixed: p stays p_init; off: no augmentation
  p_init: float = 0.0
  target: float = 0.6
  interval: int = 4
  kimg: float = 500.0
  spec: Spec = dataclasses.field(default_factory=lambda: make_spec("bgc"))

  def __post_init__(self):
    if self.mode not in MODES:
      raise ValueError(f"unknown ADA mode {self.mode!r}; known: {', '.join(MODES)}")
    if self.interval < 1 or self.kimg <= 0 or self.p_init < 0:
      raise ValueError(f"ADA needs interval ≥ 1, kimg > 0 and p ≥ 0; got {self.interval}, {self.kimg}, "
                       f"{self.p_init}")

  @classmethod
  def from_config(cls, config) -> "Controller":
    """config.augment: "ada" | "ada_fixed" | "" / "noaug" / "off"; ada_p, ada_target, ada_interval, ada_kimg,
    augpipe."""
    get = config.get
    mode = str(get("augment", "") or "off")
    mode = {"noaug": "off"}.get(mode, mode)
    return cls(mode=mode, p_init=float(get("ada_p", 0.0)), target=float(get("ada_target", 0.6)),
               interval=int(get("ada_interval", 4)), kimg=float(get("ada_kimg", 500)),
               spec=make_spec(get("augpipe", "bgc")))

  @property
  def on(self) -> bool:
    return self.mode != "off"

  def init(self) -> AdaState:
    z = jnp.zeros((), jnp.float32)
    return AdaState(jnp.float32(self.p_init if self.on else 0.0), z, z)

  def augment(self, aux: AdaState, images, key, axis_name=None):
    """D's view of a batch: the pipeline at p = aux.p (identity when off)."""
    if not self.on:
      return images
    return augment(images, key, aux.p, self.spec, axis_name)

  def accumulate(self, aux: AdaState, real_logits, axis_name=None) -> AdaState:
    """Adds this device's Σ sign(real logits) and count, summed over devices (replicated result)."""
    if self.mode != "ada":
      return aux
    logits = jnp.asarray(real_logits, jnp.float32)
    s = jnp.sum(jnp.sign(logits))
    n = jnp.float32(logits.size)
    if not parallel.single(axis_name):
      s, n = lax.psum((s, n), axis_name)
    return aux._replace(signs_sum=aux.signs_sum + s, signs_count=aux.signs_count + n)

  def update(self, aux: AdaState, step, global_batch: int) -> AdaState:
    """After step `step` (0-based): every `interval` steps, p ← max(0, p + sign(r − target)·B·interval/(kimg·1000))
    with r = Σ/n, then the sums restart. NVIDIA's training_loop rule (its batch_idx is step + 1)."""
    if self.mode != "ada":
      return aux
    due = (jnp.asarray(step) + 1) % self.interval == 0
    seen = aux.signs_count > 0
    r = aux.signs_sum / jnp.maximum(aux.signs_count, 1.0)
    rate = np.float32(global_batch * self.interval / (self.kimg * 1000))
    p_new = jnp.maximum(aux.p + jnp.sign(r - jnp.float32(self.target)) * rate, 0.0)
    z = jnp.zeros((), jnp.float32)
    return AdaState(p=jnp.where(due & seen, p_new, aux.p).astype(jnp.float32),
                    signs_sum=jnp.where(due, z, aux.signs_sum), signs_count=jnp.where(due, z, aux.signs_count))

"""StyleGAN2 networks (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN"), as
StyleGAN2-ADA trains them (Karras et al. 2020b), in plain XLA. Images are NHWC; G's output is linear (about
[-1, 1]; sampling clips), D returns float32 logits [B].

Generator (`Generator`):
  mapping    z → w: z normalised to unit second moment (and, class-conditional, a normalised embedding of the
             one-hot label concatenated), `map_layers` dense layers with leaky ReLU and a learning-rate multiplier of
             0.01; w broadcast to `num_ws` per-layer copies ws [B, num_ws, w_dim]. `w_avg`, the moving average of w
             (β = 0.995), is a variable of the non-param collection "buffers"; truncation moves ws towards it:
             w_avg + ψ·(w − w_avg) for the first `cutoff` layers (all when None).
  synthesis  ws → image: a learned constant 4×4 input, then per resolution 8 … R a block of two modulated 3×3
             convolutions (the first up-samples 2× by a transposed convolution followed by the [1,3,3,1] FIR
             filter), each with demodulation, a noise input with a learned strength, bias and leaky ReLU with gain
             √2 and optional clamping (`conv_clamp`), and a 1×1 modulated toRGB (no demodulation) whose output is
             added to the 2× up-sampled (FIR) image of the block before ("skip" architecture).
             The modulated convolution is the non-fused form NVIDIA trains with: x·s, convolution with the shared
             weight, then ·d with d = 1/√(Σ (w·s)² + 1e-8) per sample and output channel.
  Block b uses ws[:, i_b] for its first conv, ws[:, i_b + 1] for its second and ws[:, i_b + 2] for its toRGB,
  with i_b the number of convs before it; num_ws = 2·log2(R) − 2. Style mixing = different ws rows per layer.

  API (flax; `variables = {"params": …, "buffers": …}`):
    G.num_ws, G.noise_resolutions                       static; usable on the unbound module
    G.apply(variables, z, labels=None, psi=1.0, cutoff=None, update_w_avg=False, axis_name=…,
            method=Generator.mapping[, mutable=["buffers"] when update_w_avg])            → ws [B, num_ws, w_dim]
    G.apply(variables, ws, noise_mode="const", noise=None, method=Generator.synthesis)   → images [B, R, R, C]
    G.apply(variables, z, labels=None, train=False, psi=1.0, cutoff=None, noise_mode=None, noise=None,
            update_w_avg=None)                                                            → images
  `labels`: int class ids [B] (one-hot inside) or a float [B, num_classes] c; None when unconditional.
  `noise_mode`: "random" (draws from the flax rng stream "noise", or takes `noise`: one [B, r, r, 1] array per
  entry of `noise_resolutions`, already unscaled — pass draws made for the global batch and sliced per device
  to keep 1 and N devices equal), "const" (the fixed per-layer noise in "buffers"), "none". `__call__` defaults to
  "random" when train, else "const"; `update_w_avg` defaults to `train` (then "buffers" must be mutable). The
  batch mean of w that updates `w_avg` is averaged over `axis_name` when that axis is bound (pmean), so the
  average is the same on 1 and N devices.

Discriminator (`Discriminator`): from R down to 8 px a block of two 3×3 convs (the second down-samples 2×: FIR
  filter, then a stride-2 conv), a 1×1 fromRGB at the first block; "resnet" adds a 1×1 down-sampling skip and
  scales both paths by √½, "orig" has none. At 4×4: minibatch-stddev (groups of `mbstd_group` CONSECUTIVE samples,
  `mbstd_channels` statistics; NVIDIA's groups are strided: see the golden script), a 3×3 conv, a dense layer
  (whose output D sows as ("intermediates", "features")) and the output layer; class-conditional, the output is
  `cmap_dim` wide and projected onto a mapping network's embedding of the label (÷√cmap_dim).

Every layer has the equalized learning rate: weights drawn N(0, 1) (÷ lr multiplier) and scaled at run time by
lr_mult/√fan_in. Widths: min(channel_base // res, channel_max). Parameter names follow NVIDIA's modules (b4, b8, …,
conv0, conv1, torgb, affine, fromrgb, skip, fc0 …); layouts are jaxgan's: dense kernels [in, out], conv kernels
[kh, kw, in, out] (HWIO), the constant [4, 4, C], D's b4.fc kernel over NHWC-flattened features.
`from_nvidia(state_dict, module)` converts NVIDIA's state_dict (name → numpy array) to these variables;
`load_nvidia_npz(path, "G_ema")` builds the module and its variables from a snapshot converted by
scripts/convert_stylegan2.py (an .npz: jaxgan never unpickles).
"""
import math
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxgan import parallel
from jaxgan.models import register
from jaxgan.models import layers as L
from jaxgan.models import upfirdn as U
from jaxgan.models.ops import minibatch_stddev

Array = jax.Array
SQRT2 = math.sqrt(2.0)
SQRT_HALF = math.sqrt(0.5)
FIR = U.setup_filter([1, 3, 3, 1])  # separable, normalised: NVIDIA's default resample filter
_DN = ("NHWC", "HWIO", "NHWC")
BUFFERS = "buffers"


def channels_at(res: int, channel_base: int, channel_max: int) -> int:
  return min(channel_base // res, channel_max)


def check_resolution(res: int) -> None:
  if res < 8 or res > 4096 or res & (res - 1):
    raise ValueError(f"stylegan2: the resolution must be a power of two from 8 to 4096, got {res}")


def num_ws_for(res: int) -> int:
  """Per-layer ws of a synthesis network of resolution `res`: one per conv and one for the last toRGB."""
  return 2 * int(round(math.log2(res))) - 2


def noise_resolutions_for(res: int) -> Tuple[int, ...]:
  """The resolution of each noise input, in layer order (b4.conv1, b8.conv0, b8.conv1, …)."""
  out = [4]
  r = 8
  while r <= res:
    out += [r, r]
    r *= 2
  return tuple(out)


def normalize_2nd_moment(x: Array, eps: float = 1e-8) -> Array:
  return x * lax.rsqrt(jnp.mean(jnp.square(x), axis=-1, keepdims=True) + eps)


def bias_act(x: Array, b: Optional[Array], act: str = "linear", gain: float = 1.0,
             clamp: Optional[float] = None) -> Array:
  """x + b, then leaky ReLU 0.2 ("lrelu") or nothing ("linear"), × gain, clipped to ±clamp."""
  if b is not None:
    x = x + b.astype(x.dtype)
  if act == "lrelu":
    x = nn.leaky_relu(x, 0.2)
  elif act != "linear":
    raise ValueError(f"stylegan2: unknown activation {act!r}")
  if gain != 1:
    x = x * jnp.asarray(gain, x.dtype)
  if clamp is not None:
    x = jnp.clip(x, -clamp, clamp)
  return x


def _default_gain(act: str) -> float:
  return SQRT2 if act == "lrelu" else 1.0


def conv2d_resample(x: Array, w: Array, up: int = 1, down: int = 1, padding: int = 0, fir=FIR,
                    upfirdn_method: str = "auto", upconv_method: str = "auto") -> Array:
  """A convolution with 2× up- or down-sampling through the FIR filter, as StyleGAN2 resamples.

  x [B, H, W, I], w [k, k, I, O] (HWIO). up = down = 1: correlation with `padding` (size kept for k = 2p + 1).
  down = 2: the FIR filter (padded so that a stride-2 correlation halves the size), then the stride-2
  correlation (a 1×1 kernel: down-sampling first, then the 1×1 conv). up = 2: a stride-2 transposed convolution
  with w used as a true convolution kernel (NVIDIA's up-sampling layers run their weight unflipped), then the FIR
  filter with gain 4: [B, 2H, 2W, O]. `upconv_method`: "phase" (four small convs, `layers.conv_transpose_phases`;
  "auto" on CPU for 3×3) or "lax" (one lhs-dilated conv; "auto" elsewhere).
  """
  k = w.shape[0]
  fw = len(fir) if np.ndim(fir) == 1 else np.shape(fir)[1]
  if up == 1 and down == 1:
    return L.conv2d(x, w, 1, ((padding, padding),) * 2)
  if down > 1 and up == 1:
    p0 = padding + (fw - down + 1) // 2
    p1 = padding + (fw - down) // 2
    if k == 1:
      x = U.upfirdn2d(x, fir, down=down, padding=(p0, p1, p0, p1), method=upfirdn_method)
      return _conv1x1(x, w)
    x = U.upfirdn2d(x, fir, padding=(p0, p1, p0, p1), method=upfirdn_method)
    return L.conv2d(x, w, down)
  if up > 1 and down == 1:
    q0 = padding + (fw + up - 1) // 2
    q1 = padding + (fw - up) // 2
    if k == 1:  # 1×1: convolve, then up-sample
      return U.upfirdn2d(_conv1x1(x, w), fir, up=up, padding=(q0, q1, q0, q1), gain=up * up, method=upfirdn_method)
    # transposed conv, stride `up`, no padding: the zero-inserted input fully convolved with w, then the filter
    if upconv_method == "auto":
      upconv_method = "phase" if (up, k) == (2, 3) and jax.default_backend() == "cpu" else "lax"
    if upconv_method == "phase":
      y = L.conv_transpose_phases(x, w, up)
    elif upconv_method == "lax":
      y = lax.conv_general_dilated(x, w[::-1, ::-1], (1, 1), ((k - 1, k - 1),) * 2, lhs_dilation=(up, up),
                                   dimension_numbers=_DN)
    else:
      raise ValueError(f"stylegan2: upconv_method must be 'auto', 'phase' or 'lax', got {upconv_method!r}")
    p0, p1 = q0 - (k - 1), q1 - (k - up)
    return U.upfirdn2d(y, fir, padding=(p0, p1, p0, p1), gain=up * up, method=upfirdn_method)
  raise ValueError(f"stylegan2: conv2d_resample supports up or down, not both (up={up}, down={down})")


def _conv1x1(x: Array, w: Array) -> Array:
  return jnp.einsum("bhwi,io->bhwo", x, w[0, 0])


def modulated_conv2d(x: Array, w: Array, styles: Array, demodulate: bool = True, up: int = 1,
                     noise: Optional[Array] = None, fir=FIR, upfirdn_method: str = "auto",
                     upconv_method: str = "auto") -> Array:
  """The non-fused modulated convolution: x·s, conv with the shared w (padding k//2, optional 2× up), then
  ·d per sample and output channel, d = 1/√(Σ_{kh,kw,i} (w·s_i)² + 1e-8); then + noise.

  x [B, H, W, I], w [k, k, I, O], styles [B, I], noise broadcastable to the output.
  """
  k = w.shape[0]
  y = conv2d_resample(x * styles[:, None, None, :].astype(x.dtype), w.astype(x.dtype), up=up, padding=k // 2,
                      fir=fir, upfirdn_method=upfirdn_method, upconv_method=upconv_method)
  if demodulate:
    wsq = jnp.sum(jnp.square(w.astype(jnp.float32)), axis=(0, 1))                 # [I, O]
    d = lax.rsqrt(jnp.square(styles.astype(jnp.float32)) @ wsq + 1e-8)            # [B, O]
    y = y * d[:, None, None, :].astype(y.dtype)
  if noise is not None:
    y = y + noise.astype(y.dtype)
  return y


# -- layers ------------------------------------------------------------------------------------------------------


class FC(nn.Module):
  """Dense layer with the equalized learning rate: kernel [in, out] ~ N(0, 1/lr_mult²), used × lr_mult/√in;
  bias (init `bias_init`) used × lr_mult; then `activation` with its default gain (√2 for lrelu)."""
  features: int
  activation: str = "linear"
  lr_mult: float = 1.0
  bias_init: float = 0.0
  use_bias: bool = True

  @nn.compact
  def __call__(self, x: Array) -> Array:
    fan_in = x.shape[-1]
    kernel = self.param("kernel", nn.initializers.normal(1.0 / self.lr_mult), (fan_in, self.features))
    y = x @ (kernel * (self.lr_mult / math.sqrt(fan_in))).astype(x.dtype)
    b = None
    if self.use_bias:
      b = self.param("bias", nn.initializers.constant(self.bias_init), (self.features,))
      b = b * self.lr_mult if self.lr_mult != 1 else b
    return bias_act(y, b, self.activation, _default_gain(self.activation))


class Conv(nn.Module):
  """Conv with the equalized learning rate (NVIDIA's Conv2dLayer): kernel [k, k, in, out] ~ N(0, 1), used ×
  1/√(in·k²); 2× up/down-sampling through the FIR filter; bias, activation × gain, clamp × gain."""
  features: int
  kernel_size: int = 3
  use_bias: bool = True
  activation: str = "linear"
  up: int = 1
  down: int = 1
  conv_clamp: Optional[float] = None
  dtype: Any = jnp.float32
  upfirdn_method: str = "auto"

  @nn.compact
  def __call__(self, x: Array, gain: float = 1.0) -> Array:
    cin, k = x.shape[-1], self.kernel_size
    kernel = self.param("kernel", nn.initializers.normal(1.0), (k, k, cin, self.features))
    w = (kernel * (1.0 / math.sqrt(cin * k * k))).astype(self.dtype)
    y = conv2d_resample(x.astype(self.dtype), w, self.up, self.down, k // 2, upfirdn_method=self.upfirdn_method)
    b = self.param("bias", nn.initializers.zeros, (self.features,)) if self.use_bias else None
    clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
    return bias_act(y, b, self.activation, _default_gain(self.activation) * gain, clamp)


class MappingNetwork(nn.Module):
  """z [B, z_dim] (and c [B, c_dim]) → w [B, w_dim], or ws [B, num_ws, w_dim] when num_ws is set."""
  z_dim: int
  c_dim: int
  w_dim: int
  num_ws: Optional[int] = None
  num_layers: int = 8
  embed_features: Optional[int] = None
  layer_features: Optional[int] = None
  lr_mult: float = 0.01
  w_avg_beta: Optional[float] = 0.995
  axis_name: Optional[str] = None

  @nn.compact
  def __call__(self, z: Optional[Array], c: Optional[Array] = None, psi=1.0, cutoff=None,
               update_w_avg: bool = False) -> Array:
    embed_features = (self.embed_features or self.w_dim) if self.c_dim else 0
    layer_features = self.layer_features or self.w_dim
    x = None
    if self.z_dim:
      if z is None or z.shape[-1] != self.z_dim:
        raise ValueError(f"stylegan2 mapping: z must be [B, {self.z_dim}], got {None if z is None else z.shape}")
      x = normalize_2nd_moment(z.astype(jnp.float32))
    if self.c_dim:
      if c is None or c.shape[-1] != self.c_dim:
        raise ValueError(f"stylegan2 mapping: c must be [B, {self.c_dim}], got {None if c is None else c.shape}")
      y = normalize_2nd_moment(FC(embed_features, name="embed")(c.astype(jnp.float32)))
      x = y if x is None else jnp.concatenate([x, y], axis=1)
    for i in range(self.num_layers):
      feats = self.w_dim if i == self.num_layers - 1 else layer_features
      x = FC(feats, activation="lrelu", lr_mult=self.lr_mult, name=f"fc{i}")(x)
    tracked = self.num_ws is not None and self.w_avg_beta is not None
    w_avg = self.variable(BUFFERS, "w_avg", jnp.zeros, (self.w_dim,), jnp.float32) if tracked else None
    if update_w_avg and tracked and not self.is_initializing():
      mean = jnp.mean(x, axis=0)
      if self.axis_name is not None and _axis_bound(self.axis_name):
        mean = parallel.pmean(self.axis_name, mean)
      w_avg.value = mean + self.w_avg_beta * (w_avg.value - lax.stop_gradient(mean))
    if self.num_ws is None:
      return x
    x = jnp.broadcast_to(x[:, None, :], (x.shape[0], self.num_ws, self.w_dim))
    if not (isinstance(psi, (int, float)) and psi == 1):
      if not tracked:
        raise ValueError("stylegan2 mapping: truncation needs the tracked w_avg (w_avg_beta is None)")
      avg = lax.stop_gradient(w_avg.value)
      trunc = avg + jnp.asarray(psi, x.dtype) * (x - avg)
      if cutoff is None:
        x = trunc
      else:
        keep = (jnp.arange(self.num_ws) < cutoff)[None, :, None]
        x = jnp.where(keep, trunc, x)
    return x


def _axis_bound(axis_name) -> bool:
  try:
    lax.axis_index(axis_name)
    return True
  except NameError:
    return False


class SynthesisLayer(nn.Module):
  """Modulated 3×3 conv (+ optional 2× up-sampling), noise, bias, leaky ReLU × √2·gain, clamp."""
  features: int
  resolution: int
  up: int = 1
  kernel_size: int = 3
  use_noise: bool = True
  conv_clamp: Optional[float] = None
  dtype: Any = jnp.float32
  upfirdn_method: str = "auto"

  @nn.compact
  def __call__(self, x: Array, w: Array, noise_mode: str = "const", noise: Optional[Array] = None,
               gain: float = 1.0) -> Array:
    cin, k = x.shape[-1], self.kernel_size
    styles = FC(cin, bias_init=1.0, name="affine")(w)
    kernel = self.param("kernel", nn.initializers.normal(1.0), (k, k, cin, self.features))
    n = None
    if self.use_noise:
      res = self.resolution
      const = self.variable(BUFFERS, "noise_const",
                            lambda: jax.random.normal(self.make_rng("params"), (res, res), jnp.float32))
      strength = self.param("noise_strength", nn.initializers.zeros, ())
      if noise_mode == "random":
        if noise is None:
          if not self.has_rng("noise"):
            raise ValueError("stylegan2: noise_mode 'random' needs rngs={'noise': key} or explicit noise inputs "
                             "(or noise_mode='const')")
          noise = jax.random.normal(self.make_rng("noise"), (x.shape[0], res, res, 1), jnp.float32)
        n = noise * strength
      elif noise_mode == "const":
        n = (const.value * strength)[None, :, :, None]
      elif noise_mode != "none":
        raise ValueError(f"stylegan2: noise_mode must be 'random', 'const' or 'none', got {noise_mode!r}")
    y = modulated_conv2d(x.astype(self.dtype), kernel, styles, True, self.up, n,
                         upfirdn_method=self.upfirdn_method)
    b = self.param("bias", nn.initializers.zeros, (self.features,))
    clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
    return bias_act(y, b, "lrelu", SQRT2 * gain, clamp)


class ToRGB(nn.Module):
  """1×1 modulated conv without demodulation, styles × 1/√in, then bias and clamp (linear)."""
  features: int
  conv_clamp: Optional[float] = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array, w: Array) -> Array:
    cin = x.shape[-1]
    styles = FC(cin, bias_init=1.0, name="affine")(w) * (1.0 / math.sqrt(cin))
    kernel = self.param("kernel", nn.initializers.normal(1.0), (1, 1, cin, self.features))
    y = modulated_conv2d(x.astype(self.dtype), kernel, styles, demodulate=False)
    b = self.param("bias", nn.initializers.zeros, (self.features,))
    return bias_act(y, b, "linear", 1.0, self.conv_clamp)


class SynthesisBlock(nn.Module):
  """One resolution of the skip-architecture synthesis network; (x, img) → (x, img)."""
  features: int
  resolution: int
  img_channels: int
  conv_clamp: Optional[float] = None
  dtype: Any = jnp.float32
  upfirdn_method: str = "auto"

  @nn.compact
  def __call__(self, x: Optional[Array], img: Optional[Array], ws: Array, noise_mode: str, noise: Sequence):
    kw = dict(conv_clamp=self.conv_clamp, dtype=self.dtype, upfirdn_method=self.upfirdn_method)
    if x is None:
      const = self.param("const", nn.initializers.normal(1.0), (self.resolution, self.resolution, self.features))
      x = jnp.broadcast_to(const.astype(self.dtype)[None], (ws.shape[0],) + const.shape)
      x = SynthesisLayer(self.features, self.resolution, name="conv1", **kw)(x, ws[:, 0], noise_mode, noise[0])
      i = 1
    else:
      x = SynthesisLayer(self.features, self.resolution, up=2, name="conv0", **kw)(x, ws[:, 0], noise_mode,
                                                                                  noise[0])
      x = SynthesisLayer(self.features, self.resolution, name="conv1", **kw)(x, ws[:, 1], noise_mode, noise[1])
      i = 2
    y = ToRGB(self.img_channels, conv_clamp=self.conv_clamp, dtype=self.dtype, name="torgb")(x, ws[:, i])
    y = y.astype(jnp.float32)
    if img is not None:
      img = U.upsample2d(img, FIR, method=self.upfirdn_method) + y
    else:
      img = y
    return x, img


class SynthesisNetwork(nn.Module):
  """ws [B, num_ws, w_dim] → images [B, R, R, C] float32."""
  w_dim: int
  resolution: int
  img_channels: int
  channel_base: int = 32768
  channel_max: int = 512
  conv_clamp: Optional[float] = None
  dtype: Any = jnp.float32
  upfirdn_method: str = "auto"

  @property
  def num_ws(self) -> int:
    return num_ws_for(self.resolution)

  @nn.compact
  def __call__(self, ws: Array, noise_mode: str = "const", noise: Optional[Sequence[Array]] = None) -> Array:
    check_resolution(self.resolution)
    if ws.ndim != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
      raise ValueError(f"stylegan2 synthesis: ws must be [B, {self.num_ws}, {self.w_dim}], got {ws.shape}")
    n_noise = len(noise_resolutions_for(self.resolution))
    if noise is None:
      noise = [None] * n_noise
    elif len(noise) != n_noise:
      raise ValueError(f"stylegan2 synthesis: {n_noise} noise inputs expected, got {len(noise)}")
    ws = ws.astype(jnp.float32)
    x = img = None
    res, w_idx, n_idx = 4, 0, 0
    while res <= self.resolution:
      feats = channels_at(res, self.channel_base, self.channel_max)
      if feats < 1:
        raise ValueError(f"stylegan2: channel_base {self.channel_base} gives no channels at {res} px")
      num_conv = 1 if res == 4 else 2
      block = SynthesisBlock(feats, res, self.img_channels, self.conv_clamp, self.dtype, self.upfirdn_method,
                             name=f"b{res}")
      x, img = block(x, img, ws[:, w_idx:w_idx + num_conv + 1], noise_mode, noise[n_idx:n_idx + num_conv])
      w_idx += num_conv
      n_idx += num_conv
      res *= 2
    return img


def _as_c(labels: Optional[Array], c_dim: int, who: str) -> Optional[Array]:
  if not c_dim:
    return None
  if labels is None:
    raise ValueError(f"stylegan2 {who}: class-conditional (num_classes={c_dim}) but called without labels")
  if labels.ndim == 1:
    return jax.nn.one_hot(labels, c_dim, dtype=jnp.float32)
  return labels.astype(jnp.float32)


class Generator(nn.Module):
  """StyleGAN2's G: `mapping`, `synthesis`, and `__call__` = both (module docstring)."""
  resolution: int = 32
  channels: int = 3
  z_dim: int = 512
  w_dim: int = 512
  num_classes: int = 0
  map_layers: int = 8
  mapping_lr: float = 0.01
  w_avg_beta: float = 0.995
  channel_base: int = 32768
  channel_max: int = 512
  conv_clamp: Optional[float] = None
  axis_name: Optional[str] = None
  dtype: Any = jnp.float32
  upfirdn_method: str = "auto"

  @property
  def num_ws(self) -> int:
    return num_ws_for(self.resolution)

  @property
  def noise_resolutions(self) -> Tuple[int, ...]:
    return noise_resolutions_for(self.resolution)

  def setup(self):
    check_resolution(self.resolution)
    self.mapping_network = MappingNetwork(self.z_dim, self.num_classes, self.w_dim, self.num_ws, self.map_layers,
                                          lr_mult=self.mapping_lr, w_avg_beta=self.w_avg_beta,
                                          axis_name=self.axis_name)
    self.synthesis_network = SynthesisNetwork(self.w_dim, self.resolution, self.channels, self.channel_base,
                                              self.channel_max, self.conv_clamp, self.dtype, self.upfirdn_method)

  def mapping(self, z: Array, labels: Optional[Array] = None, psi=1.0, cutoff=None,
              update_w_avg: bool = False) -> Array:
    return self.mapping_network(z, _as_c(labels, self.num_classes, "G"), psi, cutoff, update_w_avg)

  def synthesis(self, ws: Array, noise_mode: str = "const", noise: Optional[Sequence[Array]] = None) -> Array:
    return self.synthesis_network(ws, noise_mode, noise)

  def __call__(self, z: Array, labels: Optional[Array] = None, train: bool = False, psi=1.0, cutoff=None,
               noise_mode: Optional[str] = None, noise: Optional[Sequence[Array]] = None,
               update_w_avg: Optional[bool] = None) -> Array:
    if noise_mode is None:
      noise_mode = "random" if train else "const"
    if update_w_avg is None:
      update_w_avg = train
    ws = self.mapping(z, labels, psi, cutoff, update_w_avg)
    return self.synthesis(ws, noise_mode, noise)


class DiscriminatorBlock(nn.Module):
  """One resolution of D: (fromRGB at the first block), conv0, conv1 (2× down), and for "resnet" the skip."""
  tmp_features: int
  out_features: int
  first: bool
  architecture: str = "resnet"
  conv_clamp: Optional[float] = None
  dtype: Any = jnp.float32
  upfirdn_method: str = "auto"

  @nn.compact
  def __call__(self, x: Optional[Array], img: Array) -> Array:
    kw = dict(conv_clamp=self.conv_clamp, dtype=self.dtype, upfirdn_method=self.upfirdn_method)
    if self.first:
      x = Conv(self.tmp_features, 1, activation="lrelu", name="fromrgb", **kw)(img)
    if self.architecture == "resnet":
      y = Conv(self.out_features, 1, use_bias=False, down=2, name="skip", dtype=self.dtype,
               upfirdn_method=self.upfirdn_method)(x, gain=SQRT_HALF)
      x = Conv(self.tmp_features, 3, activation="lrelu", name="conv0", **kw)(x)
      x = Conv(self.out_features, 3, activation="lrelu", down=2, name="conv1", **kw)(x, gain=SQRT_HALF)
      return y + x
    x = Conv(self.tmp_features, 3, activation="lrelu", name="conv0", **kw)(x)
    return Conv(self.out_features, 3, activation="lrelu", down=2, name="conv1", **kw)(x)


class DiscriminatorEpilogue(nn.Module):
  """4×4: minibatch-stddev, conv, dense, output (1, or cmap_dim projected onto cmap); → (out [B], the dense
  layer's features [B, F], which the Discriminator sows)."""
  features: int
  cmap_dim: int = 0
  mbstd_group: int = 4
  mbstd_channels: int = 1
  conv_clamp: Optional[float] = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array, cmap: Optional[Array]) -> Array:
    if self.mbstd_channels:
      x = minibatch_stddev(x.astype(jnp.float32), self.mbstd_group, self.mbstd_channels)
    x = Conv(self.features, 3, activation="lrelu", conv_clamp=self.conv_clamp, dtype=self.dtype, name="conv")(x)
    x = x.astype(jnp.float32).reshape(x.shape[0], -1)
    h = FC(self.features, activation="lrelu", name="fc")(x)
    out = FC(self.cmap_dim or 1, name="out")(h)
    if self.cmap_dim:
      out = jnp.sum(out * cmap, axis=1, keepdims=True) * (1.0 / math.sqrt(self.cmap_dim))
    return out[:, 0], h


class Discriminator(nn.Module):
  """StyleGAN2's D ("resnet" or "orig"): images [B, R, R, C] (and labels) → float32 logits [B]."""
  resolution: int = 32
  channels: int = 3
  architecture: str = "resnet"
  channel_base: int = 32768
  channel_max: int = 512
  num_classes: int = 0
  cmap_dim: Optional[int] = None
  map_layers: int = 8
  mbstd_group: int = 4
  mbstd_channels: int = 1
  conv_clamp: Optional[float] = None
  dtype: Any = jnp.float32
  upfirdn_method: str = "auto"

  @nn.compact
  def __call__(self, x: Array, labels: Optional[Array] = None, train: bool = False) -> Array:
    del train
    check_resolution(self.resolution)
    if self.architecture not in ("resnet", "orig"):
      raise ValueError(f"stylegan2 D: architecture must be 'resnet' or 'orig', got {self.architecture!r}")
    if x.ndim != 4 or x.shape[1:] != (self.resolution, self.resolution, self.channels):
      raise ValueError(f"stylegan2 D takes [B, {self.resolution}, {self.resolution}, {self.channels}] images, "
                       f"got {x.shape}")
    ch = lambda r: channels_at(r, self.channel_base, self.channel_max)
    if ch(self.resolution) < 1:
      raise ValueError(f"stylegan2: channel_base {self.channel_base} gives no channels at {self.resolution} px")
    h, res = None, self.resolution
    img = x.astype(jnp.float32)
    while res > 4:
      h = DiscriminatorBlock(ch(res), ch(res // 2), h is None, self.architecture, self.conv_clamp, self.dtype,
                             self.upfirdn_method, name=f"b{res}")(h, img)
      res //= 2
    cmap_dim = 0
    cmap = None
    if self.num_classes:
      cmap_dim = self.cmap_dim or ch(4)
      cmap = MappingNetwork(0, self.num_classes, cmap_dim, None, self.map_layers, w_avg_beta=None,
                            name="mapping")(None, _as_c(labels, self.num_classes, "D"))
    out, features = DiscriminatorEpilogue(ch(4), cmap_dim, self.mbstd_group, self.mbstd_channels,
                                          self.conv_clamp, self.dtype, name="b4")(h, cmap)
    self.sow("intermediates", "features", features)
    return out.astype(jnp.float32)


# -- NVIDIA's weights ----------------------------------------------------------------------------------------------


def _nhwc_fc_kernel(w_out_in: np.ndarray, channels: int, res: int) -> np.ndarray:
  """D's b4.fc weight [out, C·H·W] over NCHW-flattened features → [H·W·C, out] over NHWC-flattened ones."""
  out = w_out_in.shape[0]
  return w_out_in.reshape(out, channels, res, res).transpose(2, 3, 1, 0).reshape(res * res * channels, out)


def from_nvidia(state_dict: Mapping[str, np.ndarray], module: nn.Module) -> Dict[str, Any]:
  """NVIDIA's state_dict (names as in stylegan2-ada-pytorch's Generator or Discriminator, values numpy) →
  this module's variables {"params": …[, "buffers": …]}, checked name for name and shape for shape against
  `module` (a `Generator` or `Discriminator` configured like the NVIDIA network). Raises ValueError on any
  missing, unexpected or misshapen entry, and on a resample filter other than [1, 3, 3, 1]."""
  expected = _expected_variables(module)
  is_g = isinstance(module, Generator)
  params: Dict[str, Any] = {}
  buffers: Dict[str, Any] = {}
  fir2d = np.outer(FIR, FIR)
  for name, value in state_dict.items():
    v = np.asarray(value, np.float32)
    parts = name.split(".")
    if parts[-1] == "resample_filter":
      if v.shape != fir2d.shape or np.abs(v - fir2d).max() > 1e-6:
        raise ValueError(f"from_nvidia: {name} is not the [1,3,3,1] filter jaxgan's StyleGAN2 uses")
      continue
    if is_g:
      top = {"mapping": "mapping_network", "synthesis": "synthesis_network"}.get(parts[0])
      if top is None:
        raise ValueError(f"from_nvidia: unexpected Generator entry {name!r}")
      parts = [top] + parts[1:]
    leaf = parts[-1]
    tree, key = params, leaf
    if leaf == "weight":
      key = "kernel"
      if v.ndim == 2:
        if not is_g and parts[:2] == ["b4", "fc"]:
          c = v.shape[0]
          v = _nhwc_fc_kernel(v, c, 4)
        else:
          v = v.T
      elif v.ndim == 4:
        v = v.transpose(2, 3, 1, 0)
      else:
        raise ValueError(f"from_nvidia: {name} has an unexpected shape {v.shape}")
    elif leaf == "const":
      v = v.transpose(1, 2, 0)
    elif leaf in ("noise_const", "w_avg"):
      tree = buffers
    elif leaf not in ("bias", "noise_strength"):
      raise ValueError(f"from_nvidia: unexpected entry {name!r}")
    node = tree
    for p in parts[:-1]:
      node = node.setdefault(p, {})
    node[key] = v
  out = {"params": params}
  if buffers:
    out[BUFFERS] = buffers
  _check_against(out, expected)
  return jax.tree_util.tree_map(jnp.asarray, out)


def module_from_nvidia_kwargs(class_name: str, kwargs: Mapping[str, Any], axis_name: Optional[str] = None):
  """The jaxgan module equal to NVIDIA's `Generator(**kwargs)` or `Discriminator(**kwargs)` (as recorded in a
  snapshot); ValueError for settings jaxgan's networks do not have (a non-skip G, a skip D, mbstd off …)."""
  kw = dict(kwargs)
  mapping = dict(kw.get("mapping_kwargs") or {})
  if class_name == "Generator":
    syn = dict(kw.get("synthesis_kwargs") or {})
    if syn.get("architecture", "skip") != "skip":
      raise ValueError(f"from_nvidia: G architecture {syn['architecture']!r}; jaxgan's G is 'skip'")
    return Generator(resolution=int(kw["img_resolution"]), channels=int(kw["img_channels"]), z_dim=int(kw["z_dim"]),
                     w_dim=int(kw["w_dim"]), num_classes=int(kw.get("c_dim", 0)),
                     map_layers=int(mapping.get("num_layers", 8)), mapping_lr=float(mapping.get("lr_multiplier", 0.01)),
                     w_avg_beta=float(mapping.get("w_avg_beta", 0.995)),
                     channel_base=int(syn.get("channel_base", 32768)), channel_max=int(syn.get("channel_max", 512)),
                     conv_clamp=syn.get("conv_clamp"), axis_name=axis_name)
  if class_name == "Discriminator":
    epi = dict(kw.get("epilogue_kwargs") or {})
    arch = kw.get("architecture", "resnet")
    if arch not in ("resnet", "orig"):
      raise ValueError(f"from_nvidia: D architecture {arch!r}; jaxgan's D is 'resnet' or 'orig'")
    group = epi.get("mbstd_group_size", 4)
    if group is None:
      raise ValueError("from_nvidia: D's minibatch-stddev over the whole batch (group None) is not supported")
    return Discriminator(resolution=int(kw["img_resolution"]), channels=int(kw["img_channels"]), architecture=arch,
                         channel_base=int(kw.get("channel_base", 32768)), channel_max=int(kw.get("channel_max", 512)),
                         num_classes=int(kw.get("c_dim", 0)), cmap_dim=kw.get("cmap_dim"),
                         map_layers=int(mapping.get("num_layers", 8)), mbstd_group=int(group),
                         mbstd_channels=int(epi.get("mbstd_num_channels", 1)), conv_clamp=kw.get("conv_clamp"))
  raise ValueError(f"from_nvidia: unknown network class {class_name!r}")


def load_nvidia_npz(path: str, net: str = "G_ema", axis_name: Optional[str] = None):
  """(module, variables) of network `net` ("G", "D" or "G_ema") from an .npz written by
  scripts/convert_stylegan2.py (no pickle: numpy arrays and a JSON string per network)."""
  import json
  try:
    with np.load(path, allow_pickle=False) as f:
      files = set(f.files)
      if f"{net}/init_kwargs" not in files:
        nets = sorted({k.split("/")[0] for k in files if k.endswith("/init_kwargs")})
        raise ValueError(f"{path}: no network {net!r} (it has {', '.join(nets) or 'none'}); "
                         "write it with scripts/convert_stylegan2.py")
      kwargs = json.loads(str(f[f"{net}/init_kwargs"]))
      class_name = str(f[f"{net}/class_name"])
      prefix = net + "/"
      sd = {k[len(prefix):]: f[k] for k in files if k.startswith(prefix)
            and k not in (f"{net}/init_kwargs", f"{net}/class_name")}
  except (OSError, KeyError) as e:
    raise ValueError(f"{path}: not a converted StyleGAN2 snapshot ({e})") from None
  module = module_from_nvidia_kwargs(class_name, kwargs, axis_name)
  return module, from_nvidia(sd, module)


def _example_args(module: nn.Module):
  if isinstance(module, Generator):
    z = jnp.zeros((2, module.z_dim), jnp.float32)
    labels = jnp.zeros((2,), jnp.int32) if module.num_classes else None
    return (z, labels)
  x = jnp.zeros((2, module.resolution, module.resolution, module.channels), jnp.float32)
  labels = jnp.zeros((2,), jnp.int32) if module.num_classes else None
  return (x, labels)


def _expected_variables(module: nn.Module):
  shapes = jax.eval_shape(lambda k: module.init({"params": k}, *_example_args(module)), jax.random.key(0))
  return {k: v for k, v in shapes.items() if k in ("params", BUFFERS)}


def _check_against(got, expected) -> None:
  flat_got = dict(_flatten(got))
  flat_exp = dict(_flatten(expected))
  missing = sorted(set(flat_exp) - set(flat_got))
  extra = sorted(set(flat_got) - set(flat_exp))
  if missing or extra:
    raise ValueError(f"from_nvidia: the weights do not fit this network: missing {missing[:5]}"
                     f"{'…' if len(missing) > 5 else ''}, unexpected {extra[:5]}{'…' if len(extra) > 5 else ''}")
  for k, v in flat_exp.items():
    if tuple(flat_got[k].shape) != tuple(v.shape):
      raise ValueError(f"from_nvidia: {'/'.join(k)} has shape {flat_got[k].shape}, this network needs {v.shape}")


def _flatten(tree, prefix=()):
  for k, v in tree.items():
    if isinstance(v, Mapping):
      yield from _flatten(v, prefix + (k,))
    else:
      yield prefix + (k,), v


# -- registry --------------------------------------------------------------------------------------------------


@register("stylegan2")
def build(cfg, axis_name: Optional[str] = None) -> Tuple[nn.Module, nn.Module]:
  """cfg keys: image_shape (R, R, C) with R a power of two ≥ 8, latent_dim (z), w_dim (default: latent_dim),
  map_layers (8), mapping_lr (0.01), w_avg_beta (0.995), channel_base (32768), channel_max (512), conv_clamp (None),
  d_architecture ("resnet" | "orig"), mbstd_group (4), mbstd_channels (1), num_classes (0), cmap_dim (None: the
  4×4 width), dtype ("float32")."""
  shape = tuple(int(s) for s in cfg.image_shape)
  if len(shape) != 3 or shape[0] != shape[1]:
    raise ValueError(f"stylegan2: model.image_shape must be square (R, R, C), got {shape}")
  check_resolution(shape[0])
  z_dim = int(cfg.get("latent_dim", 512))
  w_dim = int(cfg.get("w_dim", z_dim) or z_dim)
  base, cmax = int(cfg.get("channel_base", 32768)), int(cfg.get("channel_max", 512))
  if base < 1 or cmax < 1 or channels_at(shape[0], base, cmax) < 1:
    raise ValueError(f"stylegan2: model.channel_base {base} and channel_max {cmax} must give at least one "
                     f"channel at {shape[0]} px")
  num_classes = int(cfg.get("num_classes", 0) or 0)
  if num_classes < 0:
    raise ValueError(f"stylegan2: num_classes must be >= 0, got {num_classes}")
  group = cfg.get("mbstd_group", 4)
  if isinstance(group, bool) or not isinstance(group, int) or group < 1:
    raise ValueError(f"stylegan2: model.mbstd_group must be a positive number of samples, got {group!r}")
  arch = str(cfg.get("d_architecture", "resnet"))
  if arch not in ("resnet", "orig"):
    raise ValueError(f"stylegan2: model.d_architecture must be 'resnet' or 'orig', got {arch!r}")
  clamp = cfg.get("conv_clamp", None)
  clamp = None if clamp is None else float(clamp)
  dtype = jnp.dtype(cfg.get("dtype", "float32"))
  common = dict(resolution=shape[0], channels=shape[2], channel_base=base, channel_max=cmax,
                num_classes=num_classes, conv_clamp=clamp, dtype=dtype)
  g = Generator(z_dim=z_dim, w_dim=w_dim, map_layers=int(cfg.get("map_layers", 8)),
                mapping_lr=float(cfg.get("mapping_lr", 0.01)), w_avg_beta=float(cfg.get("w_avg_beta", 0.995)),
                axis_name=axis_name, **common)
  d = Discriminator(architecture=arch, cmap_dim=cfg.get("cmap_dim", None), mbstd_group=group,
                    mbstd_channels=int(cfg.get("mbstd_channels", 1)), **common)
  return g, d

"""Projection of a real image into a trained StyleGAN2's W space (image editing), `scripts/project.py`.

Find the w whose image G draws closest to a target, then edit it: truncate it towards w_avg or give some of its
styles to another latent. The optimisation follows the recipe of Karras et al. 2020 (§5 of the StyleGAN2 paper):
start at w_avg, Adam on w with a learning rate ramped up over the first 5 % and cosine-ramped down over the last
25 % of the steps, and Gaussian noise added to w (scale 0.05·σ_w, decaying quadratically to 0 at 75 %), σ_w the
spread of w over 1,000 random latents.

The distance. NVIDIA's projector uses LPIPS (VGG16 features with learned weights), whose weights cannot be had
offline. jaxgan uses what a trained run already has:
  pixel     mean squared error in [-1, 1]
  D-feature the trained discriminator's block outputs (every resolution before minibatch-stddev), each unit-
            normalised over channels at every position (as LPIPS normalises VGG's), squared differences averaged
            per block and summed over blocks; weight `d_weight` (default 1).
D was trained on this data, so its features see what the data's images are made of; it was not trained as a
perceptual metric, and nothing here claims it is one. G's noise inputs are held at their constant maps (NVIDIA
optimises them too); `w_plus` optimises one w per style input (W+: closer reconstructions, less editable).
"""
import dataclasses
import functools
import math
from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgan import style_figures as sf
from jaxgan.sampling import Run, generator_variables


@dataclasses.dataclass(frozen=True)
class Settings:
  steps: int = 300
  lr: float = 0.1
  d_weight: float = 1.0
  noise: float = 0.05
  noise_ramp: float = 0.75
  lr_rampup: float = 0.05
  lr_rampdown: float = 0.25
  w_plus: bool = False
  seed: int = 0

  def check(self):
    if self.steps < 1:
      raise ValueError(f"--steps must be >= 1, got {self.steps}")
    if not self.lr > 0:
      raise ValueError(f"--lr must be > 0, got {self.lr}")
    if self.d_weight < 0:
      raise ValueError(f"--d_weight must be >= 0, got {self.d_weight}")
    return self


def target_from_image(path: str, run: Run) -> np.ndarray:
  """A picture file as G's input range: float32 [R, R, C] in [-1, 1]. Grey for a 1-channel G, RGB (transparency
  composited on white, as the emoji data is) for 3 channels. An image of the run's data size before padding
  (`data.pad`, e.g. a 28×28 digit for a 32-px G) is padded with 0 as the data was; any other square image is
  resized (box filter down, bicubic up); anything else is one clear error."""
  from PIL import Image, UnidentifiedImageError  # noqa: PLC0415

  r, c = run.gan.generator.resolution, run.gan.generator.channels
  try:
    with Image.open(path) as im:
      im.load()
      if c == 3:
        if im.mode in ("RGBA", "LA", "P"):
          rgba = im.convert("RGBA")
          white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
          im = Image.alpha_composite(white, rgba)
        im = im.convert("RGB")
      else:
        im = im.convert("L")
  except FileNotFoundError:
    raise FileNotFoundError(f"--image {path} does not exist") from None
  except (UnidentifiedImageError, OSError) as e:
    raise ValueError(f"--image {path} is not an image Pillow can read ({e})") from None
  w, h = im.size
  if w != h:
    raise ValueError(f"--image must be square (G draws {r}x{r}); {path} is {w}x{h}")
  pad = int(run.config.data.get("pad", 0) or 0)
  x = np.asarray(im, np.uint8)
  if pad and w == r - 2 * pad:
    x = np.pad(x, ((pad, pad), (pad, pad)) + ((0, 0),) * (x.ndim - 2))
  elif w != r:
    im = im.resize((r, r), Image.Resampling.BOX if w > r else Image.Resampling.BICUBIC)
    x = np.asarray(im, np.uint8)
  x = x.reshape(r, r, c).astype(np.float32)
  return x / 127.5 - 1.0


def _d_features(run: Run, d_vars_all, x):
  """D's block outputs for images x, each unit-normalised over channels at every position: a list of [B, h, w, C]."""
  from jaxgan.models.stylegan2 import DiscriminatorBlock  # noqa: PLC0415

  _, cols = run.gan.discriminator.apply(d_vars_all, x, capture_intermediates=lambda m, _: isinstance(m, DiscriminatorBlock),
                                        mutable=["intermediates"])
  feats = [v["__call__"][0] for v in cols["intermediates"].values() if isinstance(v, dict) and "__call__" in v]
  return [f / jnp.sqrt(jnp.sum(jnp.square(f), axis=-1, keepdims=True) + 1e-10) for f in feats]


def w_statistics(run: Run, ema: Optional[bool] = None, samples: int = 1000):
  """(w_avg [w_dim], σ_w): G's tracked mean w and the root-mean-square distance of 1,000 random w from it."""
  from jaxgan.stylegan2 import get_w_avg  # noqa: PLC0415

  z = run.gan.sample_latents(jax.random.key(123), samples)
  labels = None if not run.gan.conditional else jnp.arange(samples) % run.gan.num_classes
  params, g_vars = generator_variables(run, ema)
  ws = run.gan.generator.apply({"params": params, **g_vars}, z, labels, method="mapping")[:, 0]
  w_avg = get_w_avg(g_vars)
  return w_avg, float(jnp.sqrt(jnp.sum(jnp.square(ws - w_avg)) / samples))


def project(run: Run, target: np.ndarray, settings: Settings = Settings(), ema: Optional[bool] = None,
            progress: Optional[Callable[[int, float], None]] = None, chunk: int = 25) -> dict:
  """Optimises w for `target` (float32 [R, R, C] in [-1, 1]). Returns {"ws": [num_ws, w_dim] float32,
  "image": float32 [R, R, C], "loss": [steps], "pixel": [steps], "dfeat": [steps]}. Deterministic for a seed."""
  sf.require_stylegan2(run)
  s = settings.check()
  r, c = run.gan.generator.resolution, run.gan.generator.channels
  target = jnp.asarray(target, jnp.float32)
  if target.shape != (r, r, c):
    raise ValueError(f"the target must be [{r}, {r}, {c}], got {tuple(target.shape)}")
  params, g_vars = generator_variables(run, ema)
  g_all = {"params": params, **g_vars}
  d_all = {"params": run.state.params("d"), **run.state.vars("d")}
  w_avg, w_std = w_statistics(run, ema)
  num_ws = run.gan.num_ws
  t_feats = _d_features(run, d_all, target[None])

  def distance(w):
    ws = w if s.w_plus else jnp.broadcast_to(w, (num_ws,) + w.shape[-1:])
    x = run.gan.generator.apply(g_all, ws[None], "const", method="synthesis").astype(jnp.float32)
    pixel = jnp.mean(jnp.square(x[0] - target))
    if s.d_weight:
      dfeat = sum(jnp.mean(jnp.square(a - b)) for a, b in zip(_d_features(run, d_all, x), t_feats))
    else:
      dfeat = jnp.zeros((), jnp.float32)
    return pixel + s.d_weight * dfeat, (pixel, dfeat)

  tx = optax.scale_by_adam(b1=0.9, b2=0.999)  # the step's size is −lr·ramp(t), applied below
  w0 = jnp.broadcast_to(w_avg, (num_ws, w_avg.shape[0])) if s.w_plus else w_avg

  def one(carry, i):
    w, opt, key = carry
    t = i.astype(jnp.float32) / s.steps
    ramp = jnp.minimum(1.0, (1.0 - t) / s.lr_rampdown)
    ramp = (0.5 - 0.5 * jnp.cos(ramp * math.pi)) * jnp.minimum(1.0, t / s.lr_rampup)
    noise_scale = w_std * s.noise * jnp.square(jnp.maximum(0.0, 1.0 - t / s.noise_ramp))
    key, k = jax.random.split(key)
    (loss, (pixel, dfeat)), grad = jax.value_and_grad(
        lambda w_: distance(w_ + noise_scale * jax.random.normal(k, w_.shape)), has_aux=True)(w)
    direction, opt = tx.update(grad, opt, w)
    return (w - s.lr * ramp * direction, opt, key), (loss, pixel, dfeat)

  @functools.partial(jax.jit, static_argnums=2)
  def run_chunk(carry, start, n):
    return jax.lax.scan(one, carry, start + jnp.arange(n))

  carry = (w0, tx.init(w0), jax.random.key(s.seed))
  hist = []
  for start in range(0, s.steps, chunk):
    n = min(chunk, s.steps - start)
    carry, out = run_chunk(carry, jnp.int32(start), n)
    hist.append(np.asarray(jnp.stack(out, axis=1)))
    if progress is not None:
      progress(start + n, float(hist[-1][-1, 0]))
  hist = np.concatenate(hist)
  w = carry[0]
  ws = w if s.w_plus else jnp.broadcast_to(w, (num_ws,) + w.shape[-1:])
  image = run.gan.generator.apply(g_all, ws[None], "const", method="synthesis")[0]
  return {"ws": np.asarray(ws, np.float32), "image": np.asarray(image, np.float32), "loss": hist[:, 0],
          "pixel": hist[:, 1], "dfeat": hist[:, 2]}


def psnr(a: np.ndarray, b: np.ndarray) -> float:
  """PSNR in dB of two images in [-1, 1] (peak-to-peak 2)."""
  mse = float(np.mean(np.square(np.asarray(a, np.float64) - np.asarray(b, np.float64))))
  return float("inf") if mse == 0 else 10 * math.log10(4.0 / mse)


def edits(run: Run, ws: np.ndarray, seeds=(1, 2), psis=(0.75, 0.5, 0.25, 0.0), layers=("coarse", "middle"),
          ema: Optional[bool] = None, label: Optional[int] = None):
  """(truncated, mixed): the projected styles pulled towards w_avg by each ψ — uint8 [len(psis), R, R, C] — and
  with the `layers` styles of each seed's w — uint8 [len(seeds)·len(layers), R, R, C], seed-major."""
  from jaxgan.stylegan2 import get_w_avg  # noqa: PLC0415

  ws = jnp.asarray(ws, jnp.float32)
  w_avg = get_w_avg(generator_variables(run, ema)[1])
  trunc = jnp.stack([w_avg + p * (ws - w_avg) for p in psis])
  others = sf.mapping(run, sf.latents(run, seeds), label=label, ema=ema)
  mixed = []
  for o in others:
    for name in layers:
      a, b = sf.layer_range(run, name)
      mixed.append(ws.at[a:b].set(o[a:b]))
  x = sf.images_to_uint8(sf.synthesis(run, jnp.concatenate([trunc, jnp.stack(mixed)]), ema))
  return x[:len(psis)], x[len(psis):]

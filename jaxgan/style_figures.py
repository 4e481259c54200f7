"""The pictures a user expects from a trained StyleGAN2: a truncation sweep, a style-mixing figure and a latent
interpolation (animated GIF and PNG strip). Each function takes a `sampling.Run` of a StyleGAN2 and returns uint8
images; `scripts/sample.py --figures` writes them beside the samples.

  ws = mapping(run, z)                      w of latents z (ψ-truncated towards G's tracked w_avg)  [N, num_ws, w_dim]
  x = synthesis(run, ws)                    images in [-1, 1] from per-layer styles (constant noise)
  truncation_sweep(run, seeds, psis)        one row per seed, one column per ψ
  style_mixing(run, row_seeds, col_seeds, layers)
                                            NVIDIA's figure: the corner blank, the top row the column sources, the left
                                            column the row sources; cell (r, c) takes row r's styles except the
                                            `layers`, which come from column c
  interpolation(run, seeds, steps)          frames of a loop through the seeds' w (linear in W, as the path-length
                                            metric walks): [len(seeds)·steps, H, W, C]

Mixing layers: a G of resolution R has num_ws = 2·log2(R) − 2 style inputs, two per resolution from 4×4 up
(the last toRGB shares the last conv's). "coarse" = the styles of 4–8 px (pose, shape), "middle" = 16–32 px,
"fine" = the rest (colour, texture); at 32 px there is no "fine".
"""
import functools
from typing import Optional, Sequence, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.logging import image_grid, images_to_uint8
from jaxgan.sampling import Run, check_truncation, generator_variables

DEFAULT_PSIS = (1.0, 0.8, 0.6, 0.4, 0.2, 0.0)


def require_stylegan2(run: Run) -> None:
  if not run.gan.truncatable or not hasattr(run.gan.generator, "mapping"):
    raise ValueError(f"style figures need a StyleGAN2 run (model 'stylegan2'); this run's model is "
                     f"{run.config.model.name!r}")


def latents(run: Run, seeds: Sequence[int]) -> jax.Array:
  """One latent per seed, the same for a seed whatever else is drawn: [len(seeds), z_dim]."""
  return jnp.concatenate([run.gan.sample_latents(jax.random.key(int(s)), 1) for s in seeds])


def _labels(run: Run, n: int, label: Optional[int]):
  if not run.gan.conditional:
    return None
  if label is None:
    raise ValueError(f"this StyleGAN2 is class-conditional ({run.gan.num_classes} classes): pass a class")
  if not 0 <= int(label) < run.gan.num_classes:
    raise ValueError(f"class {label} is outside 0..{run.gan.num_classes - 1}")
  return jnp.full((n,), int(label), jnp.int32)


@functools.lru_cache(maxsize=8)
def _mapping_fn(generator):
  return jax.jit(lambda v, z, y, psi: generator.apply(v, z, y, psi, method="mapping"))


@functools.lru_cache(maxsize=8)
def _synthesis_fn(generator):
  return jax.jit(lambda v, ws: generator.apply(v, ws, "const", method="synthesis"))


def _variables(run: Run, ema: Optional[bool]):
  params, g_vars = generator_variables(run, ema)
  return {"params": params, **g_vars}


def mapping(run: Run, z, psi: float = 1.0, label: Optional[int] = None, ema: Optional[bool] = None) -> jax.Array:
  """ws [N, num_ws, w_dim] of latents z, truncated by ψ towards w_avg (all layers)."""
  require_stylegan2(run)
  psi = check_truncation(run, psi)
  z = jnp.asarray(z)
  return _mapping_fn(run.gan.generator)(_variables(run, ema), z, _labels(run, z.shape[0], label), jnp.float32(psi))


def synthesis(run: Run, ws, ema: Optional[bool] = None, batch: int = 64) -> np.ndarray:
  """float32 images [N, R, R, C] in [-1, 1] from styles ws [N, num_ws, w_dim], with G's constant noise."""
  require_stylegan2(run)
  ws = jnp.asarray(ws, jnp.float32)
  want = (run.gan.num_ws, run.gan.generator.w_dim)
  if ws.ndim != 3 or ws.shape[1:] != want:
    raise ValueError(f"styles must be [N, {want[0]}, {want[1]}], got {tuple(ws.shape)}")
  fn, v = _synthesis_fn(run.gan.generator), _variables(run, ema)
  return np.concatenate([np.asarray(fn(v, ws[i:i + batch])) for i in range(0, ws.shape[0], batch)])


def layer_range(run: Run, layers) -> Tuple[int, int]:
  """[start, stop) of style inputs for "coarse" | "middle" | "fine" | "A-B" (inclusive layer indices)."""
  n = run.gan.num_ws
  named = {"coarse": (0, min(4, n)), "middle": (min(4, n), min(8, n)), "fine": (min(8, n), n)}
  if isinstance(layers, str) and layers in named:
    start, stop = named[layers]
  else:
    try:
      a, b = (int(t) for t in str(layers).split("-"))
    except ValueError:
      raise ValueError(f"mixing layers are coarse, middle, fine or A-B (e.g. 0-3), got {layers!r}") from None
    start, stop = a, b + 1
  if not 0 <= start < stop <= n:
    raise ValueError(f"mixing layers {layers!r} select no style of this G (it has {n}: 0-{n - 1})")
  return start, stop


def truncation_sweep(run: Run, seeds: Sequence[int], psis: Sequence[float] = DEFAULT_PSIS,
                     label: Optional[int] = None, ema: Optional[bool] = None) -> np.ndarray:
  """uint8 [len(seeds)·len(psis), H, W, C], row-major: row = seed, column = ψ."""
  z = latents(run, seeds)
  ws = jnp.stack([mapping(run, z, p, label, ema) for p in psis], axis=1)  # [S, P, num_ws, w_dim]
  return images_to_uint8(synthesis(run, ws.reshape((-1,) + ws.shape[2:]), ema))


def style_mixing(run: Run, row_seeds: Sequence[int], col_seeds: Sequence[int], layers="coarse", psi: float = 1.0,
                 label: Optional[int] = None, ema: Optional[bool] = None) -> np.ndarray:
  """uint8 [(R+1)·(C+1), H, W, C]: NVIDIA's layout (module docstring), white in the corner."""
  start, stop = layer_range(run, layers)
  w_rows = mapping(run, latents(run, row_seeds), psi, label, ema)
  w_cols = mapping(run, latents(run, col_seeds), psi, label, ema)
  mixed = jnp.repeat(w_rows[:, None], len(col_seeds), axis=1)          # [R, C, num_ws, w_dim]
  mixed = mixed.at[:, :, start:stop].set(jnp.broadcast_to(w_cols[None, :, start:stop], mixed[:, :, start:stop].shape))
  ws = jnp.concatenate([w_cols, w_rows, mixed.reshape((-1,) + mixed.shape[2:])])
  x = images_to_uint8(synthesis(run, ws, ema))
  nc = len(col_seeds)
  cols, rows, cells = x[:nc], x[nc:nc + len(row_seeds)], x[nc + len(row_seeds):]
  blank = np.full_like(x[:1], 255)
  out = [np.concatenate([blank, cols])]
  for r in range(len(row_seeds)):
    out.append(np.concatenate([rows[r:r + 1], cells[r * nc:(r + 1) * nc]]))
  return np.concatenate(out)


def interpolation(run: Run, seeds: Sequence[int], steps: int = 16, psi: float = 1.0, label: Optional[int] = None,
                  ema: Optional[bool] = None) -> np.ndarray:
  """uint8 frames [len(seeds)·steps, H, W, C] of a closed loop seeds[0] → seeds[1] → … → seeds[0], w interpolated
  linearly (each leg's last frame is the next seed's first, so the loop never shows a frame twice)."""
  if len(seeds) < 2:
    raise ValueError(f"an interpolation needs at least 2 seeds, got {len(seeds)}")
  if steps < 2:
    raise ValueError(f"an interpolation needs at least 2 steps per leg, got {steps}")
  w = mapping(run, latents(run, seeds), psi, label, ema)              # [S, num_ws, w_dim]
  t = jnp.arange(steps, dtype=jnp.float32) / steps
  a, b = w, jnp.roll(w, -1, axis=0)
  ws = a[:, None] + t[None, :, None, None] * (b - a)[:, None]          # [S, steps, num_ws, w_dim]
  return images_to_uint8(synthesis(run, ws.reshape((-1,) + ws.shape[2:]), ema))


def strip(frames: np.ndarray, count: int = 10) -> np.ndarray:
  """`count` frames evenly spaced through `frames`, for a one-row PNG."""
  idx = np.linspace(0, len(frames) - 1, min(count, len(frames))).round().astype(int)
  return frames[idx]


def save_gif(frames: np.ndarray, path: str, fps: float = 12.0, scale: int = 1) -> None:
  """An animated GIF that loops forever (frames uint8 [N, H, W, C], enlarged `scale`× by pixel repetition)."""
  from PIL import Image  # noqa: PLC0415

  x = images_to_uint8(frames)
  if scale > 1:
    x = np.repeat(np.repeat(x, scale, axis=1), scale, axis=2)
  pics = [Image.fromarray(f[..., 0] if f.shape[-1] == 1 else f) for f in x]
  pics[0].save(path, save_all=True, append_images=pics[1:], duration=int(round(1000 / fps)), loop=0,
               optimize=False)


def grid_with_caption(images: np.ndarray, nrow: int, caption: str) -> np.ndarray:
  from jaxgan.logging import add_caption  # noqa: PLC0415
  return add_caption(image_grid(images, nrow), caption)

"""2-D Gaussian mixtures of the mode-collapse literature (PacGAN definitions, see docs PROTOCOLS.md).

  ring8:  8 equal-weight components, means (cos 2πk/8, sin 2πk/8), k = 0..7, std 0.01.
          (The endpoint is excluded: the common `linspace(0, 2π, 8)` puts k = 0 and k = 7 on the same point.)
  grid25: 25 equal-weight components, means {−4, −2, 0, 2, 4}², std 0.05.
Two continuous shapes for the playground (no mode metrics):
  spiral: one arm, r = 1.5·t at angle 4π·t, t = √u (u ~ U[0, 1): even density along the arm), noise std 0.04.
  moons:  two interleaving half circles of radius 1 (sklearn's make_moons), centred, noise std 0.05.

`sample_mixture` is pure jax (a key in, a batch out), so a train step can draw its real batch on device.
"""
import dataclasses
from typing import Dict

import jax
import jax.numpy as jnp
import numpy as np


@dataclasses.dataclass(frozen=True)
class Mixture:
  name: str
  centers_Kx2: np.ndarray
  std: float

  @property
  def num_modes(self) -> int:
    return self.centers_Kx2.shape[0]


def _ring8() -> Mixture:
  angles = 2 * np.pi * np.arange(8) / 8
  return Mixture("ring8", np.stack([np.cos(angles), np.sin(angles)], axis=1), 0.01)


def _grid25() -> Mixture:
  g = np.arange(-4.0, 5.0, 2.0)
  return Mixture("grid25", np.stack(np.meshgrid(g, g, indexing="ij"), axis=-1).reshape(-1, 2), 0.05)


MIXTURES: Dict[str, Mixture] = {"ring8": _ring8(), "grid25": _grid25()}


def get_mixture(name: str) -> Mixture:
  if name not in MIXTURES:
    raise ValueError(f"unknown mixture {name!r}; known: {sorted(MIXTURES)}")
  return MIXTURES[name]


def _spiral(key, n: int):
  k_t, k_noise = jax.random.split(key)
  t = jnp.sqrt(jax.random.uniform(k_t, (n,), jnp.float32))
  angle = 4 * jnp.pi * t
  x = jnp.stack([1.5 * t * jnp.cos(angle), 1.5 * t * jnp.sin(angle)], axis=1)
  return x + 0.04 * jax.random.normal(k_noise, (n, 2), jnp.float32)


def _moons(key, n: int):
  k_moon, k_t, k_noise = jax.random.split(key, 3)
  t = jnp.pi * jax.random.uniform(k_t, (n,), jnp.float32)
  upper = jnp.stack([jnp.cos(t), jnp.sin(t)], axis=1)
  lower = jnp.stack([1 - jnp.cos(t), 0.5 - jnp.sin(t)], axis=1)
  x = jnp.where(jax.random.bernoulli(k_moon, 0.5, (n, 1)), upper, lower) - jnp.array([0.5, 0.25])
  return x + 0.05 * jax.random.normal(k_noise, (n, 2), jnp.float32)


SHAPES = {"spiral": _spiral, "moons": _moons}  # continuous 2-D point sets (no modes to count)


def sample_mixture(key: jax.Array, n: int, name: str = "ring8") -> jax.Array:
  """n points (float32 n×2): a uniformly chosen centre plus isotropic N(0, std²) noise (for `SHAPES`, points of
  that shape). `n`, `name` are static."""
  if name in SHAPES:
    return SHAPES[name](key, n)
  if name not in MIXTURES:
    raise ValueError(f"unknown mixture {name!r}; known: {sorted(MIXTURES) + sorted(SHAPES)}")
  m = get_mixture(name)
  k_mode, k_noise = jax.random.split(key)
  modes = jax.random.randint(k_mode, (n,), 0, m.num_modes)
  centers = jnp.asarray(m.centers_Kx2, jnp.float32)
  return centers[modes] + m.std * jax.random.normal(k_noise, (n, 2), jnp.float32)

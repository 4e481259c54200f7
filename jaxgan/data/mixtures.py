"""2-D Gaussian mixtures of the mode-collapse literature (PacGAN definitions, see docs PROTOCOLS.md).

  ring8:  8 equal-weight components, means (cos 2πk/8, sin 2πk/8), k = 0..7, std 0.01.
          (The endpoint is excluded: the common `linspace(0, 2π, 8)` puts k = 0 and k = 7 on the same point.)
  grid25: 25 equal-weight components, means {−4, −2, 0, 2, 4}², std 0.05.

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


def sample_mixture(key: jax.Array, n: int, name: str = "ring8") -> jax.Array:
  """n points (float32 n×2): a uniformly chosen centre plus isotropic N(0, std²) noise. `n`, `name` are static."""
  m = get_mixture(name)
  k_mode, k_noise = jax.random.split(key)
  modes = jax.random.randint(k_mode, (n,), 0, m.num_modes)
  centers = jnp.asarray(m.centers_Kx2, jnp.float32)
  return centers[modes] + m.std * jax.random.normal(k_noise, (n, 2), jnp.float32)

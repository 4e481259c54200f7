"""Devices: a 1-D mesh with a 'data' axis, replicated state, batch split along its first axis."""
from typing import Optional, Sequence

import jax
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

AXIS = "data"


def make_mesh(devices: Optional[Sequence[jax.Device]] = None) -> jax.sharding.Mesh:
  devices = list(jax.devices() if devices is None else devices)
  return jax.sharding.Mesh(np.asarray(devices), (AXIS,))


def check_batch(batch_size: int, mesh: jax.sharding.Mesh) -> int:
  """The per-device batch; a clear error when the global batch cannot be split evenly."""
  n = mesh.size
  if batch_size <= 0:
    raise ValueError(f"batch_size must be positive, got {batch_size}")
  if batch_size % n:
    raise ValueError(f"batch_size {batch_size} does not divide by the {n} devices of the mesh; "
                     f"use a multiple of {n}")
  return batch_size // n


def replicated(mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def replicate(tree, mesh):
  return jax.device_put(tree, replicated(mesh))

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


# -- inside the per-device program ----------------------------------------------------------------------------
# Objectives and the step call these with their `axis_name` (None outside a mesh).


def n_devices(axis_name) -> int:
  return 1 if axis_name is None else jax.lax.axis_size(axis_name)


def single(axis_name) -> bool:
  """No cross-device reduction is needed: no mesh axis, or a mesh of one device. On one device the loop's
  shard_map runs unchecked (`loop.make_train_fn`), so no all-reduce is emitted: XLA:CPU copies the whole gradient
  tree for a one-participant all-reduce (≈ 1.7 ms of a 33 ms MLP step, measured)."""
  return axis_name is None or jax.lax.axis_size(axis_name) == 1


def local_slice(axis_name, x_global, local: int):
  """This device's rows of a globally drawn array (identity on one device)."""
  if axis_name is None:
    return x_global
  start = jax.lax.axis_index(axis_name) * local
  return jax.lax.dynamic_slice_in_dim(x_global, start, local, axis=0)


def varying(axis_name, tree):
  """Marks replicated values as per-device before differentiating. Otherwise shard_map's type system sums the
  cotangents of a replicated input over devices by itself (grads N× the mean); pmean then averages explicitly."""
  return tree if single(axis_name) else jax.lax.pcast(tree, axis_name, to="varying")


def pmean(axis_name, tree):
  return tree if single(axis_name) else jax.lax.pmean(tree, axis_name)


def global_mean(axis_name, x):
  """The mean over all devices of a per-device statistic, for use *inside a differentiated loss* (feature matching's
  batch means, a term on the global batch's statistics). Its value is `pmean(x)` on every device; its gradient
  reaches this device's own samples with full weight. A plain `pmean` there is wrong: under `shard_map` its
  transpose hands each device 1/N of the cotangent, and after the step's pmean of gradients the term's gradient
  comes out N× too small on N devices (the value and 1-device runs look right, so only a device-count test with
  an optimizer that is not scale-free, e.g. SGD, shows it)."""
  if single(axis_name):
    return x
  return jax.tree.map(lambda v: v + jax.lax.stop_gradient(jax.lax.pmean(v, axis_name) - v), x)

"""The scanned training loop: K train steps per compiled call, state donated, metrics stacked.

`make_train_fn` returns `fn(state, data) -> (state, metrics_KxM)` compiled once under `jax.jit` over a
`jax.shard_map` of the 'data' mesh axis (pmap semantics): state replicated, batches split along the batch axis.
`data` is a dict of named streams (`obj.streams`, e.g. {"real": images, "labels": ints}), either the
device-resident dataset (every stream [N, ...], replicated; each step samples its own batch, so a K-step call
never returns to the host) or streamed batches [K, (R,) B, ...] split over devices.
"""

import math

import jax
import jax.numpy as jnp
from jax import lax
from jax.sharding import PartitionSpec as P

from jaxgan import parallel
from jaxgan import step as step_lib
from jaxgan.objective import Objective
from jaxgan.parallel import AXIS, check_batch


def to_float(images_uint8):
  """uint8 [0, 255] → float32 [-1, 1]; other arrays (int labels, float points) are taken as they are."""
  if images_uint8.dtype != jnp.uint8:
    return images_uint8.astype(jnp.float32) if jnp.issubdtype(images_uint8.dtype, jnp.floating) else images_uint8
  return images_uint8.astype(jnp.float32) * (1.0 / 127.5) - 1.0


def sample_resident(obj: Objective, dataset, key, local_batch: int):
  """Real batches {stream: [R, local_batch, ...]} (R = `obj.batch_repeats`; no R axis when it is 1) drawn
  uniformly with replacement from the resident dataset, the same rows from every stream. Indices are drawn for the
  global batch and sliced per device, so the batch does not depend on the device count."""
  n = next(iter(dataset.values())).shape[0]
  idx = jax.random.randint(key, (obj.batch_repeats, local_batch * parallel.n_devices(obj.axis_name)), 0, n)
  if obj.axis_name is not None:
    idx = lax.dynamic_slice_in_dim(idx, lax.axis_index(obj.axis_name) * local_batch, local_batch, axis=1)
  idx = idx if obj.batch_repeats > 1 else idx[0]
  return {name: to_float(x[idx]) for name, x in dataset.items()}


def resident_step(obj: Objective, state, dataset, local_batch: int, residue=None):
  return step_lib.train_step(obj, state, sample_resident(obj, dataset, step_lib.data_key(state), local_batch),
                             residue)


def _lazy_intervals(obj: Objective):
  return [p.interval for p in obj.phases if p.interval > 1 and not p.repeat]


def has_lazy_phases(obj: Objective) -> bool:
  return bool(_lazy_intervals(obj))


def call_start(obj: Objective, step: int, k: int, unroll: int):
  """`make_train_fn`'s `start` for a call beginning at `step` when calls are K steps apart: (step mod M, M) with M
  = lcm(K, every lazy phase's interval) for an objective with lazy phases run fully unrolled — every step of the
  call then knows which lazy phases run, so none is masked (computed and thrown away) — else None (one program)."""
  if not (has_lazy_phases(obj) and unroll >= k):
    return None
  m = math.lcm(k, *_lazy_intervals(obj))
  return (step % m, m)


def schedule(obj: Objective, k: int, start):
  """What a K-step program built for `start` compiles in: per step, whether each lazy phase runs (None: decided in
  the program). Calls whose starts give the same schedule run the same program (StyleGAN2 at K = 4 with Greg every
  4 and Dreg every 16: two programs, one with Dreg and one without)."""
  if start is None:
    return None
  r, m = start
  return tuple(tuple(step_lib.known_run(i, ((r + j) % m, m)) for i in _lazy_intervals(obj)) for j in range(k))


def make_train_fn(obj: Objective, mesh, batch_size: int, k: int, unroll: int = 1, resident: bool = True,
                  start=None):
  """Compiled K-step function. `obj` must have been built with axis_name='data'. `start` = (r, m): every call
  begins at a step ≡ r (mod m); the K steps are then unrolled with each step's residue known, so lazy phases
  (StyleGAN2's Greg, Dreg) run or are skipped without a cond or a mask where that decides them (step.known_run)."""
  if obj.axis_name != AXIS:
    raise ValueError("build the objective with axis_name='data' to run it on a mesh")
  local = check_batch(batch_size, mesh)
  if k < 1:
    raise ValueError(f"steps per call must be >= 1, got {k}")

  def per_device(state, data):
    if start is not None:  # fully unrolled, each step with its residue
      r, m = start
      metrics = []
      for j in range(k):
        residue = ((r + j) % m, m)
        if resident:
          state, mj = resident_step(obj, state, data, local, residue)
        else:
          state, mj = step_lib.train_step(obj, state, jax.tree.map(lambda a: to_float(a[j]), data), residue)
        metrics.append(mj)
      return state, jax.tree.map(lambda *v: jnp.stack(v), *metrics)
    if resident:
      body = lambda s, _: resident_step(obj, s, data, local)
      return lax.scan(body, state, None, length=k, unroll=max(1, min(unroll, k)))
    body = lambda s, chunk: step_lib.train_step(obj, s, jax.tree.map(to_float, chunk))
    return lax.scan(body, state, data, unroll=max(1, min(unroll, k)))

  batch_axis = (None,) * (1 if obj.batch_repeats == 1 else 2) + (AXIS,)
  data_spec = P() if resident else P(*batch_axis)
  # One device: nothing to reduce, and the unchecked map lets the step skip the one-participant all-reduces
  # (`parallel.single`); several devices: checked, so a missing pmean is a trace-time error.
  fn = jax.shard_map(per_device, mesh=mesh, in_specs=(P(), data_spec), out_specs=(P(), P()),
                     check_vma=mesh.size > 1)
  return jax.jit(fn, donate_argnums=0)

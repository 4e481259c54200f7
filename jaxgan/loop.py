"""The scanned training loop: K train steps per compiled call, state donated, metrics stacked.

`make_train_fn` returns `fn(state, data) -> (state, metrics_KxM)` compiled once under `jax.jit` over a
`jax.shard_map` of the 'data' mesh axis (pmap semantics): state replicated, batches split along the batch axis.
`data` is either the device-resident dataset (uint8 [N, H, W, C], replicated; each step samples its own batch, so
a K-step call never returns to the host) or streamed batches [K, (n_critic,) B, H, W, C] split over devices. For a
class-conditional GAN `data` is the pair (images, int labels) with labels [N] or [K, (n_critic,) B].
"""

import jax
import jax.numpy as jnp
from jax import lax
from jax.sharding import PartitionSpec as P

from jaxgan import step as step_lib
from jaxgan.gan import GAN
from jaxgan.parallel import AXIS, check_batch


def to_float(images_uint8):
  """uint8 [0, 255] → float32 [-1, 1]; float data (e.g. 2-D mixture points) is taken as is, in float32."""
  if jnp.issubdtype(images_uint8.dtype, jnp.floating):
    return images_uint8.astype(jnp.float32)
  return images_uint8.astype(jnp.float32) * (1.0 / 127.5) - 1.0


def sample_resident(gan: GAN, dataset, key, local_batch: int):
  """Real batches [n_critic, local_batch, ...] drawn uniformly (with replacement) from the resident dataset, and
  their labels [n_critic, local_batch] when `dataset` is (images, labels) (else None). Indices are drawn for the
  global batch and sliced per device, so the batch does not depend on the device count."""
  images, labels = dataset if isinstance(dataset, (tuple, list)) else (dataset, None)
  n_dev = 1 if gan.axis_name is None else lax.axis_size(gan.axis_name)
  idx = jax.random.randint(key, (gan.n_critic, local_batch * n_dev), 0, images.shape[0])
  if gan.axis_name is not None:
    idx = lax.dynamic_slice_in_dim(idx, lax.axis_index(gan.axis_name) * local_batch, local_batch, axis=1)
  return to_float(images[idx]), (None if labels is None else labels[idx])


def resident_step(gan: GAN, state, dataset, local_batch: int):
  real, labels = sample_resident(gan, dataset, step_lib.data_key(state), local_batch)
  return step_lib.train_step(gan, state, real, labels)


def _streamed_step(gan: GAN, state, chunk):
  x, labels = chunk if isinstance(chunk, (tuple, list)) else (chunk, None)
  return step_lib.train_step(gan, state, to_float(x), labels)


def make_train_fn(gan: GAN, mesh, batch_size: int, k: int, unroll: int = 1, resident: bool = True):
  """Compiled K-step function. `gan` must have been built with axis_name='data'."""
  if gan.axis_name != AXIS:
    raise ValueError("build the GAN with axis_name='data' to run it on a mesh")
  local = check_batch(batch_size, mesh)
  if k < 1:
    raise ValueError(f"steps per call must be >= 1, got {k}")

  def per_device(state, data):
    if resident:
      body = lambda s, _: resident_step(gan, s, data, local)
      return lax.scan(body, state, None, length=k, unroll=max(1, min(unroll, k)))
    body = lambda s, x: _streamed_step(gan, s, x)
    return lax.scan(body, state, data, unroll=max(1, min(unroll, k)))

  batch_axis = (None, AXIS) if gan.n_critic == 1 else (None, None, AXIS)
  data_spec = P() if resident else P(*batch_axis)
  # One device: nothing to reduce, and the unchecked map lets the step skip the one-participant all-reduces
  # (`step._single`); several devices: checked, so a missing pmean is a trace-time error.
  fn = jax.shard_map(per_device, mesh=mesh, in_specs=(P(), data_spec), out_specs=(P(), P()),
                     check_vma=mesh.size > 1)
  return jax.jit(fn, donate_argnums=0)

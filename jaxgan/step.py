"""Pure training steps: `d_step`, `g_step`, `train_step(state, real) -> (state, metrics)`.

Nothing here knows about devices except through `gan.axis_name`: when it is set, the step runs as the per-device
program of a data-parallel map (`jax.shard_map`), gradients, batch statistics and metrics are averaged with
`lax.pmean`, and random draws are made for the *global* batch and sliced per device, so a global batch gives the
same result on 1 or N devices. All randomness comes from `fold_in(state.rng, state.step)`.
"""
from typing import Dict, Tuple

import jax
import jax.numpy as jnp
import optax
from jax import lax

from jaxgan.gan import GAN
from jaxgan.state import GANState, step_key

Metrics = Dict[str, jax.Array]


def _n_devices(gan: GAN) -> int:
  return 1 if gan.axis_name is None else lax.axis_size(gan.axis_name)


def _local_slice(gan: GAN, x_global, local: int):
  """This device's rows of a globally drawn array (identity on one device)."""
  if gan.axis_name is None:
    return x_global
  start = lax.axis_index(gan.axis_name) * local
  return lax.dynamic_slice_in_dim(x_global, start, local, axis=0)


def _varying(gan: GAN, params):
  """Marks replicated params as per-device before differentiating. Otherwise shard_map's type system sums the
  cotangents of a replicated input over devices by itself (grads N× the mean); pmean then averages explicitly."""
  return params if gan.axis_name is None else lax.pcast(params, gan.axis_name, to="varying")


def _pmean(gan: GAN, tree):
  return tree if gan.axis_name is None else lax.pmean(tree, gan.axis_name)


def local_latents(gan: GAN, key, local: int):
  return _local_slice(gan, gan.sample_latents(key, local * _n_devices(gan)), local)


def _all_finite(tree) -> jax.Array:
  leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]
  return jnp.all(jnp.stack(leaves)) if leaves else jnp.array(True)


def _apply_update(tx, grads, opt_state, params, skip_nonfinite: bool, loss):
  updates, new_opt = tx.update(grads, opt_state, params)
  new_params = optax.apply_updates(params, updates)
  finite = jnp.logical_and(_all_finite(grads), jnp.isfinite(loss))
  if skip_nonfinite:  # keep the last good parameters and optimizer moments
    pick = lambda new, old: jnp.where(finite, new, old)
    new_params = jax.tree.map(pick, new_params, params)
    new_opt = jax.tree.map(pick, new_opt, opt_state)
  return new_params, new_opt, finite


def d_step(gan: GAN, state: GANState, real, key) -> Tuple[GANState, Metrics]:
  """One discriminator update on a local real batch and freshly generated fakes."""
  b = real.shape[0]
  z = local_latents(gan, key, b)
  fake, g_vars = gan.generator.apply({"params": state.g_params, **state.g_vars}, z, train=True,
                                     mutable=list(state.g_vars))
  fake = lax.stop_gradient(fake)
  joint = not state.d_vars  # no batch statistics: one D pass over real and fake together is exact and faster

  def loss_fn(d_params):
    variables = {"params": d_params, **state.d_vars}
    mutable = list(state.d_vars)
    if joint:
      logits = gan.discriminator.apply(variables, jnp.concatenate([real, fake.astype(real.dtype)]), train=True)
      real_logits, fake_logits, d_vars = logits[:b], logits[b:], state.d_vars
    else:  # as PyTorch code does: separate passes, so each batch is normalised by its own statistics
      real_logits, d_vars = gan.discriminator.apply(variables, real, train=True, mutable=mutable)
      fake_logits, d_vars = gan.discriminator.apply({"params": d_params, **d_vars}, fake, train=True,
                                                    mutable=mutable)
    loss = gan.loss.d(real_logits, fake_logits)
    return loss, (d_vars, real_logits, fake_logits)

  (loss, (d_vars, real_logits, fake_logits)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
      _varying(gan, state.d_params))
  grads, loss = _pmean(gan, (grads, loss))
  d_params, d_opt, finite = _apply_update(gan.d_tx, grads, state.d_opt_state, state.d_params,
                                          gan.skip_nonfinite, loss)
  metrics = _pmean(gan, {
      "d_loss": loss,
      "d_real": jnp.mean(jax.nn.sigmoid(real_logits.astype(jnp.float32))),
      "d_fake": jnp.mean(jax.nn.sigmoid(fake_logits.astype(jnp.float32))),
  })
  metrics["nonfinite"] = 1.0 - finite.astype(jnp.float32)
  return state.replace(d_params=d_params, d_vars=d_vars, d_opt_state=d_opt, g_vars=g_vars), metrics


def g_step(gan: GAN, state: GANState, local_batch: int, key) -> Tuple[GANState, Metrics]:
  """One generator update; D's batch statistics are used but not updated."""
  z = local_latents(gan, key, local_batch)

  def loss_fn(g_params):
    fake, g_vars = gan.generator.apply({"params": g_params, **state.g_vars}, z, train=True,
                                       mutable=list(state.g_vars))
    d_in = {"params": state.d_params, **state.d_vars}
    if state.d_vars:
      logits, _ = gan.discriminator.apply(d_in, fake, train=True, mutable=list(state.d_vars))
    else:
      logits = gan.discriminator.apply(d_in, fake, train=True)
    return gan.loss.g(logits), g_vars

  (loss, g_vars), grads = jax.value_and_grad(loss_fn, has_aux=True)(
      _varying(gan, state.g_params))
  grads, loss = _pmean(gan, (grads, loss))
  g_params, g_opt, finite = _apply_update(gan.g_tx, grads, state.g_opt_state, state.g_params,
                                          gan.skip_nonfinite, loss)
  ema = state.ema_params
  if ema is not None:
    ema = optax.incremental_update(g_params, ema, step_size=1.0 - gan.ema_decay)
  new = state.replace(g_params=g_params, g_vars=g_vars, g_opt_state=g_opt, ema_params=ema)
  return new, {"g_loss": loss, "nonfinite": 1.0 - finite.astype(jnp.float32)}


def train_step(gan: GAN, state: GANState, real) -> Tuple[GANState, Metrics]:
  """`n_critic` D updates then one G update. `real`: a local batch [B, H, W, C] when n_critic = 1, else
  [n_critic, B, H, W, C] (one real batch per critic update)."""
  key = step_key(state)
  d_keys = jax.random.split(jax.random.fold_in(key, 0), gan.n_critic)
  reals = real[None] if gan.n_critic == 1 and real.ndim == len(gan.image_shape) + 1 else real
  nonfinite = jnp.zeros((), jnp.float32)
  d_metrics = None
  for i in range(gan.n_critic):  # n_critic is small and static; unrolled
    state, d_metrics = d_step(gan, state, reals[i], d_keys[i])
    nonfinite = jnp.maximum(nonfinite, d_metrics.pop("nonfinite"))
  state, g_metrics = g_step(gan, state, reals.shape[1], jax.random.fold_in(key, 1))
  metrics = {**d_metrics, "g_loss": g_metrics["g_loss"],
             "nonfinite": jnp.maximum(nonfinite, g_metrics["nonfinite"])}
  return state.replace(step=state.step + 1), metrics


def data_key(state: GANState):
  """The key a device-resident sampler uses for this step's real batches."""
  return jax.random.fold_in(step_key(state), 2)

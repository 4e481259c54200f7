"""Pure training steps: `d_step`, `g_step`, `train_step(state, real) -> (state, metrics)`.

Nothing here knows about devices except through `gan.axis_name`: when it is set, the step runs as the per-device
program of a data-parallel map (`jax.shard_map`), gradients, batch statistics and metrics are averaged with
`lax.pmean`, and random draws are made for the *global* batch and sliced per device, so a global batch gives the
same result on 1 or N devices. All randomness comes from `fold_in(state.rng, state.step)`.

D sees `_d_view(x)`: DiffAugment (when `gan.augment`), then PacGAN packing (when `gan.pack` > 1), in the D step,
the G step and inside gradient penalties (penalties differentiate D∘view with respect to the un-augmented
samples, as StyleGAN2-ADA does). The D loss gains weight·interval·penalty on every `interval`-th D update.
"""
from typing import Dict, Tuple

import jax
import jax.numpy as jnp
import optax
from jax import lax

from jaxgan import augment as augment_lib
from jaxgan.gan import GAN
from jaxgan.models import ops
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


def _single(gan: GAN) -> bool:
  """No cross-device reduction is needed: no mesh axis, or a mesh of one device. On one device the loop's
  shard_map runs unchecked (`loop.make_train_fn`), so no all-reduce is emitted: XLA:CPU copies the whole gradient
  tree for a one-participant all-reduce (≈ 1.7 ms of a 33 ms MLP step, measured)."""
  return gan.axis_name is None or lax.axis_size(gan.axis_name) == 1


def _varying(gan: GAN, params):
  """Marks replicated params as per-device before differentiating. Otherwise shard_map's type system sums the
  cotangents of a replicated input over devices by itself (grads N× the mean); pmean then averages explicitly."""
  return params if _single(gan) else lax.pcast(params, gan.axis_name, to="varying")


def _pmean(gan: GAN, tree):
  return tree if _single(gan) else lax.pmean(tree, gan.axis_name)


def local_latents(gan: GAN, key, local: int):
  return _local_slice(gan, gan.sample_latents(key, local * _n_devices(gan)), local)


def _all_finite(tree) -> jax.Array:
  """False when any entry is NaN or ±inf (or the float32 sum of all entries overflows, ~1e38: as unusable).
  One float sum per leaf: XLA:CPU reduces floats ~3× faster than it reduces `isfinite`'s booleans, which cost
  ≈ 2 ms of a 33 ms MLP step (measured)."""
  leaves = jax.tree.leaves(tree)
  if not leaves:
    return jnp.array(True)
  return jnp.isfinite(sum(jnp.sum(x, dtype=jnp.float32) for x in leaves))


def sanitize(tree):
  """Non-finite entries → 0."""
  return jax.tree.map(lambda g: jnp.where(jnp.isfinite(g), g, jnp.zeros_like(g)), tree)


def clip_params(params, c: float):
  """WGAN weight clipping: every parameter entry into [−c, c]."""
  return jax.tree.map(lambda p: jnp.clip(p, -c, c), params)


def _apply_update(tx, grads, opt_state, params, skip_nonfinite: bool, loss, sanitize_grads: bool = False,
                  clip: float = 0.0):
  finite = jnp.logical_and(_all_finite(grads), jnp.isfinite(loss))  # flagged even when sanitized below
  if sanitize_grads:
    grads = sanitize(grads)
  updates, new_opt = tx.update(grads, opt_state, params)
  new_params = optax.apply_updates(params, updates)
  if clip > 0:
    new_params = clip_params(new_params, clip)
  if skip_nonfinite:  # keep the last good parameters and optimizer moments
    pick = lambda new, old: jnp.where(finite, new, old)
    new_params = jax.tree.map(pick, new_params, params)
    new_opt = jax.tree.map(pick, new_opt, opt_state)
  return new_params, new_opt, finite


def _check_pack(gan: GAN, local: int) -> None:
  if local % gan.pack:
    n = _n_devices(gan)
    raise ValueError(f"batch_size {local * n} does not divide by pack × devices = {gan.pack} × {n}; "
                     f"use a multiple of {gan.pack * n}")


def _d_view(gan: GAN, x, key):
  """What D sees of a local batch: DiffAugment with global draws, then PacGAN packing."""
  if gan.augment:
    x = augment_lib.diff_augment(key, x, gan.augment, gan.axis_name)
  return ops.pack(x, gan.pack)


def _d_apply(gan: GAN, d_vars, mutable: bool, labels=None):
  """(d_params, d_input) -> D's raw output, or (output, new d_vars) when `mutable` and D has mutable collections."""
  def apply(d_params, x):
    variables = {"params": d_params, **d_vars}
    if d_vars:  # collections are applied mutably (BatchNorm in train mode writes them); updates kept on request
      out, new_vars = gan.d_apply(variables, x, labels, train=True, mutable=list(d_vars))
      return (out, new_vars) if mutable else out
    out = gan.d_apply(variables, x, labels, train=True)
    return (out, d_vars) if mutable else out
  return apply


def _class_xent(gan: GAN, class_logits, labels):
  """Mean cross-entropy of an auxiliary classifier's logits (float32)."""
  return optax.softmax_cross_entropy_with_integer_labels(class_logits.astype(jnp.float32), labels).mean()


def info_xent(gan: GAN, out, z):
  """InfoGAN: the summed cross-entropy of Q's predictions (D's second head on the samples' D output `out`) of the
  codes held in latents z, averaged over samples (float32). Minimising it maximises a lower bound on the mutual
  information between the codes and the images (Chen et al. 2016)."""
  q, codes = gan.info_logits(out), gan.codes_of(z)
  total, start = jnp.zeros((), jnp.float32), 0
  for i, k in enumerate(gan.info_codes):
    total = total + _class_xent(gan, q[:, start:start + k], codes[:, i])
    start += k
  return total


def _penalty(gan: GAN, d_params, d_vars, real, fake, key, d_count, labels=None):
  """The unweighted penalty on this D update (0 on the updates a lazy interval skips). Real and fake samples share
  `labels` (conditional GANs), so interpolates between them keep their label."""
  k_pen, k_aug = jax.random.split(key)
  apply = _d_apply(gan, d_vars, mutable=False, labels=labels)  # batch-statistics updates of penalty passes dropped
  d_of_samples = lambda p, x: gan.split_logits(apply(p, _d_view(gan, x, k_aug)))[0]
  fn = lambda: gan.penalty.fn(d_of_samples, d_params, real, fake, k_pen, pack=gan.pack,
                              axis_name=gan.axis_name).astype(jnp.float32)
  if gan.penalty.interval == 1:
    return fn()
  zero = jnp.zeros((), jnp.float32)
  if not _single(gan):  # both branches must carry the same device-varying type
    zero = lax.pcast(zero, gan.axis_name, to="varying")
  return lax.cond(d_count % gan.penalty.interval == 0, fn, lambda: zero)


def d_step(gan: GAN, state: GANState, real, key, d_count=None, labels=None) -> Tuple[GANState, Metrics]:
  """One discriminator update on a local real batch and freshly generated fakes. `d_count`: the index of this D
  update in the run (for lazy penalties), default step × n_critic. `labels`: the real batch's classes, also
  given to G for the fakes (conditional GANs only)."""
  b = real.shape[0]
  _check_pack(gan, b)
  if d_count is None:
    d_count = state.step * gan.n_critic
  z = local_latents(gan, key, b)
  k_aug_real, k_aug_fake, k_pen = (jax.random.fold_in(key, i) for i in (1, 2, 3))
  fake, g_vars = gan.g_apply({"params": state.g_params, **state.g_vars}, z, labels, train=True,
                             mutable=list(state.g_vars))
  fake = lax.stop_gradient(fake).astype(real.dtype)
  real_in, fake_in = _d_view(gan, real, k_aug_real), _d_view(gan, fake, k_aug_fake)
  n = real_in.shape[0]
  # No batch statistics: one D pass over real and fake together is exact and faster, unless minibatch-stddev
  # or minibatch-discrimination groups would then span real and fake inputs (a per-device batch smaller than, or
  # not a multiple of, a group).
  joint = not state.d_vars and all(n % g == 0 for g in gan.d_groups)

  def loss_fn(d_params):
    if joint:
      both = None if labels is None else jnp.concatenate([labels, labels])
      out = _d_apply(gan, state.d_vars, False, both)(d_params, jnp.concatenate([real_in, fake_in]))
      real_out, fake_out, d_vars = out[:n], out[n:], state.d_vars
    else:  # as PyTorch code does: separate passes, so each batch is normalised by its own statistics
      real_out, d_vars = _d_apply(gan, state.d_vars, True, labels)(d_params, real_in)
      fake_out, d_vars = _d_apply(gan, d_vars, True, labels)(d_params, fake_in)
    (real_logits, real_cls), (fake_logits, fake_cls) = gan.split_logits(real_out), gan.split_logits(fake_out)
    loss = gan.loss.d(real_logits, fake_logits)
    total = loss
    aux = jnp.zeros((), jnp.float32)
    if gan.aux_classes:  # AC-GAN: D also classifies real and generated samples
      aux = _class_xent(gan, real_cls, labels) + _class_xent(gan, fake_cls, labels)
      total = total + gan.aux_weight * aux
    info = jnp.zeros((), jnp.float32)
    if gan.info_codes:  # InfoGAN: Q (D's second head) learns to read G's codes back from its samples
      info = info_xent(gan, fake_out, z)
      total = total + gan.info_weight * info
    pen = jnp.zeros((), jnp.float32)
    if gan.penalty.enabled:
      pen = _penalty(gan, d_params, state.d_vars, real, fake, k_pen, d_count, labels)
      total = total + (gan.penalty.weight * gan.penalty.interval) * pen
    return total, (d_vars, real_logits, fake_logits, loss, pen, aux, info)

  (total, (d_vars, real_logits, fake_logits, loss, pen, aux, info)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
      _varying(gan, state.d_params))
  grads, total = _pmean(gan, (grads, total))
  d_params, d_opt, finite = _apply_update(gan.d_tx, grads, state.d_opt_state, state.d_params,
                                          gan.skip_nonfinite, total, gan.sanitize_grads, gan.d_clip)
  metrics = {
      "d_loss": loss,
      "d_real": jnp.mean(jax.nn.sigmoid(real_logits.astype(jnp.float32))),
      "d_fake": jnp.mean(jax.nn.sigmoid(fake_logits.astype(jnp.float32))),
  }
  if gan.penalty.enabled:
    metrics["d_penalty"] = pen
  if gan.aux_classes:
    metrics["d_class_xent"] = aux
  if gan.info_codes:
    metrics["info_xent"] = info
  metrics = _pmean(gan, metrics)
  metrics["nonfinite"] = 1.0 - finite.astype(jnp.float32)
  return state.replace(d_params=d_params, d_vars=d_vars, d_opt_state=d_opt, g_vars=g_vars), metrics


def ema_beta(gan: GAN, step, global_batch: int):
  """This G step's EMA decay: `ema_decay`, or with `ema_rampup` r > 0 StyleGAN2-ADA's ramped half-life
  β_t = 0.5^(B / max(min(h, t·B·r), 1e-8)), h = B·ln½ / ln(ema_decay) images."""
  if gan.ema_rampup <= 0:
    return jnp.float32(gan.ema_decay)
  b = float(global_batch)
  half_life = b * jnp.log(0.5) / jnp.log(jnp.float32(gan.ema_decay))
  ramped = jnp.minimum(half_life, step.astype(jnp.float32) * b * gan.ema_rampup)
  return jnp.power(0.5, b / jnp.maximum(ramped, 1e-8)).astype(jnp.float32)


def g_step(gan: GAN, state: GANState, local_batch: int, key, labels=None) -> Tuple[GANState, Metrics]:
  """One generator update; D's batch statistics are used but not updated. `labels`: the classes G draws
  (conditional GANs only)."""
  _check_pack(gan, local_batch)
  z = local_latents(gan, key, local_batch)
  d_apply = _d_apply(gan, state.d_vars, mutable=False, labels=labels)
  k_aug = jax.random.fold_in(key, 1)

  def loss_fn(g_params):
    fake, g_vars = gan.g_apply({"params": g_params, **state.g_vars}, z, labels, train=True,
                               mutable=list(state.g_vars))
    out = d_apply(state.d_params, _d_view(gan, fake, k_aug))
    logits, cls = gan.split_logits(out)
    loss = gan.loss.g(logits)
    if gan.aux_classes:
      loss = loss + gan.aux_weight * _class_xent(gan, cls, labels)
    if gan.info_codes:
      loss = loss + gan.info_weight * info_xent(gan, out, z)
    return loss, g_vars

  (loss, g_vars), grads = jax.value_and_grad(loss_fn, has_aux=True)(
      _varying(gan, state.g_params))
  grads, loss = _pmean(gan, (grads, loss))
  g_params, g_opt, finite = _apply_update(gan.g_tx, grads, state.g_opt_state, state.g_params,
                                          gan.skip_nonfinite, loss, gan.sanitize_grads, gan.g_clip)
  ema = state.ema_params
  if ema is not None:
    beta = ema_beta(gan, state.step, local_batch * _n_devices(gan))
    ema = optax.incremental_update(g_params, ema, step_size=1.0 - beta)
  new = state.replace(g_params=g_params, g_vars=g_vars, g_opt_state=g_opt, ema_params=ema)
  return new, {"g_loss": loss, "nonfinite": 1.0 - finite.astype(jnp.float32)}


def train_step(gan: GAN, state: GANState, real, labels=None) -> Tuple[GANState, Metrics]:
  """`n_critic` D updates then one G update. `real`: a local batch [B, H, W, C] when n_critic = 1, else
  [n_critic, B, H, W, C] (one real batch per critic update); `labels` likewise [B] or [n_critic, B] (int, required
  by conditional GANs, which generate the G step's fakes with the last real batch's labels)."""
  key = step_key(state)
  d_keys = jax.random.split(jax.random.fold_in(key, 0), gan.n_critic)
  single = real.ndim == len(gan.image_shape) + 1
  if gan.n_critic > 1 and single:
    raise ValueError(f"n_critic={gan.n_critic} needs one real batch per critic update: [n_critic, B, ...]")
  reals = real[None] if single else real
  if gan.conditional:
    if labels is None:
      raise ValueError(f"this GAN is class-conditional (num_classes={gan.num_classes}); pass the batch's labels")
    labels = jnp.asarray(labels, jnp.int32)
    labels = labels[None] if single else labels
  nonfinite = jnp.zeros((), jnp.float32)
  d_metrics = None
  label = lambda i: None if labels is None else labels[i]
  for i in range(gan.n_critic):  # n_critic is small and static; unrolled
    state, d_metrics = d_step(gan, state, reals[i], d_keys[i], d_count=state.step * gan.n_critic + i,
                              labels=label(i))
    nonfinite = jnp.maximum(nonfinite, d_metrics.pop("nonfinite"))
  state, g_metrics = g_step(gan, state, reals.shape[1], jax.random.fold_in(key, 1), labels=label(-1))
  metrics = {**d_metrics, "g_loss": g_metrics["g_loss"],
             "nonfinite": jnp.maximum(nonfinite, g_metrics["nonfinite"])}
  return state.replace(step=state.step + 1), metrics


def data_key(state: GANState):
  """The key a device-resident sampler uses for this step's real batches."""
  return jax.random.fold_in(step_key(state), 2)

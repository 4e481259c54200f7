"""The generic training step: `train_step(obj, state, batch) -> (state, metrics)` runs the objective's phases.

For each phase: differentiate the sum of its terms with respect to its player's params, average gradients over
devices, apply the player's optimizer, then the phase's `after` functions (objective.py). Nothing here knows
which family is trained. When `obj.axis_name` is set the step is the per-device program of a data-parallel map
(`jax.shard_map`): gradients and metrics are averaged with `lax.pmean`, and objectives draw random numbers for
the *global* batch and slice them per device, so a global batch gives the same result on 1 or N devices. All
randomness comes from `fold_in(state.rng, state.step)`: phase i uses `fold_in(key, phase_salt(i))`, the real
batch of a device-resident dataset `fold_in(key, DATA_SALT)`.
"""
import math
from typing import Optional, Tuple

import jax
import jax.numpy as jnp
import optax
from jax import lax

from jaxgan import parallel
from jaxgan.objective import AUX, Metrics, Objective, Phase, PhaseInput
from jaxgan.state import TrainState, step_key

DATA_SALT = 2


def phase_salt(i: int) -> int:
  """The fold-in constant of phase i's key: 0, 1, 3, 4, ... (2 is the data draw's)."""
  return i if i < DATA_SALT else i + 1


def data_key(state: TrainState):
  """The key a device-resident sampler uses for this step's real batches."""
  return jax.random.fold_in(step_key(state), DATA_SALT)


def all_finite(tree) -> jax.Array:
  """False when any entry is NaN or ±inf (or the float32 sum of all entries overflows, ~1e38: as unusable).
  One float sum per leaf: XLA:CPU reduces floats ~3× faster than it reduces `isfinite`'s booleans, which cost
  ≈ 2 ms of a 33 ms MLP step (measured)."""
  leaves = jax.tree.leaves(tree)
  if not leaves:
    return jnp.array(True)
  return jnp.isfinite(sum(jnp.sum(x, dtype=jnp.float32) for x in leaves))


def sanitize(tree, inf: float = 0.0):
  """Non-finite entries → 0, or with `inf` > 0 NaN → 0 and ±inf → ±inf (NVIDIA's nan_to_num, with 1e5)."""
  if inf:
    return jax.tree.map(lambda g: jnp.nan_to_num(g, nan=0.0, posinf=inf, neginf=-inf), tree)
  return jax.tree.map(lambda g: jnp.where(jnp.isfinite(g), g, jnp.zeros_like(g)), tree)


def _zeros_like(shapes):
  """Zeros of `jax.eval_shape` results, as device-varying as the values they stand in for (the branches of a
  lax.cond must carry the same types under a checked shard_map)."""
  def zeros(s):
    z = jnp.zeros(s.shape, s.dtype)
    varying = getattr(getattr(s, "manual_axis_type", None), "varying", frozenset())
    return lax.pcast(z, tuple(sorted(varying)), to="varying") if varying else z
  return jax.tree.map(zeros, shapes)


def _term_value(inp: PhaseInput, term, outputs):
  """(value, metrics) of a term; a lazy term counts on every `interval`-th run of its phase, else 0. Under
  `lax.cond` it is computed only then; with `obj.lazy_cond` False it is computed every run and masked."""
  if term.interval == 1:
    return term.fn(inp, outputs)
  on = inp.count % term.interval == 0
  compute = lambda: term.fn(inp, outputs)
  if not inp.obj.lazy_cond:  # computed every run, counted every N-th (see Objective.lazy_cond)
    return jax.tree.map(lambda v: jnp.where(on, v, jnp.zeros_like(v)), compute())
  skip = lambda: _zeros_like(jax.eval_shape(compute))
  return lax.cond(on, compute, skip)


def _phase_loss(phase: Phase, inp: PhaseInput):
  def loss_fn(params):
    outputs, new_vars = phase.forward(inp, params)
    total, metrics = None, {}
    for term in phase.terms:
      value, m = _term_value(inp, term, outputs)
      scale = term.weight * term.interval
      value = value if scale == 1 else scale * value
      total = value if total is None else total + value
      metrics.update(m)
    return total, (new_vars, metrics)
  return loss_fn


def known_run(interval: int, residue: Optional[Tuple[int, int]]) -> Optional[bool]:
  """Whether a phase of `interval` runs at a step known to be ≡ j (mod m) (`residue` = (j, m)): True or False when
  that decides it, None when it does not (or no residue is known)."""
  if interval == 1:
    return True
  if residue is None:
    return None
  j, m = residue
  if j % math.gcd(interval, m):
    return False
  return True if m % interval == 0 else None


def run_phase(obj: Objective, phase: Phase, state: TrainState, batch, key, count,
              known: Optional[bool] = None) -> Tuple[TrainState, Metrics]:
  """One update of `phase.player` (every `phase.interval`-th count only); metrics include `nonfinite`. `known`:
  whether it runs at this count, when the program knows (`known_run`). Else a lazy phase runs under `lax.cond`, or
  with `obj.lazy_cond` False (`config.lazy = "mask"`, see `Objective.lazy_cond`) it is computed every count and
  its new state and metrics are selected on its counts only. All three give the same results."""
  if phase.interval == 1 or known is True:
    return _update(obj, phase, state, batch, key, count)
  run = lambda s: _update(obj, phase, s, batch, key, count)
  if known is False:
    return state, _zeros_like(jax.eval_shape(run, state)[1])
  if not obj.lazy_cond:
    on = count % phase.interval == 0
    new, metrics = run(state)
    state = jax.tree.map(lambda a, b: jnp.where(on, a, b), new, state)
    return state, jax.tree.map(lambda v: jnp.where(on, v, jnp.zeros_like(v)), metrics)
  skip = lambda s: (s, _zeros_like(jax.eval_shape(run, s)[1]))
  return lax.cond(count % phase.interval == 0, run, skip, state)


def _update(obj: Objective, phase: Phase, state: TrainState, batch, key, count):
  name, axis = phase.player, obj.axis_name
  player, me = obj.players[name], state.players[name]
  inp = PhaseInput(obj, state, batch, key, count)
  (total, (new_vars, metrics)), grads = jax.value_and_grad(_phase_loss(phase, inp), has_aux=True)(
      parallel.varying(axis, me.params))
  grads, total = parallel.pmean(axis, (grads, total))
  finite = jnp.logical_and(all_finite(grads), jnp.isfinite(total))  # flagged even when sanitized below
  if obj.sanitize_grads:
    grads = sanitize(grads, obj.sanitize_inf)
  updates, opt_state = player.tx.update(grads, me.opt_state, me.params)
  params = optax.apply_updates(me.params, updates)
  if obj.skip_nonfinite:  # keep the last good parameters and optimizer moments
    pick = lambda new, old: jnp.where(finite, new, old)
    params, opt_state = jax.tree.map(pick, params, me.params), jax.tree.map(pick, opt_state, me.opt_state)
  players, new_vars = dict(state.players), dict(new_vars)
  aux = new_vars.pop(AUX, state.aux)
  for other, collections in new_vars.items():
    players[other] = players[other].replace(vars=collections)
  players[name] = players[name].replace(params=params, opt_state=opt_state)
  state = state.replace(players=players, aux=aux)
  for fn in phase.after:
    state = fn(inp, state)
  metrics = parallel.pmean(axis, metrics)
  if phase.total_metric:
    metrics[phase.total_metric] = total
  metrics["nonfinite"] = 1.0 - finite.astype(jnp.float32)
  return state, metrics


def _batch_at(obj: Objective, batch, r: int):
  return batch if obj.batch_repeats == 1 else jax.tree.map(lambda a: a[r], batch)


def train_step(obj: Objective, state: TrainState, batch,
               residue: Optional[Tuple[int, int]] = None) -> Tuple[TrainState, Metrics]:
  """Every phase of `obj` in order, then step + 1. `batch`: {stream: local array [B, ...]}, or [R, B, ...] per
  stream when the objective consumes R = `obj.batch_repeats` > 1 real batches a step (repetition r of a repeated
  phase gets batch r, other phases the last). Metrics: the last repetition's of each phase, `nonfinite` the max.
  `residue` = (j, m): the program knows state.step ≡ j (mod m) (the loop's unrolled calls, `loop.make_train_fn`),
  so a lazy phase that this decides runs or is skipped without a cond or a mask."""
  key = step_key(state)
  metrics, nonfinite = {}, jnp.zeros((), jnp.float32)
  for i, phase in enumerate(obj.phases):
    k = jax.random.fold_in(key, phase_salt(i))
    runs = phase.repeat or 1
    keys = jax.random.split(k, runs) if phase.repeat else [k]
    for r in range(runs):  # small and static; unrolled
      b = _batch_at(obj, batch, r if phase.repeat else -1)
      known = None if phase.repeat else known_run(phase.interval, residue)
      state, m = run_phase(obj, phase, state, b, keys[r], state.step * runs + r, known)
      nonfinite = jnp.maximum(nonfinite, m.pop("nonfinite"))
      if r == runs - 1:
        metrics.update(m)
  metrics["nonfinite"] = nonfinite
  return state.replace(step=state.step + 1), metrics

"""GANState: the one pytree a run threads through every step and saves whole in a checkpoint."""
from typing import Any, Optional

import flax
import jax


@flax.struct.dataclass
class GANState:
  step: jax.Array              # int32 scalar: G updates done
  rng: jax.Array               # raw uint32 key data (checkpoint- and chex-friendly); never advanced:
                               # step keys are fold_in(key(rng), step), see `step_key`
  g_params: Any
  d_params: Any
  g_vars: Any                  # G's mutable collections (batch_stats, spectral-norm vectors), {} if none
  d_vars: Any
  g_opt_state: Any
  d_opt_state: Any
  ema_params: Optional[Any] = None   # EMA of g_params, None when disabled


def step_key(state: GANState) -> jax.Array:
  """This step's typed PRNG key: fold_in(rng, step)."""
  return jax.random.fold_in(jax.random.wrap_key_data(state.rng), state.step)

"""TrainState: the one pytree a run threads through every step and saves whole in a checkpoint.

  step     int32: training steps done (each runs every phase of the objective once, see objective.py)
  rng      raw uint32 key data, never advanced: step keys are fold_in(key(rng), step), see `step_key`
  stage    int32: the run's stage (a static part of the program, e.g. a resolution; objective.py)
  players  {name: PlayerState}: params, mutable collections and optimizer state of each trained network
  ema      {player name: averaged params} for the players with an exponential moving average, {} if none
  aux      a pytree the objective owns (an adaptive probability, a running mean, ...), {} if none
"""
from typing import Any, Dict

import flax
import jax

STATE_FORMAT = 2  # version of this tree's layout in checkpoints; 1 = jaxgan 0.1.0's flat g_/d_ fields


@flax.struct.dataclass
class PlayerState:
  params: Any
  vars: Any          # mutable collections (batch_stats, spectral-norm vectors), {} if none
  opt_state: Any


@flax.struct.dataclass
class TrainState:
  step: jax.Array
  rng: jax.Array
  stage: jax.Array
  players: Dict[str, PlayerState]
  ema: Dict[str, Any]
  aux: Any

  def params(self, player: str):
    return self.players[player].params

  def vars(self, player: str):
    return self.players[player].vars

  def with_player(self, name: str, **fields) -> "TrainState":
    """This state with some fields (params, vars, opt_state) of one player replaced."""
    return self.replace(players={**self.players, name: self.players[name].replace(**fields)})


def step_key(state: TrainState) -> jax.Array:
  """This step's typed PRNG key: fold_in(rng, step)."""
  return jax.random.fold_in(jax.random.wrap_key_data(state.rng), state.step)


def migrate_path(path: str) -> str:
  """A leaf path of a format-1 checkpoint (GANState: g_params, d_vars, g_opt_state, ema_params, ...) as the
  same leaf's path in a TrainState."""
  head, _, rest = path.partition("/")
  for prefix, field in (("_opt_state", "opt_state"), ("_params", "params"), ("_vars", "vars")):
    if head in ("g" + prefix, "d" + prefix):
      return "/".join(["players", head[0], field] + ([rest] if rest else []))
  if head == "ema_params":
    return "/".join(["ema", "g"] + ([rest] if rest else []))
  return path

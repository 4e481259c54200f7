"""Objectives: what a run trains, as data the generic step (step.py) executes.

An objective names its *players* (networks with an optimizer: `g`, `d`, later an encoder) and lists its *phases*
in order. One training step runs every phase once (a repeated phase, e.g. n_critic D updates, several times):

  Phase(name, player, forward, terms, interval=1, repeat=None, after=(), total_metric=None)
    forward(inp, params) -> (outputs, new_vars)   runs the networks with `player`'s params being differentiated;
                                                 outputs is a dict the terms read, new_vars {player: collections}
                                                 and optionally {AUX: the new state.aux}
    terms: Term(name, fn, weight, interval)      fn(inp, outputs) -> (scalar, metrics); the phase minimises
                                                 Σ weight·value; a term with interval N > 1 is *lazy*: its value
                                                 counts on every N-th run of the phase only, with weight·N
    interval: a lazy phase runs on every `interval`-th step only (in-graph, `lax.cond`), e.g. StyleGAN2's
              separate regularization phases; its player's Adam should then be corrected with `lazy_adam`
    repeat:   None runs once; n runs n times, repetition r with its own key and real batch r
    after:    functions (inp, state) -> state run after the update (an EMA of the params, an aux update)

`inp` is a PhaseInput: the objective, the state before the phase, this phase's batch (a dict of named streams,
e.g. {"real": images, "labels": ints}), its PRNG key and `count`, the number of earlier runs of this phase.

Everything an objective holds is static (part of the compiled program): intervals, repeats, the stage. What
changes during a run (an adaptive probability, a running mean, a fade-in α) lives in `state.aux`, which the
objective initialises with `init_aux` and its phases' `after` functions update. Objectives register by name
(`config.objective`, default "gan"); a family adds one objective file (or none, when its terms exist).

Stages: `stage_starts = (s1, s2, ...)` are the steps where stages 1, 2, ... begin. The host loop compiles one
program per stage (`for_stage(stage)`) and never lets a K-step call cross a boundary; at a boundary it calls
`enter_stage(state, stage)` once, so resuming at or across it replays the same transition. A stage may train at a
batch size of its own (`stage_batches`, global, one per stage; empty: the config's batch size in every stage).
"""
import dataclasses
import importlib
from typing import Any, Callable, Dict, Mapping, NamedTuple, Optional, Tuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jaxgan.state import PlayerState, TrainState

Metrics = Dict[str, jax.Array]

AUX = "aux"  # a forward may return the objective's updated `state.aux` as new_vars[AUX] (a running mean it computed)


class Term(NamedTuple):
  name: str
  fn: Callable[..., Tuple[jax.Array, Metrics]]
  weight: float = 1.0
  interval: int = 1


class Phase(NamedTuple):
  name: str
  player: str
  forward: Callable[..., Tuple[dict, dict]]
  terms: Tuple[Term, ...]
  interval: int = 1
  repeat: Optional[int] = None
  after: Tuple[Callable, ...] = ()
  total_metric: Optional[str] = None   # report the phase's summed loss under this name


# XLA options for the one-off parameter-init program on the CPU: it runs once, so XLA's backend optimisations buy
# nothing and cost most of its compile time.
INIT_COMPILER_OPTIONS = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}


def init_variables(module: nn.Module, key: jax.Array, args: tuple, kwargs: dict) -> Any:
  """`module.init({"params": key}, *args, train=False, **kwargs)` as one compiled program.

  Eager init dispatches every initializer and layer op on its own, and each distinct op compiles on its own:
  36-44 s for StyleGAN2 or SPADE on this CPU, 12 s for `mnist_fast` (measured 2026-12-03). One program compiled
  without backend optimisation (on the CPU; the default options elsewhere) takes 2-11 s. Values equal eager
  init's up to float rounding where XLA folds an initializer's constant scale into the sampler's (e.g. N(0, 1) ×
  0.02); a run is deterministic either way, since every run initialises through here.
  """
  init = lambda k: module.init({"params": k}, *args, train=False, **kwargs)
  if any(isinstance(x, jax.core.Tracer) for x in jax.tree.leaves((key, args, kwargs))):
    return init(key)  # called under a transformation (e.g. `jax.eval_shape(obj.init_state, ...)`): trace inline
  lowered = jax.jit(init).lower(key)
  options = INIT_COMPILER_OPTIONS if jax.default_backend() == "cpu" else None
  return lowered.compile(compiler_options=options)(key)


class PhaseInput(NamedTuple):
  obj: Any
  state: TrainState
  batch: Mapping[str, jax.Array]
  key: jax.Array
  count: jax.Array


@dataclasses.dataclass(frozen=True)
class Player:
  """A trained network: its module and its optimizer."""
  module: nn.Module
  tx: optax.GradientTransformation


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class Objective:
  """The static part of a run. Subclasses (gan.py's GAN) add what their phases read and `example_input`."""
  players: Mapping[str, Player]
  phases: Tuple[Phase, ...]
  batch_repeats: int = 1          # real batches one step consumes (streams get a leading axis when > 1)
  streams: Tuple[str, ...] = ("real",)
  ema_players: Tuple[str, ...] = ()
  skip_nonfinite: bool = False    # keep the last good params and optimizer state on a non-finite update
  sanitize_grads: bool = False    # non-finite gradient entries -> 0 before the update
  sanitize_inf: float = 0.0       # with sanitize_grads: ±inf entries -> ±this (NVIDIA's nan_to_num: 1e5), NaN -> 0
  axis_name: Optional[str] = None
  stage_starts: Tuple[int, ...] = ()
  stage_batches: Tuple[int, ...] = ()  # global batch size of each stage; () = the config's batch_size throughout
  # Lazy terms and phases under lax.cond (their compute skipped between runs), or computed every run and masked
  # (`config.lazy`, `lazy_cond_default`). Conv models on XLA:CPU masked while a conv's gradients inside a cond
  # branch took a path ~5x slower (progan_mnist at 32 px: 3.6 s a step under cond, 0.71 s masked); with
  # layers.conv2d's canonical gradients the cond keeps its saving there too (docs/speed.md).
  lazy_cond: bool = True

  def example_input(self, player: str) -> Tuple[tuple, dict]:
    """(args, kwargs) for `players[player].module.init`."""
    raise NotImplementedError

  def init_aux(self) -> Any:
    return {}

  def init_state(self, seed: int) -> TrainState:
    """Fresh state: each player initialised (in declaration order) from `seed`, optimizer states, EMAs = copies
    of their players' params."""
    keys = jax.random.split(jax.random.key(seed), len(self.players) + 1)
    players = {}
    for k, (name, player) in zip(keys, self.players.items()):
      args, kwargs = self.example_input(name)
      # train=False: BatchNorm then needs no cross-device axis, so init works outside the device mesh.
      variables = dict(init_variables(player.module, k, args, kwargs))
      params = variables.pop("params")
      players[name] = PlayerState(params=params, vars=variables, opt_state=player.tx.init(params))
    ema = {name: jax.tree.map(jnp.copy, players[name].params) for name in self.ema_players}
    return TrainState(step=jnp.zeros((), jnp.int32), rng=jax.random.key_data(keys[-1]),
                      stage=jnp.zeros((), jnp.int32), players=players, ema=ema, aux=self.init_aux())

  # -- stages ----------------------------------------------------------------------------------------------------

  @property
  def num_stages(self) -> int:
    return len(self.stage_starts) + 1

  def batch_size(self, stage: int, default: int) -> int:
    """The global batch size stage `stage` trains at."""
    return int(self.stage_batches[stage]) if self.stage_batches else int(default)

  def sample_kwargs(self, state: TrainState) -> dict:
    """Keyword arguments (traced values of the state, e.g. a fade-in α) that sampling passes to `generate`."""
    return {}

  def sample_note(self, state: TrainState) -> str:
    """A caption for sample grids (e.g. a growing GAN's stage and α); '' for none."""
    return ""

  def stage_at(self, step: int) -> int:
    return sum(int(step) >= s for s in self.stage_starts)

  def next_boundary(self, step: int) -> Optional[int]:
    later = [s for s in self.stage_starts if s > step]
    return min(later) if later else None

  def for_stage(self, stage: int) -> "Objective":
    """The objective whose program runs during `stage` (default: this one in every stage)."""
    return self

  def enter_stage(self, state: TrainState, stage: int) -> TrainState:
    """The state as stage `stage` starts; the default only records the stage."""
    return state.replace(stage=jnp.asarray(stage, jnp.int32))


def lazy_cond_default(config) -> bool:
  """`config.lazy` = "cond" | "mask" | "auto" (default, = cond on every backend): whether lazy terms and phases
  run under `lax.cond` (see `Objective.lazy_cond`)."""
  mode = str(config.get("lazy", "auto"))
  if mode not in ("auto", "cond", "mask"):
    raise ValueError(f"config.lazy must be 'auto', 'cond' or 'mask', got {mode!r}")
  return mode != "mask"


_REGISTRY: Dict[str, Callable] = {}


def register(name: str):
  """Registers `build(config, axis_name) -> Objective` under `config.objective = name`."""
  def wrap(fn):
    _REGISTRY[name] = fn
    return fn
  return wrap


def require_model(config, objective: str, model: str, verb: str = "trains") -> None:
  """A one-line error unless `config.model.name` is the network family `objective` is written for."""
  if config.model.name != model:
    raise ValueError(f"objective '{objective}' {verb} the '{model}' networks; set model.name = '{model}' "
                     f"(got {config.model.name!r})")


# jaxgan's objectives by name → the module that registers them, imported only when a config asks for one (a run
# pays the import time of its own family only). Objectives registered elsewhere (`register`) need no entry.
MODULES = {
    "gan": "jaxgan.gan",
    "progan": "jaxgan.progan",
    "pix2pix": "jaxgan.pix2pix",
    "ssl": "jaxgan.ssl",
    "fanogan": "jaxgan.fanogan",
    "ganomaly": "jaxgan.ganomaly",
    "stylegan2": "jaxgan.stylegan2",
    "spade": "jaxgan.spade",
    "pix2pix_map": "jaxgan.pix2pix_maps",
}


def build(config, axis_name: Optional[str] = None) -> Objective:
  """The objective `config.objective` names (default "gan")."""
  name = str(config.get("objective", "gan"))
  if name not in _REGISTRY and name in MODULES:
    importlib.import_module(MODULES[name])
  if name not in _REGISTRY:
    known = sorted(set(_REGISTRY) | set(MODULES))
    raise ValueError(f"unknown objective {name!r}; known objectives: {', '.join(known)}")
  return _REGISTRY[name](config, axis_name)


def lazy_adam(lr, b1: float, b2: float, interval: int, **kw) -> optax.GradientTransformation:
  """Adam for a player that also has a lazy phase every `interval` steps (StyleGAN2): the two phases share one
  optimizer, so each step makes (interval + 1)/interval updates on average; NVIDIA corrects this with
  mb_ratio = interval / (interval + 1): lr·mb_ratio, β₁^mb_ratio, β₂^mb_ratio."""
  ratio = interval / (interval + 1)
  rate = (lambda t: lr(t) * ratio) if callable(lr) else lr * ratio
  return optax.adam(rate, b1=b1 ** ratio, b2=b2 ** ratio, **kw)

"""A playground session: one 2-D GAN trained in a background thread, steered from any thread, watched as snapshots.

The session trains with the library itself: each setting of the page is a config key, `Trainer` builds the
objective (`jaxgan.objective.build`) and compiles its K-step program (`jaxgan.loop.make_train_fn`), and a
`trainer.Runner` runs one compiled call at a time. Nothing here is a second training step.

Settings are static (part of the compiled program), so a change builds the Trainer of the new settings (validated
there: a bad value raises SettingsError before anything changes), carries the current state over, and takes effect
at the next compiled call; Trainers of earlier settings are kept (`CACHE`), so going back recompiles nothing. The
state is carried player by player: a player whose parameter shapes changed (G under a new latent size, D under a
new packing) starts afresh, the other keeps training. Learning rates are static too (optax bakes them into the
program): a new rate compiles once, ~1 s.

Snapshots (after a call, at most `max_fps` a second, only while someone listens or when asked for) hold G's
samples, D's decision surface on a grid, the gradient that G's loss puts on each displayed fake (where the fakes
are pushed: −∇ₓ L_G), the losses and D outputs of the calls since the last snapshot, and for ring-8 and grid-25
the PacGAN mode metrics of 2,500 samples of the generator `evaluate.py` would score (the EMA one when on).
"""
import base64
import collections
import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from typing import Any, Callable, Dict, List, Optional

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgan import losses as losses_lib
from jaxgan import trainer as trainer_lib
from jaxgan.models.ops import pack as pack_samples

DATASETS = ("ring8", "grid25", "spiral", "moons", "drawn")
PENALTIES = ("none", "gp", "r1")
MODE_DATASETS = ("ring8", "grid25")        # the PacGAN mode metrics exist for these
EXTENT = {"ring8": 1.6, "grid25": 6.0, "spiral": 2.2, "moons": 2.0}  # half-width of the view
SCALE = {"ring8": 1.0, "grid25": 4.0, "spiral": 1.5, "moons": 1.0}   # model.scale: nets work at unit scale
RES = 48            # D's surface: RES × RES grid points
N_SHOW = 1000       # samples drawn on the page
N_ARROWS = 250      # of which this many carry G's gradient arrow
N_EVAL = 2500       # samples scored by the mode metrics (PacGAN protocol)
MODES_EVERY = 0.25  # seconds between two mode-metric evaluations while playing
DRAWN_COPIES = 200  # a drawn point becomes this many data points around it
CACHE = 8           # Trainers (compiled programs) kept for earlier settings
DEVICES = lambda: jax.local_devices()[:1]  # a 2-D GAN is far too small to gain from data parallelism


class SettingsError(ValueError):
  """A setting that cannot work; the message names it and says what to use (shown in the page, a 400 from the API)."""


def _int(lo, hi):
  def check(name, v):
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
      raise SettingsError(f"{name} must be an integer in [{lo}, {hi}], got {v!r}")
    try:
      f = float(v)
    except ValueError:
      raise SettingsError(f"{name} must be an integer in [{lo}, {hi}], got {v!r}") from None
    if not f.is_integer() or not lo <= f <= hi:
      raise SettingsError(f"{name} must be an integer in [{lo}, {hi}], got {v!r}")
    return int(f)
  return check


def _float(lo, hi, open_lo=False):
  def check(name, v):
    try:
      f = float(v) if not isinstance(v, bool) else float("nan")
    except (TypeError, ValueError):
      f = float("nan")
    if not np.isfinite(f) or f > hi or f < lo or (open_lo and f <= lo):
      bound = f"> {lo}" if open_lo else f">= {lo}"
      raise SettingsError(f"{name} must be a number {bound} and <= {hi}, got {v!r}")
    return f
  return check


def _choice(options):
  def check(name, v):
    if v not in options:
      raise SettingsError(f"unknown {name} {v!r}; use one of: {', '.join(options)}")
    return v
  return check


SETTINGS: Dict[str, Callable] = {
    "dataset": _choice(DATASETS),
    "steps_per_update": _int(1, 2000),
    "loss": _choice(tuple(sorted(losses_lib.LOSSES))),
    "lr_g": _float(0.0, 1.0, open_lo=True),
    "lr_d": _float(0.0, 1.0, open_lo=True),
    "n_critic": _int(1, 20),
    "penalty": _choice(PENALTIES),
    "penalty_weight": _float(0.0, 1000.0),
    "penalty_interval": _int(1, 64),
    "pack": _int(1, 16),
    "latent_dim": _int(1, 64),
    "batch_size": _int(2, 4096),
    "ema_decay": _float(0.0, 0.9999),
    "seed": _int(0, 2**31 - 1),
}


def preset(name: str) -> Dict[str, Any]:
  """The settings of a preset: `ring8` or `grid25` (jaxgan/configs), K = 10 steps a call, constant rates (the
  presets decay them to 0 over 20,000 steps, which an open-ended session cannot do)."""
  from jaxgan.configs import grid25, ring8
  if name not in ("ring8", "grid25"):
    raise SettingsError(f"unknown preset {name!r}; use ring8 or grid25")
  c = (ring8 if name == "ring8" else grid25).get_config()
  return {"dataset": name, "steps_per_update": 10, "loss": c.loss.name, "lr_g": c.optim.g.lr, "lr_d": c.optim.d.lr,
          "n_critic": c.n_critic, "penalty": c.penalty.name, "penalty_weight": c.penalty.weight,
          "penalty_interval": c.penalty.interval, "pack": c.pack, "latent_dim": c.model.latent_dim,
          "batch_size": c.batch_size, "ema_decay": c.ema_decay, "seed": 0}


def validate(settings: Dict[str, Any], updates: Dict[str, Any]) -> Dict[str, Any]:
  """`settings` with `updates` applied, every value checked and normalised; SettingsError on the first bad one."""
  if not isinstance(updates, dict):
    raise SettingsError("settings must be a JSON object of name: value")
  out = dict(settings)
  for name, value in updates.items():
    if name not in SETTINGS:
      raise SettingsError(f"unknown setting {name!r}; known: {', '.join(SETTINGS)}")
    out[name] = SETTINGS[name](name, value)
  return out


def make_config(s: Dict[str, Any], data_file: Optional[str] = None, scale: Optional[float] = None):
  """The library config of settings `s` (the ring8 preset's model; data: a mixture, or `data_file` for drawn
  points)."""
  from jaxgan.configs import ring8
  c = ring8.get_config()
  c.seed = int(s["seed"])
  c.steps = 10 ** 9  # open-ended; a saved run records the step it reached
  c.batch_size = int(s["batch_size"])
  c.steps_per_call = int(s["steps_per_update"])
  c.sample_every = c.checkpoint_every = 10 ** 9
  c.first_sample = 0
  c.n_critic = int(s["n_critic"])
  c.loss.name = s["loss"]
  for player, key in (("g", "lr_g"), ("d", "lr_d")):
    c.optim[player].lr = float(s[key])
    c.optim[player].lr_decay_steps = 0
  c.penalty = ml_collections.ConfigDict(dict(name=s["penalty"], weight=float(s["penalty_weight"]),
                                             interval=int(s["penalty_interval"])))
  c.pack = int(s["pack"])
  c.model.latent_dim = int(s["latent_dim"])
  c.ema_decay = float(s["ema_decay"])
  c.ema_rampup = 0.05 if c.ema_decay > 0 else 0.0
  dataset = s["dataset"]
  c.model.scale = float(scale if scale is not None else SCALE.get(dataset, 1.0))
  c.data.name = data_file if dataset == "drawn" else f"mixture:{dataset}"
  return c


def _b64(a: np.ndarray, dtype: str) -> str:
  return base64.b64encode(np.ascontiguousarray(a, dtype=dtype).tobytes()).decode("ascii")


def _same_shapes(a, b) -> bool:
  la, ta = jax.tree.flatten(a)
  lb, tb = jax.tree.flatten(b)
  return ta == tb and all(x.shape == y.shape and x.dtype == y.dtype for x, y in zip(la, lb))


def carry_state(old, template):
  """`template` (a fresh state of the new settings) with the step, key and every player (params, collections,
  optimizer state, EMA) of `old` whose shapes still fit; returns (state, names of players started afresh)."""
  players, ema, fresh = {}, {}, []
  for name, tmpl in template.players.items():
    prev = old.players.get(name)
    keep = prev is not None and _same_shapes(prev, tmpl)
    players[name] = prev if keep else tmpl
    if not keep:
      fresh.append(name)
    if name in template.ema:
      ema[name] = old.ema[name] if keep and name in old.ema else template.ema[name]
  aux = old.aux if _same_shapes(old.aux, template.aux) else template.aux
  return template.replace(step=old.step, rng=old.rng, players=players, ema=ema, aux=aux), fresh


class Engine:
  """What one set of static settings compiles: its Trainer, a Runner over it and the snapshot program."""

  def __init__(self, settings, data_file, scale, extent, workdir):
    self.settings = dict(settings)
    self.config = make_config(settings, data_file, scale)
    try:
      self.trainer = trainer_lib.Trainer(self.config, workdir, devices=DEVICES(), quiet=True, progress=False)
    except (ValueError, KeyError) as e:  # ConfigError, DataError, the objective's ValueErrors
      raise SettingsError(" ".join(str(e).split())) from None
    self.runner = self.trainer.runner(outputs=False)
    self.gan = self.trainer.gan
    self.extent = extent
    self.snapshot_fn = jax.jit(self._snapshot)
    self.scored_fn = jax.jit(self._scored)
    self._inputs = {}

  def inputs(self, seed: int):
    """Fixed latents (the points move only as G learns) and D's grid, for a seed."""
    if seed not in self._inputs:
      key = jax.random.key(seed + 10_000)
      lin = np.linspace(-self.extent, self.extent, RES, dtype=np.float32)
      gx, gy = np.meshgrid(lin, lin[::-1])  # row 0 at the top (largest y), as the canvas draws
      self._inputs = {seed: (self.gan.sample_latents(jax.random.fold_in(key, 0), N_SHOW),
                             self.gan.sample_latents(jax.random.fold_in(key, 1), N_EVAL),
                             jnp.asarray(np.stack([gx.ravel(), gy.ravel()], axis=1)))}
    return self._inputs[seed]

  def _scored(self, state, z_eval):
    """The samples evaluate.py would score: the EMA generator's when there is one."""
    g = state.players["g"]
    ema = state.ema.get("g")
    return self.gan.generate(ema if ema is not None else g.params, g.vars, z_eval)

  def _snapshot(self, state, z_show, grid):
    gan, loss = self.gan, self.gan.loss
    g, d = state.players["g"], state.players["d"]
    d_vars = {"params": d.params, **d.vars}

    def logits(x):  # D's logit of each pack of consecutive points
      return gan.d_outputs(gan.d_apply(d_vars, pack_samples(x, gan.pack), None, train=False))["logits"]

    fake = gan.generate(g.params, g.vars, z_show)
    n_packs = fake.shape[0] // gan.pack
    grad = jax.grad(lambda x: loss.g(logits(x)))(fake) * n_packs  # the loss is a mean over packs
    surface = logits(jnp.repeat(grid, gan.pack, axis=0))           # each grid point packed with copies of itself
    return fake, -grad, surface.astype(jnp.float32)


class Session:
  """One training session. `play`, `pause`, `step`, `update`, `reset`, `set_points` and `save` may be called from
  any thread; a background thread trains while playing. `listeners` are called with each snapshot (a dict) from
  the training thread and must not block."""

  def __init__(self, settings: Optional[Dict[str, Any]] = None, max_fps: float = 30.0, workdir: Optional[str] = None):
    self.settings = validate(preset("ring8"), settings or {})
    self.max_fps = float(max_fps)
    self._own_dir = workdir is None
    self.dir = workdir or tempfile.mkdtemp(prefix="jaxgan-playground-")
    self.lock = threading.RLock()                 # held for a compiled call, a swap, a reset
    self._playing = threading.Event()
    self._closed = threading.Event()
    self.listeners: List[Callable[[dict], None]] = []
    self.want_snapshots: Callable[[], bool] = lambda: bool(self.listeners)
    self.message, self.message_kind = "", "info"
    self._engines: "collections.OrderedDict[tuple, Engine]" = collections.OrderedDict()
    self.drawn: Optional[np.ndarray] = None       # the user's points (before jitter)
    self._drawn_file: Optional[str] = None
    self.history: List[dict] = []                 # one row per compiled call (bounded, thinned when long)
    self._pending: List[dict] = []                # rows since the last snapshot
    self.modes_history: List[dict] = []
    self.latest: Optional[dict] = None
    self.seq = 0
    self._last_snapshot = 0.0
    self._modes, self._modes_time = None, 0.0
    self.calls, self.started = 0, time.perf_counter()
    self._waiters, self._waiters_lock = 0, threading.Lock()
    self._build_lock = threading.Lock()           # one Trainer built at a time
    self.engine = self._engine(self.settings)
    self._thread = threading.Thread(target=self._loop, name="playground-trainer", daemon=True)
    self._thread.start()

  # -- engines ---------------------------------------------------------------------------------------------------

  def _data(self, settings):
    """(data file, model scale, view half-width) of the settings' dataset."""
    if settings["dataset"] != "drawn":
      return None, SCALE[settings["dataset"]], EXTENT[settings["dataset"]]
    if self.drawn is None:
      raise SettingsError("dataset 'drawn' needs points: draw some on the canvas first (POST /api/points)")
    m = float(np.abs(self.drawn).max())
    return self._drawn_file, max(m, 0.25), round(1.25 * m + 0.25, 2)

  def _engine(self, settings) -> Engine:
    with self._build_lock:
      return self._engine_locked(settings)

  def _engine_locked(self, settings) -> Engine:
    data_file, scale, extent = self._data(settings)
    key = tuple(sorted((k, v) for k, v in settings.items() if k != "seed")) + ((data_file or ""),)
    if key in self._engines:
      self._engines.move_to_end(key)
      return self._engines[key]
    workdir = os.path.join(self.dir, f"engine-{len(self._engines)}-{int(time.time() * 1e6)}")
    engine = Engine(settings, data_file, scale, extent, workdir)
    self._engines[key] = engine
    while len(self._engines) > CACHE:
      _, old = self._engines.popitem(last=False)
      old.runner.close()
    return engine

  @staticmethod
  def _template(engine: Engine, settings):
    t = engine.trainer
    return trainer_lib.replicate(t.gan.init_state(int(settings["seed"])), t.mesh)

  def _install(self, engine: Engine, settings, template) -> str:
    """Switch to `engine` carrying the current state (call under the lock); returns a note for the page."""
    old, fresh = self.engine, []
    if engine is not old:
      t = engine.trainer
      state, fresh = carry_state(old.trainer.state, template)
      t.state, t.stage = state, 0
      engine.runner.step, engine.runner.stopped, engine.runner.nonfinite = old.runner.step, None, ""
    self.engine, self.settings = engine, dict(settings)
    return (f"{' and '.join(n.upper() for n in fresh)} started afresh (its shape changed)"
            if engine is not old and fresh else "")

  # -- control (any thread) --------------------------------------------------------------------------------------

  def update(self, updates: Dict[str, Any]) -> Dict[str, Any]:
    """Apply settings (validated first; SettingsError leaves everything as it was). A new seed resets."""
    settings = validate(self.settings, updates)
    engine = self._engine(settings)  # built (and checked) outside the lock: training goes on meanwhile
    template = self._template(engine, settings) if engine is not self.engine else None
    with self._locked():
      note = self._install(engine, settings, template)
      if "seed" in updates:
        self._reset_locked(settings["seed"])
      self._say(note or "settings applied")
      self._snapshot(force=True)
    return self.settings

  def set_points(self, points) -> Dict[str, Any]:
    """Train on points drawn by the user: [[x, y], ...] (1..2,000 points, |x|, |y| <= 100); switches the dataset
    to 'drawn'. Each point becomes DRAWN_COPIES data points scattered around it."""
    try:
      p = np.asarray(points, np.float64)
    except (TypeError, ValueError):
      raise SettingsError("points must be a list of [x, y] pairs") from None
    if p.ndim != 2 or p.shape[1] != 2 or not 1 <= len(p) <= 2000:
      raise SettingsError(f"points must be 1 to 2,000 [x, y] pairs, got shape {p.shape}")
    if not np.all(np.isfinite(p)) or np.abs(p).max() > 100:
      raise SettingsError("points must be finite numbers within ±100")
    spread = 0.02 * max(float(np.abs(p).max()), 0.5)
    rng = np.random.default_rng(0)
    data = (np.repeat(p, DRAWN_COPIES, axis=0) + spread * rng.standard_normal((len(p) * DRAWN_COPIES, 2)))
    digest = hashlib.sha1(p.astype(np.float32).tobytes()).hexdigest()[:12]
    path = os.path.join(self.dir, f"drawn-{digest}.npy")
    np.save(path, data.astype(np.float32), allow_pickle=False)
    old = (self.drawn, self._drawn_file)
    self.drawn, self._drawn_file = p.astype(np.float32), path
    try:
      return self.update({"dataset": "drawn"})
    except SettingsError:
      self.drawn, self._drawn_file = old
      raise

  def reset(self, seed: Optional[int] = None) -> None:
    """Fresh networks from `seed` (default: the current seed) at step 0."""
    s = validate(self.settings, {} if seed is None else {"seed": seed})
    with self._locked():
      self.settings = s
      self._reset_locked(s["seed"])
      self._say(f"reset with seed {s['seed']}")
      self._snapshot(force=True)

  def _reset_locked(self, seed) -> None:
    self.engine.runner.reset(int(seed))
    self.history, self._pending, self.modes_history = [], [], []

  def play(self) -> None:
    if self.engine.runner.stopped == "nonfinite":
      raise SettingsError("the last update was non-finite: lower the learning rates or reset before playing")
    self._playing.set()
    self._say("playing")

  def pause(self) -> None:
    self._playing.clear()
    self._say("paused")
    with self._locked():  # the last word: a snapshot taken while playing may still be on its way to the page
      self._snapshot(force=True)

  @property
  def playing(self) -> bool:
    return self._playing.is_set()

  def step(self) -> dict:
    """One compiled call (K steps) while paused; returns the new snapshot."""
    if self.playing:
      raise SettingsError("one step works while paused; press pause first")
    with self._locked():
      self._call()
      return self._snapshot(force=True)

  def close(self) -> None:
    self._closed.set()
    self._playing.set()  # wake the loop so it can see it is closed
    self._thread.join(timeout=30)
    with self.lock:
      for engine in self._engines.values():
        engine.runner.close()
    if self._own_dir:
      shutil.rmtree(self.dir, ignore_errors=True)

  def _locked(self):
    """The lock, taken by a control thread: the training loop steps aside between calls while anyone waits."""
    session = self

    class _Ctx:
      def __enter__(self):
        with session._waiters_lock:
          session._waiters += 1
        session.lock.acquire()

      def __exit__(self, *exc):
        session.lock.release()
        with session._waiters_lock:
          session._waiters -= 1
    return _Ctx()

  def _say(self, message: str, kind: str = "info") -> None:
    self.message, self.message_kind = message, kind

  # -- the training thread ---------------------------------------------------------------------------------------

  def _loop(self) -> None:
    while not self._closed.is_set():
      if not self._playing.wait(timeout=0.2) or self._closed.is_set():
        continue
      with self.lock:
        if not self._playing.is_set():
          continue
        try:
          self._call()
        except Exception as e:  # noqa: BLE001  (a failed call pauses the session; the server goes on)
          self._playing.clear()
          self._say(f"training failed: {type(e).__name__}: {' '.join(str(e).split())[:300]}", "error")
          self._snapshot(force=True)
          continue
        if self.engine.runner.stopped == "nonfinite":
          self._playing.clear()
          self._say(f"non-finite {self.engine.runner.nonfinite} at step {self.engine.runner.step}: paused; lower "
                    f"the learning rates or reset", "error")
          self._snapshot(force=True)
        elif self.want_snapshots() and time.perf_counter() - self._last_snapshot >= 1.0 / self.max_fps:
          self._snapshot()
      while self._waiters and not self._closed.is_set():  # a control thread waits: let it in first
        time.sleep(0.001)

  def _call(self) -> None:
    runner = self.engine.runner
    if runner.stopped == "nonfinite":
      raise SettingsError("the last update was non-finite: lower the learning rates or reset")
    metrics = runner.advance()
    if metrics is None:
      return
    self.calls += 1
    row = {"step": runner.step}
    for key in ("d_loss", "g_loss", "d_real", "d_fake"):
      if key in metrics:
        row[key] = float(np.mean(metrics[key]))
    row["steps_per_sec"] = float(1.0 / max(float(metrics["step_time"][-1]), 1e-9))
    self.history.append(row)
    self._pending = self._pending[-499:] + [row]
    if len(self.history) > 4000:  # bounded: keep every other row of the older half
      half = len(self.history) // 2
      self.history = self.history[:half:2] + self.history[half:]

  # -- snapshots -------------------------------------------------------------------------------------------------

  def _snapshot(self, force: bool = False) -> dict:
    """Computes, encodes and publishes a snapshot (call under the lock)."""
    e = self.engine
    z_show, z_eval, grid = e.inputs(int(self.settings["seed"]))
    fake, push, surface = jax.device_get(e.snapshot_fn(e.trainer.state, z_show, grid))
    finite = bool(np.all(np.isfinite(fake)) and np.all(np.isfinite(surface)))
    snap = {"seq": self.seq + 1, "step": int(e.runner.step), "time": time.time(), "playing": self.playing,
            "message": self.message, "message_kind": self.message_kind, "settings": dict(self.settings),
            "extent": e.extent, "finite": finite, "calls": self.calls,
            "samples": {"shape": list(fake.shape), "b64": _b64(np.nan_to_num(fake), "<f4")},
            "arrows": {"shape": [N_ARROWS, 2], "b64": _b64(np.nan_to_num(push[:N_ARROWS]), "<f4")},
            "surface": {"shape": [RES, RES], "b64": _b64(_surface_display(surface, self.settings["loss"]), "u1"),
                        "min": float(np.nanmin(surface)), "max": float(np.nanmax(surface))},
            "curves": list(self._pending), "modes": None, "data_key": self.data_key()}
    now = time.perf_counter()
    if self.settings["dataset"] not in MODE_DATASETS:
      self._modes = None
    elif force or self._modes is None or now - self._modes_time >= MODES_EVERY:
      self._modes, self._modes_time = self._mode_metrics(z_eval), now
    snap["modes"] = self._modes
    self._pending = []
    self.seq += 1
    self._last_snapshot = time.perf_counter()
    snap["data"] = encode(snap)
    self.latest = snap
    for listener in list(self.listeners):
      listener(snap)
    return snap

  def _mode_metrics(self, z_eval) -> Optional[dict]:
    """PacGAN's mode metrics of N_EVAL samples of the generator evaluate.py scores (call under the lock)."""
    e = self.engine
    scored = np.asarray(jax.device_get(e.scored_fn(e.trainer.state, z_eval)))
    if not np.all(np.isfinite(scored)):
      return None
    from jaxgan.metrics.mixtures import mixture_metrics
    m = mixture_metrics(scored, self.settings["dataset"])
    out = {"step": int(e.runner.step), "modes": m["modes"], "num_modes": m["num_modes"],
           "high_quality_fraction": m["high_quality_fraction"], "reverse_kl": m["reverse_kl"],
           "histogram": m["mode_histogram"], "ema": "g" in e.trainer.state.ema, "n": N_EVAL}
    keys = ("step", "modes", "num_modes", "high_quality_fraction", "reverse_kl")
    self.modes_history.append({k: out[k] for k in keys})
    if len(self.modes_history) > 2000:
      self.modes_history = self.modes_history[::2]
    return out

  def data_key(self) -> str:
    """Names the data the page shows (it refetches the real points when this changes)."""
    name = self.settings["dataset"]
    return name if name != "drawn" else os.path.basename(self._drawn_file or "")

  def real_points(self, n: int = 1000) -> np.ndarray:
    """`n` points of the current dataset (what the page draws as the real data)."""
    data = self.engine.trainer.data
    idx = np.random.default_rng(0).choice(data.num, size=min(n, data.num), replace=False)
    return np.asarray(data.images[idx], np.float32)

  # -- saving a run ----------------------------------------------------------------------------------------------

  def save(self, dest: str) -> Dict[str, Any]:
    """Writes a normal workdir at `dest` (config.json, checkpoints/<step>/, metrics.jsonl, samples/, losses.png)
    that sample.py, evaluate.py and train.py read. Drawn data is copied there as data.npy."""
    from jaxgan import logging as log_lib
    dest = os.path.abspath(os.path.expanduser(str(dest)))
    if os.path.exists(dest) and os.listdir(dest):
      raise SettingsError(f"{dest} exists and is not empty; choose a new directory")
    with self._locked():  # a copy: the next compiled call donates (frees) the state's buffers
      e, step = self.engine, int(self.engine.runner.step)
      state = jax.tree.map(lambda x: x.copy(), e.trainer.state)
      history = list(self.history)
      settings = dict(self.settings)
    if step == 0:
      raise SettingsError("nothing to save yet: train at least one step")
    data_file = None
    os.makedirs(dest, exist_ok=True)
    if settings["dataset"] == "drawn":
      data_file = os.path.join(dest, "data.npy")
      shutil.copyfile(self._drawn_file, data_file)
    config = make_config(settings, data_file, e.config.model.scale)
    config.steps = step
    config.checkpoint_every = config.sample_every = step
    try:
      t = trainer_lib.Trainer(config, dest, devices=DEVICES(), quiet=True, progress=False)
    except (ValueError, KeyError) as err:
      raise SettingsError(" ".join(str(err).split())) from None
    t.state = state
    t.write_config()
    writer = log_lib.MetricWriter(dest)
    for row in history:
      writer.write(row["step"], {k: v for k, v in row.items() if k != "step"})
    writer.close()
    t.save(step)
    t.ckpt.wait()
    t.write_samples(step)
    return {"workdir": dest, "step": step}


def _surface_display(logits: np.ndarray, loss: str) -> np.ndarray:
  """D's outputs as 0..255 (0 = judged fake, 255 = judged real): σ(logit) for the cross-entropy losses, the
  target scale [0, 1] for least squares, [−1, 1] for hinge, and the grid's own range for the Wasserstein critic."""
  v = np.nan_to_num(np.asarray(logits, np.float64))
  if loss in ("minimax", "non_saturating"):
    p = 1.0 / (1.0 + np.exp(-np.clip(v, -60, 60)))
  elif loss == "least_squares":
    p = np.clip(v, 0.0, 1.0)
  elif loss == "hinge":
    p = np.clip((v + 1.0) / 2.0, 0.0, 1.0)
  else:
    lo, hi = float(v.min()), float(v.max())
    p = (v - lo) / (hi - lo) if hi > lo else np.full_like(v, 0.5)
  return np.rint(255 * p).astype(np.uint8)


def encode(snap: dict) -> bytes:
  """A snapshot as one JSON line (bytes), without the cached encoding itself."""
  return json.dumps({k: v for k, v in snap.items() if k != "data"}, separators=(",", ":")).encode()

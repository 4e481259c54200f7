"""The host loop: build a run from a config, resume it from its workdir, train in K-step calls, and every so often
log metrics, write sample grids and save checkpoints. `scripts/train.py` and the notebook are thin shells over it.

Workdir layout: config.json, metrics.jsonl, tb/ (TensorBoard), samples/*.png, losses.png, checkpoints/<step>/.
"""
import functools
import json
import os
import signal
import threading
import time
from typing import Optional

import jax
import ml_collections
import numpy as np

import jaxgan
from jaxgan import checkpoint as ckpt_lib
from jaxgan import data as data_lib
from jaxgan import logging as log_lib
from jaxgan import sampling
from jaxgan import objective as objective_lib
from jaxgan.state import STATE_FORMAT
from jaxgan.loop import call_start, make_train_fn, schedule
from jaxgan.models import is_convolutional
from jaxgan.parallel import check_batch, make_mesh, replicate, replicated

CONFIG_FILE = "config.json"
NUM_GRID = 64


class ConfigError(ValueError):
  """A config value that cannot work; the message names the key and what to use."""


def _positive_int(config, key):
  value = config.get(key)
  if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
    raise ConfigError(f"config.{key} must be a positive integer, got {value!r}")
  return int(value)


def validate(config) -> None:
  for key in ("steps", "batch_size"):
    _positive_int(config, key)
  for key in ("checkpoint_every", "sample_every", "keep_checkpoints"):
    if key in config:
      _positive_int(config, key)
  first = config.get("first_sample", 0)
  if isinstance(first, bool) or not isinstance(first, (int, np.integer)) or first < 0:
    raise ConfigError(f"config.first_sample must be an integer >= 0 (0 = off), got {first!r}")
  if "standing_stats" in config and (not isinstance(config.standing_stats, int) or config.standing_stats < 0):
    raise ConfigError(f"config.standing_stats must be an integer >= 0, got {config.standing_stats!r}")
  if config.get("nonfinite", "stop") not in ("stop", "skip"):
    raise ConfigError(f"config.nonfinite must be 'stop' or 'skip', got {config.nonfinite!r}")


def fingerprint(config) -> str:
  """What a checkpoint's tree structure depends on; other keys (rates, steps, cadences) may change on resume.
  The objective counts only when it is not the GAN's, so checkpoints written before objectives existed keep
  their fingerprint."""
  keys = {
      "model": config.model.to_dict(), "g_opt": config.optim.g.get("name", "adam"),
      "d_opt": config.optim.d.get("name", "adam"), "ema": float(config.get("ema_decay", 0.0)) > 0,
      "pack": int(config.get("pack", 1)), "lr_decay": [int(config.optim[n].get("lr_decay_steps", 0) or 0) > 0
                                                       for n in ("g", "d")]}
  if config.get("objective", "gan") != "gan":
    keys["objective"] = str(config.objective)
  return ckpt_lib.config_fingerprint(keys)


def choose_k(config, backend: str) -> tuple[int, int]:
  """(steps per call, scan unroll), measured per backend (see docs/speed.md): rolled scans everywhere; on XLA:CPU
  conv models take short ones (K = 4 D updates: a picture, a checkpoint or a stage boundary every few steps),
  MLPs 50 steps, GPU/TPU runs 100. (CPU conv models ran fully unrolled calls while a conv's gradients inside a
  rolled scan took a ~30x slower path; with layers.conv2d's canonical gradients the rolled scan runs as fast or
  faster and compiles 1.25-2.9x faster: docs/speed.md.)"""
  k, unroll = int(config.get("steps_per_call", 0)), int(config.get("unroll", 0))
  convolutional = is_convolutional(config.model.name)
  if k <= 0:  # conv on CPU: ~4 D updates per call (slow steps: pictures and checkpoints fall due often), but
    # never one step a call: measured on XLA:CPU, one train step per compiled call ran ~10x slower a step than
    # two or more (scripts/benchmark.py, one pinned thread: wgan_mnist, n_critic 5, 3.3 s vs 0.29 s at K = 2;
    # mnist_fast 1.1 s vs 0.094 s at K = 4)
    k = (max(2, 4 // int(config.get("n_critic", 1))) if convolutional else 50) if backend == "cpu" else 100
  if unroll <= 0:
    unroll = 1
  return k, min(unroll, k)


def load_config(path: str) -> ml_collections.ConfigDict:
  with open(path) as f:
    return ml_collections.ConfigDict(json.load(f))


class Trainer:
  """A training run in `workdir`: resumes from the latest checkpoint there when one exists."""

  def __init__(self, config, workdir: str, devices=None, progress: Optional[bool] = None, quiet: bool = False):
    validate(config)
    self.config, self.workdir, self.quiet = config, workdir, quiet
    # Multi-host (jax.distributed): every process runs the same program on the global mesh and takes part in
    # checkpoints; only process 0 writes the workdir's host-side files (config, metrics, samples) and prints.
    self.primary = jax.process_index() == 0
    self.mesh = make_mesh(devices)
    self.gan = objective_lib.build(config, "data")
    for stage in range(self.gan.num_stages):  # every stage's batch, before any training
      batch = self.gan.batch_size(stage, config.batch_size)
      try:
        check_batch(batch, self.mesh)
        self.gan.for_stage(stage).check_batch(batch, self.mesh.size)
      except ValueError as e:
        raise ConfigError(f"stage {stage}: {e}" if self.gan.stage_batches else str(e)) from None
    self.data = data_lib.load(config.data)
    data_lib.check_shape(self.data, self.gan.image_shape)
    data_lib.check_labels(self.data, self.gan.num_classes)
    data_lib.check_streams(self.data, self.gan)
    if int(config.data.get("clusters", 0) or 0):  # cluster-conditioned: sample labels as the clusters occur
      counts = np.bincount(self.data.labels, minlength=self.gan.num_classes)
      self.gan = self.gan.with_label_prior(counts)
    self.backend = jax.default_backend()
    self.k, self.unroll = choose_k(config, self.backend)
    self.checkpoint_every = self._multiple_of_k(config.get("checkpoint_every", 1000))
    self.sample_every = self._multiple_of_k(config.get("sample_every", 1000))
    # one early grid (a first picture within seconds of the start), at the first call ending at or after it
    self.first_sample = self._multiple_of_k(config.first_sample) if config.get("first_sample", 0) else 0
    self.ckpt = ckpt_lib.Checkpointer(workdir, keep=int(config.get("keep_checkpoints", 3)))
    self.fingerprint = fingerprint(config)
    self.state, self.start_step = self._init_or_restore()
    self.stage = int(jax.device_get(self.state.stage))
    self.resident = self.data.images is not None and self.data.nbytes <= data_lib.RESIDENT_MAX_BYTES
    self.progress = progress
    self.eval_metrics = tuple(config.get("eval", {}).get("metrics", ()) or ())
    self.eval_every = self._multiple_of_k(config.eval.get("every", 1000)) if self.eval_metrics else 0
    self.best_key = config.eval.get("best", "") if self.eval_metrics else ""
    # keep=None: the best step may be lower than the one it replaces (after a resume), so no step-order retention;
    # `evaluate` saves the new best first and only then deletes the old one.
    self.best_ckpt = ckpt_lib.Checkpointer(os.path.join(workdir, "best"), keep=None) if self.best_key else None
    if self.eval_metrics:
      from jaxgan.metrics import METRICS
      unknown = [m for m in self.eval_metrics if m not in METRICS]
      if unknown:
        raise ConfigError(f"config.eval.metrics: unknown metric {unknown[0]!r}; known: {', '.join(sorted(METRICS))}")
    self._fns = {}
    self._stop_signal = None

  # -- setup ---------------------------------------------------------------------------------------------------

  def _multiple_of_k(self, n: int) -> int:
    return max(self.k, int(np.ceil(int(n) / self.k)) * self.k)

  def _init_or_restore(self):
    template = replicate(self.gan.init_state(int(self.config.seed)), self.mesh)
    latest = self.ckpt.latest_step()
    if latest is None:
      return template, 0
    state, _ = self.ckpt.restore_state(template, latest, fingerprint=self.fingerprint)
    return state, int(latest)

  def _fn(self, k: int, stage: int, step: int = 0):
    """The compiled K-step program of a stage (one per stage and K; objective.py). Objectives with lazy phases,
    fully unrolled (conv models on XLA:CPU): one per schedule of lazy phases the call's first step gives
    (loop.call_start, loop.schedule), so no lazy phase is computed on a step where it does not run."""
    gan = self.gan.for_stage(stage)
    start = call_start(gan, step, self.k, self.unroll)
    key = (k, stage, schedule(gan, k, start))
    if key not in self._fns:
      self._fns[key] = make_train_fn(gan, self.mesh, self.batch_at(stage), k, min(self.unroll, k),
                                     resident=self.resident, start=start)
    return self._fns[key]

  def batch_at(self, stage: int) -> int:
    """The global batch size of `stage` (the objective's per-stage batches, else config.batch_size)."""
    return self.gan.batch_size(stage, self.config.batch_size)

  def _log(self, msg: str) -> None:
    if not self.quiet and self.primary:
      print(msg, flush=True)

  # -- outputs -------------------------------------------------------------------------------------------------

  def _meta(self):
    meta = {"fingerprint": self.fingerprint, "config": self.config.to_dict(), "jaxgan_version": jaxgan.__version__,
            "state_format": STATE_FORMAT}
    if self.gan.label_prior is not None:
      meta["label_prior"] = list(self.gan.label_prior)
    return meta

  def write_config(self) -> None:
    if not self.primary:
      return
    path = os.path.join(self.workdir, CONFIG_FILE)
    resolved = self.config.to_dict()
    resolved["resolved"] = {"steps_per_call": self.k, "unroll": self.unroll, "backend": self.backend,
                            "devices": self.mesh.size, "resident_data": self.resident}
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
      json.dump(resolved, f, indent=2, sort_keys=True, default=list)
    os.replace(tmp, path)

  def _grid(self):
    """(n, columns) of the sample grids: 8×8, or for conditional GANs up to 10 classes as columns (one class per
    column), 2-D points: a scatter of 1,000 samples says more than 64."""
    if len(self.gan.image_shape) == 1:
      return 1000, None
    c = self.gan.num_classes
    if 0 < c <= 10:
      return c * 8, c
    return NUM_GRID, None

  def fixed_latents(self):
    return self.gan.sample_latents(jax.random.key(int(self.config.seed) + 10_000), self._grid()[0])

  def write_samples(self, step: int, writer=None) -> None:
    """Sample grids (G and EMA G) as samples/*.png and, with a `writer`, as TensorBoard images samples/g and
    samples/ema_g at `step`; 2-D point models log their scatter plot PNG."""
    os.makedirs(os.path.join(self.workdir, "samples"), exist_ok=True)
    if hasattr(self.gan, "sample_grid"):  # an objective that draws its own grid (pix2pix: input | output | target)
      x, columns = self.gan.for_stage(self.stage).sample_grid(self.state, self.data)
      if self.primary:
        grid = log_lib.save_image_grid(x, os.path.join(self.workdir, "samples", f"step_{step:07d}.png"), nrow=columns)
        if writer is not None:
          writer.write_image(step, "samples/g", grid)
        log_lib.plot_losses(os.path.join(self.workdir, log_lib.METRICS_FILE), os.path.join(self.workdir, "losses.png"))
      return
    n, columns = self._grid()
    z = self.fixed_latents()
    labels = self.gan.sample_labels(n, jax.random.key(int(self.config.seed) + 10_001))
    gan = self.gan.for_stage(self.stage)
    if f"generate_{self.stage}" not in self._fns:  # compiled once per run (and stage), not at every sample grid
      self._fns[f"generate_{self.stage}"] = jax.jit(gan.generate)
    gen = functools.partial(self._fns[f"generate_{self.stage}"], **gan.sample_kwargs(self.state))
    for tag, params in (("", self.state.params("g")), ("ema_", self.state.ema.get("g"))):
      if params is None:
        continue
      g_vars = self.state.vars("g")
      if tag:  # the EMA generator with BatchNorm statistics of its own weights
        if "standing" not in self._fns:
          self._fns["standing"] = sampling.standing_fn(self.gan, self.config)
        g_vars = self._fns["standing"](params, g_vars)
      x = np.asarray(gen(params, g_vars, z, labels))  # every process computes (SPMD) ...
      if not self.primary:  # ... one writes
        continue
      path = os.path.join(self.workdir, "samples", f"{tag}step_{step:07d}.png")
      if x.ndim == 2:
        log_lib.save_points_plot(x, path, title=f"{tag}step {step}")
        grid = log_lib.read_png(path) if writer is not None else None
      else:
        drawn = x.shape[1]
        x = sampling.full_size(x, self.gan.image_shape)  # a growing GAN's early stages, shown at the final size
        grid = log_lib.save_image_grid(x, path, nrow=columns, caption=gan.sample_note(self.state))
        if self.gan.num_stages > 1 and (tag or "g" not in self.state.ema):
          self._stage_figure(x, drawn)
      if writer is not None:
        writer.write_image(step, f"samples/{tag}g", grid)
    if self.primary:
      log_lib.plot_losses(os.path.join(self.workdir, log_lib.METRICS_FILE),
                          os.path.join(self.workdir, "losses.png"))

  def _stage_figure(self, x, drawn: int) -> None:
    """samples/stages.png: the first 8 fixed latents (one per row) as each stage last drew them (at `drawn` px,
    shown enlarged as `x`), stage by stage left to right; the images behind it stay in samples/stages.npz, keyed
    stage_<s>_<drawn>px, so a resumed run adds to the same figure."""
    path = os.path.join(self.workdir, "samples", "stages.npz")
    stages = {}
    if os.path.exists(path):
      try:
        with np.load(path, allow_pickle=False) as f:
          stages = {k: f[k] for k in f.files}
      except (OSError, ValueError):  # a figure is not worth stopping a run for
        stages = {}
    stages = {k: v for k, v in stages.items() if not k.startswith(f"stage_{self.stage}_")}
    stages[f"stage_{self.stage}_{drawn}px"] = log_lib.images_to_uint8(x[:8])
    tmp = path + ".tmp.npz"
    np.savez(tmp, **stages)
    os.replace(tmp, path)
    keys = sorted(stages, key=lambda k: int(k.split("_")[1]))
    if any(stages[k].shape != stages[keys[0]].shape for k in keys):
      return
    cols = np.stack([stages[k] for k in keys], axis=1)  # [8, stages, H, W, C]: row = latent, column = stage
    log_lib.save_image_grid(cols.reshape((-1,) + cols.shape[2:]), os.path.join(self.workdir, "samples", "stages.png"),
                            nrow=len(keys), caption=" > ".join(k.split("_")[2] for k in keys))

  def evaluate(self, step: int, writer) -> dict:
    """The configured metrics on `eval.num` samples (EMA generator when present), logged as eval/<metric>/<key>;
    keeps the best checkpoint by `eval.best` ("metric/key", lower is better unless prefixed by "max:")."""
    from jaxgan import metrics as metrics_lib
    from jaxgan.sampling import Run, generate
    run = Run(self.config, self.gan.for_stage(self.stage), jax.device_get(self.state), step)
    x = sampling.full_size(generate(run, int(self.config.eval.get("num", 1000)), seed=0), self.gan.image_shape)
    kw = {"points": x} if x.ndim == 2 else {"images": x}
    scalars = {}
    for name in self.eval_metrics:
      extra = {"dataset": self.config.eval.dataset} if "dataset" in self.config.eval else {}
      for key, value in metrics_lib.evaluate(name, **kw, **extra).items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
          scalars[f"eval/{name}/{key}"] = float(value)
    writer.write(step, scalars)
    if self.best_key:
      maximize = self.best_key.startswith("max:")
      key = "eval/" + self.best_key.removeprefix("max:")
      if key not in scalars:
        raise ConfigError(f"config.eval.best={self.best_key!r} is not among the eval results {sorted(scalars)}")
      value = scalars[key] * (-1 if maximize else 1)
      old_steps = self.best_ckpt.all_steps()
      values = [self.best_ckpt.read_meta(s).get("best_value") for s in old_steps]
      values = [v for v in values if v is not None]
      if not values or value < min(values):
        # Save first, then drop the old best: a kill in between leaves two bests, never none. Re-scored at a step
        # already kept, the new one is saved under a staging name and swapped in (replace), never deleted first.
        self.best_ckpt.replace(step, self.state, {**self._meta(), "best_value": value, "best_key": self.best_key})
        self.best_ckpt.delete([s for s in old_steps if s != step])
    return scalars

  def save(self, step: int) -> None:
    self.ckpt.save(step, self.state, self._meta())

  # -- the loop ------------------------------------------------------------------------------------------------

  def _handle_signal(self, signum, frame):
    self._stop_signal = signum

  def runner(self, outputs: bool = True) -> "Runner":
    """The training loop of this run as a `Runner` (one compiled call per `advance()`); see `train`."""
    return Runner(self, outputs=outputs)

  def train(self) -> dict:
    """Trains to `config.steps`; returns a summary. SIGTERM/SIGINT: save a checkpoint, then return cleanly.
    Signal handlers can only be installed from the main thread: other threads drive a `Runner` themselves."""
    total = int(self.config.steps)
    step = self.start_step
    os.makedirs(self.workdir, exist_ok=True)
    self.write_config()
    if step >= total:
      self._log(f"workdir {self.workdir} already holds step {step} >= steps={total}; nothing to train "
                f"(raise --config.steps to continue)")
      return {"step": step, "stopped": "done"}
    if step:
      self._log(f"resuming from step {step} in {self.workdir}")
    runner = self.runner()
    old = {s: signal.signal(s, self._handle_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
      while not runner.done:
        runner.advance()
        if self._stop_signal is not None and runner.stopped is None:
          name = signal.Signals(self._stop_signal).name
          self.save(runner.step)
          self._log(f"\n{name}: checkpoint saved at step {runner.step}; rerun the same command to resume")
          runner.stopped = name
    finally:
      for s, h in old.items():
        signal.signal(s, h)
      runner.close()
    return runner.result()


class Runner:
  """A Trainer's loop, one compiled K-step call at a time: `advance()` runs the next call (the objective's
  compiled program from `jaxgan.loop.make_train_fn`) and, with `outputs`, writes what falls due at its end
  (metrics, sample grids, evaluations, checkpoints at their cadences). `Trainer.train` drives it to
  `config.steps` and owns the signal handling; the playground (jaxgan/playground) steps it from a background
  thread, pauses by not calling it, and resets it. `advance`, `reset` and `close` hold `lock`, so any thread may
  call them; the Trainer's state is only replaced under it.

  `outputs=False` writes nothing (no workdir files, no progress bar) and never stops at `config.steps`."""

  def __init__(self, trainer: Trainer, outputs: bool = True, start: Optional[int] = None):
    t = self.trainer = trainer
    self.lock = threading.RLock()
    self.outputs = outputs
    self.total = int(t.config.steps) if outputs else None
    self.step = t.start_step if start is None else int(start)
    self.stopped: Optional[str] = None  # None while training; "done", "nonfinite" or a signal's name after
    self.summary: dict = {}
    self.nonfinite = ""  # the metric that stopped the run ("gradient" for a gradient), "" while all is well
    self.writer = (log_lib.MetricWriter(t.workdir, resume_step=self.step) if outputs and t.primary
                   else log_lib.NullWriter())
    self.data_arg, self.stream = None, None
    if t.resident:
      self.data_arg = jax.device_put(t.data.resident(t.gan.streams), replicated(t.mesh))
    else:
      self._sharding = jax.sharding.NamedSharding(t.mesh, jax.sharding.PartitionSpec(
          *((None, None) if t.gan.batch_repeats > 1 else (None,)), "data"))
      self.stream = self._open_stream(self.step)
    # progress None: the bar decides from its stream (a terminal or notebook draws it, a log file gets plain lines).
    disable = True if not (t.primary and outputs) else None if t.progress is None else not t.progress
    self._devnull = open(os.devnull, "w") if t.quiet or not outputs else None
    self.bar = log_lib.ProgressBar(self.total or 0, self.step, batch_size=t.batch_at(t.gan.stage_at(self.step)),
                                   disable=disable, file=self._devnull)
    self._last = time.perf_counter()

  def _open_stream(self, start: int):
    """Batches of the stage `start` is in, from step `start`."""
    t = self.trainer
    self._stream_batch = t.batch_at(t.gan.stage_at(start))
    return data_lib.stream(t.data, self._stream_batch, t.gan.batch_repeats, t.k, int(t.config.seed), start,
                           put=lambda x: jax.device_put(x, self._sharding), streams=t.gan.streams)

  @property
  def done(self) -> bool:
    return self.stopped is not None or (self.total is not None and self.step >= self.total)

  def result(self) -> dict:
    return {"step": self.step, "stopped": self.stopped or "done", **self.summary}

  def advance(self) -> Optional[dict]:
    """Runs the next compiled call; returns its metrics ({name: numpy [k]}), or None when the run is done or the
    call's losses were non-finite (`stopped` is then "nonfinite" and the state is the one before the call)."""
    with self.lock:
      if self.done:
        return None
      t, step, total = self.trainer, self.step, self.total
      stage = t.gan.stage_at(step)
      if stage != t.stage:  # once per boundary, also when a resumed run starts exactly at one
        t.state = replicate(t.gan.enter_stage(t.state, stage), t.mesh)
        t.stage = stage
        self.bar.batch_size = t.batch_at(stage)
        if self.stream is not None and self._stream_batch != self.bar.batch_size:  # this stage's batches
          self.stream.close()
          self.stream = self._open_stream(step)
      boundary = t.gan.next_boundary(step)
      k = min(t.k, (total - step) if total is not None else t.k, (boundary - step) if boundary is not None else t.k)
      if self.stream is not None and k != t.k:  # the stream yields K-step chunks: take a prefix, then reopen
        chunk = jax.tree.map(lambda a: a[:k], next(self.stream))  # it at step + k (data are a function of the
        self.stream.close()  # step and the stage's batch size)
        self.stream = self._open_stream(step + k)
      else:
        chunk = next(self.stream) if self.stream is not None else self.data_arg
      new_state, metrics = t._fn(k, stage, step)(t.state, chunk)
      metrics = jax.device_get(metrics)
      bad = _nonfinite(metrics, t.gan.skip_nonfinite or t.gan.sanitize_grads)
      if bad:
        self.stopped = "nonfinite"
        t._log(f"error: non-finite {bad} between steps {step + 1} and {step + k}; stopped without saving. "
               f"The last good checkpoint (step {t.ckpt.latest_step()}) is intact; lower the learning "
               f"rates or set --config.nonfinite=skip")
        self.nonfinite = bad
        return None
      t.state = new_state
      now = time.perf_counter()
      step_time = (now - self._last) / k
      self._last = now
      metrics["img_per_sec"] = np.full(k, t.batch_at(stage) / step_time)
      metrics["step_time"] = np.full(k, step_time)
      self.writer.write_many(list(range(step + 1, step + k + 1)), metrics)
      self.step = step = step + k
      self.summary = {m: float(v[-1]) for m, v in metrics.items()}
      self.bar.update(k, **{label: self.summary[key] for key, label in _SHOWN if key in self.summary})
      if self.outputs:
        if step % t.sample_every == 0 or step in (total, t.first_sample, boundary):  # and every stage's end
          t.write_samples(step, self.writer)
        if t.eval_every and (step % t.eval_every == 0 or step == total):
          t.evaluate(step, self.writer)
        if step % t.checkpoint_every == 0 or step == total:
          t.save(step)
      return metrics

  def reset(self, seed: int) -> None:
    """A fresh state from `seed` at step 0, as a new run would start (the workdir is not touched)."""
    with self.lock:
      t = self.trainer
      t.state = replicate(t.gan.init_state(int(seed)), t.mesh)
      t.stage = int(jax.device_get(t.state.stage))
      self.step, self.stopped, self.summary, self.nonfinite = 0, None, {}, ""
      if self.stream is not None:
        self.stream.close()
        self.stream = self._open_stream(0)
      self._last = time.perf_counter()

  def close(self) -> None:
    with self.lock:
      if self.stream is not None:
        self.stream.close()
        self.stream = None
      self.bar.close()
      if self._devnull is not None:
        self._devnull.close()
      self.writer.close()
      self.trainer.ckpt.wait()


_SHOWN = (("d_loss", "d_loss"), ("g_loss", "g_loss"), ("d_real", "D(x)"), ("d_fake", "D(G(z))"), ("alpha", "α"))



def _nonfinite(metrics, skipping: bool) -> str:
  """Names the first non-finite loss (a metric named *_loss), '' when all is well. With skipping (or sanitizing)
  on, flagged updates are expected and fine."""
  for key in sorted(k for k in metrics if k.endswith("_loss")):
    if not np.all(np.isfinite(metrics[key])) and not skipping:
      return key
  if not skipping and np.any(metrics["nonfinite"] > 0):
    return "gradient"
  return ""

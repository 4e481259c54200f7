"""Load a trained run from its workdir and draw samples from its generator (or the EMA generator)."""
import functools
import os
from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgan import checkpoint as ckpt_lib
from jaxgan import objective as objective_lib
from jaxgan.gan import GAN
from jaxgan.logging import images_to_uint8


class Run(NamedTuple):
  config: ml_collections.ConfigDict
  gan: GAN
  state: object
  step: int


def load_run(workdir: str, step: Optional[int] = None) -> Run:
  """The run's latest (or given) checkpoint on the default device. Clear errors for an empty or bad workdir."""
  if not os.path.isdir(workdir):
    raise FileNotFoundError(f"workdir {workdir} does not exist")
  ckpt = ckpt_lib.Checkpointer(workdir, read_only=True)
  if ckpt.latest_step() is None:
    raise FileNotFoundError(f"no checkpoint in {workdir}; train first: python scripts/train.py --workdir={workdir}")
  step = ckpt.latest_step() if step is None else int(step)
  meta = ckpt.read_meta(step)
  config = ml_collections.ConfigDict(meta["config"])
  gan = objective_lib.build(config)
  if meta.get("label_prior") is not None:  # a cluster-conditioned run: its clusters' sizes
    gan = gan.with_label_prior(meta["label_prior"])
  state, _ = ckpt.restore_state(gan.init_state(int(config.seed)), step)
  return Run(config, gan.for_stage(int(state.stage)), state, step)  # a staged run samples in its stage


def standing_fn(gan: GAN, config, batches: Optional[int] = None):
  """A jitted (ema_params, g_vars) -> g_vars giving the EMA generator BatchNorm statistics of its own weights
  (`GAN.standing_stats`) from `batches` batches of 256 (None: `config.standing_stats`, default 32). The latents
  come from a key fixed by the config's seed, so the EMA generator is one network whatever the sampling seed."""
  n = int(config.get("standing_stats", 32)) if batches is None else int(batches)
  if n < 0:
    raise ValueError(f"standing_stats must be >= 0, got {n}")
  key = jax.random.key(int(config.get("seed", 0)) + 20_000)
  return jax.jit(lambda params, g_vars: gan.standing_stats(params, g_vars, key, batches=n))


def generator_variables(run: Run, ema: Optional[bool] = None, standing_stats: Optional[int] = None):
  """(params, variables) of the run's generator: the EMA generator when `ema` (None: when the run has one), with
  BatchNorm statistics of its own weights (`standing_fn`), else the raw G."""
  state = run.state
  if ema is None:
    ema = "g" in state.ema
  if ema and "g" not in state.ema:
    raise ValueError("this run has no EMA generator (trained with ema_decay=0); use --ema=false")
  params = state.ema["g"] if ema else state.params("g")
  g_vars = state.vars("g")
  if ema and "batch_stats" in g_vars:  # only BatchNorm statistics need recomputing (no compile otherwise)
    g_vars = standing_fn(run.gan, run.config, standing_stats)(params, g_vars)
  return params, g_vars


def check_truncation(run: Run, truncation: float) -> float:
  """ψ as a float; a clear error for a run whose G cannot truncate (only StyleGAN2 tracks the mean w)."""
  truncation = float(truncation)
  if truncation != 1.0 and not run.gan.truncatable:
    raise ValueError(f"--truncation needs a StyleGAN2 run (its G tracks the mean w that ψ pulls towards); this run's "
                     f"model is {run.config.model.name!r}")
  return truncation


def generate(run: Run, num: int, seed: int = 0, ema: Optional[bool] = None, batch: int = 500,
             label: Optional[int] = None, standing_stats: Optional[int] = None,
             truncation: float = 1.0) -> np.ndarray:
  """`num` samples from fixed latents of `seed`: uint8 [N, H, W, C] images, or float32 [N, D] points for 2-D
  models. `ema=None` uses the EMA generator when the run has one. Class-conditional runs draw every class equally
  often (sample i has class i mod C), or only class `label`; cluster-conditioned runs draw clusters in
  proportion to their sizes in the data. The EMA generator of a G with BatchNorm samples with
  statistics recomputed for its weights from `standing_stats` batches of 256 (None: the run's config, default 32;
  0: G's running statistics). `truncation` ψ < 1 pulls a StyleGAN2's w towards its mean (fidelity for variety)."""
  if num <= 0:
    raise ValueError(f"--num must be positive, got {num}")
  truncation = check_truncation(run, truncation)
  labels = run.gan.sample_labels(num, jax.random.fold_in(jax.random.key(seed), 1), label)
  params, g_vars = generator_variables(run, ema, standing_stats)
  kw = dict(run.gan.sample_kwargs(run.state), **({"psi": truncation} if truncation != 1.0 else {}))
  gen = functools.partial(jax.jit(run.gan.generate), **kw)
  z = run.gan.sample_latents(jax.random.key(seed), num)
  out = []
  pad = lambda a: jnp.concatenate([a, jnp.zeros((batch - a.shape[0],) + a.shape[1:], a.dtype)])
  for i in range(0, num, batch):
    zb = z[i:i + batch]
    yb = None if labels is None else labels[i:i + batch]
    if zb.shape[0] < batch and num > batch:  # pad the last batch: one compiled shape
      zb, yb = pad(zb), (None if yb is None else pad(yb))
    out.append(np.asarray(gen(params, g_vars, zb, yb)))
  x = np.concatenate(out)[:num]
  return x.astype(np.float32) if x.ndim == 2 else images_to_uint8(x)


def full_size(x, image_shape):
  """Images smaller than `image_shape` (a growing GAN's early stages) up-sampled (nearest) to it, as the grids show
  them and the metrics score them; anything else unchanged."""
  if x.ndim != 4 or len(image_shape) != 3 or x.shape[1] >= image_shape[0] or image_shape[0] % x.shape[1]:
    return x
  f = image_shape[0] // x.shape[1]
  return np.repeat(np.repeat(x, f, axis=1), f, axis=2)

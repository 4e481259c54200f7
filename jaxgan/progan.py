"""The Progressive GAN objective (Karras et al. 2018): the GAN of gan.py trained one resolution at a time.

Stage s trains at 4·2^s pixels (stage 0: 4×4, the last: the target `model.image_shape`). It is one compiled
program: the resolution is static (`for_stage`), the fade-in α is traced, a pure function of the step:

  α(step) = clip((step − start_s) · B_s / fade_s, 0, 1)      (stage 0: α = 1)

so a resumed run computes the same α as an uninterrupted one, and α is also recorded in `state.aux` (with the
images shown in the stage) for sampling and checkpoints. G and D fade their new blocks in by α (models/progan.py),
and the real batch is faded the same way: (1 − α)·up(pool(x)) + α·x at the stage's resolution.

Config (`config.progan`):
  stage_images   images shown in each stage, 4 px first; one entry per resolution up to the target
  fade_images    images of the fade-in at the start of every stage after the first (an int for all, or one per
                 stage with stage 0's ignored); the rest of the stage stabilises at α = 1
  stage_batch    global batch size per stage (the paper uses smaller ones at high resolution); () = batch_size
  reset_optimizer  Adam's moments and step count start afresh at every stage (as the paper's code does:
                 `reset_opt_for_new_lod`); False keeps them. Parameters of every resolution exist from the start,
                 so the state's tree never changes; the moments of a block not yet used stay at zero.

A stage lasts ceil(stage_images / its batch) steps; the run's `steps` may stop earlier (resume later with more)
or run longer (the last stage goes on). The paper's loss is WGAN-GP with the drift term ε·E[D(x)²] (ε = 0.001,
`progan.drift`); any loss of losses.py works (the presets say which they use).
"""
import dataclasses
import math
from typing import Optional, Tuple

import jax
import jax.numpy as jnp

from jaxgan.gan import GAN, build_gan
from jaxgan.models.progan import check_resolution, downsample, fade, num_stages, upsample2x
from jaxgan.objective import Phase, PhaseInput, Term, register, require_model


@dataclasses.dataclass(frozen=True)
class Schedule:
  """Stage starts (steps), global batch sizes and fade lengths (images), one entry per stage."""
  starts: Tuple[int, ...]
  batches: Tuple[int, ...]
  fades: Tuple[int, ...]
  lengths: Tuple[int, ...]   # steps per stage

  def alpha(self, stage: int, step):
    """Stage `stage`'s fade-in α at `step` (traced or not)."""
    if stage == 0 or self.fades[stage] <= 0:
      return jnp.float32(1.0)
    done = (jnp.asarray(step, jnp.int32) - self.starts[stage]).astype(jnp.float32)
    return jnp.clip(done * jnp.float32(self.batches[stage] / self.fades[stage]), 0.0, 1.0)

  def images(self, stage: int, step):
    """Images shown in `stage` before `step`."""
    return (jnp.asarray(step, jnp.int32) - self.starts[stage]) * self.batches[stage]

  @property
  def total_steps(self) -> int:
    return self.starts[-1] + self.lengths[-1]


def _per_stage(value, n: int, key: str) -> Tuple[int, ...]:
  values = tuple(value) if isinstance(value, (tuple, list)) else (value,) * n
  if len(values) != n:
    raise ValueError(f"progan.{key} has {len(values)} entries; this target resolution has {n} stages (4 px first)")
  for v in values:
    if isinstance(v, bool) or not isinstance(v, int):
      raise ValueError(f"progan.{key} must hold integers, got {v!r}")
  return values


def make_schedule(config) -> Schedule:
  """The stages of `config.progan`; one-line ValueErrors for schedules that cannot run."""
  shape = tuple(config.model.image_shape)
  check_resolution(int(shape[0]))
  n = num_stages(int(shape[0]))
  p = config.get("progan", None)
  if p is None:
    raise ValueError("objective 'progan' needs config.progan (stage_images, fade_images); see jaxgan/progan.py")
  images = _per_stage(p.get("stage_images", ()), n, "stage_images")
  if any(i <= 0 for i in images):
    raise ValueError(f"progan.stage_images: every stage must show images (> 0), got {images}")
  fades = _per_stage(p.get("fade_images", 0), n, "fade_images")
  fades = (0,) + fades[1:]
  for s, (f, i) in enumerate(zip(fades, images)):
    if f < 0 or f > i:
      raise ValueError(f"progan.fade_images: stage {s} fades over {f} images but shows {i}; use 0..{i}")
  batches = tuple(p.get("stage_batch", ()) or ())
  batches = _per_stage(batches, n, "stage_batch") if batches else (int(config.batch_size),) * n
  if any(b <= 0 for b in batches):
    raise ValueError(f"progan.stage_batch: batch sizes must be positive, got {batches}")
  lengths = tuple(math.ceil(i / b) for i, b in zip(images, batches))
  starts = tuple(sum(lengths[:s]) for s in range(n))
  return Schedule(starts, batches, fades, lengths)


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class ProGAN(GAN):
  schedule: Schedule
  stage: int = 0                 # the stage this program trains (static)
  reset_optimizer: bool = True

  @property
  def max_stage(self) -> int:
    return len(self.schedule.starts) - 1

  def resolution(self, stage: Optional[int] = None) -> int:
    return 4 * 2 ** (self.stage if stage is None else stage)

  def alpha(self, step):
    return self.schedule.alpha(self.stage, step)

  # -- stages ----------------------------------------------------------------------------------------------------

  def for_stage(self, stage: int) -> "ProGAN":
    return dataclasses.replace(self, stage=int(stage))

  def enter_stage(self, state, stage: int):
    """Records the stage and its first α; resets the players' optimizers when `reset_optimizer`."""
    if self.reset_optimizer:
      for name, player in self.players.items():
        state = state.with_player(name, opt_state=player.tx.init(state.params(name)))
    start = self.schedule.starts[stage]
    aux = {"alpha": self.schedule.alpha(stage, start), "stage_images": jnp.zeros((), jnp.int32)}
    return state.replace(stage=jnp.asarray(stage, jnp.int32), aux=aux)

  def init_aux(self):
    return {"alpha": jnp.float32(1.0), "stage_images": jnp.zeros((), jnp.int32)}

  # -- what the GAN's phases call --------------------------------------------------------------------------------

  def model_kwargs(self, state) -> dict:
    return {"stage": self.stage, "alpha": self.alpha(state.step)}

  def prepare_real(self, real, state):
    """Real images at this stage's resolution, faded like G's output: (1 − α)·up(pool(x)) + α·x."""
    x = downsample(real, real.shape[1] // self.resolution())
    if self.stage == 0:
      return x
    return fade(upsample2x(downsample(x)), x, self.alpha(state.step))

  def example_input(self, player: str):
    """The GAN's example input (with labels when conditional), at the last stage so every resolution's
    parameters are created."""
    args, kw = super().example_input(player)
    return args, {**kw, "stage": self.max_stage, "alpha": 1.0}

  # -- sampling --------------------------------------------------------------------------------------------------

  def generate(self, g_params, g_vars, z, labels=None, train: bool = False, alpha=1.0):
    """G at this stage's resolution with fade-in α (sampling passes the state's, `sample_kwargs`)."""
    return self.g_apply({"params": g_params, **g_vars}, z, labels, train=train, stage=self.stage, alpha=alpha)

  def sample_kwargs(self, state) -> dict:
    return {"alpha": state.aux["alpha"]}

  def sample_note(self, state) -> str:
    r = self.resolution()
    return f"stage {self.stage}  {r}x{r} px  alpha {float(jax.device_get(state.aux['alpha'])):.2f}"  # ASCII:
    # Pillow's built-in bitmap font has no glyphs for ×, α or ·


def drift(inp, out):
  """The paper's drift term E[D(x)²] on real logits: keeps a WGAN critic's output from wandering off."""
  value = jnp.mean(jnp.square(out["real"]["logits"].astype(jnp.float32)))
  return value, {"d_drift": value}


def _schedule_metrics(inp: PhaseInput, out):
  """α, the stage and the stage's progress (a fraction of its scheduled images), logged with the losses."""
  obj, step = inp.obj, inp.state.step
  s = obj.schedule
  progress = (step - s.starts[obj.stage] + 1).astype(jnp.float32) / s.lengths[obj.stage]
  return jnp.zeros((), jnp.float32), {"alpha": obj.alpha(step), "stage": jnp.float32(obj.stage),
                                      "stage_progress": progress}


def _record(inp: PhaseInput, state):
  """After G's update: the α this step trained with and the images shown in the stage so far."""
  obj, step = inp.obj, inp.state.step
  aux = {"alpha": obj.alpha(step), "stage_images": obj.schedule.images(obj.stage, step + 1).astype(jnp.int32)}
  return state.replace(aux=aux)


@register("progan")
def build_progan(config, axis_name: Optional[str] = None) -> ProGAN:
  """The GAN `config` describes, trained progressively (`config.progan`); `model.name` must be "progan"."""
  require_model(config, "progan", "progan", verb="grows")
  schedule = make_schedule(config)
  gan = build_gan(config, axis_name)
  if gan.pack > 1 or gan.view.augment:
    raise ValueError("progan: PacGAN packing and DiffAugment are not supported with growing resolutions")
  p = config.progan
  eps = float(p.get("drift", 0.0))
  if eps < 0:
    raise ValueError(f"progan.drift must be >= 0, got {eps}")
  d_phase, g_phase = gan.phases
  d_terms = d_phase.terms + ((Term("drift", drift, eps),) if eps > 0 else ())
  g_terms = g_phase.terms + (Term("schedule", _schedule_metrics, 0.0),)
  phases = (d_phase._replace(terms=d_terms), g_phase._replace(terms=g_terms, after=g_phase.after + (_record,)))
  fields = {f.name: getattr(gan, f.name) for f in dataclasses.fields(gan)}
  fields.update(phases=phases, stage_starts=schedule.starts[1:],
                stage_batches=schedule.batches if p.get("stage_batch", ()) else ())
  return ProGAN(**fields, schedule=schedule, reset_optimizer=bool(p.get("reset_optimizer", True)))

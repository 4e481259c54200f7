"""The GAN objective: players `g` and `d`, a D phase (repeated `n_critic` times) and a G phase, built from a config.

Everything a config turns on is a loss term, a view of D's input, a player option or model code:
  loss.name                           the adversarial terms (losses.py): minimax | non_saturating | hinge |
                                      wasserstein | least_squares
  penalty = ConfigDict(name, weight, interval)  a gradient penalty term on D: none | gp | dragan | r1 | r2; lazy
                                      every `interval` D updates with weight × interval (regularizers.py)
  optim.d.clip = c                    WGAN weight clipping of D's params into [−c, c] after every update (an `after`
                                      function of the D phase; `optim.g.clip` likewise); pair with optim name
                                      "rmsprop" as in the paper
  optim.*.name = "optimistic_adam"    optimistic Adam (Daskalakis et al.); keys lr, b1, b2, eps, alpha, beta
  optim.*.lr_decay_steps = T          cosine decay of the rate to `lr_final_ratio`·lr (default 0) over T updates
  sanitize_grads = True               non-finite gradient entries → 0 before the update; the `nonfinite` metric
                                      still reports the step
  ema_decay = β, ema_rampup = r       EMA of G (an `after` function of the G phase) with β_t = 0.5^(B / max(min(h,
                                      t·B·r), 1e-8)), h = B·ln½/ln β the half-life in images, t the G step, B the
                                      global batch (StyleGAN2-ADA's ramp; r = 0: constant β)
  augment = "translation,cutout,color"  DiffAugment in D's view, in D and G phases and inside penalties
  pack = m                            PacGAN in D's view: D judges m samples concatenated along channels; the global
                                      batch must divide by m × devices
  model.mbstd, model.mbdisc           minibatch-stddev / minibatch discrimination: model code (models/ops.py)

Class-conditional GANs: `model.num_classes = C` (> 0) makes G(z, y) and D(x, y) take int labels y ∈ [0, C) from the
batch's `labels` stream. Fakes in the D and G phases use the labels of the real batch (so the class mix matches
the data and a penalty's real/fake interpolates share a label); sampling uses balanced labels (i mod C) or a chosen
class. Cluster-conditioned GANs (`data.clusters = K` with `model.num_classes = K`, jaxgan/data/clusters.py) train
on k-means cluster labels and sample labels in proportion to the clusters' sizes (`label_prior`).
`model.cond_d` picks how D uses y: "projection" (Miyato & Koyama 2018; D returns logits [B]) or "acgan" (Odena et
al. 2017; D returns [B, 1 + C]: the real/fake logit, then class logits; both phases add the `classify` terms with
weight `aux_weight`).

InfoGAN codes (Chen et al. 2016) in an unconditional GAN: `model.info_codes = (K1, K2, …)` appends one-hot
categorical codes, each uniform over its Kᵢ values, to G's Gaussian latent (z has latent_dim + ΣKᵢ entries), and
gives D a second head Q that predicts every code of every sample it sees (per pack member under PacGAN). Both
phases add the `info` term with weight `info_weight` (terms.py). Q is a head on D's last features, or with
`model.info_per_channel = True` a separate small conv net that reads code c from image channel c alone (one code
per channel, all of one size). Models with the head: `dcgan`.
"""
import dataclasses
from typing import Optional, Tuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from jax import lax

from jaxgan import augment as augment_lib
from jaxgan import losses, parallel, regularizers, terms
from jaxgan.models import get_model
from jaxgan.models.ops import mbdisc_config, pack as pack_samples, packed_shape
from jaxgan.objective import Objective, Phase, PhaseInput, Player, Term, lazy_cond_default, register


@dataclasses.dataclass(frozen=True)
class Latents:
  """G's input: N(0, I) of `dim`, then one uniform one-hot block per InfoGAN code size in `codes`."""
  dim: int
  codes: Tuple[int, ...] = ()

  @property
  def width(self) -> int:
    return self.dim + sum(self.codes)

  def sample(self, key, n: int):
    if not self.codes:
      return jax.random.normal(key, (n, self.dim), jnp.float32)
    k_z, k_c = jax.random.split(key)
    z = [jax.random.normal(k_z, (n, self.dim), jnp.float32)]
    for i, k in enumerate(self.codes):
      c = jax.random.randint(jax.random.fold_in(k_c, i), (n,), 0, k)
      z.append(jax.nn.one_hot(c, k, dtype=jnp.float32))
    return jnp.concatenate(z, axis=-1)

  def codes_of(self, z):
    """The InfoGAN codes held in latents z: int32 [B, number of codes]."""
    segs, start = [], self.dim
    for k in self.codes:
      segs.append(jnp.argmax(z[:, start:start + k], axis=-1))
      start += k
    return jnp.stack(segs, axis=-1).astype(jnp.int32)


@dataclasses.dataclass(frozen=True)
class DView:
  """What D sees of a batch: DiffAugment (random draws for the global batch), then PacGAN packing."""
  augment: Tuple[str, ...] = ()
  pack: int = 1

  def __call__(self, x, key, axis_name=None):
    if self.augment:
      x = augment_lib.diff_augment(key, x, self.augment, axis_name)
    return pack_samples(x, self.pack)


@dataclasses.dataclass(frozen=True)
class Ema:
  """An exponential moving average of a player's params (`player`, default G), updated after every update of its
  phase: decay β, or with `rampup` r > 0 StyleGAN2-ADA's ramped half-life β_t = 0.5^(B / max(min(h, t·B·r),
  1e-8)), h = B·ln½ / ln β images. The objective lists the player in `ema_players`, which starts the average at
  the player's initial params."""
  decay: float
  rampup: float = 0.0
  player: str = "g"

  def beta(self, step, global_batch: int):
    if self.rampup <= 0:
      return jnp.float32(self.decay)
    b = float(global_batch)
    half_life = b * jnp.log(0.5) / jnp.log(jnp.float32(self.decay))
    ramped = jnp.minimum(half_life, step.astype(jnp.float32) * b * self.rampup)
    return jnp.power(0.5, b / jnp.maximum(ramped, 1e-8)).astype(jnp.float32)

  def __call__(self, inp: PhaseInput, state):
    """The phase's `after` function: ema ← β·ema + (1 − β)·params of the player."""
    beta = self.beta(state.step, inp.batch["real"].shape[0] * parallel.n_devices(inp.obj.axis_name))
    ema = optax.incremental_update(state.players[self.player].params, state.ema[self.player], step_size=1.0 - beta)
    return state.replace(ema={**state.ema, self.player: ema})


@dataclasses.dataclass(frozen=True)
class Clip:
  """WGAN's weight clipping, as an `after` function of a player's phase: every parameter entry into [−c, c]."""
  player: str
  c: float

  def __call__(self, inp: PhaseInput, state):
    params = jax.tree.map(lambda p: jnp.clip(p, -self.c, self.c), state.players[self.player].params)
    return state.with_player(self.player, params=params)


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class GAN(Objective):
  loss: losses.GANLoss
  latents: Latents
  image_shape: Tuple[int, ...]
  view: DView = DView()
  d_heads: Tuple[Tuple[str, int], ...] = ()   # D's outputs after its logit: (name, width), e.g. ("classes", C)
  num_classes: int = 0
  label_prior: Optional[Tuple[int, ...]] = None  # cluster-conditioned GANs: the clusters' sizes (sampling ∝ them)

  @property
  def generator(self) -> nn.Module:
    return self.players["g"].module

  @property
  def discriminator(self) -> nn.Module:
    return self.players["d"].module

  @property
  def n_critic(self) -> int:
    return self.batch_repeats

  @property
  def latent_dim(self) -> int:
    return self.latents.dim

  @property
  def z_dim(self) -> int:
    """The width of G's input: the Gaussian latent, then the one-hot InfoGAN codes."""
    return self.latents.width

  @property
  def conditional(self) -> bool:
    return self.num_classes > 0

  @property
  def pack(self) -> int:
    return self.view.pack

  @property
  def use_ema(self) -> bool:
    return "g" in self.ema_players

  def _cond(self, labels):
    """The labels keyword for the modules: {} for an unconditional GAN (its modules take no labels)."""
    if not self.conditional:
      return {}
    if labels is None:
      raise ValueError(f"this GAN is class-conditional (num_classes={self.num_classes}); pass labels")
    return {"labels": labels}

  def g_apply(self, variables, z, labels=None, **kw):
    return self.generator.apply(variables, z, **self._cond(labels), **kw)

  def d_apply(self, variables, x, labels=None, **kw):
    """D's raw output: logits [B], or [B, 1 + Σ head widths] when D has heads (`d_heads`)."""
    return self.discriminator.apply(variables, x, **self._cond(labels), **kw)

  def d_outputs(self, out) -> dict:
    """D's raw output as {"logits": [B], head name: [B, width], ...}."""
    if not self.d_heads:
      return {"logits": out}
    outputs, start = {"logits": out[:, 0]}, 1
    for name, width in self.d_heads:
      outputs[name] = out[:, start:start + width]
      start += width
    return outputs

  def example_input(self, player: str):
    y = self.balanced_labels(2)
    if player == "g":
      return (jnp.zeros((2, self.z_dim), jnp.float32),), self._cond(y)
    return (jnp.zeros((2,) + self.d_input_shape, jnp.float32),), self._cond(y)

  # -- hooks for families that subclass GAN (progan.py) -----------------------------------------------------------

  def model_kwargs(self, state) -> dict:
    """Extra keyword arguments G and D take in the phases (e.g. a growing GAN's stage and traced fade-in α)."""
    return {}

  def prepare_real(self, real, state):
    """The real batch as this program's D sees it before its view (e.g. resized to a growing GAN's resolution)."""
    return real

  # -- labels and latents ----------------------------------------------------------------------------------------

  def balanced_labels(self, n: int, label: Optional[int] = None):
    """Sampling labels: i mod C for i < n (every class equally often), or all `label`; None when unconditional."""
    if not self.conditional:
      if label is not None:
        raise ValueError("this run is not class-conditional (model.num_classes = 0); drop the class")
      return None
    if label is None:
      return jnp.arange(n, dtype=jnp.int32) % self.num_classes
    if not 0 <= int(label) < self.num_classes:
      raise ValueError(f"class {label} is out of range; this run has classes 0..{self.num_classes - 1}")
    return jnp.full((n,), int(label), jnp.int32)

  def with_label_prior(self, counts) -> "GAN":
    """This GAN sampling its labels in proportion to `counts` (a cluster-conditioned GAN's cluster sizes)."""
    return dataclasses.replace(self, label_prior=tuple(int(c) for c in counts))

  def sample_labels(self, n: int, key, label: Optional[int] = None):
    """Sampling labels: with a `label_prior` (a cluster-conditioned GAN, an unconditional model) labels drawn
    i.i.d. in proportion to the prior, as the data's clusters occur; else `balanced_labels(n, label)`."""
    if label is not None or self.label_prior is None or not self.conditional:
      return self.balanced_labels(n, label)
    p = jnp.asarray(self.label_prior, jnp.float32)
    return jax.random.choice(key, self.num_classes, (n,), p=p / p.sum()).astype(jnp.int32)

  def sample_latents(self, key, n: int):
    return self.latents.sample(key, n)

  def local_latents(self, key, local: int):
    """This device's rows of latents drawn for the global batch."""
    return parallel.local_slice(self.axis_name, self.sample_latents(key, local * parallel.n_devices(self.axis_name)),
                                local)

  # -- batch checks ----------------------------------------------------------------------------------------------

  @property
  def d_input_shape(self) -> Tuple[int, ...]:
    """What D sees per example: the image, or m images stacked along channels under PacGAN packing."""
    return packed_shape(self.image_shape, self.pack)

  @property
  def mbstd_group(self) -> int:
    """D's minibatch-stddev group size (models/ops.py), 0 when D has no such feature."""
    return int(self.discriminator.mbstd_group) if getattr(self.discriminator, "mbstd", False) else 0

  @property
  def mbdisc_group(self) -> int:
    """D's minibatch-discrimination group size (models/ops.py), 0 when D has no such layer."""
    return int(self.discriminator.mbdisc_group) if getattr(self.discriminator, "mbdisc", 0) else 0

  @property
  def d_groups(self) -> Tuple[int, ...]:
    """The group sizes of D's layers that look across samples (minibatch-stddev, minibatch discrimination)."""
    return tuple(g for g in (self.mbstd_group, self.mbdisc_group) if g)

  def check_batch(self, batch_size: int, n_devices: int = 1) -> None:
    """A clear error when packing cannot split the global batch evenly over devices, or D's minibatch-stddev
    groups (or its minibatch-discrimination groups) cannot split the inputs D sees per device."""
    if self.pack > 1 and batch_size % (self.pack * n_devices):
      raise ValueError(f"batch_size {batch_size} does not divide by pack × devices = {self.pack} × {n_devices}; "
                       f"use a multiple of {self.pack * n_devices}")
    per_device = batch_size // (self.pack * n_devices)
    for key, group in (("mbstd_group", self.mbstd_group), ("mbdisc_group", self.mbdisc_group)):
      if group and per_device % min(group, per_device):
        raise ValueError(f"model.{key} {group} does not divide the {per_device} inputs D sees per device "
                         f"(batch_size / (pack × devices)); use a divisor of {per_device}")

  # -- sampling --------------------------------------------------------------------------------------------------

  truncatable = False  # class attribute: True where G tracks a mean latent that truncation ψ pulls towards

  def generate(self, g_params, g_vars, z, labels=None, train: bool = False, psi=1.0):
    """G(z[, labels]) in inference mode (BatchNorm running averages); float32 NHWC images in [-1, 1]. `psi` is the
    truncation ψ of a G that tracks its mean latent (`truncatable`); other GANs take only ψ = 1."""
    if not (isinstance(psi, (int, float)) and psi == 1):
      raise ValueError(f"truncation (psi={psi}) needs a generator that tracks its mean latent (StyleGAN2); "
                       f"this run's model is {self.generator.__class__.__name__}")
    return self.g_apply({"params": g_params, **g_vars}, z, labels, train=train)

  def standing_stats(self, g_params, g_vars, key, batches: int = 32, batch: int = 256):
    """G's BatchNorm statistics recomputed for `g_params` ("standing statistics", Brock et al. 2019): the exact
    mean of the per-batch means and variances of `batches` training-mode forward passes of `batch` latents from
    `key`, with the labels G trains on (balanced classes; a cluster-conditioned GAN's clusters in proportion to
    their sizes). The EMA generator needs this: its weights are an average, but the running statistics
    in `g_vars` were collected by the raw G. Returns `g_vars` unchanged when G has no BatchNorm (or batches = 0).

    Generic over BatchNorm momenta m: one pass with every running statistic at 0 returns (1 − m)·b for the batch
    statistic b, and the same pass with them at 1 returns m + (1 − m)·b, which gives 1 − m per statistic."""
    if "batch_stats" not in g_vars or batches <= 0:
      return g_vars
    labels_of = lambda k: self.sample_labels(batch, jax.random.fold_in(k, 1))
    # Runs outside the device mesh (sampling): BatchNorm must not average over a device axis here.
    gen = self.generator.clone(axis_name=None) if hasattr(self.generator, "axis_name") else self.generator

    def update(stats, k):
      z = self.sample_latents(k, batch)
      _, new = gen.apply({"params": g_params, **g_vars, "batch_stats": stats}, z, **self._cond(labels_of(k)),
                         train=True, mutable=["batch_stats"])
      return new["batch_stats"]

    zeros = jax.tree.map(jnp.zeros_like, g_vars["batch_stats"])
    ones = jax.tree.map(jnp.ones_like, g_vars["batch_stats"])
    keys = jax.random.split(key, batches)
    one_minus_m = jax.tree.map(lambda a, b: 1.0 - (b - a), update(zeros, keys[0]), update(ones, keys[0]))
    total = jax.lax.fori_loop(0, batches, lambda i, acc: jax.tree.map(jnp.add, acc, update(zeros, keys[i])), zeros)
    stats = jax.tree.map(lambda t, d: t / (batches * d), total, one_minus_m)
    return {**g_vars, "batch_stats": stats}


# -- the phases' forward passes -------------------------------------------------------------------------------


def _d_fn(gan: GAN, d_vars, labels, keep_vars: bool, kw=None):
  """(d_params, x) -> D's output in train mode, with its updated collections when `keep_vars` (else dropped)."""
  kw = kw or {}

  def apply(d_params, x):
    variables = {"params": d_params, **d_vars}
    if d_vars:  # collections are applied mutably (BatchNorm in train mode writes them)
      out, new_vars = gan.d_apply(variables, x, labels, train=True, mutable=list(d_vars), **kw)
      return (out, new_vars) if keep_vars else out
    out = gan.d_apply(variables, x, labels, train=True, **kw)
    return (out, d_vars) if keep_vars else out
  return apply


def _check_pack(gan: GAN, local: int) -> None:
  if local % gan.pack:
    n = parallel.n_devices(gan.axis_name)
    raise ValueError(f"batch_size {local * n} does not divide by pack × devices = {gan.pack} × {n}; "
                     f"use a multiple of {gan.pack * n}")


def d_forward(inp: PhaseInput, d_params):
  """D on a real batch and fresh fakes (G in train mode, not differentiated). One D pass over both together
  when that is exact and faster: no batch statistics, and no minibatch group would span real and fake."""
  gan, state, key = inp.obj, inp.state, inp.key
  real, labels = gan.prepare_real(inp.batch["real"], state), inp.batch.get("labels")
  _check_pack(gan, real.shape[0])
  g, d_vars = state.players["g"], state.players["d"].vars
  kw = gan.model_kwargs(state)
  z = gan.local_latents(key, real.shape[0])
  fake, g_vars = gan.g_apply({"params": g.params, **g.vars}, z, labels, train=True, mutable=list(g.vars), **kw)
  fake = lax.stop_gradient(fake).astype(real.dtype)
  real_in, fake_in = gan.view(real, jax.random.fold_in(key, 1), gan.axis_name), \
      gan.view(fake, jax.random.fold_in(key, 2), gan.axis_name)
  n = real_in.shape[0]
  if not d_vars and all(n % grp == 0 for grp in gan.d_groups):
    both = None if labels is None else jnp.concatenate([labels, labels])
    out = _d_fn(gan, d_vars, both, False, kw)(d_params, jnp.concatenate([real_in, fake_in]))
    real_out, fake_out, new_d_vars = out[:n], out[n:], d_vars
  else:  # as PyTorch code does: separate passes, so each batch is normalised by its own statistics
    real_out, new_d_vars = _d_fn(gan, d_vars, labels, True, kw)(d_params, real_in)
    fake_out, new_d_vars = _d_fn(gan, new_d_vars, labels, True, kw)(d_params, fake_in)
  k_pen, k_aug = jax.random.split(jax.random.fold_in(key, 3))
  apply = _d_fn(gan, d_vars, labels, False, kw)  # penalty passes: batch-statistics updates dropped
  outputs = {"real": gan.d_outputs(real_out), "fake": gan.d_outputs(fake_out), "z": z, "labels": labels,
             "real_x": real, "fake_x": fake, "d_params": d_params, "penalty_key": k_pen,
             "d_of": lambda p, x: gan.d_outputs(apply(p, gan.view(x, k_aug, gan.axis_name)))["logits"]}
  return outputs, {"d": new_d_vars, "g": g_vars}


def g_forward(inp: PhaseInput, g_params):
  """D (train mode, its collections not updated) on fresh fakes from G."""
  gan, state = inp.obj, inp.state
  labels = inp.batch.get("labels")
  local = inp.batch["real"].shape[0]
  _check_pack(gan, local)
  z = gan.local_latents(inp.key, local)
  g, d = state.players["g"], state.players["d"]
  kw = gan.model_kwargs(state)
  fake, g_vars = gan.g_apply({"params": g_params, **g.vars}, z, labels, train=True, mutable=list(g.vars), **kw)
  out = _d_fn(gan, d.vars, labels, False, kw)(d.params,
                                               gan.view(fake, jax.random.fold_in(inp.key, 1), gan.axis_name))
  return {"fake": gan.d_outputs(out), "z": z, "labels": labels}, {"g": g_vars}


# -- building from a config -----------------------------------------------------------------------------------

_OPTIMIZERS = ("adam", "rmsprop", "sgd", "optimistic_adam")


def _schedule(cfg, lr: float):
  """A constant rate, or a cosine decay to lr·lr_final_ratio over `lr_decay_steps` updates when that is > 0."""
  steps = int(cfg.get("lr_decay_steps", 0))
  if steps <= 0:
    return lr
  return optax.cosine_decay_schedule(lr, steps, alpha=float(cfg.get("lr_final_ratio", 0.0)))


def make_optimizer(cfg) -> optax.GradientTransformation:
  name = cfg.get("name", "adam")
  lr = float(cfg.lr)
  if lr <= 0:
    raise ValueError(f"learning rate must be positive, got {lr}")
  lr = _schedule(cfg, lr)
  if name == "optimistic_adam":  # optimistic gradient: u_t = lr·(α·r_t + β·(r_t − r_{t−1})), r = Adam's m̂/√v̂
    return optax.optimistic_adam_v2(lr, alpha=float(cfg.get("alpha", 1.0)), beta=float(cfg.get("beta", 1.0)),
                                    b1=float(cfg.get("b1", 0.9)), b2=float(cfg.get("b2", 0.999)),
                                    eps=float(cfg.get("eps", 1e-8)))
  if name == "adam":
    return optax.adam(lr, b1=float(cfg.get("b1", 0.9)), b2=float(cfg.get("b2", 0.999)), eps=float(cfg.get("eps", 1e-8)))
  if name == "rmsprop":
    # PyTorch's RMSprop (used by the WGAN paper): decay 0.99, eps outside the sqrt.
    return optax.rmsprop(lr, decay=float(cfg.get("decay", 0.99)), eps=float(cfg.get("eps", 1e-8)), eps_in_sqrt=False)
  if name == "sgd":
    return optax.sgd(lr, momentum=cfg.get("momentum", None))
  raise ValueError(f"unknown optimizer {name!r}; known optimizers: {', '.join(_OPTIMIZERS)}")


def _nonneg(config, key: str, default: float) -> float:
  value = float(config.get(key, default) or 0.0)
  if value < 0:
    raise ValueError(f"{key} must be >= 0, got {value}")
  return value


@register("gan")
def build_gan(config, axis_name: Optional[str] = None) -> GAN:
  """Builds the GAN a config describes. Unknown model/loss/optimizer names and bad settings raise ValueError."""
  g, d = get_model(config.model.name)(config.model, axis_name)
  n_critic = int(config.get("n_critic", 1))
  if n_critic < 1:
    raise ValueError(f"n_critic must be >= 1, got {n_critic}")
  image_shape = tuple(config.model.image_shape)
  augment = augment_lib.parse(config.get("augment", ""))
  if augment and len(image_shape) != 3:
    raise ValueError(f"augment={config.augment!r} needs images (H, W, C); image_shape is {image_shape}")
  pack = int(config.get("pack", 1))
  if pack < 1:
    raise ValueError(f"pack must be >= 1, got {pack}")
  ema_rampup = _nonneg(config, "ema_rampup", 0.0)
  num_classes = int(config.model.get("num_classes", 0) or 0)
  cond_d = str(config.model.get("cond_d", "projection"))
  if num_classes < 0:
    raise ValueError(f"model.num_classes must be >= 0, got {num_classes}")
  if cond_d not in ("projection", "acgan"):
    raise ValueError(f"model.cond_d must be 'projection' or 'acgan', got {cond_d!r}")
  if num_classes and pack > 1:
    raise ValueError("PacGAN packing (pack > 1) and class-conditional models (num_classes > 0) do not combine")
  clusters = int(config.get("data", {}).get("clusters", 0) or 0)
  if clusters and clusters != num_classes:
    raise ValueError(f"data.clusters = {clusters} trains on cluster labels: set model.num_classes = {clusters} "
                     f"(it is {num_classes})")
  loss = losses.get_loss(config.loss.name)
  d_terms = [Term("adversarial", terms.adversarial_d(loss))]
  g_terms = [Term("adversarial", terms.adversarial_g(loss))]
  heads = ()
  if num_classes and cond_d == "acgan":
    aux_weight = float(config.get("aux_weight", 1.0))
    heads = (("classes", num_classes),)
    d_terms.append(Term("classify", terms.classify_d, aux_weight))
    g_terms.append(Term("classify", terms.classify_g, aux_weight))
  info_codes = tuple(config.model.get("info_codes", ()) or ())
  latents = Latents(int(config.model.latent_dim), info_codes)
  if info_codes:
    if any(isinstance(k, bool) or not isinstance(k, int) or k < 2 for k in info_codes):
      raise ValueError(f"model.info_codes must be code sizes (ints >= 2), got {info_codes}")
    if num_classes:
      raise ValueError("InfoGAN codes (model.info_codes) are for unconditional GANs; set model.num_classes = 0")
    if "info_outputs" not in getattr(d, "__dataclass_fields__", {}):
      raise ValueError(f"model {config.model.name!r} has no InfoGAN head; model.info_codes needs model.name='dcgan'")
    per_channel = bool(config.model.get("info_per_channel", False))
    if per_channel and (len(info_codes) != image_shape[-1] or len(set(info_codes)) != 1):
      raise ValueError(f"model.info_per_channel reads one code from each of the {image_shape[-1]} image channels: "
                       f"model.info_codes needs {image_shape[-1]} equal sizes, got {info_codes}")
    d = d.clone(info_outputs=pack * sum(info_codes), info_per_channel=per_channel)
    heads = (("q", pack * sum(info_codes)),)
    info_weight = _nonneg(config, "info_weight", 1.0)
    d_terms.append(Term("info", terms.info(info_codes, latents.codes_of, metric=True), info_weight))
    g_terms.append(Term("info", terms.info(info_codes, latents.codes_of, metric=False), info_weight))
  mbdisc, mbdisc_dim, mbdisc_group = mbdisc_config(config.model)
  if mbdisc:
    if "mbdisc" not in getattr(d, "__dataclass_fields__", {}):
      raise ValueError(f"model {config.model.name!r} has no minibatch-discrimination layer; model.mbdisc needs "
                       "model.name='dcgan' or 'mlp'")
    d = d.clone(mbdisc=mbdisc, mbdisc_dim=mbdisc_dim, mbdisc_group=mbdisc_group)
  penalty = regularizers.from_config(config.get("penalty", None))
  if penalty.enabled:
    d_terms.append(Term("penalty", terms.penalty(penalty.fn, pack), penalty.weight, penalty.interval))
  ema_decay = float(config.get("ema_decay", 0.0))
  clip = {name: (Clip(name, c),) if (c := float(config.optim[name].get("clip", 0.0) or 0.0)) > 0 else ()
          for name in ("g", "d")}
  phases = (Phase("d", "d", d_forward, tuple(d_terms), repeat=n_critic, after=clip["d"]),
            Phase("g", "g", g_forward, tuple(g_terms), total_metric="g_loss",
                  after=clip["g"] + ((Ema(ema_decay, ema_rampup),) if ema_decay > 0 else ())))
  return GAN(
      players={"g": Player(g, make_optimizer(config.optim.g)), "d": Player(d, make_optimizer(config.optim.d))},
      phases=phases, batch_repeats=n_critic, streams=("real", "labels") if num_classes else ("real",),
      ema_players=("g",) if ema_decay > 0 else (), skip_nonfinite=config.get("nonfinite", "stop") == "skip",
      sanitize_grads=bool(config.get("sanitize_grads", False)), axis_name=axis_name,
      lazy_cond=lazy_cond_default(config),
      loss=loss, latents=latents, image_shape=image_shape, view=DView(augment, pack), d_heads=heads,
      num_classes=num_classes)


def init_state(gan: Objective, seed: int):
  """Fresh state of an objective (`Objective.init_state`)."""
  return gan.init_state(seed)

"""GAN: the static description of a run (modules, losses, optimizers, stabilizers) built from a config, and its
state init.

Stabilizer keys, all read with `config.get(key, default)` and off by default (old configs keep working):
  penalty = ConfigDict(name, weight, interval)  gradient penalty on D: none | gp | dragan | r1 | r2; lazy every
                                     `interval` D updates with weight × interval (see regularizers.py)
  optim.d.clip = c                   WGAN weight clipping: D's params clipped to [−c, c] after every update (0 = off;
                                     `optim.g.clip` likewise for G); pair with optim name "rmsprop" as in the paper
  optim.*.name = "optimistic_adam"   optimistic Adam (Daskalakis et al.); keys lr, b1, b2, eps, alpha, beta
  optim.*.lr_decay_steps = T         cosine decay of the rate to `lr_final_ratio`·lr (default 0) over T updates
  sanitize_grads = True              non-finite gradient entries → 0 before the update; the `nonfinite` metric
                                     still reports the step
  ema_decay = β, ema_rampup = r      EMA of G with β_t = 0.5^(B / max(min(h, t·B·r), 1e-8)), h = B·ln½/ln β the
                                     half-life in images, t the G step, B the global batch (StyleGAN2-ADA's ramp;
                                     r = 0: constant β). β_0 = 0 so the EMA starts from G's current params.
  augment = "translation,cutout,color"   DiffAugment on everything D sees, in D and G steps (augment.py)
  pack = m                           PacGAN: D judges m samples concatenated along channels; the global batch must
                                     divide by m × devices
  model.mbstd = True                 minibatch-stddev feature in D (mlp, mixture_mlp, dcgan, resnet; models/ops.py)

Class-conditional GANs: `model.num_classes = C` (> 0) makes G(z, y) and D(x, y) take int labels y ∈ [0, C) from a
labelled dataset. Fakes in the D and G steps use the labels of the real batch (so the class mix matches the data
and a penalty's real/fake interpolates share a label); sampling uses balanced labels (i mod C) or a chosen class.
Cluster-conditioned GANs (`data.clusters = K` with `model.num_classes = K`, jaxgan/data/clusters.py) train on
k-means cluster labels and sample labels in proportion to the clusters' sizes (`label_prior`).
`model.cond_d` picks how D uses y: "projection" (Miyato & Koyama 2018; D returns logits [B]) or "acgan" (Odena et
al. 2017; D returns [B, 1 + C]: the real/fake logit, then class logits; both nets add `aux_weight` × the class
cross-entropy of their samples, D on real and fake).

InfoGAN codes (Chen et al. 2016) in an unconditional GAN: `model.info_codes = (K1, K2, …)` appends one-hot
categorical codes, each uniform over its Kᵢ values, to G's Gaussian latent (z has latent_dim + ΣKᵢ entries), and
gives D a second head Q that predicts every code of every sample it sees (per pack member under PacGAN). Both
nets add `info_weight` × the codes' summed cross-entropy on generated samples (a lower bound on the mutual
information between codes and images), so each code learns to pick one discrete factor of the data. A uniform
prior over Kᵢ values is the model's assumption (e.g. 10 digits per channel of stacked MNIST); no labels are used.
Q is a head on D's last features, or with `model.info_per_channel = True` a separate small conv net that reads code
c from image channel c alone (one code per channel, all of one size): a prior that the channels hold separate
factors, as stacked MNIST's do. Models with the head: `dcgan`.
"""
import dataclasses
from typing import Optional, Tuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jaxgan import augment as augment_lib
from jaxgan import losses
from jaxgan import regularizers
from jaxgan.models import get_model
from jaxgan.models.ops import mbdisc_config, packed_shape
from jaxgan.state import GANState


@dataclasses.dataclass(frozen=True, eq=False)
class GAN:
  generator: nn.Module
  discriminator: nn.Module
  loss: losses.GANLoss
  g_tx: optax.GradientTransformation
  d_tx: optax.GradientTransformation
  latent_dim: int
  image_shape: Tuple[int, ...]
  n_critic: int = 1
  ema_decay: float = 0.0
  skip_nonfinite: bool = False
  axis_name: Optional[str] = None
  penalty: regularizers.Penalty = regularizers.Penalty()
  d_clip: float = 0.0
  g_clip: float = 0.0
  sanitize_grads: bool = False
  ema_rampup: float = 0.0
  augment: Tuple[str, ...] = ()
  pack: int = 1
  num_classes: int = 0
  aux_classes: int = 0      # = num_classes for an auxiliary-classifier D, else 0
  aux_weight: float = 1.0
  label_prior: Optional[Tuple[int, ...]] = None  # cluster-conditioned GANs: the clusters' sizes (sampling ∝ them)
  info_codes: Tuple[int, ...] = ()  # InfoGAN: sizes of the categorical codes appended to z (uniform each)
  info_weight: float = 1.0

  @property
  def z_dim(self) -> int:
    """The width of G's input: the Gaussian latent, then the one-hot InfoGAN codes."""
    return self.latent_dim + sum(self.info_codes)

  @property
  def conditional(self) -> bool:
    return self.num_classes > 0

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
    """D's raw output: logits [B], or [B, 1 + C] for an auxiliary-classifier D."""
    return self.discriminator.apply(variables, x, **self._cond(labels), **kw)

  def split_logits(self, out):
    """(real/fake logits [B], class logits [B, C] or None)."""
    if self.aux_classes:
      return out[:, 0], out[:, 1:1 + self.aux_classes]
    if self.info_codes:
      return out[:, 0], None
    return out, None

  def info_logits(self, out):
    """Q's logits for every sample D saw, [B·pack, ΣKᵢ] (sample order as before packing)."""
    q = out[:, 1 + self.aux_classes:]
    return q.reshape(q.shape[0] * self.pack, sum(self.info_codes))

  def codes_of(self, z):
    """The InfoGAN codes held in latents z: int32 [B, number of codes]."""
    segs, start = [], self.latent_dim
    for k in self.info_codes:
      segs.append(jnp.argmax(z[:, start:start + k], axis=-1))
      start += k
    return jnp.stack(segs, axis=-1).astype(jnp.int32)

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

  @property
  def use_ema(self) -> bool:
    return self.ema_decay > 0

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

  def sample_latents(self, key, n: int):
    """G's latents: N(0, I) of latent_dim, then one one-hot block per InfoGAN code (uniform over its values)."""
    if not self.info_codes:
      return jax.random.normal(key, (n, self.latent_dim), jnp.float32)
    k_z, k_c = jax.random.split(key)
    z = [jax.random.normal(k_z, (n, self.latent_dim), jnp.float32)]
    for i, k in enumerate(self.info_codes):
      c = jax.random.randint(jax.random.fold_in(k_c, i), (n,), 0, k)
      z.append(jax.nn.one_hot(c, k, dtype=jnp.float32))
    return jnp.concatenate(z, axis=-1)

  def generate(self, g_params, g_vars, z, labels=None, train: bool = False):
    """G(z[, labels]) in inference mode (BatchNorm running averages); float32 NHWC images in [-1, 1]."""
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


def build_gan(config, axis_name: Optional[str] = None) -> GAN:
  """Builds the GAN a config describes. Unknown model/loss/optimizer names raise ValueError."""
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
  clip = lambda o: float(o.get("clip", 0.0) or 0.0)
  ema_rampup = float(config.get("ema_rampup", 0.0) or 0.0)
  if ema_rampup < 0:
    raise ValueError(f"ema_rampup must be >= 0, got {ema_rampup}")
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
  info_codes = tuple(config.model.get("info_codes", ()) or ())
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
  mbdisc, mbdisc_dim, mbdisc_group = mbdisc_config(config.model)
  if mbdisc:
    if "mbdisc" not in getattr(d, "__dataclass_fields__", {}):
      raise ValueError(f"model {config.model.name!r} has no minibatch-discrimination layer; model.mbdisc needs "
                       "model.name='dcgan' or 'mlp'")
    d = d.clone(mbdisc=mbdisc, mbdisc_dim=mbdisc_dim, mbdisc_group=mbdisc_group)
  info_weight = float(config.get("info_weight", 1.0))
  if info_weight < 0:
    raise ValueError(f"info_weight must be >= 0, got {info_weight}")
  return GAN(
      generator=g, discriminator=d, loss=losses.get_loss(config.loss.name),
      g_tx=make_optimizer(config.optim.g), d_tx=make_optimizer(config.optim.d),
      latent_dim=int(config.model.latent_dim), image_shape=tuple(config.model.image_shape),
      n_critic=n_critic, ema_decay=float(config.get("ema_decay", 0.0)),
      skip_nonfinite=config.get("nonfinite", "stop") == "skip", axis_name=axis_name,
      penalty=regularizers.from_config(config.get("penalty", None)), d_clip=clip(config.optim.d),
      g_clip=clip(config.optim.g), sanitize_grads=bool(config.get("sanitize_grads", False)),
      ema_rampup=ema_rampup, augment=augment, pack=pack, num_classes=num_classes,
      aux_classes=num_classes if cond_d == "acgan" else 0, aux_weight=float(config.get("aux_weight", 1.0)),
      info_codes=info_codes, info_weight=info_weight)


def _split_vars(variables):
  variables = dict(variables)
  params = variables.pop("params")
  return params, variables


def init_state(gan: GAN, seed: int) -> GANState:
  """Fresh state: G and D initialised from `seed`, optimizer states, EMA = G's params when enabled."""
  key = jax.random.key(seed)
  k_g, k_d, k_run = jax.random.split(key, 3)
  z = jnp.zeros((2, gan.z_dim), jnp.float32)
  x = jnp.zeros((2,) + gan.d_input_shape, jnp.float32)
  # train=False: BatchNorm then needs no cross-device axis, so init works outside the device mesh.
  y = gan.balanced_labels(2)
  g_params, g_vars = _split_vars(gan.generator.init({"params": k_g}, z, **gan._cond(y), train=False))
  d_params, d_vars = _split_vars(gan.discriminator.init({"params": k_d}, x, **gan._cond(y), train=False))
  ema = jax.tree.map(jnp.copy, g_params) if gan.use_ema else None
  return GANState(step=jnp.zeros((), jnp.int32), rng=jax.random.key_data(k_run), g_params=g_params, d_params=d_params,
                  g_vars=g_vars, d_vars=d_vars, g_opt_state=gan.g_tx.init(g_params),
                  d_opt_state=gan.d_tx.init(d_params), ema_params=ema)

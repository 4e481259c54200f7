"""Semi-supervised learning with a GAN (Salimans et al. 2016, "Improved Techniques for Training GANs", §5).

D is a (K+1)-class classifier: K class logits l_1..l_K and a fake class whose logit is fixed at 0, so
  p(real | x) = Z/(Z + 1) with Z = Σ_k exp l_k, i.e. D's real/fake logit is LSE(l) = log Z.
D minimises (on logits, float32)
  L_sup   = mean over labelled (x, y) of  LSE(l(x)) − l_y(x)                      (cross-entropy over the K classes)
  L_unsup = ½·mean_unlabelled softplus(−LSE(l(x))) + ½·mean_fake softplus(LSE(l(G(z))))
            (= the paper's −½E log D(x) − ½E log(1 − D(G(z))); −s + softplus(s) = softplus(−s))
  L_D     = L_sup + unsup_weight · L_unsup
and G minimises feature matching, the mean over D's last hidden features f of (E_x f(x) − E_z f(G(z)))² on a
second unlabelled batch (`fm_weight`; the mean over features, as the paper's code does).

Three batch streams. The two unlabelled ones are the dataset's `real` stream: the objective consumes two real
batches a step (`batch_repeats = 2`; the D phase is a repeated phase of one repetition, so it reads batch 0 and
the G phase, not repeated, reads the last, batch 1) — the loop draws both, resident or streamed, as it draws
n_critic batches, and nothing in the data layer changes. The labelled stream is tiny (N per class, 100 digits for
MNIST's protocol): the objective holds those digits as constants, chosen deterministically from `ssl.label_seed`
(`select_labelled`), and draws each step's labelled batch in-graph from the D phase's key for the *global* batch
(a random permutation of the labelled set, its first `ssl.labelled_batch` entries: with a batch of 100 and 100
labels every step sees each labelled digit once, as the paper's tiled permutations do), sliced per device. So the
labelled batch is a function of the step key alone: the same on 1 or N devices and after a resume.

`ssl.unsup_weight = 0` is the supervised baseline: the same D trained on the labelled digits only (no fake class
term, no G phase; G keeps its initial weights).

Config (`config.ssl`): labels_per_class (N), label_seed, labelled_batch (global), unsup_weight, fm_weight,
test_data ("" = the training dataset's "test" split; scripts/semi_supervised.py reads it). Model: `ssl_mlp`
(jaxgan/models/ssl_mlp.py); `model.ssl_classes` = K.
"""
import dataclasses
from typing import Any, Optional, Tuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxgan import gan as gan_lib
from jaxgan import losses, parallel
from jaxgan.loop import to_float
from jaxgan.models import get_model
from jaxgan.objective import Phase, PhaseInput, Player, Term, register


def select_labelled(labels: np.ndarray, per_class: int, seed: int, num_classes: int) -> np.ndarray:
  """Indices (int64, sorted by class, then index) of `per_class` examples of each class 0..K−1, drawn without
  replacement by numpy's PCG64 from `seed`: the same seed gives the same digits. A class with fewer than
  `per_class` examples is a one-line ValueError."""
  labels = np.asarray(labels)
  if isinstance(per_class, bool) or int(per_class) != per_class or per_class < 1:
    raise ValueError(f"ssl.labels_per_class must be a positive integer, got {per_class!r}")
  rng = np.random.default_rng(int(seed))
  chosen = []
  for c in range(num_classes):
    pool = np.flatnonzero(labels == c)
    if len(pool) < per_class:
      raise ValueError(f"ssl.labels_per_class={per_class} but class {c} has only {len(pool)} training examples; "
                       f"request at most {min(int(np.sum(labels == k)) for k in range(num_classes))}")
    chosen.append(np.sort(rng.choice(pool, int(per_class), replace=False)))
  return np.concatenate(chosen)


def lse(logits):
  """log Σ_k exp l_k in float32: the logit of 'real' against the fake class's fixed 0."""
  return jax.nn.logsumexp(logits.astype(jnp.float32), axis=-1)


def supervised_loss(logits, y):
  """Mean cross-entropy over the K classes: LSE(l) − l_y."""
  logits = logits.astype(jnp.float32)
  picked = jnp.take_along_axis(logits, y[:, None].astype(jnp.int32), axis=-1)[:, 0]
  return jnp.mean(lse(logits) - picked)


def unsupervised_loss(logits_real, logits_fake):
  """½·mean softplus(−LSE(l(x))) + ½·mean softplus(LSE(l(G(z)))): D's real/fake loss with the fake logit at 0."""
  return 0.5 * jnp.mean(jax.nn.softplus(-lse(logits_real))) + 0.5 * jnp.mean(jax.nn.softplus(lse(logits_fake)))


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class SSL(gan_lib.GAN):
  """A GAN whose D is a K+1-class classifier; holds the labelled digits (uint8) and their labels as constants."""
  labelled_x: Any = None        # uint8 [N·K, H, W, C]
  labelled_y: Any = None        # int32 [N·K]
  labelled_batch: int = 100     # global
  unsup_weight: float = 1.0
  fm_weight: float = 1.0
  classes: int = 10
  init_x: Any = None            # uint8 [M, H, W, C]: unlabelled digits for D's data-dependent init (None: off)
  d_ema: float = 0.0            # decay of the average of D's params that classifies (0: D itself classifies)

  def init_state(self, seed: int):
    """The generic fresh state; with `init_x`, D's weight-norm layers then get the paper's data-dependent init
    (`data_init`), and D's average starts from the initialised D."""
    state = super().init_state(seed)
    if self.init_x is None:
      return state
    d = state.players["d"]
    key = jax.random.fold_in(jax.random.key(seed), 0x5D1)
    params = data_init(self.discriminator, d.params, to_float(jnp.asarray(self.init_x)), key)
    state = state.with_player("d", params=params)
    if "d" in self.ema_players:
      state = state.replace(ema={**state.ema, "d": jax.tree.map(jnp.copy, params)})
    return state

  def classifier_params(self, state):
    """The D params that classify: the average when `d_ema` > 0 (the paper's test-time D), else D's own."""
    return state.ema["d"] if "d" in self.ema_players else state.players["d"].params

  @property
  def supervised_only(self) -> bool:
    return self.unsup_weight == 0

  def check_batch(self, batch_size: int, n_devices: int = 1) -> None:
    super().check_batch(batch_size, n_devices)
    if self.labelled_batch % n_devices:
      raise ValueError(f"ssl.labelled_batch {self.labelled_batch} does not divide by the {n_devices} devices; "
                       f"use a multiple of {n_devices}")

  def labelled(self, key, local: int):
    """This device's rows of the step's labelled batch (global size `labelled_batch`): images float32 [-1, 1],
    labels int32. A permutation of the labelled set (its first entries; indices drawn uniformly with replacement
    when the batch is larger than the set), drawn for the global batch."""
    n = self.labelled_y.shape[0]
    b = self.labelled_batch
    idx = jax.random.permutation(key, n)[:b] if b <= n else jax.random.randint(key, (b,), 0, n)
    idx = parallel.local_slice(self.axis_name, idx, local)
    return to_float(jnp.asarray(self.labelled_x)[idx]), jnp.asarray(self.labelled_y)[idx]

  def d_logits(self, d_params, x, key, features: bool = False):
    """D's K class logits in train mode (noise from `key`); with `features`, also its last hidden features."""
    if not features:
      return self.discriminator.apply({"params": d_params}, x, train=True, rngs={"noise": key})
    out, cols = self.discriminator.apply({"params": d_params}, x, train=True, rngs={"noise": key},
                                         mutable=["intermediates"])
    return out, cols["intermediates"]["features"][0]

  def classify(self, d_params, x):
    """Predicted classes (int32 [B]) of float images in [-1, 1]: argmax of the K logits, D in inference mode."""
    return jnp.argmax(self.discriminator.apply({"params": d_params}, x, train=False), axis=-1).astype(jnp.int32)


def data_init(module, params, x, key):
  """Salimans & Kingma's data-dependent init of every weight-normalised layer of D, first to last: run D (noise on,
  from `key`, the same draws each pass) on the batch `x` with the layers before this one already initialised, and
  set this layer's g ← g/σ and b ← −μ/σ, μ and σ the per-unit mean and standard deviation of its pre-activation
  without bias, so it leaves the layer with mean 0 and variance 1 on `x` (the paper's code does the same in one
  init pass). Layers are D's `WNDense_<i>` in order; other params are kept."""
  params = jax.tree.map(jnp.asarray, params)
  module = module.clone(axis_name=None)  # one process, outside the device mesh: the noise for this batch alone
  names = sorted((k for k in params if k.startswith("WNDense_")), key=lambda k: int(k.split("_")[1]))

  @jax.jit
  def preact(p):
    _, cols = module.apply({"params": p}, x, train=True, rngs={"noise": key}, mutable=["intermediates"])
    return cols["intermediates"]

  for name in names:
    y = preact(params)[name]["preact"][0].astype(jnp.float32)
    mu = jnp.mean(y, axis=0)
    sigma = jnp.sqrt(jnp.mean(jnp.square(y - mu), axis=0) + 1e-12)
    layer = dict(params[name])
    layer["g"], layer["b"] = layer["g"] / sigma, -mu / sigma
    params = {**params, name: layer}
  return params


def _fakes(obj: SSL, g, g_params, key, local: int):
  z = obj.local_latents(key, local)
  return obj.g_apply({"params": g_params, **g.vars}, z, train=True, mutable=list(g.vars))


def d_forward(inp: PhaseInput, d_params):
  obj, state = inp.obj, inp.state
  k_lab, k_z, k_n = jax.random.split(inp.key, 3)
  n_dev = parallel.n_devices(obj.axis_name)
  x_lab, y_lab = obj.labelled(k_lab, obj.labelled_batch // n_dev)
  out = {"lab": obj.d_logits(d_params, x_lab, jax.random.fold_in(k_n, 0)), "y": y_lab}
  if obj.supervised_only:
    return out, {}
  real = inp.batch["real"]
  g = state.players["g"]
  fake, g_vars = _fakes(obj, g, g.params, k_z, real.shape[0])
  fake = lax.stop_gradient(fake).astype(real.dtype)
  out["real"] = obj.d_logits(d_params, real, jax.random.fold_in(k_n, 1))
  out["fake"] = obj.d_logits(d_params, fake, jax.random.fold_in(k_n, 2))
  return out, {"g": g_vars}


def g_forward(inp: PhaseInput, g_params):
  obj, state = inp.obj, inp.state
  k_z, k_n = jax.random.split(inp.key)
  real = inp.batch["real"]
  g, d = state.players["g"], state.players["d"]
  fake, g_vars = _fakes(obj, g, g_params, k_z, real.shape[0])
  fake_out, fake_f = obj.d_logits(d.params, fake, jax.random.fold_in(k_n, 0), features=True)
  _, real_f = obj.d_logits(d.params, real, jax.random.fold_in(k_n, 1), features=True)
  return {"fake": fake_out, "fake_f": fake_f, "real_f": lax.stop_gradient(real_f)}, {"g": g_vars}


def supervised_term(inp: PhaseInput, out):
  value = supervised_loss(out["lab"], out["y"])
  acc = jnp.mean((jnp.argmax(out["lab"], -1) == out["y"]).astype(jnp.float32))
  return value, {"d_sup_loss": value, "d_labelled_acc": acc}


def unsupervised_term(inp: PhaseInput, out):
  value = unsupervised_loss(out["real"], out["fake"])
  return value, {"d_unsup_loss": value, "d_real": jnp.mean(jax.nn.sigmoid(lse(out["real"]))),
                 "d_fake": jnp.mean(jax.nn.sigmoid(lse(out["fake"])))}


def feature_matching_term(inp: PhaseInput, out):
  """mean_j (E f_j(x) − E f_j(G(z)))² over the global batch. The batch means are `parallel.global_mean`s: a pmean
  inside the loss would scale G's gradient by 1/devices (see that function)."""
  axis = inp.obj.axis_name
  mean = lambda f: parallel.global_mean(axis, jnp.mean(f.astype(jnp.float32), axis=0))
  value = jnp.mean(jnp.square(lax.stop_gradient(mean(out["real_f"])) - mean(out["fake_f"])))
  return value, {"g_fm": value, "g_fake_real": jnp.mean(jax.nn.sigmoid(lse(out["fake"])))}


def _cfg(config):
  s = config.get("ssl", None)
  get = (lambda k, d: s.get(k, d)) if s is not None else (lambda k, d: d)
  return get


@register("ssl")
def build_ssl(config, axis_name: Optional[str] = None, pool: Optional[Tuple[np.ndarray, np.ndarray]] = None) -> SSL:
  """The SSL objective of a config. The labelled digits come from the training data (`config.data`, which must
  have labels) unless `pool` = (images uint8 [N, H, W, C], labels int32 [N]) is given."""
  get = _cfg(config)
  model_name = str(config.model.name)
  g, d = get_model(model_name)(config.model, axis_name)
  classes = int(config.model.get("ssl_classes", 10))
  if classes < 2:
    raise ValueError(f"model.ssl_classes must be >= 2, got {classes}")
  if not hasattr(d, "num_classes") or int(getattr(d, "num_classes")) != classes or model_name != "ssl_mlp":
    raise ValueError(f"objective 'ssl' needs a K-class D: model.name='ssl_mlp' (got {model_name!r})")
  unsup, fm = float(get("unsup_weight", 1.0)), float(get("fm_weight", 1.0))
  if unsup < 0 or fm < 0:
    raise ValueError(f"ssl.unsup_weight and ssl.fm_weight must be >= 0, got {unsup} and {fm}")
  labelled_batch = int(get("labelled_batch", 100))
  if labelled_batch < 1:
    raise ValueError(f"ssl.labelled_batch must be positive, got {labelled_batch}")
  if pool is None:
    from jaxgan import data as data_lib
    data = data_lib.load(config.data)
    if not data.has_labels or data.images is None:
      raise data_lib.DataError(f"objective 'ssl' needs a labelled dataset held in memory (e.g. mnist_full); "
                               f"{data.name} has {'no labels' if not data.has_labels else 'no resident images'}")
    pool = (data.images, data.labels)
  images, labels = pool
  idx = select_labelled(labels, get("labels_per_class", 10), int(get("label_seed", 0)), classes)
  x_lab = np.ascontiguousarray(images[idx])
  y_lab = np.asarray(labels)[idx].astype(np.int32)
  d_ema = float(get("d_ema", 0.0))
  if not 0.0 <= d_ema < 1.0:
    raise ValueError(f"ssl.d_ema is the decay of D's average, in [0, 1) (0 = off); got {d_ema}")
  n_init = int(get("data_init", 0))
  if n_init < 0 or n_init > len(images):
    raise ValueError(f"ssl.data_init is how many training digits D's data-dependent init uses (0 = off), at most "
                     f"the {len(images)} available; got {n_init}")
  init_x = None
  if n_init:  # a fixed draw of the training digits (the label seed's), as the paper takes its first 500
    init_x = np.ascontiguousarray(images[np.random.default_rng(int(get("label_seed", 0))).permutation(len(images))[:n_init]])
  players = {"g": Player(g, gan_lib.make_optimizer(config.optim.g)), "d": Player(d, gan_lib.make_optimizer(config.optim.d))}
  # D's average as the paper's code keeps it (β = 0.9999), but starting from the initial D rather than from zero: they
  # differ by β^t·D₀, under 4 % of it after 32,000 steps
  d_after = (gan_lib.Ema(d_ema, player="d"),) if d_ema > 0 else ()
  d_terms = [Term("supervised", supervised_term)]
  if unsup > 0:
    d_terms.append(Term("unsupervised", unsupervised_term, unsup))
    # repeat=1: the D phase reads real batch 0, the G phase (not repeated) the last one, batch 1
    phases = (Phase("d", "d", d_forward, tuple(d_terms), repeat=1, total_metric="d_loss", after=d_after),
              Phase("g", "g", g_forward, (Term("feature_matching", feature_matching_term, fm),), total_metric="g_loss"))
    repeats = 2
  else:
    phases = (Phase("d", "d", d_forward, tuple(d_terms), total_metric="d_loss", after=d_after),)
    repeats = 1
  return SSL(players=players, phases=phases, batch_repeats=repeats, streams=("real",), axis_name=axis_name,
             skip_nonfinite=config.get("nonfinite", "stop") == "skip", loss=losses.get_loss("non_saturating"),
             latents=gan_lib.Latents(int(config.model.latent_dim)), image_shape=tuple(config.model.image_shape),
             labelled_x=x_lab, labelled_y=y_lab, labelled_batch=labelled_batch, unsup_weight=unsup,
             fm_weight=fm, classes=classes, init_x=init_x, d_ema=d_ema, ema_players=("d",) if d_ema > 0 else ())


# -- evaluation ---------------------------------------------------------------------------------------------------


def make_classifier(obj: SSL):
  """jit(d_params, uint8 images) -> predicted classes."""
  return jax.jit(lambda p, x: obj.classify(p, to_float(x)))


def test_error(obj: SSL, d_params, images: np.ndarray, labels: np.ndarray, batch: int = 1000, classify=None) -> float:
  """The fraction of `images` (uint8) whose argmax class differs from `labels` (D in inference mode: no noise)."""
  classify = classify or make_classifier(obj)
  wrong = 0
  for start in range(0, len(images), batch):
    pred = np.asarray(classify(d_params, images[start:start + batch]))
    wrong += int(np.sum(pred != np.asarray(labels[start:start + batch])))
  return wrong / max(1, len(images))

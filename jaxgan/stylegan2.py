"""The StyleGAN2-ADA objective (Karras et al. 2020): NVIDIA's four phases, lazy regularization and ADA, as data.

  config.objective = "stylegan2"    (model.name = "stylegan2": jaxgan/models/stylegan2.py)

One training step runs, in NVIDIA's order (training_loop.py, loss.py):
  Gmain  G: non-saturating loss softplus(−D(A(G(z))))                                           every step
  Greg   G: path-length penalty w·(‖J_wᵀ y‖ − a)², batch / `pl_batch_shrink`, y ~ N(0, I)/√(HW),
            a the running mean of the lengths (decay `pl_decay`), weight × interval             every `pl_interval`
  Dmain  D: softplus(D(A(G(z)))) + softplus(−D(A(x)))                                           every step
  Dreg   D: R1 = γ/2 · ‖∇ₓD(A(x))‖², weight × interval                                          every `r1_interval`
A is ADA's augmentation (jaxgan/ada.py) at probability p, or the identity. Each phase draws its own latents; with
probability `style_mixing` G's layers from a traced cutoff on take the styles of a second latent. The players'
Adam carries NVIDIA's lazy-regularization correction (`objective.lazy_adam`), gradients pass through
nan_to_num (NaN → 0, ±inf → ±1e5) first, and G's EMA has a half-life of `ema_kimg`·1000 images, ramped up over
the first images (half-life ≤ `ema_rampup` × images shown), updated after every step.

State the objective owns (`state.aux`), all reduced over devices so 1 and N devices agree:
  pl_mean        the path-length running mean: a ← a + decay·(mean − a), the mean a global psum(Σ)/psum(n)
  ada_p          ADA's probability; with `augment = "ada"` adjusted every `ada.interval` steps by
                 sign(E[sign D(A(x))] − target)·B·interval/(ada.kimg·1000), floored at 0 (NVIDIA's heuristic)
  ada_signs, ada_count   Σ sign(D(A(x))) over the reals D judged since the last adjustment (Dmain and Dreg), and n
G's `w_avg` (the running mean of w that truncation pulls towards, decay 0.995, updated by every training-mode
mapping pass as NVIDIA's is) lives with G's variables. The losses' log also carries `ada_p`, `pl_mean` and
`w_avg_norm` (‖w_avg‖) every step, in metrics.jsonl and TensorBoard.

Config (`config.stylegan2`, defaults NVIDIA's):
  style_mixing 0.9, pl_weight 2.0, pl_decay 0.01, pl_batch_shrink 2, pl_interval 4,
  r1_gamma (−1: NVIDIA's auto γ = 0.0002·res²/batch), r1_interval 16, ema_kimg (−1: batch·10/32), ema_rampup 0.05
`config.augment` = "none" | "ada" (p adapts, starting at `ada.p`) | "fixed" (p stays `ada.p`);
`config.ada` = (p, target 0.6, interval 4, kimg 500). Class-conditional: `model.num_classes` = C > 0 (NVIDIA's c_dim:
an embedding of the label feeds G's mapping and D's projection); fakes use the real batch's labels.
The lazy phases (Greg, Dreg) run under `lax.cond` on their steps only, on every backend; `config.lazy = "mask"`
computes them every step and selects their results on their steps (jaxgan/step.py): identical results.
"""
import dataclasses
import math
from typing import Optional

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from jax import lax

from jaxgan import ada as ada_lib
from jaxgan import parallel
from jaxgan.augment import draw_global
from jaxgan.gan import GAN, build_gan, make_optimizer
from jaxgan.objective import AUX, Phase, PhaseInput, Player, Term, lazy_adam, register, require_model

AUGMENT_MODES = ("none", "ada", "fixed")


@dataclasses.dataclass(frozen=True)
class Settings:
  """The objective's static settings (see the module docstring)."""
  style_mixing: float = 0.9
  pl_weight: float = 2.0
  pl_decay: float = 0.01
  pl_batch_shrink: int = 2
  pl_interval: int = 4
  r1_gamma: float = 0.0
  r1_interval: int = 16
  ema_images: float = 10_000.0   # the EMA's half-life in images
  ema_rampup: float = 0.05
  augment: str = "none"
  ada_p: float = 0.0
  ada_target: float = 0.6
  ada_interval: int = 4
  ada_kimg: float = 500.0


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class StyleGAN2(GAN):
  sg: Settings

  def init_aux(self):
    return {"pl_mean": jnp.zeros((), jnp.float32), "ada_p": jnp.float32(self.sg.ada_p if self.sg.augment != "none" else 0.0),
            "ada_signs": jnp.zeros((), jnp.float32), "ada_count": jnp.zeros((), jnp.float32)}

  truncatable = True

  def generate(self, g_params, g_vars, z, labels=None, train: bool = False, psi=1.0):
    """G(z[, labels]) with truncation ψ towards G's tracked w_avg (1: none; may be traced)."""
    kw = {} if isinstance(psi, (int, float)) and psi == 1 else {"psi": psi}
    return self.g_apply({"params": g_params, **g_vars}, z, labels, train=train, **kw)

  @property
  def num_ws(self) -> int:
    return int(self.generator.num_ws)

  @property
  def mbstd_group(self) -> int:
    return int(self.discriminator.mbstd_group)


# -- G and D as the phases run them ---------------------------------------------------------------------------


def _psum(axis_name, x):
  return x if parallel.single(axis_name) else lax.psum(x, axis_name)


def _global_mean(axis_name, x):
  """The mean of x's entries over the global batch: psum(Σ)/psum(n)."""
  total, count = jnp.sum(x.astype(jnp.float32)), jnp.float32(x.size)
  return _psum(axis_name, total) / _psum(axis_name, count)


W_AVG_BETA = 0.995  # NVIDIA's w_avg_beta


def get_w_avg(g_vars):
  """G's w_avg (models/stylegan2.py keeps it in the "buffers" collection)."""
  return g_vars["buffers"]["mapping_network"]["w_avg"]


def _with_w_avg(g_vars, w_avg):
  buffers = g_vars["buffers"]
  return {**g_vars, "buffers": {**buffers, "mapping_network": {**buffers["mapping_network"], "w_avg": w_avg}}}


def _mapping(gan: StyleGAN2, g_params, g_vars, z, labels, update_w_avg: bool = True):
  """w = mapping(z[, labels]) broadcast to [B, num_ws, w_dim]; with `update_w_avg` (NVIDIA's training-mode mapping
  pass) G's variables with w_avg ← mean + β·(w_avg − mean), the mean over the global batch (psum(Σ)/psum(n))."""
  ws = gan.generator.apply({"params": g_params, **g_vars}, z, **gan._cond(labels), method="mapping")
  if not update_w_avg:
    return ws, g_vars
  w = lax.stop_gradient(ws[:, 0]).astype(jnp.float32)
  mean = _psum(gan.axis_name, jnp.sum(w, axis=0)) / _psum(gan.axis_name, jnp.float32(w.shape[0]))
  old = get_w_avg(g_vars)
  return ws, _with_w_avg(g_vars, mean + W_AVG_BETA * (old - mean))


def _synthesis(gan: StyleGAN2, g_params, g_vars, ws, key):
  """Images [B, H, W, C] from styles ws, with fresh noise inputs N(0, 1) per layer (drawn for the global batch and
  sliced, so 1 and N devices agree)."""
  b = ws.shape[0]
  sizes = [r * r for r in gan.generator.noise_resolutions]
  # One normal draw for every layer's noise, sliced: each jax.random call is its own threefry computation in the
  # program, and one per noise input (seven at 32 px, in every synthesis pass of a step) cost stylegan2_mnist a
  # quarter of its compile time (279 -> 213 s; docs/stylegan2.md, "Start-up")
  flat = draw_global(jax.random.normal, key, (b, sum(sizes)), gan.axis_name)
  noise = [part.reshape(b, r, r, 1)
           for part, r in zip(jnp.split(flat, np.cumsum(sizes)[:-1], axis=1), gan.generator.noise_resolutions)]
  return gan.generator.apply({"params": g_params, **g_vars}, ws, noise_mode="random", noise=noise,
                             method="synthesis")


def _styles(gan: StyleGAN2, g_params, g_vars, key, labels, local: int):
  """NVIDIA's run_G up to synthesis: w of fresh latents (w_avg updated), and with probability `style_mixing` the
  layers from a cutoff ~ U{1..num_ws−1} on take the w of second latents (no w_avg update). Returns ws, G's
  variables and the key of the synthesis noise."""
  k_z, k_mix, k_cut, k_use, k_noise = jax.random.split(key, 5)
  ws, g_vars = _mapping(gan, g_params, g_vars, gan.local_latents(k_z, local), labels)
  if gan.sg.style_mixing > 0:
    n = gan.num_ws
    cutoff = jax.random.randint(k_cut, (), 1, n)
    cutoff = jnp.where(jax.random.uniform(k_use, ()) < gan.sg.style_mixing, cutoff, n)
    ws2, _ = _mapping(gan, g_params, g_vars, gan.local_latents(k_mix, local), labels, update_w_avg=False)
    ws = jnp.where((jnp.arange(n) < cutoff)[None, :, None], ws, ws2)
  return ws, g_vars, k_noise


def _run_g(gan: StyleGAN2, g_params, g_vars, key, labels, local: int):
  """NVIDIA's run_G: images [B, H, W, C] and G's variables."""
  ws, g_vars, k_noise = _styles(gan, g_params, g_vars, key, labels, local)
  return _synthesis(gan, g_params, g_vars, ws, k_noise), g_vars


def _controller(gan: StyleGAN2) -> ada_lib.Controller:
  sg = gan.sg
  return ada_lib.Controller(mode={"none": "off", "fixed": "ada_fixed"}.get(sg.augment, sg.augment), p_init=sg.ada_p,
                            target=sg.ada_target, interval=sg.ada_interval, kimg=sg.ada_kimg)


def _ada_state(aux) -> ada_lib.AdaState:
  return ada_lib.AdaState(aux["ada_p"], aux["ada_signs"], aux["ada_count"])


def _with_ada(aux, a: ada_lib.AdaState):
  return {**aux, "ada_p": a.p, "ada_signs": a.signs_sum, "ada_count": a.signs_count}


def _augment(gan: StyleGAN2, x, key, p):
  """D's view: ADA's bgc pipeline at probability p (jaxgan/ada.py; draws for the global batch), or x."""
  if gan.sg.augment == "none":
    return x
  return ada_lib.augment(x, key, p, "bgc", gan.axis_name)


def _d(gan: StyleGAN2, d_params, d_vars, x, labels):
  return gan.d_apply({"params": d_params, **d_vars}, x, labels, train=True)


def _ada_adjusted(gan: StyleGAN2, aux, step, global_batch: int):
  """aux with ADA's p adjusted as NVIDIA does after step − 1 (every `ada.interval` steps, from the signs of D's real
  logits gathered since the last adjustment, `ada.Controller.update`), done first thing in step `step` so that
  no lazy phase can come after it."""
  if gan.sg.augment != "ada":
    return aux
  return _with_ada(aux, _controller(gan).update(_ada_state(aux), step - 1, global_batch))


def _gather_signs(gan: StyleGAN2, aux, real_logits):
  """Σ sign(D(A(x))) and the count, summed over devices (`ada.Controller.accumulate`)."""
  if gan.sg.augment != "ada":
    return aux
  return _with_ada(aux, _controller(gan).accumulate(_ada_state(aux), real_logits, gan.axis_name))


def _n_global(gan, local: int) -> int:
  return local * parallel.n_devices(gan.axis_name)


# -- the four phases ------------------------------------------------------------------------------------------


def gmain_forward(inp: PhaseInput, g_params):
  """ADA's p adjusted first (when an interval closes), then D on augmented fakes."""
  gan, state = inp.obj, inp.state
  labels, local = inp.batch.get("labels"), inp.batch["real"].shape[0]
  aux = _ada_adjusted(gan, state.aux, state.step, _n_global(gan, local))
  g, d = state.players["g"], state.players["d"]
  fake, g_vars = _run_g(gan, g_params, g.vars, inp.key, labels, local)
  logits = _d(gan, d.params, d.vars, _augment(gan, fake, jax.random.fold_in(inp.key, 7), aux["ada_p"]), labels)
  return {"fake": {"logits": logits}}, {"g": g_vars, AUX: aux}


def greg_forward(inp: PhaseInput, g_params):
  """Path-length regularization on batch / shrink: lengths ‖J_wᵀ y‖ (the gradient of Σ G(w)·y with respect to each
  layer's w, squared and summed over w's entries, averaged over layers, square-rooted), the running mean moved
  towards the global mean of this batch's lengths, the penalty (length − mean)² (the mean not detached, as
  NVIDIA's is)."""
  gan, state = inp.obj, inp.state
  sg, local = gan.sg, inp.batch["real"].shape[0] // gan.sg.pl_batch_shrink
  labels = inp.batch.get("labels")  # every shrink-th label: on any device count, global PL sample i has label 2i
  labels = None if labels is None else labels[::sg.pl_batch_shrink]
  g = state.players["g"]
  k_g, k_y = jax.random.split(inp.key)
  ws, g_vars, k_noise = _styles(gan, g_params, g.vars, k_g, labels, local)
  fake, vjp = jax.vjp(lambda w_: _synthesis(gan, g_params, g.vars, w_, k_noise), ws)
  h, w = fake.shape[1], fake.shape[2]
  y = draw_global(jax.random.normal, k_y, fake.shape, gan.axis_name) / math.sqrt(h * w)
  (grads,) = vjp(y.astype(fake.dtype))
  lengths = jnp.sqrt(jnp.mean(jnp.sum(jnp.square(grads.astype(jnp.float32)), axis=2), axis=1))
  mean = state.aux["pl_mean"] + sg.pl_decay * (_global_mean(gan.axis_name, lengths) - state.aux["pl_mean"])
  aux = {**state.aux, "pl_mean": lax.stop_gradient(mean)}
  return {"pl_lengths": lengths, "pl_target": mean}, {"g": g_vars, AUX: aux}


def dmain_forward(inp: PhaseInput, d_params):
  """D on augmented reals and on fresh (mixed) fakes, in one pass (D has no batch statistics and its minibatch
  groups never span the two halves); the signs of the real logits gathered for ADA."""
  gan, state = inp.obj, inp.state
  real, labels = inp.batch["real"], inp.batch.get("labels")
  local = real.shape[0]
  g, d = state.players["g"], state.players["d"]
  fake, g_vars = _run_g(gan, g.params, g.vars, inp.key, labels, local)
  fake = lax.stop_gradient(fake).astype(real.dtype)
  p = state.aux["ada_p"]
  fake_in = _augment(gan, fake, jax.random.fold_in(inp.key, 7), p)
  real_in = _augment(gan, real, jax.random.fold_in(inp.key, 8), p)
  if all(local % grp == 0 for grp in gan.d_groups):
    both = None if labels is None else jnp.concatenate([labels, labels])
    logits = _d(gan, d_params, d.vars, jnp.concatenate([fake_in, real_in]), both)
    fake_logits, real_logits = logits[:local], logits[local:]
  else:  # a minibatch group would span fakes and reals
    fake_logits, real_logits = _d(gan, d_params, d.vars, fake_in, labels), _d(gan, d_params, d.vars, real_in, labels)
  aux = _gather_signs(gan, state.aux, lax.stop_gradient(real_logits))
  return {"real": {"logits": real_logits}, "fake": {"logits": fake_logits}}, {"g": g_vars, AUX: aux}


def dreg_forward(inp: PhaseInput, d_params):
  """R1: ‖∇ₓ Σ D(A(x))‖² per real sample (the gradient through the augmentation, as NVIDIA takes it)."""
  gan, state = inp.obj, inp.state
  real, labels = inp.batch["real"], inp.batch.get("labels")
  d = state.players["d"]
  key = jax.random.fold_in(inp.key, 8)
  f = lambda x: _d(gan, d_params, d.vars, _augment(gan, x, key, state.aux["ada_p"]), labels)
  logits, vjp = jax.vjp(f, real)
  (grads,) = vjp(jnp.ones_like(logits))
  r1 = jnp.sum(jnp.square(grads.astype(jnp.float32)).reshape(real.shape[0], -1), axis=1)
  aux = _gather_signs(gan, state.aux, lax.stop_gradient(logits))
  return {"r1": r1}, {AUX: aux}


# -- terms ----------------------------------------------------------------------------------------------------


def g_adversarial(inp, out):
  return jnp.mean(jax.nn.softplus(-out["fake"]["logits"].astype(jnp.float32))), {}


def d_adversarial(inp, out):
  real, fake = out["real"]["logits"].astype(jnp.float32), out["fake"]["logits"].astype(jnp.float32)
  value = jnp.mean(jax.nn.softplus(fake)) + jnp.mean(jax.nn.softplus(-real))
  return value, {"d_loss": value, "d_real": jnp.mean(jax.nn.sigmoid(real)), "d_fake": jnp.mean(jax.nn.sigmoid(fake)),
                 "d_real_sign": jnp.mean(jnp.sign(real))}


def path_length(inp, out):
  value = jnp.mean(jnp.square(out["pl_lengths"] - out["pl_target"]))
  return value, {"pl_penalty": value, "pl_length": jnp.mean(out["pl_lengths"])}


def r1(inp, out):
  value = jnp.mean(out["r1"])
  return value, {"r1_penalty": value}


def state_metrics(inp, out):
  """The objective's state, logged with the losses (a term of weight 0 in Dmain, which runs every step)."""
  aux = inp.state.aux
  norm = jnp.sqrt(jnp.sum(jnp.square(get_w_avg(inp.state.players["g"].vars).astype(jnp.float32))))
  return jnp.zeros((), jnp.float32), {"ada_p": aux["ada_p"], "pl_mean": aux["pl_mean"], "w_avg_norm": norm}


@dataclasses.dataclass(frozen=True)
class EmaImages:
  """G's EMA with NVIDIA's half-life in images, ramped: β = 0.5^(B / max(min(h, images·rampup), 1e-8)), images the
  number shown before this step; run after every step (an `after` of Dmain, which runs every step after G's phases).
  """
  half_life: float
  rampup: float

  def beta(self, step, global_batch: int):
    h = jnp.float32(self.half_life)
    if self.rampup > 0:
      h = jnp.minimum(h, step.astype(jnp.float32) * (global_batch * self.rampup))
    return jnp.power(jnp.float32(0.5), global_batch / jnp.maximum(h, 1e-8)).astype(jnp.float32)

  def __call__(self, inp: PhaseInput, state):
    beta = self.beta(state.step, _n_global(inp.obj, inp.batch["real"].shape[0]))
    ema = optax.incremental_update(state.players["g"].params, state.ema["g"], step_size=1.0 - beta)
    return state.replace(ema={**state.ema, "g": ema})


# -- building from a config -----------------------------------------------------------------------------------


def settings(config) -> Settings:
  """config.stylegan2 / augment / ada → Settings; one-line ValueErrors for settings that cannot run."""
  s = config.get("stylegan2", None) or {}
  batch, res = int(config.batch_size), int(config.model.image_shape[0])
  get = lambda k, d: s.get(k, d) if s.get(k, None) is not None else d
  gamma = float(get("r1_gamma", -1.0))
  gamma = 0.0002 * res ** 2 / batch if gamma < 0 else gamma
  ema_kimg = float(get("ema_kimg", -1.0))
  ema_kimg = batch * 10 / 32 if ema_kimg < 0 else ema_kimg
  ada = config.get("ada", None) or {}
  out = Settings(style_mixing=float(get("style_mixing", 0.9)), pl_weight=float(get("pl_weight", 2.0)),
                 pl_decay=float(get("pl_decay", 0.01)), pl_batch_shrink=int(get("pl_batch_shrink", 2)),
                 pl_interval=int(get("pl_interval", 4)), r1_gamma=gamma, r1_interval=int(get("r1_interval", 16)),
                 ema_images=ema_kimg * 1000.0, ema_rampup=float(get("ema_rampup", 0.05)),
                 augment=str(config.get("augment", "none") or "none"), ada_p=float(ada.get("p", 0.0)),
                 ada_target=float(ada.get("target", 0.6)), ada_interval=int(ada.get("interval", 4)),
                 ada_kimg=float(ada.get("kimg", 500)))
  if out.augment not in AUGMENT_MODES:
    raise ValueError(f"stylegan2: config.augment must be one of {', '.join(AUGMENT_MODES)}, got {out.augment!r}")
  if not 0.0 <= out.style_mixing <= 1.0:
    raise ValueError(f"stylegan2.style_mixing is a probability in [0, 1], got {out.style_mixing}")
  for key in ("pl_interval", "r1_interval", "pl_batch_shrink", "ada_interval"):
    if getattr(out, key) < 1:
      raise ValueError(f"stylegan2: {key.replace('ada_', 'ada.')} must be >= 1, got {getattr(out, key)}")
  if out.ada_kimg <= 0:
    raise ValueError(f"stylegan2: ada.kimg must be > 0, got {out.ada_kimg}")
  for key in ("pl_weight", "r1_gamma", "pl_decay", "ema_rampup", "ada_p"):
    if getattr(out, key) < 0:
      raise ValueError(f"stylegan2: {key.replace('ada_', 'ada.')} must be >= 0, got {getattr(out, key)}")
  if out.ema_images <= 0:
    raise ValueError(f"stylegan2.ema_kimg must be > 0 (or -1 for NVIDIA's batch·10/32), got {ema_kimg}")
  return out


@register("stylegan2")
def build_stylegan2(config, axis_name: Optional[str] = None) -> StyleGAN2:
  """The StyleGAN2-ADA objective `config` describes; `model.name` must be "stylegan2"."""
  require_model(config, "stylegan2", "stylegan2")
  sg = settings(config)
  plain = ml_collections.ConfigDict(config.to_dict())
  plain.augment, plain.pack, plain.n_critic, plain.ema_decay = "", 1, 1, 0.0
  plain.penalty = ml_collections.ConfigDict(dict(name="none", weight=0.0, interval=1))
  gan = build_gan(plain, axis_name)   # G, D, labels, latents, batch checks, lazy mode
  if gan.d_heads or gan.latents.codes:
    raise ValueError("stylegan2: InfoGAN codes and AC-GAN heads are not supported (use model.cond_d='projection')")
  if int(config.batch_size) % sg.pl_batch_shrink:
    raise ValueError(f"stylegan2: batch_size {config.batch_size} does not divide by pl_batch_shrink "
                     f"{sg.pl_batch_shrink}")

  def tx(name, interval):
    o = config.optim[name]
    if str(o.get("name", "adam")) != "adam":  # NVIDIA's lazy correction is Adam's; others are taken as they are
      return make_optimizer(o)
    b1, b2, eps = float(o.get("b1", 0.0)), float(o.get("b2", 0.99)), float(o.get("eps", 1e-8))
    if interval > 1:
      return lazy_adam(float(o.lr), b1, b2, interval, eps=eps)
    return optax.adam(float(o.lr), b1=b1, b2=b2, eps=eps)

  pl_on, r1_on = sg.pl_weight > 0, sg.r1_gamma > 0
  phases = [Phase("Gmain", "g", gmain_forward, (Term("adversarial", g_adversarial),), total_metric="g_loss")]
  if pl_on:
    phases.append(Phase("Greg", "g", greg_forward, (Term("path_length", path_length, sg.pl_weight * sg.pl_interval),),
                        interval=sg.pl_interval))
  phases.append(Phase("Dmain", "d", dmain_forward,
                      (Term("adversarial", d_adversarial), Term("state", state_metrics, 0.0)),
                      after=(EmaImages(sg.ema_images, sg.ema_rampup),)))
  if r1_on:
    phases.append(Phase("Dreg", "d", dreg_forward, (Term("r1", r1, sg.r1_gamma / 2 * sg.r1_interval),),
                        interval=sg.r1_interval))
  players = {"g": Player(gan.generator, tx("g", sg.pl_interval if pl_on else 1)),
             "d": Player(gan.discriminator, tx("d", sg.r1_interval if r1_on else 1))}
  fields = {f.name: getattr(gan, f.name) for f in dataclasses.fields(gan)}
  fields.update(players=players, phases=tuple(phases), ema_players=("g",), sanitize_grads=True,
                sanitize_inf=1e5)
  return StyleGAN2(**fields, sg=sg)

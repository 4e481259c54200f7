"""GANomaly (Akcay et al. 2018): an encoder-decoder-encoder generator trained adversarially on normal images.

G (models/anomaly.py) maps an image x to z = G_E(x), reconstructs x̂ = G_D(z) and re-encodes ẑ = E(x̂). D (the DCGAN
discriminator) tells x from x̂. The phases, as in the paper:
  D phase   the GAN loss of `config.loss.name` (the paper's: binary cross-entropy, "non_saturating" on logits) on x
            (real) and x̂ (fake)
  G phase   w_adv · 1/n_d ‖f(x) − f(x̂)‖²    adversarial feature loss (f: D's last features)
          + w_con · 1/n ‖x − x̂‖₁           contextual loss
          + w_enc · 1/n_z ‖z − ẑ‖²          latent (encoder) loss
The anomaly score of an image is the latent distance 1/n_z ‖G_E(x) − E(G_D(G_E(x)))‖² ("latent"; its contextual
residual "image" is reported beside it), G in inference mode.

Config (`config.ganomaly`): w_adv, w_con, w_enc (the paper's 1, 50, 1). `model.name` = "ganomaly",
`model.latent_dim` the bottleneck size. The sample grids show G_D on random N(0, I) codes: not a generative model,
a look at what the decoder learnt.
"""
import dataclasses
from typing import Optional

import jax
import jax.numpy as jnp
from jax import lax

from jaxgan import losses, terms
from jaxgan.gan import GAN, Latents, _d_fn, make_optimizer
from jaxgan.models import get_model
from jaxgan.models.anomaly import GANomalyGenerator
from jaxgan.objective import Phase, PhaseInput, Player, Term, lazy_cond_default, register, require_model


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class GANomaly(GAN):
  w_adv: float = 1.0
  w_con: float = 50.0
  w_enc: float = 1.0
  primary_score: str = "latent"

  def example_input(self, player: str):
    return (jnp.zeros((2,) + tuple(self.image_shape), jnp.float32),), {}

  def generate(self, g_params, g_vars, z, labels=None, train: bool = False):
    """G_D(z): the decoder on codes z (sample grids)."""
    return self.generator.apply({"params": g_params, **g_vars}, z, train=train, method=GANomalyGenerator.decode)

  def reconstruct(self, g_params, g_vars, x, train: bool):
    """((x̂, z, ẑ), G's updated collections)."""
    if train:
      return self.generator.apply({"params": g_params, **g_vars}, x, train=True, mutable=list(g_vars))
    return self.generator.apply({"params": g_params, **g_vars}, x, train=False), g_vars

  def features(self, d_params, d_vars, x):
    """D's last features [B, F] in training mode, its collections' updates dropped."""
    _, cols = self.d_apply({"params": d_params, **d_vars}, x, train=True, mutable=list(d_vars) + ["intermediates"])
    return cols["intermediates"]["features"][0].astype(jnp.float32)

  def anomaly_scores(self, state, x):
    g = state.players["g"]
    (x_hat, z, z_hat), _ = self.reconstruct(g.params, g.vars, x, train=False)
    latent = jnp.mean(jnp.square(z - z_hat), axis=1)
    image = jnp.mean(jnp.abs(x - x_hat).reshape(x.shape[0], -1), axis=1)
    return {"latent": latent, "image": image}


def d_forward(inp: PhaseInput, d_params):
  gan, state = inp.obj, inp.state
  real, g, d_vars = inp.batch["real"], state.players["g"], state.players["d"].vars
  (fake, _, _), g_vars = gan.reconstruct(g.params, g.vars, real, train=True)
  fake = lax.stop_gradient(fake)
  if d_vars:  # batch statistics: each batch normalised by its own, as PyTorch code does
    real_out, new_d = _d_fn(gan, d_vars, None, True)(d_params, real)
    fake_out, new_d = _d_fn(gan, new_d, None, True)(d_params, fake)
  else:
    out = _d_fn(gan, d_vars, None, False)(d_params, jnp.concatenate([real, fake]))
    real_out, fake_out, new_d = out[:real.shape[0]], out[real.shape[0]:], d_vars
  return {"real": {"logits": real_out}, "fake": {"logits": fake_out}}, {"d": new_d, "g": g_vars}


def g_forward(inp: PhaseInput, g_params):
  gan, state = inp.obj, inp.state
  real, d = inp.batch["real"], state.players["d"]
  (x_hat, z, z_hat), g_vars = gan.reconstruct(g_params, state.players["g"].vars, real, train=True)
  return {"real_x": real, "fake_x": x_hat, "z": z, "z_hat": z_hat,
          "real_f": gan.features(d.params, d.vars, real), "fake_f": gan.features(d.params, d.vars, x_hat)}, \
      {"g": g_vars}


def adversarial_features(inp, out):
  value = jnp.mean(jnp.square(out["real_f"] - out["fake_f"]))
  return value, {"g_adv": value}


def contextual(inp, out):
  value = jnp.mean(jnp.abs(out["real_x"].astype(jnp.float32) - out["fake_x"].astype(jnp.float32)))
  return value, {"g_con": value}


def latent(inp, out):
  value = jnp.mean(jnp.square(out["z"] - out["z_hat"]))
  return value, {"g_enc": value}


@register("ganomaly")
def build_ganomaly(config, axis_name: Optional[str] = None) -> GANomaly:
  """GANomaly as `config` describes it; `model.name` must be "ganomaly"."""
  require_model(config, "ganomaly", "ganomaly")
  if int(config.get("n_critic", 1)) != 1 or int(config.get("pack", 1)) != 1 or config.get("augment", ""):
    raise ValueError("ganomaly: n_critic, pack and augment are not supported (leave them at 1, 1, '')")
  if int(config.model.get("num_classes", 0) or 0):
    raise ValueError("ganomaly is unconditional; set model.num_classes = 0")
  w = config.get("ganomaly", {}) or {}
  weights = {k: float(w.get(k, default)) for k, default in (("w_adv", 1.0), ("w_con", 50.0), ("w_enc", 1.0))}
  for k, v in weights.items():
    if v < 0:
      raise ValueError(f"ganomaly.{k} must be >= 0, got {v}")
  g, d = get_model("ganomaly")(config.model, axis_name)
  loss = losses.get_loss(config.loss.name)
  phases = (Phase("d", "d", d_forward, (Term("adversarial", terms.adversarial_d(loss)),)),
            Phase("g", "g", g_forward, (Term("adversarial_features", adversarial_features, weights["w_adv"]),
                                        Term("contextual", contextual, weights["w_con"]),
                                        Term("latent", latent, weights["w_enc"])), total_metric="g_loss"))
  return GANomaly(
      players={"g": Player(g, make_optimizer(config.optim.g)), "d": Player(d, make_optimizer(config.optim.d))},
      phases=phases, streams=("real",), skip_nonfinite=config.get("nonfinite", "stop") == "skip",
      sanitize_grads=bool(config.get("sanitize_grads", False)), axis_name=axis_name,
      lazy_cond=lazy_cond_default(config), loss=loss, latents=Latents(int(config.model.latent_dim)),
      image_shape=tuple(config.model.image_shape), **weights)

"""f-AnoGAN (Schlegl et al. 2019): a WGAN-GP on normal images, then an encoder trained against the frozen G and D.

One objective, two stages (docs/architecture.md):
  stage 0 (steps [0, gan_steps))   the GAN of gan.py as the config describes it (the presets: WGAN-GP) trains G, D
  stage 1 (from gan_steps)          only the encoder E trains, with the paper's izi_f loss
                                      L(x) = 1/n ‖x − G(E(x))‖² + κ · 1/n_d ‖f(x) − f(G(E(x)))‖²
                                    n pixels, f D's last features (n_d of them), G in inference mode; G and D stay
                                    bit for bit as stage 0 left them (no phase of theirs runs).
E exists from step 0 (player "e": models/anomaly.py's ConvEncoder to G's latent size), so the state's tree never
changes; in stage 0 its params and optimizer state are untouched.

The anomaly score of an image is the same residual, L(x) (`anomaly_scores`: "izif", with its two parts "image" and
"features").

Config (`config.fanogan`): gan_steps (the stage boundary), kappa (κ, default 1), optim (E's optimizer, as
config.optim.g; default Adam 1e-4 β = (0, 0.9), the paper's). `config.steps` = gan_steps + the encoder's steps.
"""
import dataclasses
from typing import Optional

import jax
import jax.numpy as jnp

from jaxgan.gan import GAN, build_gan, make_optimizer
from jaxgan.models.anomaly import ConvEncoder
from jaxgan.objective import Phase, PhaseInput, Player, Term, register


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class FAnoGAN(GAN):
  kappa: float = 1.0
  stage: int = 0
  gan_phases: tuple = ()
  encoder_phases: tuple = ()
  primary_score: str = "izif"

  def for_stage(self, stage: int) -> "FAnoGAN":
    phases = self.gan_phases if int(stage) == 0 else self.encoder_phases
    return dataclasses.replace(self, stage=int(stage), phases=phases)

  def example_input(self, player: str):
    if player == "e":
      return (jnp.zeros((2,) + tuple(self.image_shape), jnp.float32),), {}
    return super().example_input(player)

  def features(self, d_params, d_vars, x):
    """D's last features [B, F] (inference mode, collections untouched)."""
    _, cols = self.d_apply({"params": d_params, **d_vars}, x, train=False, mutable=["intermediates"])
    return cols["intermediates"]["features"][0].astype(jnp.float32)

  def residuals(self, state, e_params, x):
    """Per image: (mean squared image residual, mean squared D-feature residual) of x and G(E(x))."""
    g, d = state.players["g"], state.players["d"]
    z = self.players["e"].module.apply({"params": e_params}, x)
    x_hat = self.generate(g.params, g.vars, z)
    r_img = jnp.mean(jnp.square(x - x_hat).reshape(x.shape[0], -1), axis=1)
    r_feat = jnp.mean(jnp.square(self.features(d.params, d.vars, x) - self.features(d.params, d.vars, x_hat)), axis=1)
    return r_img, r_feat

  def anomaly_scores(self, state, x):
    r_img, r_feat = self.residuals(state, state.params("e"), x)
    return {"izif": r_img + self.kappa * r_feat, "image": r_img, "features": r_feat}


def encoder_forward(inp: PhaseInput, e_params):
  r_img, r_feat = inp.obj.residuals(inp.state, e_params, inp.batch["real"])
  return {"image": r_img, "features": r_feat}, {}


def izif(inp: PhaseInput, out):
  """The encoder's loss: the batch mean of the image residual + κ · the feature residual (float32)."""
  img, feat = jnp.mean(out["image"]), jnp.mean(out["features"])
  value = img + inp.obj.kappa * feat
  return value, {"e_loss": value, "e_image": img, "e_features": feat}  # the step averages metrics over devices


@register("fanogan")
def build_fanogan(config, axis_name: Optional[str] = None) -> FAnoGAN:
  """The GAN `config` describes plus an encoder trained from step `config.fanogan.gan_steps` on."""
  f = config.get("fanogan", None)
  if f is None:
    raise ValueError("objective 'fanogan' needs config.fanogan (gan_steps, kappa); see jaxgan/fanogan.py")
  gan_steps = int(f.get("gan_steps", 0))
  if gan_steps <= 0:
    raise ValueError(f"fanogan.gan_steps must be positive (the GAN's steps before the encoder's), got {gan_steps}")
  kappa = float(f.get("kappa", 1.0))
  if kappa < 0:
    raise ValueError(f"fanogan.kappa must be >= 0, got {kappa}")
  gan = build_gan(config, axis_name)
  if gan.conditional or gan.pack > 1 or gan.view.augment or gan.latents.codes:
    raise ValueError("fanogan trains an unconditional GAN without packing, DiffAugment or InfoGAN codes")
  shape = tuple(config.model.image_shape)
  encoder = ConvEncoder(gan.z_dim, shape, float(config.model.get("width", 1.0) or 1.0))
  e_optim = f.get("optim", None) or dict(name="adam", lr=1e-4, b1=0.0, b2=0.9)
  players = {**gan.players, "e": Player(encoder, make_optimizer(_as_config(e_optim)))}
  e_phase = Phase("e", "e", encoder_forward, (Term("izif", izif),), total_metric="e_loss")
  fields = {fl.name: getattr(gan, fl.name) for fl in dataclasses.fields(gan)}
  fields.update(players=players, stage_starts=(gan_steps,))
  return FAnoGAN(**fields, kappa=kappa, gan_phases=gan.phases, encoder_phases=(e_phase,))


def _as_config(d):
  import ml_collections
  return d if isinstance(d, ml_collections.ConfigDict) else ml_collections.ConfigDict(dict(d))

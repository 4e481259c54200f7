"""GAN: the static description of a run (modules, losses, optimizers) built from a config, and its state init."""
import dataclasses
from typing import Any, Optional, Tuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jaxgan import losses
from jaxgan.models import get_model
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

  def sample_latents(self, key, n: int):
    return jax.random.normal(key, (n, self.latent_dim), jnp.float32)

  def generate(self, g_params, g_vars, z, train: bool = False):
    """G(z) in inference mode (BatchNorm running averages); float32 NHWC images in [-1, 1]."""
    return self.generator.apply({"params": g_params, **g_vars}, z, train=train)


_OPTIMIZERS = ("adam", "rmsprop", "sgd")


def make_optimizer(cfg) -> optax.GradientTransformation:
  name = cfg.get("name", "adam")
  lr = float(cfg.lr)
  if lr <= 0:
    raise ValueError(f"learning rate must be positive, got {lr}")
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
  return GAN(
      generator=g, discriminator=d, loss=losses.get_loss(config.loss.name),
      g_tx=make_optimizer(config.optim.g), d_tx=make_optimizer(config.optim.d),
      latent_dim=int(config.model.latent_dim), image_shape=tuple(config.model.image_shape),
      n_critic=n_critic, ema_decay=float(config.get("ema_decay", 0.0)),
      skip_nonfinite=config.get("nonfinite", "stop") == "skip", axis_name=axis_name)


def _split_vars(variables):
  variables = dict(variables)
  params = variables.pop("params")
  return params, variables


def init_state(gan: GAN, seed: int) -> GANState:
  """Fresh state: G and D initialised from `seed`, optimizer states, EMA = G's params when enabled."""
  key = jax.random.key(seed)
  k_g, k_d, k_run = jax.random.split(key, 3)
  z = jnp.zeros((2, gan.latent_dim), jnp.float32)
  x = jnp.zeros((2,) + gan.image_shape, jnp.float32)
  # train=False: BatchNorm then needs no cross-device axis, so init works outside the device mesh.
  g_params, g_vars = _split_vars(gan.generator.init({"params": k_g}, z, train=False))
  d_params, d_vars = _split_vars(gan.discriminator.init({"params": k_d}, x, train=False))
  ema = jax.tree.map(jnp.copy, g_params) if gan.ema_decay > 0 else None
  return GANState(step=jnp.zeros((), jnp.int32), rng=jax.random.key_data(k_run), g_params=g_params, d_params=d_params,
                  g_vars=g_vars, d_vars=d_vars, g_opt_state=gan.g_tx.init(g_params),
                  d_opt_state=gan.d_tx.init(d_params), ema_params=ema)

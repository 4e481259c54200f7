"""The permutation-invariant MNIST model of Salimans et al. 2016 ("Improved Techniques for Training GANs", §5):

  D: x → N(0, σ_in²) noise → 1000 → 500 → 250 → 250 → 250 → K logits; every hidden layer weight-normalised dense
     + ReLU followed by N(0, σ_h²) noise (σ_in = 0.3 on [0, 1] pixels, i.e. 0.6 on jaxgan's [-1, 1]; σ_h = 0.5);
     the output layer is weight-normalised too. D sows its last hidden layer (the 250 ReLU units, before their
     noise) as ("intermediates", "features"): what G's feature matching compares.
  G: z → dense 500, batch norm, softplus → dense 500, batch norm, softplus → weight-normalised dense 784, sigmoid,
     mapped to [-1, 1] (2·sigmoid − 1 = tanh(·/2), the jaxgan image contract).

Weight normalisation (Salimans & Kingma 2016): y = g · (x·v)/‖v‖ + b per output unit. By default g starts at √2 for
ReLU layers and 1 for the output layers (a unit-norm direction then keeps the second moment of its input through a
ReLU), b at 0, and g trains. The paper's code (openai/improved-gan, `nn.DenseLayer`) differs in three ways, each a
config key: v ~ N(0, 0.1²) (`ssl_v_init`; v's scale sets how fast Adam turns its direction), the hidden layers' g
fixed after a data-dependent init (`ssl_train_hidden_scale = False`), and that init itself (jaxgan/ssl.py,
`ssl.data_init`), which sets every layer's g and b so its pre-activations have zero mean and unit variance on a
batch of training digits. Each WNDense sows its pre-activation without the bias, ("intermediates", "preact"), for
that init.

Noise is on in train mode only (`train=True`) and uses the "noise" rng stream. Device invariance: each layer draws
its noise for the global batch (`axis_name` set: this device's batch × devices rows) and keeps this device's rows,
so a global batch sees the same noise on 1 or N devices (the project's rule for random draws).
"""
from typing import Any, Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxgan import parallel
from jaxgan.models import register

SSL_D_HIDDEN = (1000, 500, 250, 250, 250)
SSL_G_HIDDEN = (500, 500)


class WNDense(nn.Module):
  """Weight-normalised dense layer: g · (x·v)/‖v‖_col + b; with `train_g=False` g gets no gradient (it keeps the
  value an init gave it)."""
  features: int
  g_init: float = 1.0
  v_init: float = 0.05
  train_g: bool = True
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    v = self.param("v", nn.initializers.normal(self.v_init), (x.shape[-1], self.features), jnp.float32)
    g = self.param("g", nn.initializers.constant(self.g_init), (self.features,), jnp.float32)
    b = self.param("b", nn.initializers.zeros, (self.features,), jnp.float32)
    if not self.train_g:
      g = jax.lax.stop_gradient(g)
    scale = g * jax.lax.rsqrt(jnp.sum(jnp.square(v), axis=0) + 1e-12)
    y = jnp.dot(x.astype(self.dtype), v.astype(self.dtype)) * scale.astype(self.dtype)
    self.sow("intermediates", "preact", y)
    return y + b.astype(self.dtype)


class GlobalNoise(nn.Module):
  """Additive N(0, σ²) noise drawn for the global batch and sliced to this device's rows; identity when not
  training or σ = 0."""
  sigma: float
  axis_name: Optional[str] = None

  @nn.compact
  def __call__(self, x, train: bool):
    if not train or self.sigma <= 0:
      return x
    local = x.shape[0]
    n = parallel.n_devices(self.axis_name) if self.axis_name is not None else 1
    noise = jax.random.normal(self.make_rng("noise"), (local * n,) + x.shape[1:], jnp.float32)
    noise = parallel.local_slice(self.axis_name, noise, local) if self.axis_name is not None else noise
    return x + (self.sigma * noise).astype(x.dtype)


class SSLDiscriminator(nn.Module):
  """K class logits [B, K] (the fake class's logit is the constant 0, added by the objective)."""
  num_classes: int = 10
  hidden: Sequence[int] = SSL_D_HIDDEN
  input_noise: float = 0.6
  hidden_noise: float = 0.5
  v_init: float = 0.05
  train_hidden_scale: bool = True
  dtype: Any = jnp.float32
  axis_name: Optional[str] = None

  @nn.compact
  def __call__(self, x_BxHxWxC, train: bool = True):
    h = x_BxHxWxC.reshape((x_BxHxWxC.shape[0], -1)).astype(jnp.float32)
    h = GlobalNoise(self.input_noise, self.axis_name)(h, train)
    for i, width in enumerate(self.hidden):
      h = nn.relu(WNDense(width, float(np.sqrt(2.0)), v_init=self.v_init, train_g=self.train_hidden_scale,
                          dtype=self.dtype, name=f"WNDense_{i}")(h))
      if i == len(self.hidden) - 1:
        self.sow("intermediates", "features", h)
      h = GlobalNoise(self.hidden_noise, self.axis_name)(h, train)
    out = WNDense(self.num_classes, 1.0, v_init=self.v_init, dtype=self.dtype, name=f"WNDense_{len(self.hidden)}")(h)
    return out.astype(jnp.float32)


class SSLGenerator(nn.Module):
  image_shape: Sequence[int] = (28, 28, 1)
  hidden: Sequence[int] = SSL_G_HIDDEN
  dtype: Any = jnp.float32
  axis_name: Optional[str] = None

  @nn.compact
  def __call__(self, z_BxZ, train: bool = True):
    h = z_BxZ
    for width in self.hidden:
      h = nn.Dense(width, use_bias=False, dtype=self.dtype)(h)
      h = nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5, axis_name=self.axis_name,
                       dtype=self.dtype)(h)
      h = nn.softplus(h)
    x = WNDense(int(np.prod(self.image_shape)), 1.0, dtype=self.dtype)(h).astype(jnp.float32)
    x = 2.0 * nn.sigmoid(x) - 1.0
    return x.reshape((z_BxZ.shape[0],) + tuple(self.image_shape))


def _widths(cfg, key, default):
  width = float(cfg.get("width", 1))
  widths = tuple(cfg.get(key, ()) or ()) or default
  return tuple(max(1, int(round(w * width))) for w in widths)


@register("ssl_mlp")
def build(cfg, axis_name=None):
  """Salimans et al.'s MNIST G and D. Keys: `width` scales every hidden layer; `ssl_d_hidden` / `ssl_g_hidden`
  replace the layer widths; `input_noise`, `hidden_noise` (σ on [-1, 1] pixels and on hidden units);
  `ssl_classes` (K, default 10); `ssl_v_init` (std of D's weight-norm directions, default 0.05);
  `ssl_train_hidden_scale` (default True: D's hidden g train)."""
  dtype = jnp.dtype(cfg.get("dtype", "float32"))
  if int(cfg.get("num_classes", 0) or 0):
    raise ValueError("model ssl_mlp is not class-conditional (its D is a K+1-class classifier: set ssl_classes); "
                     "use model.num_classes=0")
  g = SSLGenerator(image_shape=tuple(cfg.image_shape), hidden=_widths(cfg, "ssl_g_hidden", SSL_G_HIDDEN),
                   dtype=dtype, axis_name=axis_name)
  v_init = float(cfg.get("ssl_v_init", 0.05))
  if not v_init > 0:
    raise ValueError(f"model.ssl_v_init is the std of the weight-norm directions at init, > 0; got {v_init}")
  d = SSLDiscriminator(num_classes=int(cfg.get("ssl_classes", 10)), hidden=_widths(cfg, "ssl_d_hidden", SSL_D_HIDDEN),
                       input_noise=float(cfg.get("input_noise", 0.6)), hidden_noise=float(cfg.get("hidden_noise", 0.5)),
                       v_init=v_init, train_hidden_scale=bool(cfg.get("ssl_train_hidden_scale", True)),
                       dtype=dtype, axis_name=axis_name)
  return g, d

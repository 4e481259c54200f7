"""The original MLP GAN (G 100→256→512→1024→784 tanh; D 784→1024→512→256→1, LeakyReLU 0.2).

D emits a logit: the original's final Sigmoid moved into the loss. Layers are initialised as torch.nn.Linear is
(U(±1/√fan_in) for weights and biases) so the faithful preset starts from the same distribution as the original.
"""
import math
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.models import register
from jaxgan.models.conditional import DiscriminatorHead, check_cond, require_labels
from jaxgan.models.ops import MinibatchDiscrimination, mbstd_config, minibatch_stddev


def _torch_uniform(fan_in_axis: int = 0):
  def init(key, shape, dtype=jnp.float32):
    fan_in = shape[fan_in_axis] if len(shape) > 1 else shape[0]
    bound = 1.0 / math.sqrt(fan_in)
    return jax.random.uniform(key, shape, dtype, -bound, bound)
  return init


class TorchDense(nn.Module):
  """nn.Dense with torch.nn.Linear's default initialisation (bias bound uses the layer's fan-in)."""
  features: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    fan_in = x.shape[-1]
    kernel = self.param("kernel", _torch_uniform(0), (fan_in, self.features), jnp.float32)
    bound = 1.0 / math.sqrt(fan_in)
    bias = self.param("bias", lambda k, s, d=jnp.float32: jax.random.uniform(k, s, d, -bound, bound),
                      (self.features,))
    x = x.astype(self.dtype)
    return jnp.dot(x, kernel.astype(self.dtype)) + bias.astype(self.dtype)


class MLPGenerator(nn.Module):
  image_shape: Sequence[int] = (28, 28, 1)
  hidden: Sequence[int] = (256, 512, 1024)
  dtype: Any = jnp.float32
  num_classes: int = 0  # > 0: a learned class embedding (size of z) is concatenated to z (Mirza & Osindero 2014)

  @nn.compact
  def __call__(self, z_BxZ, labels=None, train: bool = True):
    require_labels(labels, self.num_classes, z_BxZ.shape[0])
    h = z_BxZ
    if self.num_classes:
      h = jnp.concatenate([h, nn.Embed(self.num_classes, z_BxZ.shape[-1])(labels).astype(h.dtype)], axis=-1)
    for width in self.hidden:
      h = nn.relu(TorchDense(width, self.dtype)(h))
    x = jnp.tanh(TorchDense(int(np.prod(self.image_shape)), self.dtype)(h).astype(jnp.float32))
    return x.reshape((z_BxZ.shape[0],) + tuple(self.image_shape))


class MLPDiscriminator(nn.Module):
  hidden: Sequence[int] = (1024, 512, 256)
  mbstd: bool = False   # minibatch-stddev feature before the output layer (models/ops.py)
  mbstd_group: int = 4
  dtype: Any = jnp.float32
  num_classes: int = 0
  cond_d: str = "projection"
  mbdisc: int = 0       # minibatch discrimination kernels before the output layer (set by build_gan; models/ops.py)
  mbdisc_dim: int = 5
  mbdisc_group: int = 16

  @nn.compact
  def __call__(self, x_BxHxWxC, labels=None, train: bool = True):
    if self.cond_d == "projection":
      require_labels(labels, self.num_classes, x_BxHxWxC.shape[0])
    h = x_BxHxWxC.reshape((x_BxHxWxC.shape[0], -1))
    for width in self.hidden:
      h = nn.leaky_relu(TorchDense(width, self.dtype)(h), 0.2)
    self.sow("intermediates", "features", h)
    if self.mbstd:
      h = minibatch_stddev(h, self.mbstd_group)
    if self.mbdisc:
      h = MinibatchDiscrimination(self.mbdisc, self.mbdisc_dim, self.mbdisc_group, self.dtype)(h)
    if self.num_classes:
      return DiscriminatorHead(self.num_classes, self.cond_d, self.dtype, dense=TorchDense)(h, labels)
    return TorchDense(1, self.dtype)(h)[:, 0].astype(jnp.float32)


@register("mlp")
def build(cfg, axis_name=None):
  """The original MLP G/D; `width` scales every hidden layer (1 = the original 256/512/1024); `mbstd` adds a
  minibatch-stddev feature to D (off in the original)."""
  del axis_name  # no batch statistics
  width = float(cfg.get("width", 1))
  dtype = jnp.dtype(cfg.get("dtype", "float32"))
  scale = lambda ws: tuple(max(1, int(round(w * width))) for w in ws)
  num_classes, cond_d = check_cond(cfg, "mlp")
  g = MLPGenerator(image_shape=tuple(cfg.image_shape), hidden=scale((256, 512, 1024)), dtype=dtype,
                   num_classes=num_classes)
  mbstd, mbstd_group = mbstd_config(cfg, "mlp")
  d = MLPDiscriminator(hidden=scale((1024, 512, 256)), mbstd=mbstd, mbstd_group=mbstd_group, dtype=dtype,
                       num_classes=num_classes, cond_d=cond_d)
  return g, d

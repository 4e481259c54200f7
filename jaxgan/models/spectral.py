"""Spectral normalization (Miyato et al. 2018): layers whose weight is divided by an estimate of its top singular value.

The kernel is viewed as a matrix W [fan_in, out] (a conv kernel [kh, kw, in, out] flattened over its first three
axes, flax's layout). The estimate σ of ‖W‖₂ comes from one power iteration per call, warm-started from a stored
u ∈ R^out:

  v = normalize(W u),   u' = normalize(Wᵀ v),   σ = vᵀ W u'   (u', v under stop_gradient; ∂σ/∂W = v u'ᵀ)

and the layer uses W / σ. u lives in the variable collection "spectral". It is updated only when that collection
is mutable (and `update` is true, and not during init); applied immutably (the G step, penalty passes, evaluation)
the layer uses the current u without raising: v = normalize(W u), σ = vᵀ W u = ‖W u‖. The power iteration runs in
float32 whatever the compute dtype. Under data parallelism (`axis_name` set) the new u is averaged over devices:
every device computes the same value, but the average makes it a replicated (device-invariant) value, as the
state's out-spec requires.

`sigma` is sown into the "intermediates" collection (free unless that collection is made mutable), for tests and
diagnostics.
"""
from typing import Any, Callable, Optional, Sequence, Tuple, Union

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from jaxgan.models import layers as L

Array = jax.Array
Initializer = Callable[..., Array]
Padding = Union[str, int, Sequence[Tuple[int, int]]]

SPECTRAL = "spectral"


def l2_normalize(x: Array, eps: float = 1e-12) -> Array:
  """x / max(‖x‖₂, eps) (as torch.nn.functional.normalize)."""
  return x / jnp.maximum(jnp.linalg.norm(x), eps)


def power_iteration(w_KxN: Array, u_N: Array, update: bool, eps: float = 1e-12) -> Tuple[Array, Array]:
  """(σ, u) for W [K, N]: one power-iteration step from u when `update`, else the estimate at the current u.

  σ is differentiable in W with u, v held fixed (the paper's gradient, σ's ∂/∂W = v uᵀ).
  """
  w = w_KxN.astype(jnp.float32)
  w_const = lax.stop_gradient(w)
  u = lax.stop_gradient(u_N.astype(jnp.float32))
  v = l2_normalize(jnp.sum(w_const * u[None, :], axis=1), eps)
  if update:
    u = l2_normalize(jnp.sum(w_const * v[:, None], axis=0), eps)
  sigma = jnp.sum(w * (v[:, None] * u[None, :]))
  return sigma, u


def _normalized(mdl: nn.Module, kernel: Array, update: bool, eps: float, axis_name: Optional[str]) -> Array:
  """kernel / σ(kernel as [fan_in, out]); maintains `mdl`'s "spectral"/"u" variable."""
  n_out = kernel.shape[-1]
  u_var = mdl.variable(SPECTRAL, "u",
                       lambda: l2_normalize(jax.random.normal(mdl.make_rng("params"), (n_out,), jnp.float32)))
  do_update = bool(update) and mdl.is_mutable_collection(SPECTRAL) and not mdl.is_initializing()
  sigma, u = power_iteration(kernel.reshape(-1, n_out), u_var.value, do_update, eps)
  if do_update:
    if axis_name is not None:
      u = lax.pmean(u, axis_name)
    u_var.value = u
  mdl.sow("intermediates", "sigma", sigma)
  return kernel / sigma.astype(kernel.dtype)


class SNDense(nn.Module):
  """Dense layer with a spectrally normalized kernel: y = x (W/σ) + b."""
  features: int
  use_bias: bool = True
  dtype: Any = jnp.float32
  param_dtype: Any = jnp.float32
  kernel_init: Initializer = nn.initializers.xavier_uniform()
  bias_init: Initializer = nn.initializers.zeros_init()
  eps: float = 1e-12
  axis_name: Optional[str] = None

  @nn.compact
  def __call__(self, x: Array, update: bool = True) -> Array:
    kernel = self.param("kernel", self.kernel_init, (x.shape[-1], self.features), self.param_dtype)
    kernel = _normalized(self, kernel, update, self.eps, self.axis_name)
    y = jnp.dot(x.astype(self.dtype), kernel.astype(self.dtype))
    if self.use_bias:
      y = y + self.param("bias", self.bias_init, (self.features,), self.param_dtype).astype(self.dtype)
    return y


def _padding(padding: Padding, ndim: int):
  if isinstance(padding, str):
    return padding
  if isinstance(padding, int):
    return [(padding, padding)] * ndim
  return [tuple(p) for p in padding]


class SNConv(nn.Module):
  """NHWC convolution with a spectrally normalized kernel [kh, kw, in, out] (as a matrix [kh·kw·in, out]).

  `padding`: "SAME" | "VALID" | an int (both sides of every spatial axis) | ((lo, hi), ...) per spatial axis.
  """
  features: int
  kernel_size: Sequence[int] = (3, 3)
  strides: Sequence[int] = (1, 1)
  padding: Padding = "SAME"
  use_bias: bool = True
  dtype: Any = jnp.float32
  param_dtype: Any = jnp.float32
  kernel_init: Initializer = nn.initializers.xavier_uniform()
  bias_init: Initializer = nn.initializers.zeros_init()
  eps: float = 1e-12
  axis_name: Optional[str] = None

  @nn.compact
  def __call__(self, x_BxHxWxC: Array, update: bool = True) -> Array:
    ks = tuple(self.kernel_size)
    kernel = self.param("kernel", self.kernel_init, ks + (x_BxHxWxC.shape[-1], self.features), self.param_dtype)
    kernel = _normalized(self, kernel, update, self.eps, self.axis_name)
    y = L.conv_general_dilated(x_BxHxWxC.astype(self.dtype), kernel.astype(self.dtype), tuple(self.strides),
                               _padding(self.padding, len(ks)), dimension_numbers=("NHWC", "HWIO", "NHWC"))
    if self.use_bias:
      y = y + self.param("bias", self.bias_init, (self.features,), self.param_dtype).astype(self.dtype)
    return y


class SNEmbed(nn.Module):
  """Embedding lookup E[labels] with the table E [num_embeddings, features] spectrally normalized as a matrix
  (as Mimicry's SNEmbedding for the projection discriminator)."""
  num_embeddings: int
  features: int
  dtype: Any = jnp.float32
  param_dtype: Any = jnp.float32
  embedding_init: Initializer = nn.initializers.xavier_uniform()
  eps: float = 1e-12
  axis_name: Optional[str] = None

  @nn.compact
  def __call__(self, labels_B: Array, update: bool = True) -> Array:
    table = self.param("embedding", self.embedding_init, (self.num_embeddings, self.features), self.param_dtype)
    table = _normalized(self, table, update, self.eps, self.axis_name)
    return jnp.take(table.astype(self.dtype), labels_B.astype(jnp.int32), axis=0)

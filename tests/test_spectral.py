"""Spectral normalization: σ converges to ‖W‖₂, the normalized map has norm 1, immutable use leaves u alone."""
import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.models.spectral import SNConv, SNDense, SNEmbed, power_iteration


# LLVM's optimisation passes are most of XLA:CPU's compile time for these conv nets (≈ 3x; e.g. a resnet train
# step 31 s -> 10 s under load); the tests check values, not speed, so they compile at -O0.
_jit = functools.partial(jax.jit, compiler_options={"xla_backend_optimization_level": 0})


def _variables(layer, *args, seed=0, **kwargs):
  """`layer.init` variables filled on the host (numpy): compiling jax.random's initialisers costs seconds per
  shape on a small CPU, and the real init is covered once in `test_init_stores_a_unit_u_per_layer`."""
  shapes = jax.eval_shape(functools.partial(layer.init, **kwargs), jax.random.key(0), *args)
  rng = np.random.default_rng(seed)

  def fill(path, s):
    name = path[-1].key
    x = rng.normal(size=s.shape)
    if name == "u":
      x = x / np.linalg.norm(x)
    elif name == "bias":
      x = 0.1 * x
    else:
      x = x / np.sqrt(np.prod(s.shape[:-1]))
    return jnp.asarray(x, s.dtype)

  return jax.tree_util.tree_map_with_path(fill, shapes)


def _normal(seed, shape):
  return jnp.asarray(np.random.default_rng(seed).normal(size=shape), jnp.float32)


def _top_singular_value(w_KxN) -> float:
  return float(np.linalg.svd(np.asarray(w_KxN, np.float64), compute_uv=False)[0])


def _layers():
  x_dense = jnp.ones((2, 12))
  x_conv = jnp.ones((2, 6, 6, 5))
  return [
      (SNDense(7), x_dense, lambda k: k),
      (SNConv(4, (3, 3), padding=1), x_conv, lambda k: k.reshape(-1, k.shape[-1])),
      (SNEmbed(10, 6), jnp.array([0, 3]), lambda e: e),
  ]


def _kernel(params):
  p = params["params"]
  return p["kernel"] if "kernel" in p else p["embedding"]


@pytest.mark.parametrize("i", range(3), ids=["dense", "conv", "embed"])
def test_sigma_converges_to_top_singular_value(i):
  layer, x, as_matrix = _layers()[i]
  variables = _variables(layer, x)
  # A kernel with a clear spectral gap would converge in a few steps; a random one (σ1/σ2 ≈ 1.2-1.5) is the harder
  # case, which 30 iterations still resolve to 1e-3.
  target = _top_singular_value(as_matrix(_kernel(variables)))

  @_jit
  def call(variables):
    _, new = layer.apply(variables, x, mutable=["spectral", "intermediates"])
    return {"params": variables["params"], "spectral": new["spectral"]}, new["intermediates"]["sigma"][0]

  sigma0 = call(variables)[1]
  for _ in range(30):
    variables, sigma = call(variables)
  assert abs(float(sigma0) - target) / target > 1e-3  # the warm start is not already converged
  np.testing.assert_allclose(float(sigma), target, rtol=1e-3)


def test_normalized_dense_map_has_unit_spectral_norm():
  layer = SNDense(9, use_bias=False)
  eye = jnp.eye(16)
  variables = _variables(layer, eye, seed=1)
  variables = {"params": jax.tree.map(lambda k: 3.0 * k, variables["params"]), "spectral": variables["spectral"]}
  step = _jit(lambda v: layer.apply(v, eye, mutable=["spectral"]))
  for _ in range(30):
    w_eff, new = step(variables)
    variables = {**variables, **new}
  # Applied to the identity, the layer returns its effective matrix W/σ.
  assert _top_singular_value(_kernel(variables)) > 2.0
  np.testing.assert_allclose(_top_singular_value(w_eff), 1.0, rtol=1e-3)


def test_immutable_apply_uses_the_current_u_and_leaves_it_unchanged():
  layer = SNConv(3, (3, 3), strides=(2, 2), padding="SAME")
  x = _normal(2, (2, 8, 8, 4))
  variables = _variables(layer, x, seed=3)
  u0 = variables["spectral"]["u"]

  @_jit
  def calls(variables):
    return (layer.apply(variables, x),  # "spectral" immutable: must not raise
            layer.apply(variables, x, mutable=["spectral"])[1],
            layer.apply(variables, x, update=False, mutable=["spectral"])[1])

  y, new, same = calls(variables)
  chex.assert_shape(y, (2, 4, 4, 3))
  chex.assert_tree_all_finite(y)
  assert not np.allclose(new["spectral"]["u"], u0)  # a mutable call does move u
  chex.assert_trees_all_equal(same["spectral"]["u"], u0)
  # The immutable estimate is σ = ‖W u‖ at the stored u.
  w = variables["params"]["kernel"].reshape(-1, 3)
  sigma_immutable = np.linalg.norm(np.asarray(w) @ np.asarray(u0))
  unnormalized = _jit(jax.lax.conv_general_dilated, static_argnums=(2, 3, 4, 5, 6, 7))(
      x, variables["params"]["kernel"], (2, 2), "SAME", None, None, ("NHWC", "HWIO", "NHWC"))
  chex.assert_trees_all_close(y, unnormalized / sigma_immutable + variables["params"]["bias"], atol=1e-5)


def test_gradients_are_finite_and_orthogonal_to_the_scale():
  layer = SNDense(5)
  x = _normal(4, (3, 8))
  variables = _variables(layer, x, seed=5)

  def loss(params):
    y, _ = layer.apply({"params": params, "spectral": variables["spectral"]}, x, mutable=["spectral"])
    return jnp.sum(jnp.sin(y))

  grads = _jit(jax.grad(loss))(variables["params"])
  chex.assert_tree_all_finite(grads)
  # W/σ(W) is invariant to scaling W, so the kernel gradient is orthogonal to W (when the u used for σ is fixed
  # across the scaling, as it is within one call).
  k, g = variables["params"]["kernel"], grads["kernel"]
  assert float(jnp.abs(jnp.sum(k * g))) < 1e-5 * float(jnp.linalg.norm(k) * jnp.linalg.norm(g))
  assert float(jnp.linalg.norm(g)) > 0


def test_power_iteration_matches_numpy_for_one_step():
  rng = np.random.default_rng(0)
  w = rng.normal(size=(6, 4)).astype(np.float32)
  u = rng.normal(size=4).astype(np.float32)
  sigma, u1 = _jit(power_iteration, static_argnums=2)(jnp.asarray(w), jnp.asarray(u), True)
  v = w @ u / np.linalg.norm(w @ u)
  u_ref = w.T @ v / np.linalg.norm(w.T @ v)
  np.testing.assert_allclose(u1, u_ref, rtol=1e-5)
  np.testing.assert_allclose(float(sigma), v @ w @ u_ref, rtol=1e-5)


def test_init_stores_a_unit_u_per_layer():
  x = jnp.ones((2, 6, 6, 5))
  variables = _jit(SNConv(4, (3, 3)).init)(jax.random.key(0), x)
  u = variables["spectral"]["u"]
  chex.assert_shape(u, (4,))
  np.testing.assert_allclose(float(jnp.linalg.norm(u)), 1.0, rtol=1e-5)
  assert set(variables) == {"params", "spectral"}  # not "batch_stats": the engine keeps them apart


def test_dcgan_discriminator_with_spectral_norm_trains_and_updates_u():
  from jaxgan import step as step_lib
  from jaxgan.configs import mnist_fast
  from jaxgan.gan import build_gan, init_state
  c = mnist_fast.get_config()
  c.batch_size, c.model.width, c.model.latent_dim = 8, 1 / 16, 4
  c.model.spectral_norm_d, c.model.d_norm = True, "none"
  gan = build_gan(c)
  state = init_state(gan, 0)
  assert set(state.vars("d")) == {"spectral"} and len(jax.tree.leaves(state.vars("d"))) == 3  # 2 convs + the head
  real = jax.random.uniform(jax.random.key(0), (8, 28, 28, 1), minval=-1, maxval=1)
  labels = jnp.arange(8) % 10
  new, metrics = jax.jit(lambda s, x, y: step_lib.train_step(gan, s, {"real": x, "labels": y}))(state, real, labels)
  chex.assert_tree_all_finite((new, metrics))
  moved = jax.tree.map(lambda a, b: float(jnp.abs(a - b).max()) if a.size > 1 else 1.0, new.vars("d"), state.vars("d"))
  assert min(jax.tree.leaves(moved)) > 0  # the power iteration stepped (a 1-output layer's u is always ±1)

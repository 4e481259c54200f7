"""DCGAN models and the phase-decomposed (transposed) conv layers they are built from."""
import functools

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from jax.sharding import Mesh, PartitionSpec as P

from jaxgan.models import get_model, model_names
from jaxgan.models import layers as L

_FAST_UP = [m for m in L.UP_METHODS if m != "lax"]


def _cfg(shape, width=0.125, dtype="float32", latent_dim=16):
  return ml_collections.ConfigDict(dict(latent_dim=latent_dim, image_shape=shape, width=width, dtype=dtype))


def _variables(module, *args, seed=0, **kwargs):
  """Variables of `module.init(key, *args)` filled on the host: jitting flax's random initialisers costs seconds
  of XLA compile per model on a small CPU, and these tests are about the apply path, not the init distribution."""
  shapes = jax.eval_shape(functools.partial(module.init, **kwargs), jax.random.key(0), *args)
  rng = np.random.default_rng(seed)

  def fill(path, s):
    name = path[-1].key
    if name in ("scale", "var"):
      return jnp.asarray(1 + 0.1 * np.abs(rng.normal(size=s.shape)), s.dtype)
    if name in ("bias", "mean"):
      return jnp.asarray(0.1 * rng.normal(size=s.shape), s.dtype)
    return jnp.asarray(rng.normal(size=s.shape) / np.sqrt(np.prod(s.shape[:-1])), s.dtype)

  return jax.tree_util.tree_map_with_path(fill, shapes)


def _torch_conv_transpose_numpy(x_BxHxWxI, w_IxOx4x4):
  """PyTorch ConvTranspose2d(k=4, s=2, p=1) by its definition: out[2i-1+kh, 2j-1+kw] += x[i, j] @ W[:, :, kh, kw]."""
  b, h, w, _ = x_BxHxWxI.shape
  full = np.zeros((b, 2 * h + 2, 2 * w + 2, w_IxOx4x4.shape[1]), np.float64)
  for kh in range(4):
    for kw in range(4):
      full[:, kh:kh + 2 * h:2, kw:kw + 2 * w:2] += np.einsum("bhwi,io->bhwo", x_BxHxWxI, w_IxOx4x4[:, :, kh, kw])
  return full[:, 1:-1, 1:-1]


def _loss(module):
  return lambda p, x: jnp.sum(jnp.sin(module.apply(p, x)))  # non-linear, so gradients see every output


def test_conv_transpose_2x_equals_flax_conv_transpose_incl_gradients(hw=(5, 3), cin=6, cout=4):
  x = jax.random.normal(jax.random.key(0), (2, *hw, cin))
  flax_layer = nn.ConvTranspose(cout, (4, 4), (2, 2), padding=((2, 2), (2, 2)))
  params = _variables(flax_layer, x)
  ours = {m: L.ConvTranspose2x(cout, method=m) for m in _FAST_UP}
  for layer in ours.values():  # same parameter names and shapes: a drop-in for nn.ConvTranspose
    chex.assert_trees_all_equal_shapes_and_dtypes(jax.eval_shape(layer.init, jax.random.key(1), x), params)

  @jax.jit
  def outputs_and_grads(params, x):  # one compile for all formulations
    return {name: (mod.apply(params, x), jax.grad(_loss(mod), argnums=(0, 1))(params, x))
            for name, mod in dict(flax=flax_layer, **ours).items()}

  out = outputs_and_grads(params, x)
  chex.assert_shape(out["flax"][0], (2, 2 * hw[0], 2 * hw[1], cout))
  for name in ours:
    chex.assert_trees_all_close(out[name], out["flax"], atol=1e-5, custom_message=name)


@pytest.mark.parametrize("cout", [3, 1])
def test_conv_transpose_2x_has_torch_conv_transpose2d_semantics(cout):
  rng = np.random.default_rng(0)
  x = rng.normal(size=(2, 3, 4, 5)).astype(np.float32)
  w_torch = rng.normal(size=(5, cout, 4, 4)).astype(np.float32) * 0.2  # (in, out, kh, kw)
  k = jnp.asarray(L.kernel_from_torch_conv_transpose(w_torch))
  ys = jax.jit(lambda x, k: {m: L.conv_transpose_2x(x, k, m) for m in _FAST_UP + ["auto"]})(jnp.asarray(x), k)
  for m, y in ys.items():
    np.testing.assert_allclose(np.asarray(y), _torch_conv_transpose_numpy(x, w_torch), atol=1e-5, err_msg=m)


def test_conv_2x_down_equals_flax_conv_incl_gradients(hw=(7, 6)):  # odd sizes floor as in torch
  x = jax.random.normal(jax.random.key(0), (2, *hw, 3))
  flax_layer = nn.Conv(5, (4, 4), (2, 2), padding=((1, 1), (1, 1)))
  params = _variables(flax_layer, x)
  ours = {m: L.Conv2xDown(5, method=m) for m in L.DOWN_METHODS}
  chex.assert_trees_all_equal_shapes_and_dtypes(jax.eval_shape(ours["lax"].init, jax.random.key(1), x), params)

  @jax.jit
  def outputs_and_grads(params, x):
    return {name: (mod.apply(params, x), jax.grad(_loss(mod), argnums=(0, 1))(params, x))
            for name, mod in dict(flax=flax_layer, **ours).items()}

  out = outputs_and_grads(params, x)
  chex.assert_shape(out["flax"][0], (2, hw[0] // 2, hw[1] // 2, 5))
  for name in ours:
    chex.assert_trees_all_close(out[name], out["flax"], atol=1e-5, custom_message=name)


def test_unknown_method_raises():
  with pytest.raises(ValueError, match="unknown"):
    L.conv_transpose_2x(jnp.zeros((1, 2, 2, 1)), jnp.zeros((4, 4, 1, 1)), "nope")


def _param_count(tree):
  return sum(int(np.prod(a.shape)) for a in jax.tree.leaves(tree))


def test_dcgan28_has_the_torch_peers_parameter_count_less_biases_before_batchnorm():
  # torch_dcgan28.py by formula: Linear (i+1)*o, Conv/ConvT i*o*16+o, BatchNorm 2c (running stats are buffers);
  # jaxgan drops the biases of layers a BatchNorm follows (it cancels them): the peer's count less those.
  lin = lambda i, o: i * o + o
  conv = lambda i, o: i * o * 16 + o
  bn = lambda c: 2 * c
  torch_g = lin(64, 1024) + bn(1024) + lin(1024, 6272) + bn(6272) + conv(128, 64) + bn(64) + conv(64, 1)
  torch_d = conv(1, 64) + conv(64, 128) + bn(128) + lin(6272, 1024) + bn(1024) + lin(1024, 1)
  torch_g -= 1024 + 6272 + 64
  torch_d -= 128 + 1024
  g, d = get_model("dcgan28")(_cfg((28, 28, 1), width=1.0, latent_dim=64), None)
  gv = jax.eval_shape(functools.partial(g.init, train=True), jax.random.key(0), jnp.zeros((2, 64)))
  dv = jax.eval_shape(functools.partial(d.init, train=True), jax.random.key(0), jnp.zeros((2, 28, 28, 1)))
  assert _param_count(gv["params"]) == torch_g
  assert _param_count(dv["params"]) == torch_d
  # Same BatchNorm layers: one (mean, var) pair per BatchNorm feature.
  assert _param_count(gv["batch_stats"]) == 2 * (1024 + 6272 + 64)
  assert _param_count(dv["batch_stats"]) == 2 * (128 + 1024)


@pytest.mark.parametrize("name,shape", [("dcgan28", (28, 28, 1)), ("dcgan", (28, 28, 1)), ("dcgan", (28, 28, 3)),
                                        ("dcgan", (32, 32, 1)), ("dcgan", (32, 32, 3)), ("dcgan", (64, 64, 1)),
                                        ("dcgan", (64, 64, 3))])
def test_output_shapes_and_ranges(name, shape):
  g, d = get_model(name)(_cfg(shape), None)
  z = jax.random.normal(jax.random.key(0), (3, 16))

  gv = _variables(g, z, train=True)
  dv = _variables(d, jnp.zeros((3, *shape)), train=True)

  @jax.jit
  def run(z, gv, dv):
    x, new_g = g.apply(gv, z, train=True, mutable=["batch_stats"])
    logits, new_d = d.apply(dv, x, train=True, mutable=["batch_stats"])
    return dict(x=x, x_eval=g.apply(gv, z, train=False), logits=logits, logits_eval=d.apply(dv, x, train=False),
                stats=(gv["batch_stats"], dv["batch_stats"]), new_stats=(new_g["batch_stats"], new_d["batch_stats"]))

  out = run(z, gv, dv)
  chex.assert_shape((out["x"], out["x_eval"]), (3, *shape))
  chex.assert_shape((out["logits"], out["logits_eval"]), (3,))
  assert out["x"].dtype == jnp.float32 and out["logits"].dtype == jnp.float32
  x = out["x"]
  assert float(jnp.min(x)) >= -1.0 and float(jnp.max(x)) <= 1.0 and float(jnp.std(x)) > 0
  chex.assert_tree_all_finite(out)
  # Training mode moves every running statistic of G and D.
  changed = jax.tree.map(lambda a, b: not np.array_equal(a, b), out["new_stats"], out["stats"])
  assert all(jax.tree.leaves(changed))


def test_models_are_registered():
  assert {"dcgan", "dcgan28"} <= set(model_names())


@pytest.mark.parametrize("name,shape", [("dcgan", (30, 30, 1)), ("dcgan", (28, 28, 2)), ("dcgan", (32, 28, 3)),
                                        ("dcgan", (128, 128, 3)), ("dcgan", (28, 28)), ("dcgan28", (32, 32, 1))])
def test_unsupported_shapes_raise_value_error(name, shape):
  with pytest.raises(ValueError, match="image_shape"):
    get_model(name)(_cfg(shape), None)


def test_bad_width_and_dtype_raise_value_error():
  with pytest.raises(ValueError, match="width"):
    get_model("dcgan")(_cfg((32, 32, 3), width=0), None)
  with pytest.raises(ValueError, match="dtype"):
    get_model("dcgan")(_cfg((32, 32, 3), dtype="float16"), None)


@pytest.mark.parametrize("name,shape", [("dcgan28", (28, 28, 1)), ("dcgan", (32, 32, 3))])
def test_bfloat16_compute_keeps_float32_params_and_outputs(name, shape):
  g, d = get_model(name)(_cfg(shape, dtype="bfloat16"), None)
  g32, _ = get_model(name)(_cfg(shape), None)
  z = jax.random.normal(jax.random.key(0), (4, 16))

  gv = _variables(g, z, train=True)
  dv = _variables(d, jnp.zeros((4, *shape)), train=True)
  assert all(p.dtype == jnp.float32 for p in jax.tree.leaves((gv, dv)))  # params as flax creates them

  @jax.jit
  def run(z, gv, dv):
    x, _ = g.apply(gv, z, train=True, mutable=["batch_stats"])
    x32, _ = g32.apply(gv, z, train=True, mutable=["batch_stats"])
    logits, _ = d.apply(dv, x, train=True, mutable=["batch_stats"])
    return x, x32, logits

  x, x32, logits = run(z, gv, dv)
  assert x.dtype == jnp.float32 and logits.dtype == jnp.float32
  chex.assert_tree_all_finite((x, logits))
  # bf16 is a compute dtype, not a different model: it tracks the float32 model with the same parameters.
  chex.assert_trees_all_close(x, x32, atol=0.1)


def test_batchnorm_is_torch_equivalent_and_averages_over_the_device_axis():
  """momentum 0.1 (torch terms) on the running mean; on a 4-device mesh the statistics of the global batch."""
  g, _ = get_model("dcgan")(_cfg((32, 32, 1)), None)
  g_sharded, _ = get_model("dcgan")(_cfg((32, 32, 1)), "data")
  z = jax.random.normal(jax.random.key(0), (8, 16)) * 2 + 1
  gv = _variables(g, z, train=True)
  x, new = jax.jit(lambda v, z: g.apply(v, z, train=True, mutable=["batch_stats"]))(gv, z)

  h = z @ gv["params"]["Dense_0"]["kernel"]  # no bias: a BatchNorm follows
  old_mean = gv["batch_stats"]["BatchNorm_0"]["mean"]
  chex.assert_trees_all_close(new["batch_stats"]["BatchNorm_0"]["mean"], 0.9 * old_mean + 0.1 * h.mean(0), atol=1e-5)

  mesh = Mesh(np.array(jax.devices()[:4]), ("data",))
  fn = jax.jit(jax.shard_map(lambda v, z: g_sharded.apply(v, z, train=True, mutable=["batch_stats"]), mesh=mesh,
                             in_specs=(P(), P("data")), out_specs=(P("data"), P())))
  x4, new4 = fn(gv, z)
  chex.assert_trees_all_close((x4, new4), (x, new), atol=1e-5)


@pytest.mark.parametrize("name,shape,extra", [
    ("dcgan28", (28, 28, 1), {}), ("dcgan", (32, 32, 3), {}), ("dcgan", (32, 32, 1), {"num_classes": 3}),
    ("resnet", (32, 32, 3), {"num_classes": 3})])
def test_no_parameter_has_a_structurally_zero_gradient(name, shape, extra):
  """A bias just before a BatchNorm has a gradient of rounding noise (BN removes it), which Adam turns into ±lr
  steps. Every parameter of G and D must get a real gradient: each leaf's gradient norm is a visible fraction of
  the typical leaf's (structural zeros sit ~1e-7 below it)."""
  cfg = _cfg(shape)
  cfg.update(extra)
  g, d = get_model(name)(cfg, None)
  z = jax.random.normal(jax.random.key(0), (8, 16))
  y = jnp.arange(8) % 3 if extra else None
  gv = _variables(g, z, *([y] if extra else []), train=True)
  x = jax.random.uniform(jax.random.key(1), (8, *shape), minval=-1, maxval=1)
  dv = _variables(d, x, *([y] if extra else []), train=True)

  def norms(module, variables, inp):
    def loss(p):
      out, _ = module.apply({**variables, "params": p}, inp, *([y] if extra else []), train=True,
                            mutable=["batch_stats", "spectral"])
      return jnp.sum(jnp.sin(3 * out))
    grads = jax.grad(loss)(variables["params"])
    return {jax.tree_util.keystr(k): float(jnp.linalg.norm(v)) for k, v in jax.tree_util.tree_leaves_with_path(grads)}

  for who, n in (("G", norms(g, gv, z)), ("D", norms(d, dv, x))):
    typical = float(np.median(list(n.values())))
    dead = [k for k, v in n.items() if v < 1e-4 * typical]
    assert not dead, f"{who} of {name}: no real gradient reaches {dead}"

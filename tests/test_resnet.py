"""SNGAN ResNet G/D: shapes for every size and conditioning mode, the conditional contract, spectral-norm state
handling (also under a 4-device shard_map), and a few engine train steps."""
import functools

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from jax.sharding import PartitionSpec as P

from jaxgan import step as step_lib
from jaxgan.configs import base
from jaxgan.gan import build_gan, init_state
from jaxgan.state import PlayerState
from jaxgan.models import get_model
from jaxgan.models.conditional import ConditionalBatchNorm
from jaxgan.parallel import make_mesh

B = 4


# LLVM's optimisation passes are most of XLA:CPU's compile time for these conv nets (≈ 3x; e.g. a resnet train
# step 31 s -> 10 s under load); the tests check values, not speed, so they compile at -O0.
_jit = functools.partial(jax.jit, compiler_options={"xla_backend_optimization_level": 0})


def _cfg(shape, width=1 / 16, **kw):
  return ml_collections.ConfigDict(dict(latent_dim=8, image_shape=shape, width=width, dtype="float32", **kw))


def _variables(module, *args, seed=0, **kwargs):
  """`module.init` variables filled on the host: compiling flax's random initialisers costs seconds per model on a
  small CPU. Conditional-BN γ/β tables get per-class values, so classes differ (at init they all equal 1/0)."""
  shapes = jax.eval_shape(functools.partial(module.init, **kwargs), jax.random.key(0), *args)
  rng = np.random.default_rng(seed)

  def fill(path, s):
    names = [getattr(p, "key", "") for p in path]
    x = rng.normal(size=s.shape)
    if names[-1] in ("scale", "var") or "gamma" in names:
      x = 1 + 0.2 * np.abs(x)
    elif names[-1] in ("bias", "mean") or "beta" in names:
      x = 0.2 * x
    elif names[-1] == "u":
      x = x / np.linalg.norm(x)
    else:
      x = x / np.sqrt(np.prod(s.shape[:-1]))
    return jnp.asarray(x, s.dtype)

  return jax.tree_util.tree_map_with_path(fill, shapes)


def _inputs(shape, seed=0):
  rng = np.random.default_rng(seed)
  z = jnp.asarray(rng.normal(size=(B, 8)), jnp.float32)
  x = jnp.asarray(rng.uniform(-1, 1, size=(B,) + shape), jnp.float32)
  return z, x, jnp.arange(B, dtype=jnp.int32) % 3


@pytest.mark.parametrize("shape,cond", [(s, c) for s in [(28, 28, 1), (32, 32, 3), (64, 64, 3)]
                                         for c in ["none", "projection", "acgan"]]
                         + [((32, 32, 1), "none"), ((28, 28, 3), "projection")])
def test_shapes(shape, cond):
  kw = {} if cond == "none" else dict(num_classes=3, cond_d=cond)
  g, d = get_model("resnet")(_cfg(shape, **kw))
  z, x, y = _inputs(shape)
  labels = None if cond == "none" else y
  g_vars = jax.eval_shape(functools.partial(g.init, train=False), jax.random.key(0), z, labels)
  d_vars = jax.eval_shape(functools.partial(d.init, train=False), jax.random.key(0), x, labels)
  assert set(g_vars) == {"params", "batch_stats"} and set(d_vars) == {"params", "spectral"}
  images, _ = jax.eval_shape(functools.partial(g.apply, mutable=["batch_stats"]), g_vars, z, labels)
  logits = jax.eval_shape(d.apply, d_vars, x, labels)
  chex.assert_shape(images, (B,) + shape)
  chex.assert_shape(logits, (B, 4) if cond == "acgan" else (B,))
  assert images.dtype == jnp.float32 and logits.dtype == jnp.float32


def test_unsupported_config_is_a_clear_error():
  for shape in [(48, 48, 3), (32, 28, 3), (32, 32, 4)]:
    with pytest.raises(ValueError, match="resnet supports image_shape"):
      get_model("resnet")(_cfg(shape))
  with pytest.raises(ValueError, match="cond_d"):
    get_model("resnet")(_cfg((32, 32, 3), num_classes=3, cond_d="concat"))


def test_every_d_layer_is_spectrally_normalized_and_g_optionally():
  shape = (32, 32, 3)
  z, x, y = _inputs(shape)
  for sn_g in (False, True):
    g, d = get_model("resnet")(_cfg(shape, num_classes=3, spectral_norm_g=sn_g))
    d_vars = jax.eval_shape(functools.partial(d.init, train=False), jax.random.key(0), x, y)
    g_vars = jax.eval_shape(functools.partial(g.init, train=False), jax.random.key(0), z, y)
    d_weights = {k[:-1] for k, _ in _flat(d_vars["params"]).items() if k[-1] in ("kernel", "embedding")}
    d_us = {k[:-1] for k in _flat(d_vars["spectral"])}
    assert d_weights == d_us and len(d_us) == 4 * 2 + 2 + 1 + 1  # 4 blocks' 3x3 convs, 2 shortcuts, head, embed
    g_kernels = {k[:-1] for k in _flat(g_vars["params"]) if k[-1] == "kernel"}
    assert ({k[:-1] for k in _flat(g_vars.get("spectral", {}))} == g_kernels) == sn_g


def _flat(tree):
  return {tuple(getattr(p, "key", p) for p in path): v for path, v in jax.tree_util.tree_leaves_with_path(tree)}


def test_conditional_generator_contract():
  shape = (28, 28, 1)
  g, _ = get_model("resnet")(_cfg(shape, num_classes=3))
  z, _, _ = _inputs(shape)
  shapes = _flat(jax.eval_shape(functools.partial(g.init, train=False), jax.random.key(0), z))  # labels: 0 in init
  assert len([k for k in shapes if "gamma" in k]) == len([k for k in shapes if "beta" in k]) == 5  # every BN
  assert not [k for k in shapes if k[-1] in ("scale", "bias") and "BatchNorm_0" in k]  # BN has no own affine part
  h = jnp.asarray(np.random.default_rng(1).normal(size=(B, 2, 2, 5)), jnp.float32)
  cbn = ConditionalBatchNorm(num_classes=3, use_running_average=True)
  cbn_vars = _jit(cbn.init)(jax.random.key(0), h, jnp.arange(B) % 3)
  chex.assert_trees_all_equal(cbn_vars["params"], {"gamma": {"embedding": jnp.ones((3, 5))},
                                                   "beta": {"embedding": jnp.zeros((3, 5))}})

  variables = _variables(g, z, jnp.zeros((B,), jnp.int32), train=False)
  same_z = jnp.broadcast_to(z[:1], z.shape)
  images = _jit(lambda v, y: g.apply(v, same_z, y, train=False))(variables, jnp.array([0, 1, 2, 0]))
  assert float(jnp.max(jnp.abs(images))) <= 1.0
  chex.assert_trees_all_close(images[0], images[3], atol=1e-5)  # same z, same class
  assert float(jnp.mean(jnp.abs(images[0] - images[1]))) > 1e-3
  assert float(jnp.mean(jnp.abs(images[1] - images[2]))) > 1e-3
  with pytest.raises(ValueError, match="pass labels"):
    g.apply(variables, z, train=False)


def test_discriminator_conditioning():
  shape = (28, 28, 1)
  _, x, _ = _inputs(shape)
  same_x = jnp.broadcast_to(x[:1], x.shape)
  labels = jnp.array([0, 1, 2, 0])
  _, proj = get_model("resnet")(_cfg(shape, num_classes=3))
  _, acgan = get_model("resnet")(_cfg(shape, num_classes=3, cond_d="acgan"))
  p_vars, a_vars = _variables(proj, x, labels), _variables(acgan, x, labels)

  @_jit
  def outputs(p_vars, a_vars):
    return (proj.apply(p_vars, same_x, labels), acgan.apply(a_vars, same_x, labels),
            acgan.apply(a_vars, same_x, labels[::-1]))

  p_out, a_out, a_out_rev = outputs(p_vars, a_vars)
  assert abs(float(p_out[0] - p_out[3])) < 1e-5
  assert abs(float(p_out[0] - p_out[1])) > 1e-4 and abs(float(p_out[1] - p_out[2])) > 1e-4
  chex.assert_trees_all_close(a_out, a_out_rev)  # acgan ignores labels
  chex.assert_trees_all_close(a_out, jnp.broadcast_to(a_out[:1], a_out.shape), atol=1e-5)
  with pytest.raises(ValueError, match="pass labels"):
    proj.apply(p_vars, x)


def test_discriminator_spectral_state_mutable_or_not():
  shape = (32, 32, 3)
  _, d = get_model("resnet")(_cfg(shape))
  _, x, _ = _inputs(shape)
  variables = _variables(d, x, train=False)

  @_jit
  def calls(variables):
    frozen = d.apply(variables, x, train=True)  # "spectral" immutable (the engine's G step): no error
    updated, new = d.apply(variables, x, train=True, mutable=["spectral"])
    _, not_training = d.apply(variables, x, train=False, mutable=["spectral"])
    return frozen, updated, new, not_training

  frozen, updated, new, not_training = calls(variables)
  chex.assert_tree_all_finite((frozen, updated))
  # Every u took a power-iteration step (but the head's: for a [F, 1] kernel u is the 1-vector, a fixed point).
  moved = [float(jnp.max(jnp.abs(a - b))) for a, b in zip(jax.tree.leaves(variables["spectral"]),
                                                         jax.tree.leaves(new["spectral"])) if a.size > 1]
  assert len(moved) == 10 and min(moved) > 0  # 10 convs
  chex.assert_trees_all_equal(not_training["spectral"], variables["spectral"])


def _engine_config():
  c = base.get_config()
  c.model.name = "resnet"
  c.model.spectral_norm_d = True  # base.py keeps it off for every family; the SNGAN presets turn it on
  c.model.width = 1 / 16
  c.model.latent_dim = 8
  c.model.image_shape = (28, 28, 1)
  c.loss.name = "hinge"
  c.batch_size = 8
  c.optim.g.b1 = c.optim.d.b1 = 0.0
  c.optim.g.b2 = c.optim.d.b2 = 0.9
  return c


def _host_filled_state(gan):
  """`init_state(gan, 0)`, traced (so its G/D init calls are exercised) but filled on the host: jitted or eager
  random init of a conv net costs tens of seconds of XLA:CPU compile here."""
  shapes = jax.eval_shape(lambda: init_state(gan, 0))
  g_vars = _variables(gan.generator, jnp.zeros((2, gan.latent_dim)), train=False, seed=1)
  d_vars = _variables(gan.discriminator, jnp.zeros((2,) + gan.d_input_shape), train=False, seed=2)
  g_params, d_params = g_vars.pop("params"), d_vars.pop("params")
  players = {name: PlayerState(params, variables, gan.players[name].tx.init(params))
             for name, params, variables in (("g", g_params, g_vars), ("d", d_params, d_vars))}
  state = shapes.replace(step=jnp.zeros((), jnp.int32), rng=jnp.zeros(shapes.rng.shape, shapes.rng.dtype),
                         stage=jnp.zeros((), jnp.int32), players=players)
  chex.assert_trees_all_equal_shapes_and_dtypes(state, shapes)
  return state


def test_engine_train_steps_stay_finite_and_update_state():
  gan = build_gan(_engine_config())
  state = _host_filled_state(gan)
  assert set(state.vars("d")) == {"spectral"} and set(state.vars("g")) == {"batch_stats"}
  reals = jnp.asarray(np.random.default_rng(0).uniform(-1, 1, size=(2, 8, 28, 28, 1)), jnp.float32)
  step = _jit(lambda s, x: step_lib.train_step(gan, s, {"real": x}))
  s = state
  for i in range(2):
    s, metrics = step(s, reals[i])
    chex.assert_tree_all_finite((s, metrics))
    assert float(metrics["nonfinite"]) == 0
  assert int(s.step) == 2
  for before, after in ((state.vars("d"), s.vars("d")), (state.vars("g"), s.vars("g")), (state.params("g"), s.params("g")),
                        (state.params("d"), s.params("d"))):
    diffs = [float(jnp.max(jnp.abs(a - b))) for a, b in zip(jax.tree.leaves(before), jax.tree.leaves(after))
             if a.size > 1]  # a [F, 1] head's u is a fixed point
    assert min(diffs) > 0


def test_spectral_state_stays_replicated_across_devices():
  # Under shard_map the engine marks params device-varying before differentiating; the updated u must still come
  # out as one replicated value (the layer averages it over `axis_name`), equal to the single-device update.
  shape = (28, 28, 1)
  _, d1 = get_model("resnet")(_cfg(shape, num_classes=3))
  _, d4 = get_model("resnet")(_cfg(shape, num_classes=3), "data")
  _, x, y = _inputs(shape)
  variables = _variables(d1, x, y)
  mesh = make_mesh(jax.devices()[:4])

  def per_device(params, spectral, x, y):
    params = jax.lax.pcast(params, "data", to="varying")
    out, new = d4.apply({"params": params, "spectral": spectral}, x, y, train=True, mutable=["spectral"])
    return out, new["spectral"]

  fn = _jit(jax.shard_map(per_device, mesh=mesh, in_specs=(P(), P(), P("data"), P("data")),
                             out_specs=(P("data"), P())))
  out4, spectral4 = fn(variables["params"], variables["spectral"], x, y)
  out1, new1 = _jit(functools.partial(d1.apply, train=True, mutable=["spectral"]))(variables, x, y)
  chex.assert_trees_all_close((out4, spectral4), (out1, new1["spectral"]), rtol=1e-5, atol=1e-6)

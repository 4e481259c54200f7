"""The pure step, the scanned loop and data parallelism (4 fake CPU devices from conftest)."""
import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import step as step_lib
from jaxgan.configs import mlp_mnist
from jaxgan.gan import build_gan, init_state
from jaxgan.loop import make_train_fn
from jaxgan.models import register
from jaxgan.parallel import make_mesh, replicate


class _TinyBNG(nn.Module):
  axis_name: str = None

  @nn.compact
  def __call__(self, z, train=True):
    h = nn.Dense(16)(z)
    h = nn.relu(nn.BatchNorm(use_running_average=not train, momentum=0.9, axis_name=self.axis_name)(h))
    return jnp.tanh(nn.Dense(8 * 8)(h)).reshape(-1, 8, 8, 1)


class _TinyBND(nn.Module):
  axis_name: str = None

  @nn.compact
  def __call__(self, x, train=True):
    h = nn.Dense(16)(x.reshape(x.shape[0], -1))
    h = nn.leaky_relu(nn.BatchNorm(use_running_average=not train, momentum=0.9, axis_name=self.axis_name)(h), 0.2)
    return nn.Dense(1)(h)[:, 0]


@register("tiny_bn_test")
def _build_tiny(cfg, axis_name=None):
  return _TinyBNG(axis_name), _TinyBND(axis_name)


def tiny_config(model="mlp", **overrides):
  c = mlp_mnist.get_config()
  c.batch_size = 8
  if model == "mlp":
    c.model.width = 1 / 16  # 16/32/64 hidden units
    c.model.image_shape = (8, 8, 1)
    c.model.latent_dim = 4
  else:
    c.model.name = model
    c.model.image_shape = (8, 8, 1)
    c.model.latent_dim = 4
  for k, v in overrides.items():
    c[k] = v
  return c


def sgd(config):
  for opt in (config.optim.g, config.optim.d):
    opt.name, opt.lr, opt.momentum = "sgd", 0.05, 0.9
  return config


def dataset(n=32, seed=0):
  return np.random.default_rng(seed).integers(0, 256, (n, 8, 8, 1), dtype=np.uint8)


def run(config, n_devices, k, calls, resident=True, unroll=1):
  mesh = make_mesh(jax.devices()[:n_devices])
  gan = build_gan(config, "data")
  state = replicate(init_state(gan, config.seed), mesh)
  fn = make_train_fn(gan, mesh, config.batch_size, k, unroll=unroll, resident=resident)
  data = dataset()
  if resident:
    data = replicate({"real": jnp.asarray(data)}, mesh)
  all_metrics = []
  for c in range(calls):
    if not resident:
      rng = np.random.default_rng(c)
      shape = (k, config.batch_size) if config.n_critic == 1 else (k, config.n_critic, config.batch_size)
      chunk = dataset()[rng.integers(0, 32, shape)]
      data = jax.device_put({"real": chunk}, jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(
          *((None,) * (len(shape) - 1)), "data")))
    state, metrics = fn(state, data)
    all_metrics.append(jax.device_get(metrics))
  return jax.device_get(state), {k_: np.concatenate([m[k_] for m in all_metrics]) for k_ in all_metrics[0]}


def test_train_step_is_pure_and_updates_everything():
  config = tiny_config()
  gan = build_gan(config)
  state = init_state(gan, 0)
  real = jnp.asarray(dataset()[:8], jnp.float32) / 127.5 - 1
  s1, m1 = jax.jit(lambda s, x: step_lib.train_step(gan, s, {"real": x}))(state, real)
  s2, m2 = jax.jit(lambda s, x: step_lib.train_step(gan, s, {"real": x}))(state, real)
  chex.assert_trees_all_equal((s1, m1), (s2, m2))  # same inputs, same outputs: no hidden randomness
  assert int(s1.step) == 1
  chex.assert_tree_all_finite((s1.params("g"), s1.params("d"), m1))
  for before, after in ((state.params("g"), s1.params("g")), (state.params("d"), s1.params("d"))):
    diffs = jax.tree.leaves(jax.tree.map(lambda a, b: float(jnp.max(jnp.abs(a - b))), before, after))
    assert min(diffs) > 0, "every parameter should move after one Adam step"
  assert set(m1) == {"d_loss", "g_loss", "d_real", "d_fake", "nonfinite"}
  assert 0 < float(m1["d_real"]) < 1 and 0 < float(m1["d_fake"]) < 1


@pytest.mark.parametrize("model", ["mlp", "tiny_bn_test"])
def test_k_scanned_steps_equal_k_single_steps(model):
  # SGD, as below: the programs may round differently (XLA fuses a scan's body apart from a single step's), and
  # Adam turns a ~0 gradient's rounding (a bias before BatchNorm has none in exact arithmetic) into ±lr steps
  config = sgd(tiny_config(model))
  s_scan, m_scan = run(config, 1, k=4, calls=1)
  s_single, m_single = run(config, 1, k=1, calls=4)
  chex.assert_trees_all_close(s_scan, s_single, rtol=1e-6, atol=1e-6)
  chex.assert_trees_all_close(m_scan, m_single, rtol=1e-6, atol=1e-6)
  assert int(s_scan.step) == 4


def test_unrolled_scan_equals_rolled():
  config = sgd(tiny_config("tiny_bn_test"))  # SGD: see test_k_scanned_steps_equal_k_single_steps
  chex.assert_trees_all_close(run(config, 1, k=3, calls=1, unroll=3)[0], run(config, 1, k=3, calls=1)[0],
                              rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("model,resident", [("mlp", True), ("tiny_bn_test", True), ("tiny_bn_test", False)])
def test_four_devices_match_one(model, resident):
  # SGD: Adam's first steps are ±lr whatever the gradient's size, so a gradient that is ~0 flips sign with the
  # summation order; SGD keeps parameter differences proportional to gradient differences.
  config = sgd(tiny_config(model))
  s1, m1 = run(config, 1, k=2, calls=2, resident=resident)
  s4, m4 = run(config, 4, k=2, calls=2, resident=resident)
  chex.assert_trees_all_close(s4, s1, rtol=2e-5, atol=2e-5)
  chex.assert_trees_all_close(m4, m1, rtol=2e-5, atol=2e-5)
  if model == "tiny_bn_test":  # running batch statistics were updated, identically
    leaves = jax.tree.leaves(s4.vars("d"))
    assert leaves and any(np.abs(x).max() > 0 for x in leaves)


def test_n_critic_two_and_ema():
  config = sgd(tiny_config(n_critic=2, ema_decay=0.9))
  s1, m1 = run(config, 1, k=2, calls=1)
  s4, m4 = run(config, 4, k=2, calls=1)
  chex.assert_trees_all_close(s4, s1, rtol=2e-5, atol=2e-5)
  assert s1.ema["g"] is not None
  # EMA lies strictly between the initial and current parameters after two updates with decay 0.9
  init = init_state(build_gan(config), config.seed).params("g")
  gap_ema = jax.tree.leaves(jax.tree.map(lambda e, p: float(jnp.abs(e - p).max()), s1.ema["g"], s1.params("g")))
  gap_init = jax.tree.leaves(jax.tree.map(lambda i, p: float(jnp.abs(i - p).max()), init, s1.params("g")))
  assert all(0 < e < i for e, i in zip(gap_ema, gap_init))


def test_indivisible_batch_is_a_clear_error():
  config = tiny_config(batch_size=6)
  with pytest.raises(ValueError, match="batch_size 6 does not divide by the 4 devices"):
    run(config, 4, k=1, calls=1)


def test_nonfinite_update_is_flagged_and_skipped_when_configured():
  config = tiny_config(nonfinite="skip")
  gan = build_gan(config)
  state = init_state(gan, 0)
  bad = state.with_player("d", params=jax.tree.map(lambda x: x.at[..., 0].set(jnp.nan) if x.ndim == 2 else x,
                                            state.params("d")))
  real = jnp.zeros((8, 8, 8, 1))
  new, metrics = jax.jit(lambda s, x: step_lib.train_step(gan, s, {"real": x}))(bad, real)
  assert float(metrics["nonfinite"]) == 1.0
  chex.assert_trees_all_equal(new.params("g"), bad.params("g"))  # G's gradient went through the NaN D: skipped
  chex.assert_trees_all_equal(new.players["g"].opt_state, bad.players["g"].opt_state)


@pytest.mark.parametrize("bad", [jnp.nan, jnp.inf, -jnp.inf])
@pytest.mark.parametrize("where", ["a", "b"])
def test_all_finite_flags_any_nonfinite_entry(bad, where):
  tree = {"a": jnp.ones((3, 4)), "b": [jnp.zeros(5), jnp.arange(6.0)]}
  assert bool(step_lib.all_finite(tree))
  if where == "a":
    tree["a"] = tree["a"].at[1, 2].set(bad)
  else:
    tree["b"][1] = tree["b"][1].at[4].set(bad)
  assert not bool(step_lib.all_finite(tree))
  assert bool(step_lib.all_finite({}))


@pytest.mark.parametrize("n_devices, reduces", [(1, False), (4, True)])
def test_cross_device_reductions_only_on_a_multi_device_mesh(n_devices, reduces):
  # On one device the gradients need no reduction; XLA:CPU would still copy them in a one-participant all-reduce.
  config = tiny_config()
  mesh = make_mesh(jax.devices()[:n_devices])
  gan = build_gan(config, "data")
  fn = make_train_fn(gan, mesh, config.batch_size, 2)
  state = replicate(init_state(gan, config.seed), mesh)
  hlo = fn.lower(state, replicate({"real": jnp.asarray(dataset())}, mesh)).compile().as_text()
  assert ("all-reduce" in hlo) == reduces

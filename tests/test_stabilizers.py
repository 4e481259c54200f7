"""Stabilizers in the step: lazy penalties, clipping, sanitizing, EMA ramp-up, optimistic Adam, PacGAN packing,
minibatch-stddev, 1 vs 4 devices with all of them on, and a short 2-D mixture run."""
import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from jaxgan import step as step_lib
from jaxgan.data.mixtures import sample_mixture
from jaxgan.gan import build_gan, init_state, make_optimizer
from jaxgan.loop import make_train_fn
from jaxgan.models import get_model, ops
from jaxgan.parallel import make_mesh, replicate
from test_step import dataset, run, sgd, tiny_config

REAL = jnp.asarray(dataset()[:8], jnp.float32) / 127.5 - 1


def penalty(name, weight, interval=1):
  return ml_collections.ConfigDict(dict(name=name, weight=weight, interval=interval))


def test_lazy_penalty_is_weight_times_interval_on_every_nth_d_update():
  def d_update_fn(pen):
    gan = build_gan(sgd(tiny_config(penalty=pen)))
    state = init_state(gan, 0)
    fn = jax.jit(lambda s, x, count: step_lib.run_phase(gan, gan.phases[0], s, {"real": x}, jax.random.key(7), count))
    return lambda count: (lambda out: (out[0].params("d"), out[1]))(fn(state, REAL, jnp.int32(count)))
  lazy = d_update_fn(penalty("r1", 2.0, interval=3))
  eager, m_eager = d_update_fn(penalty("r1", 2.0 * 3))(0)
  plain, _ = d_update_fn(penalty("none", 0.0))(0)
  (lazy_on, m_on), (lazy_off, m_off) = lazy(3), lazy(4)
  chex.assert_trees_all_close(lazy_on, eager, rtol=1e-5, atol=1e-6)
  chex.assert_trees_all_close(lazy_off, plain, rtol=1e-6, atol=1e-7)
  assert float(m_on["d_penalty"]) > 0 and float(m_off["d_penalty"]) == 0
  np.testing.assert_allclose(m_on["d_penalty"], m_eager["d_penalty"], rtol=1e-5)
  diff = jax.tree.leaves(jax.tree.map(lambda a, b: float(jnp.abs(a - b).max()), eager, plain))
  assert max(diff) > 1e-6  # the penalty did change the update


def test_weight_clipping_bounds_d_only_and_ema_starts_at_g():
  config = tiny_config(ema_decay=0.99, ema_rampup=0.05)
  config.optim.d = ml_collections.ConfigDict(dict(name="rmsprop", lr=5e-5, clip=0.01))
  gan = build_gan(config)
  new, _ = jax.jit(lambda s, x: step_lib.train_step(gan, s, {"real": x}))(init_state(gan, 0), REAL)
  d_max = max(float(jnp.abs(x).max()) for x in jax.tree.leaves(new.params("d")))
  assert d_max <= 0.01
  assert np.isclose(d_max, 0.01)  # torch-style init exceeds 0.01, so the bound is reached
  assert max(float(jnp.abs(x).max()) for x in jax.tree.leaves(new.params("g"))) > 0.01
  chex.assert_trees_all_equal(new.ema["g"], new.params("g"))  # ramped β_0 = 0: the EMA starts at G


def test_sanitized_nonfinite_gradients_are_flagged_and_zeroed():
  gan = build_gan(tiny_config(sanitize_grads=True))
  state = init_state(gan, 0)
  real = REAL.at[0, 0, 0, 0].set(jnp.nan)  # the D loss and every D gradient become NaN
  new, metrics = jax.jit(lambda s, x: step_lib.train_step(gan, s, {"real": x}))(state, real)
  assert float(metrics["nonfinite"]) == 1.0
  chex.assert_tree_all_finite((new.params("d"), new.players["d"].opt_state, new.params("g")))
  # Adam's first update with a zero gradient is zero: D is unchanged, G (whose gradients were finite) moved.
  chex.assert_trees_all_close(new.params("d"), state.params("d"))
  tree = {"a": jnp.array([1.0, jnp.inf, -jnp.inf, jnp.nan])}
  np.testing.assert_array_equal(step_lib.sanitize(tree)["a"], [1.0, 0.0, 0.0, 0.0])


def test_ema_ramp_up():
  gan = build_gan(tiny_config(ema_decay=0.99, ema_rampup=0.05))
  beta = lambda t: float(gan.phases[1].after[0].beta(jnp.int32(t), 64))
  half_life = 64 * np.log(0.5) / np.log(0.99)               # images
  assert beta(0) == 0.0
  np.testing.assert_allclose(beta(100), 0.5 ** (64 / (100 * 64 * 0.05)), rtol=1e-5)  # ramping: 0.5^(1/5)
  np.testing.assert_allclose(beta(10 ** 6), 0.99, rtol=1e-6)
  assert beta(100) < beta(200) < 0.99 and half_life / (64 * 0.05) > 200  # still ramping at 200
  constant = build_gan(tiny_config(ema_decay=0.99))
  assert float(constant.phases[1].after[0].beta(jnp.int32(0), 64)) == np.float32(0.99)


def test_optimistic_adam_matches_optax():
  cfg = ml_collections.ConfigDict(dict(name="optimistic_adam", lr=1e-2, b1=0.5, b2=0.9))
  params = {"w": jnp.arange(4.0)}
  grads = [{"w": jnp.array([0.1, -2.0, 3.0, 0.5]) * (i + 1)} for i in range(3)]
  ours, ref = make_optimizer(cfg), optax.optimistic_adam_v2(1e-2, b1=0.5, b2=0.9)
  s_o, s_r = ours.init(params), ref.init(params)
  adam = optax.adam(1e-2, b1=0.5, b2=0.9)
  s_a = adam.init(params)
  for g in grads:
    u_o, s_o = ours.update(g, s_o, params)
    u_r, s_r = ref.update(g, s_r, params)
    u_a, s_a = adam.update(g, s_a, params)
    chex.assert_trees_all_close(u_o, u_r)
  assert not np.allclose(u_o["w"], u_a["w"])  # the optimistic correction is there


def test_pack_and_unpack_layout():
  x = jnp.arange(4 * 2 * 2 * 3, dtype=jnp.float32).reshape(4, 2, 2, 3)
  p = ops.pack(x, 2)
  chex.assert_shape(p, (2, 2, 2, 6))
  np.testing.assert_array_equal(p[1, :, :, :3], x[2])
  np.testing.assert_array_equal(p[1, :, :, 3:], x[3])
  np.testing.assert_array_equal(ops.unpack(p, 2), x)
  pts = jnp.arange(8.0).reshape(4, 2)
  np.testing.assert_array_equal(ops.pack(pts, 4), [[0, 1, 2, 3, 4, 5, 6, 7]])


@pytest.mark.parametrize("batch,pack,devices", [(8, 3, 1), (8, 4, 4)])
def test_batch_that_does_not_divide_by_pack_times_devices_is_a_clear_error(batch, pack, devices):
  config = tiny_config(batch_size=batch, pack=pack)
  with pytest.raises(ValueError, match=rf"batch_size {batch} does not divide by pack × devices = {pack} × "
                                       rf"{devices}; use a multiple of {pack * devices}"):
    run(config, devices, k=1, calls=1)
  with pytest.raises(ValueError, match="pack × devices"):
    build_gan(config).check_batch(batch, devices)


def test_minibatch_stddev():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(8, 5)).astype(np.float32)
  y = np.asarray(ops.minibatch_stddev(jnp.asarray(x), group_size=4))
  chex.assert_shape(y, (8, 6))
  np.testing.assert_array_equal(y[:, :5], x)
  for g in range(2):  # consecutive groups of 4
    expect = np.sqrt(x[4 * g:4 * g + 4].var(axis=0) + 1e-8).mean()
    np.testing.assert_allclose(y[4 * g:4 * g + 4, 5], expect, rtol=1e-5)
  chex.assert_shape(ops.minibatch_stddev(jnp.zeros((4, 3, 3, 8)), 2, num_features=2), (4, 3, 3, 10))
  with pytest.raises(ValueError, match="batch 6 does not divide by the group size 4"):
    ops.minibatch_stddev(jnp.zeros((6, 5)), 4)


@pytest.mark.parametrize("name, shape", [("dcgan", (28, 28, 1)), ("dcgan", (32, 32, 3)), ("resnet", (28, 28, 1))])
def test_conv_discriminators_take_mbstd_and_it_couples_only_the_samples_of_one_group(name, shape):
  # train=False: BatchNorm uses its running statistics, so without mbstd each logit sees only its own sample
  cfg = lambda **kw: ml_collections.ConfigDict(dict(name=name, image_shape=shape, width=0.125, **kw))
  x = jax.random.normal(jax.random.key(0), (8,) + shape)
  bumped = x.at[1].multiply(3.0)  # sample 1: in group 0 (samples 0-3) with mbstd_group 4
  changed = {}
  for mbstd in (False, True):
    _, d = get_model(name)(cfg(mbstd=mbstd, mbstd_group=4))
    variables = d.init(jax.random.key(1), x, train=False)
    before, after = d.apply(variables, x, train=False), d.apply(variables, bumped, train=False)
    chex.assert_shape((before, after), (8,))
    chex.assert_tree_all_finite((before, after))
    changed[mbstd] = np.abs(np.asarray(after - before)) > 1e-6
  np.testing.assert_array_equal(changed[False], [0, 1, 0, 0, 0, 0, 0, 0])
  np.testing.assert_array_equal(changed[True], [1, 1, 1, 1, 0, 0, 0, 0])


@pytest.mark.parametrize("name, kw, match", [
    ("dcgan28", dict(mbstd=True), "dcgan28 mirrors the PyTorch peer"),
    ("dcgan", dict(mbstd=True, mbstd_group=0), "mbstd_group must be a positive number"),
    ("resnet", dict(mbstd=True, mbstd_group=2.5), "mbstd_group must be a positive number"),
])
def test_mbstd_options_a_model_cannot_honour_are_clear_errors(name, kw, match):
  cfg = ml_collections.ConfigDict(dict(name=name, image_shape=(28, 28, 1), **kw))
  with pytest.raises(ValueError, match=match):
    get_model(name)(cfg)


@pytest.mark.parametrize("layer", [dict(mbstd=True, mbstd_group=4), dict(mbdisc=4, mbdisc_group=4)],
                         ids=["mbstd", "mbdisc"])
@pytest.mark.parametrize("batch", [2, 3])
def test_d_step_never_puts_real_and_fake_in_one_cross_sample_group(batch, layer):
  # The MLP D has no batch statistics, so the D step may judge real and fake in one pass; with a batch smaller
  # than the group of 4 (of minibatch-stddev or minibatch discrimination), that pass would put real and fake in
  # one group (2 + 2) or fail (3 + 3 = 6, not a multiple of 4). Each batch is then judged on its own (groups of
  # `batch`), and D(real) must not see the fakes.
  config = tiny_config(batch_size=batch)
  for k, v in layer.items():
    config.model[k] = v
  gan = build_gan(config)
  assert gan.d_groups == (4,)
  state = init_state(gan, 0)
  other_g = jax.tree.map(lambda p: 3.0 * p + 0.1, state.params("g"))  # another G: other fakes
  real = jnp.asarray(np.random.default_rng(0).uniform(-1, 1, (batch, 8, 8, 1)), jnp.float32)
  fn = jax.jit(lambda s: step_lib.run_phase(gan, gan.phases[0], s, {"real": real}, jax.random.key(3), 0)[1])
  m, m_other = fn(state), fn(state.with_player("g", params=other_g))
  assert abs(float(m["d_fake"]) - float(m_other["d_fake"])) > 1e-4  # the fakes did change
  chex.assert_trees_all_close(m["d_real"], m_other["d_real"], rtol=0, atol=0)


def test_four_devices_match_one_with_augment_penalty_pack_and_mbstd():
  # batch 16: 4 samples = 2 packs per device, so minibatch-stddev groups (of 2 packs) never straddle devices
  # (augment.py's own test covers the device split of every op; one op suffices here)
  config = sgd(tiny_config(augment="translation", penalty=penalty("gp", 1.0, interval=2), pack=2,
                           ema_decay=0.9, ema_rampup=0.5, batch_size=16))
  config.model.mbstd = True
  config.model.mbstd_group = 2
  s1, m1 = run(config, 1, k=2, calls=1)
  s4, m4 = run(config, 4, k=2, calls=1)
  chex.assert_trees_all_close(s4, s1, rtol=2e-5, atol=2e-5)
  chex.assert_trees_all_close(m4, m1, rtol=2e-5, atol=2e-5)
  assert m1["d_penalty"][0] > 0 and m1["d_penalty"][1] == 0  # lazy: on D updates 0, 2, …


def mixture_config():
  from jaxgan.configs import ring8
  c = ring8.get_config()
  c.batch_size = 32
  c.model.width = 32
  c.model.mbstd = True
  c.penalty = penalty("r1", 0.1, interval=2)
  return c


def test_mixture_points_train_finite():
  config = mixture_config()
  data = sample_mixture(jax.random.key(0), 1000, "ring8")
  mesh = make_mesh(jax.devices()[:1])
  gan = build_gan(config, "data")
  state = replicate(init_state(gan, 0), mesh)
  state, metrics = make_train_fn(gan, mesh, config.batch_size, 60)(state, replicate({"real": data}, mesh))
  chex.assert_tree_all_finite((state, metrics))
  assert not metrics["nonfinite"].any() and metrics["d_penalty"][::2].min() > 0
  points = gan.generate(state.ema["g"], state.vars("g"), gan.sample_latents(jax.random.key(1), 500))
  chex.assert_shape(points, (500, 2))
  # 60 steps pull G's points (initially near 0) out toward the unit ring
  assert 0.3 < float(jnp.median(jnp.linalg.norm(points, axis=1))) < 2.0

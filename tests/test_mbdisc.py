"""Minibatch discrimination (Salimans et al. 2016; models/ops.py): the layer's math, that it couples only the samples
of one group, that it lets D see what a per-sample D cannot (a batch that repeats its samples), 4 devices = 1, and
clear errors. That the D step keeps real and fake in separate groups is tests/test_stabilizers.py's, for both
cross-sample layers."""
import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgan import losses
from jaxgan.gan import build_gan
from jaxgan.models import ops
from test_step import run, sgd, tiny_config


def test_layer_appends_each_kernels_mean_soft_neighbour_count_within_groups():
  x = np.random.default_rng(0).normal(size=(8, 6)).astype(np.float32)
  layer = ops.MinibatchDiscrimination(kernels=3, kernel_dim=2, group_size=4)
  params = layer.init(jax.random.key(0), jnp.asarray(x))
  y = np.asarray(layer.apply(params, jnp.asarray(x)))
  chex.assert_shape(y, (8, 9))
  np.testing.assert_array_equal(y[:, :6], x)
  m = (x @ np.asarray(params["params"]["projection"]["kernel"])).reshape(8, 3, 2)
  for i in range(8):
    others = [j for j in range(4 * (i // 4), 4 * (i // 4) + 4) if j != i]  # its group of 4, itself left out
    expect = np.mean([np.exp(-np.abs(m[i] - m[j]).sum(-1)) for j in others], axis=0)
    np.testing.assert_allclose(y[i, 6:], expect, rtol=1e-5, atol=1e-7)


def test_copies_count_as_neighbours_and_distant_samples_do_not():
  layer = ops.MinibatchDiscrimination(kernels=2, kernel_dim=3, group_size=4)
  params = layer.init(jax.random.key(0), jnp.zeros((4, 5)))
  far = 100.0 * jax.random.normal(jax.random.key(1), (4, 5))
  twice = jnp.stack([far[0], far[0], far[1], far[2]])
  chex.assert_trees_all_close(layer.apply(params, jnp.ones((4, 5)))[:, 5:], jnp.ones((4, 2)))  # all the same: 1
  np.testing.assert_allclose(layer.apply(params, far)[:, 5:], 0.0, atol=1e-6)  # all apart: 0
  np.testing.assert_allclose(layer.apply(params, twice)[:, 5:], [[1 / 3] * 2] * 2 + [[0.0] * 2] * 2, atol=1e-6)
  with pytest.raises(ValueError, match="batch 6 does not divide by the group size 4"):
    layer.apply(params, jnp.zeros((6, 5)))


@pytest.mark.parametrize("name, shape", [("dcgan", (28, 28, 1)), ("dcgan", (32, 32, 3)), ("mlp", (8, 8, 1))])
def test_discriminators_take_mbdisc_and_it_couples_only_the_samples_of_one_group(name, shape):
  # train=False: BatchNorm uses its running statistics, so without the layer each logit sees only its own sample
  x = jax.random.normal(jax.random.key(0), (8,) + shape)
  bumped = x.at[1].multiply(3.0)  # sample 1: in group 0 (samples 0-3) with mbdisc_group 4
  changed = {}
  for kernels in (0, 8):
    config = tiny_config(name)
    config.model.image_shape, config.model.width = shape, 0.125
    config.model.mbdisc, config.model.mbdisc_group = kernels, 4
    d = build_gan(config).discriminator
    variables = d.init(jax.random.key(1), x, train=False)
    # a smaller projection, so that these random inputs are near enough for their neighbour counts not to be ≈ 0
    variables = jax.tree_util.tree_map_with_path(
        lambda path, v: 0.02 * v if "projection" in jax.tree_util.keystr(path) else v, variables)
    before, after = d.apply(variables, x, train=False), d.apply(variables, bumped, train=False)
    chex.assert_shape((before, after), (8,))
    chex.assert_tree_all_finite((before, after))
    changed[kernels] = np.abs(np.asarray(after - before)) > 1e-6
  np.testing.assert_array_equal(changed[0], [0, 1, 0, 0, 0, 0, 0, 0])
  np.testing.assert_array_equal(changed[8], [1, 1, 1, 1, 0, 0, 0, 0])


@pytest.mark.parametrize("kernels", [0, 16])
def test_d_with_mbdisc_tells_a_batch_of_repeated_samples_from_real_ones(kernels):
  # Fake batches hold real samples twice each ([x0 x0 x1 x1 | x2 x2 x3 x3], then x4..x7): over the two, every
  # sample is as often fake as real, so no per-sample D can do better than D = ½ everywhere (loss 2 ln 2). Only a
  # D that compares the samples of a group can see that fakes come in pairs.
  x = jax.random.normal(jax.random.key(0), (8, 8, 8, 1))
  fakes = [jnp.repeat(x[:4], 2, axis=0), jnp.repeat(x[4:], 2, axis=0)]
  config = tiny_config("mlp")
  config.model.mbdisc, config.model.mbdisc_group = kernels, 4
  d = build_gan(config).discriminator
  params = d.init(jax.random.key(1), x)["params"]
  tx = optax.adam(1e-2)
  opt = tx.init(params)

  def loss_fn(p):
    return jnp.mean(jnp.stack([losses.d_minimax(d.apply({"params": p}, x), d.apply({"params": p}, f))
                               for f in fakes]))

  @jax.jit
  def update(p, o):
    loss, g = jax.value_and_grad(loss_fn)(p)
    u, o = tx.update(g, o, p)
    return optax.apply_updates(p, u), o, loss

  for _ in range(300):
    params, opt, loss = update(params, opt)
  loss = float(loss_fn(params))
  if kernels:
    assert loss < 0.25 * 2 * np.log(2), loss
  else:
    assert loss > 2 * np.log(2) - 1e-4, loss


def test_four_devices_match_one_with_mbdisc_and_pack():
  # batch 16, pack 2: 2 packs per device, so groups of 2 packs never straddle devices
  config = sgd(tiny_config(pack=2, batch_size=16))
  config.model.mbdisc, config.model.mbdisc_group = 4, 2
  s1, m1 = run(config, 1, k=2, calls=1)
  s4, m4 = run(config, 4, k=2, calls=1)
  chex.assert_trees_all_close(s4, s1, rtol=2e-5, atol=2e-5)
  chex.assert_trees_all_close(m4, m1, rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("model, kw, match", [
    ("mlp", dict(mbdisc=-1), "model.mbdisc must be a number of kernels"),
    ("mlp", dict(mbdisc=4, mbdisc_dim=0), "model.mbdisc_dim must be a positive int"),
    ("dcgan", dict(mbdisc=4, mbdisc_group=True), "model.mbdisc_group must be a positive int, got True"),
    ("resnet", dict(mbdisc=4), "model 'resnet' has no minibatch-discrimination layer"),
])
def test_mbdisc_settings_a_model_cannot_honour_are_clear_errors(model, kw, match):
  config = tiny_config(model)
  if model != "mlp":
    config.model.image_shape, config.model.width = (28, 28, 1), 0.125
  for k, v in kw.items():
    config.model[k] = v
  with pytest.raises(ValueError, match=match):
    build_gan(config)


def test_a_group_that_does_not_divide_the_batch_is_a_clear_error():
  config = tiny_config(batch_size=8)
  config.model.mbdisc, config.model.mbdisc_group = 4, 3
  with pytest.raises(ValueError, match="model.mbdisc_group 3 does not divide the 8 inputs D sees per device"):
    build_gan(config).check_batch(8)

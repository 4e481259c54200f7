"""Class-conditional GANs: conditional BatchNorm, projection and AC-GAN heads, labels through the step, the scanned
loop, devices, data, the trainer and sampling."""
import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from jaxgan import data as data_lib
from jaxgan import step as step_lib
from jaxgan.configs import mlp_mnist, mnist_fast
from jaxgan.gan import build_gan, init_state
from jaxgan.loop import make_train_fn
from jaxgan.models.conditional import ConditionalBatchNorm, DiscriminatorHead
from jaxgan.parallel import make_mesh, replicate

C = 4  # classes in the synthetic tests


def tiny_cond_config(cond_d="projection", model="mlp", **overrides):
  c = mlp_mnist.get_config() if model == "mlp" else mnist_fast.get_config()
  c.batch_size = 8
  c.model.image_shape = (8, 8, 1) if model == "mlp" else (28, 28, 1)
  c.model.latent_dim = 4
  c.model.width = 1 / 16
  c.model.num_classes = C
  c.model.cond_d = cond_d
  for k, v in overrides.items():
    c[k] = v
  return c


def labelled_dataset(n=32, seed=0, size=8):
  """Images whose brightness encodes the class: class k is a constant image of value 60·k + noise."""
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, C, n).astype(np.int32)
  images = np.clip(labels[:, None, None, None] * 60 + rng.integers(0, 20, (n, size, size, 1)), 0, 255)
  images = images.astype(np.uint8)
  return images, labels


def test_conditional_batchnorm_starts_as_batchnorm_and_follows_labels():
  x = jax.random.normal(jax.random.key(0), (6, 3, 3, 5)) * 3 + 1
  y = jnp.array([0, 1, 2, 3, 0, 1])
  cbn = ConditionalBatchNorm(num_classes=C)
  variables = cbn.init(jax.random.key(1), x, y)
  out, _ = cbn.apply(variables, x, y, mutable=["batch_stats"])
  mean, var = x.mean((0, 1, 2)), x.var((0, 1, 2))
  chex.assert_trees_all_close(out, (x - mean) / jnp.sqrt(var + 1e-5), atol=1e-5)  # γ = 1, β = 0 at init
  params = jax.tree.map(lambda p: p, variables["params"])
  gamma = jax.random.uniform(jax.random.key(2), (C, 5), minval=0.5, maxval=2.0)
  beta = jax.random.normal(jax.random.key(3), (C, 5))
  params["gamma"]["embedding"], params["beta"]["embedding"] = gamma, beta
  out, _ = cbn.apply({**variables, "params": params}, x, y, mutable=["batch_stats"])
  x_hat = (x - mean) / jnp.sqrt(var + 1e-5)
  chex.assert_trees_all_close(out, x_hat * gamma[y][:, None, None] + beta[y][:, None, None], atol=1e-5)


@pytest.mark.parametrize("cond_d", ["projection", "acgan"])
def test_discriminator_head_formulas(cond_d):
  h = jax.random.normal(jax.random.key(0), (5, 7))
  y = jnp.array([0, 3, 1, 2, 3])
  head = DiscriminatorHead(num_classes=C, cond_d=cond_d)
  params = head.init(jax.random.key(1), h, y)["params"]
  out = head.apply({"params": params}, h, y)
  linear = h @ params["out"]["kernel"][:, 0] + params["out"]["bias"][0]
  if cond_d == "projection":
    chex.assert_shape(out, (5,))
    chex.assert_trees_all_close(out, linear + jnp.sum(params["embed"]["embedding"][y] * h, -1), atol=1e-5)
  else:
    chex.assert_shape(out, (5, 1 + C))
    chex.assert_trees_all_close(out[:, 0], linear, atol=1e-5)
    chex.assert_trees_all_close(out[:, 1:], h @ params["classes"]["kernel"] + params["classes"]["bias"], atol=1e-5)


def test_conditional_step_needs_labels_and_uses_them():
  config = tiny_cond_config()
  gan = build_gan(config)
  state = init_state(gan, 0)
  images, labels = labelled_dataset(8)
  real = jnp.asarray(images, jnp.float32) / 127.5 - 1
  with pytest.raises(ValueError, match="class-conditional"):
    step_lib.train_step(gan, state, {"real": real})
  step = jax.jit(lambda s, x, y: step_lib.train_step(gan, s, {"real": x, "labels": y}))
  s1, m1 = step(state, real, labels)
  s2, _ = step(state, real, (labels + 1) % C)
  chex.assert_tree_all_finite((s1, m1))
  # Other labels → other D gradients (projection) and other G inputs: the updates differ.
  diff = jax.tree.leaves(jax.tree.map(lambda a, b: float(jnp.abs(a - b).max()), s1.params("d"), s2.params("d")))
  assert max(diff) > 0


def test_acgan_head_learns_the_classes():
  config = tiny_cond_config("acgan")
  config.optim.d.lr = config.optim.g.lr = 2e-3
  gan = build_gan(config)
  images, labels = labelled_dataset(64)
  real = jnp.asarray(images, jnp.float32) / 127.5 - 1
  step = jax.jit(lambda s, x, y: step_lib.train_step(gan, s, {"real": x, "labels": y}))
  state = init_state(gan, 0)
  xents = []
  for i in range(60):
    sl = slice((i % 8) * 8, (i % 8) * 8 + 8)
    state, m = step(state, real[sl], labels[sl])
    xents.append(float(m["d_class_xent"]))
  # The class term sums real and fake cross-entropies, each ln(4) ≈ 1.39 at chance.
  assert np.mean(xents[:5]) > 2.0
  assert np.mean(xents[-10:]) < 0.5 * np.mean(xents[:5]), xents


def _run(config, n_devices, k, calls, resident):
  mesh = make_mesh(jax.devices()[:n_devices])
  gan = build_gan(config, "data")
  state = replicate(init_state(gan, config.seed), mesh)
  fn = make_train_fn(gan, mesh, config.batch_size, k, resident=resident)
  images, labels = labelled_dataset(size=config.model.image_shape[0])
  data = replicate({"real": jnp.asarray(images), "labels": jnp.asarray(labels)}, mesh)
  for c in range(calls):
    if not resident:
      idx = np.random.default_rng(c).integers(0, len(images), (k, config.batch_size))
      sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(None, "data"))
      data = jax.device_put({"real": images[idx], "labels": labels[idx]}, sharding)
    state, _ = fn(state, data)
  return jax.device_get(state)


@pytest.mark.parametrize("resident", [True, False])
def test_conditional_loop_on_four_devices_matches_one(resident):
  config = tiny_cond_config(model="dcgan")
  for opt in (config.optim.g, config.optim.d):
    opt.name, opt.lr, opt.momentum = "sgd", 0.05, 0.9
  s1 = _run(config, 1, k=2, calls=2, resident=resident)
  s4 = _run(config, 4, k=2, calls=2, resident=resident)
  chex.assert_trees_all_close(s4, s1, rtol=3e-5, atol=3e-5)


def test_labelled_data_and_clear_errors(tmp_path):
  images, labels = labelled_dataset(10)
  path = str(tmp_path / "set.npz")
  np.savez(path, images=images, labels=labels)
  data = data_lib.load(ml_collections.ConfigDict({"name": path}))
  np.testing.assert_array_equal(data.labels, labels)
  data_lib.check_labels(data, C)
  with pytest.raises(data_lib.DataError, match="num_classes=3"):
    data_lib.check_labels(data, 3)
  np.savez(path, images=images)
  with pytest.raises(data_lib.DataError, match="has no labels"):
    data_lib.check_labels(data_lib.load(ml_collections.ConfigDict({"name": path})), C)
  # Streamed chunks carry the labels of exactly the images they hold.
  data = data_lib.load(ml_collections.ConfigDict({"name": "mnist_offline"}))
  chunk = next(data_lib.stream(data, 4, 1, 3, seed=0, start_step=0, streams=("real", "labels")))
  x, y = chunk["real"], chunk["labels"]
  chex.assert_shape((x, y), ((3, 4, 28, 28, 1), (3, 4)))
  order = data_lib.StreamOrder(data.num, 4, 0)
  for j in range(3):
    np.testing.assert_array_equal(y[j], data.labels[order.indices(j)])
    np.testing.assert_array_equal(x[j], data.images[order.indices(j)])


def test_trainer_and_sampling_by_class(tmp_path):
  from jaxgan.sampling import generate, load_run
  from jaxgan.trainer import Trainer
  config = tiny_cond_config(model="dcgan", steps=4, checkpoint_every=4, sample_every=4)
  config.model.num_classes = 10
  workdir = str(tmp_path / "run")
  Trainer(config, workdir, quiet=True).train()
  run = load_run(workdir)
  balanced = generate(run, 20, seed=1)
  only3 = generate(run, 20, seed=1, label=3)
  # Sample i of a balanced draw has class i mod 10 and latent i: with class 3 forced, rows 3 and 13 coincide.
  np.testing.assert_array_equal(only3[[3, 13]], balanced[[3, 13]])
  assert np.abs(only3.astype(int) - balanced.astype(int)).max() > 0  # the other rows changed class
  with pytest.raises(ValueError, match="out of range"):
    generate(run, 4, label=10)

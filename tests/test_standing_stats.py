"""Standing BatchNorm statistics for the EMA generator (GAN.standing_stats, sampling.standing_fn, generate)."""
import dataclasses

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.configs import ring8
from jaxgan.gan import build_gan, init_state
from jaxgan.sampling import Run, generate, standing_fn
from test_conditional import tiny_cond_config


def _perturbed(tree, key, scale=0.3):
  leaves, treedef = jax.tree.flatten(tree)
  keys = jax.random.split(key, len(leaves))
  return jax.tree.unflatten(treedef, [l + scale * jax.random.normal(k, l.shape) for l, k in zip(leaves, keys)])


@pytest.fixture(scope="module")
def cond_dcgan():
  config = tiny_cond_config(model="dcgan")
  gan = build_gan(config)
  state = init_state(gan, 0)
  # weights unlike init, as an EMA generator's are, so the statistics are far from (0, 1)
  state = state.replace(ema={"g": _perturbed(state.params("g"), jax.random.key(7))})
  return config, gan, state


def test_one_batch_gives_that_batchs_statistics(cond_dcgan):
  # In train mode BatchNorm normalises with the batch's own statistics; in inference mode with the stored ones.
  # Statistics recomputed from exactly that batch must make the two outputs agree.
  _, gan, state = cond_dcgan
  key, batch = jax.random.key(3), 16
  g_vars = gan.standing_stats(state.ema["g"], state.vars("g"), key, batches=1, batch=batch)
  z = gan.sample_latents(jax.random.split(key, 1)[0], batch)
  y = gan.balanced_labels(batch)
  train_out, _ = gan.g_apply({"params": state.ema["g"], **state.vars("g")}, z, y, train=True, mutable=["batch_stats"])
  infer_out = gan.generate(state.ema["g"], g_vars, z, y)
  chex.assert_trees_all_close(infer_out, train_out, atol=2e-4)
  stale_out = gan.generate(state.ema["g"], state.vars("g"), z, y)  # G's init statistics: visibly different
  assert float(jnp.abs(stale_out - train_out).max()) > 0.05


def test_cluster_conditioned_statistics_come_from_the_cluster_prior(cond_dcgan):
  # A cluster-conditioned G trains on its clusters in proportion to their sizes, so its standing statistics must
  # come from labels drawn that way, not from balanced ones. Here every sample is drawn from cluster 1.
  _, gan, state = cond_dcgan
  counts = [0] * gan.num_classes
  counts[1] = 5
  gan = gan.with_label_prior(counts)
  key, batch = jax.random.key(4), 16
  g_vars = gan.standing_stats(state.ema["g"], state.vars("g"), key, batches=1, batch=batch)
  z = gan.sample_latents(jax.random.split(key, 1)[0], batch)
  y = jnp.ones((batch,), jnp.int32)
  train_out, _ = gan.g_apply({"params": state.ema["g"], **state.vars("g")}, z, y, train=True, mutable=["batch_stats"])
  chex.assert_trees_all_close(gan.generate(state.ema["g"], g_vars, z, y), train_out, atol=2e-4)
  # statistics of balanced labels (what a class-conditional GAN uses) would not do here
  balanced = dataclasses.replace(gan, label_prior=None).standing_stats(state.ema["g"], state.vars("g"), key, 1, batch)
  assert float(jnp.abs(gan.generate(state.ema["g"], balanced, z, y) - train_out).max()) > 50 * 2e-4


def test_many_batches_average_the_batch_statistics(cond_dcgan):
  # dcgan's BatchNorm has momentum 0.9: one update from zero statistics stores 0.1 × the batch statistic
  _, gan, state = cond_dcgan
  key, batches, batch = jax.random.key(5), 3, 8
  got = gan.standing_stats(state.ema["g"], state.vars("g"), key, batches=batches, batch=batch)
  zeros = jax.tree.map(jnp.zeros_like, state.vars("g")["batch_stats"])
  per_batch = []
  for k in jax.random.split(key, batches):
    _, new = gan.g_apply({"params": state.ema["g"], **state.vars("g"), "batch_stats": zeros},
                         gan.sample_latents(k, batch), gan.balanced_labels(batch), train=True, mutable=["batch_stats"])
    per_batch.append(jax.tree.map(lambda s: s / 0.1, new["batch_stats"]))
  want = jax.tree.map(lambda *s: sum(s) / batches, *per_batch)
  chex.assert_trees_all_close(got["batch_stats"], want, rtol=1e-4, atol=1e-5)
  chex.assert_tree_all_finite(got)
  chex.assert_trees_all_equal_shapes(got, state.vars("g"))


def test_no_batchnorm_or_zero_batches_leaves_the_variables(cond_dcgan):
  _, gan, state = cond_dcgan
  assert gan.standing_stats(state.ema["g"], state.vars("g"), jax.random.key(0), batches=0) is state.vars("g")
  mix = build_gan(ring8.get_config())  # an MLP generator with no BatchNorm
  mstate = init_state(mix, 0)
  assert mix.standing_stats(mstate.ema["g"], mstate.vars("g"), jax.random.key(0)) is mstate.vars("g")


def test_generate_samples_the_ema_generator_with_standing_statistics(cond_dcgan):
  config, gan, state = cond_dcgan
  config = config.copy_and_resolve_references()
  config.standing_stats = 2
  run = Run(config, gan, state, 0)
  x = generate(run, 12, seed=1, ema=True)
  assert x.dtype == np.uint8 and x.shape == (12, 28, 28, 1)
  np.testing.assert_array_equal(x, generate(run, 12, seed=1, ema=True))  # deterministic
  g_vars = standing_fn(gan, config)(state.ema["g"], state.vars("g"))
  want = generate(Run(config, gan, state.with_player("g", vars=g_vars), 0), 12, seed=1, ema=True, standing_stats=0)
  np.testing.assert_array_equal(x, want)
  stale = generate(run, 12, seed=1, ema=True, standing_stats=0)
  assert np.abs(stale.astype(int) - x.astype(int)).max() > 10
  # the raw generator keeps its own running statistics
  np.testing.assert_array_equal(generate(run, 12, seed=1, ema=False),
                                generate(run, 12, seed=1, ema=False, standing_stats=0))
  with pytest.raises(ValueError, match="standing_stats"):
    generate(run, 4, ema=True, standing_stats=-1)

"""Cluster-conditioned GANs: k-means labels (jaxgan/data/clusters.py), sampling in proportion to the clusters,
the conditional 2-D MLPs, and the whole path from config to a trained, reloaded run."""
import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from jaxgan import data as data_lib
from jaxgan.configs import grid25
from jaxgan.data import clusters
from jaxgan.gan import build_gan, init_state
from jaxgan.sampling import generate, load_run
from jaxgan.trainer import Trainer


def _blobs(rng, centres, per, std=0.05):
  x = np.concatenate([c + std * rng.standard_normal((n, len(c))) for c, n in zip(centres, per)])
  return x.astype(np.float32), np.repeat(np.arange(len(centres)), per)


def _same_partition(a, b):
  """True when labelings a and b split the samples the same way (cluster ids may be permuted)."""
  pairs = set(zip(a.tolist(), b.tolist()))
  return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def test_kmeans_recovers_separated_blobs_of_unequal_sizes():
  rng = np.random.default_rng(0)
  centres = [(-3.0, 0.0), (0.0, 3.0), (3.0, 0.0), (0.0, -3.0), (0.0, 0.0)]
  x, truth = _blobs(rng, centres, [400, 100, 250, 50, 200])
  labels, counts = clusters.cluster_labels(x, 5, seed=1)
  chex.assert_shape(labels, (1000,))
  assert labels.dtype == np.int32
  assert _same_partition(labels, truth)
  assert sorted(counts.tolist()) == [50, 100, 200, 250, 400]
  again, _ = clusters.cluster_labels(x, 5, seed=1)
  chex.assert_trees_all_equal(labels, again)


def test_kmeans_inertia_and_centres_are_those_of_its_labels():
  rng = np.random.default_rng(1)
  x = rng.standard_normal((300, 3)).astype(np.float32)
  centres, labels, inertia = clusters.kmeans(jnp.asarray(x), 4, jax.random.key(0))
  labels = np.asarray(labels)
  for c in range(4):  # a Lloyd fixed point: each centre is its points' mean and each point is nearest its centre
    np.testing.assert_allclose(np.asarray(centres)[c], x[labels == c].mean(0), atol=1e-4)
  d2 = ((x[:, None] - np.asarray(centres)[None]) ** 2).sum(-1)
  chex.assert_trees_all_equal(labels, d2.argmin(1))
  np.testing.assert_allclose(float(inertia), d2.min(1).sum(), rtol=1e-4)


def test_pca_keeps_the_leading_directions():
  rng = np.random.default_rng(2)
  x = rng.standard_normal((500, 6)) * np.array([10.0, 5.0, 1.0, 0.1, 0.1, 0.1])
  y = clusters.pca(x, 2)
  chex.assert_shape(y, (500, 2))
  np.testing.assert_allclose(np.sort(y.var(0))[::-1], np.sort(x.var(0))[::-1][:2], rtol=0.15)
  # uint8 images are flattened and scaled; too many clusters is a clear error
  imgs = rng.integers(0, 256, (20, 4, 4, 1), dtype=np.uint8)
  labels, counts = clusters.cluster_labels(imgs, 3, pca_dims=5)
  assert counts.sum() == 20 and set(labels.tolist()) <= {0, 1, 2}
  with pytest.raises(ValueError, match="at most one cluster per sample"):
    clusters.cluster_labels(imgs, 21)
  with pytest.raises(ValueError, match=">= 1"):
    clusters.cluster_labels(imgs, 0)


def _cluster_config(k=6, steps=4):
  c = grid25.get_config()
  c.data.clusters, c.model.num_classes, c.pack = k, k, 1
  c.data.num = 2000
  c.batch_size, c.steps, c.steps_per_call = 16, steps, 2
  c.checkpoint_every = c.sample_every = steps
  c.model.width = 16
  c.penalty.name = "none"
  return c


def test_sample_labels_follow_the_prior():
  gan = build_gan(_cluster_config(k=4)).with_label_prior([600, 300, 0, 100])
  assert gan.label_prior == (600, 300, 0, 100)
  labels = np.asarray(gan.sample_labels(20_000, jax.random.key(0)))
  freq = np.bincount(labels, minlength=4) / 20_000
  np.testing.assert_allclose(freq, [0.6, 0.3, 0.0, 0.1], atol=0.015)
  assert freq[2] == 0
  chex.assert_trees_all_equal(gan.sample_labels(5, jax.random.key(0), label=3), jnp.full((5,), 3, jnp.int32))
  # without a prior: the balanced labels of a class-conditional GAN
  plain = build_gan(_cluster_config(k=4))
  chex.assert_trees_all_equal(plain.sample_labels(8, jax.random.key(0)), jnp.arange(8, dtype=jnp.int32) % 4)


def test_conditional_mixture_mlp_uses_the_label():
  gan = build_gan(_cluster_config(k=3))
  state = init_state(gan, 0)
  z = jnp.zeros((6, gan.latent_dim))
  y = jnp.array([0, 1, 2, 0, 1, 2], jnp.int32)
  x = gan.generate(state.params("g"), state.vars("g"), z, y)
  chex.assert_shape(x, (6, 2))
  chex.assert_tree_all_finite(x)
  np.testing.assert_allclose(x[0], x[3], rtol=1e-6)  # same z, same label → same point
  assert not np.allclose(x[0], x[1])                 # same z, other label → another point
  logits = gan.d_apply({"params": state.params("d"), **state.vars("d")}, x, y)
  chex.assert_shape(logits, (6,))
  with pytest.raises(ValueError, match="model.num_classes = 3"):
    c = _cluster_config(k=3)
    c.model.num_classes = 0
    build_gan(c)
  with pytest.raises(ValueError, match="plain G"):
    c = _cluster_config(k=3)
    c.model.g_components = 8
    build_gan(c)


def test_trained_run_keeps_its_cluster_sizes(tmp_path):
  c = _cluster_config(k=6)
  data = data_lib.load(c.data)
  expected = np.bincount(data.labels, minlength=6)
  assert expected.sum() == 2000 and (expected > 0).all()
  Trainer(c, str(tmp_path), quiet=True).train()
  run = load_run(str(tmp_path))
  assert run.gan.label_prior == tuple(int(n) for n in expected)
  x = generate(run, 300, seed=0)
  chex.assert_shape(x, (300, 2))
  chex.assert_tree_all_finite(x)
  again = generate(run, 300, seed=0)
  chex.assert_trees_all_equal(x, again)


def test_clusters_need_a_dataset_in_memory_and_a_sane_count():
  bad = ml_collections.ConfigDict(dict(name="mixture:grid25", num=100, clusters=-1))
  with pytest.raises(data_lib.DataError, match="clusters must be >= 0"):
    data_lib.load(bad)
  bad.clusters = 101
  with pytest.raises(data_lib.DataError, match="at most one cluster per sample"):
    data_lib.load(bad)


def test_clusters_refuse_a_streamed_dataset(monkeypatch):
  streamed = data_lib.ImageData("tfds:big", 10, (28, 28, 1), lambda idx: np.zeros((len(idx), 28, 28, 1), np.uint8))
  monkeypatch.setattr(data_lib, "_load", lambda cfg, max_bytes: streamed)
  cfg = ml_collections.ConfigDict(dict(name="tfds:big", clusters=3))
  with pytest.raises(data_lib.DataError, match="held in memory"):
    data_lib.load(cfg)
  cfg.clusters = 0  # without clusters the same dataset loads
  assert data_lib.load(cfg) is streamed

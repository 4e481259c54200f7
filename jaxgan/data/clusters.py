"""k-means cluster labels for unlabelled data: what a cluster-conditioned GAN trains on.

  labels_N, counts_K = cluster_labels(x_Nx..., k, seed=0, pca_dims=64)

A cluster-conditioned GAN (config.data.clusters = K) is a class-conditional GAN whose classes are the k-means
clusters of the training data, sampled in proportion to the clusters' sizes: an unconditional generative model,
since no label comes from outside the data. It is the static form of the self-conditioned GAN (Liu et al., CVPR
2020, "Diverse Image Generation via Self-Conditioned GANs"), which clusters D's features and re-clusters during
training; here the clusters are fixed before training, in the data's own space (images: its first `pca_dims`
principal components). The point is the one Liu et al. make: G no longer has to split one continuous latent
space between separated modes, each of which it can drop or join to its neighbours by a bridge of samples; it
gets one label per cluster, and the data's cluster sizes fix how often each is drawn.

k-means++ seeding (Arthur & Vassilvitskii 2007), then Lloyd iterations; everything in float32 JAX, deterministic for a
given seed. An emptied cluster keeps its previous centre.
"""
import functools
from typing import Tuple

import jax
import jax.numpy as jnp
import numpy as np


def _sq_dists(x_NxD, c_KxD):
  return jnp.maximum((x_NxD * x_NxD).sum(1)[:, None] - 2.0 * x_NxD @ c_KxD.T + (c_KxD * c_KxD).sum(1)[None], 0.0)


@functools.partial(jax.jit, static_argnames=("k", "iters"))
def kmeans(x_NxD: jax.Array, k: int, key: jax.Array, iters: int = 30) -> Tuple[jax.Array, jax.Array, jax.Array]:
  """(centres [K, D], labels [N], inertia = Σ squared distance to the own centre) of k-means on `x_NxD`'s rows."""
  x = x_NxD.astype(jnp.float32)
  n = x.shape[0]
  k0, key = jax.random.split(key)
  first = x[jax.random.randint(k0, (), 0, n)]
  centres = jnp.zeros((k, x.shape[1]), jnp.float32).at[0].set(first)
  d2 = ((x - first) ** 2).sum(1)

  def seed_one(i, carry):  # k-means++: the next centre is a point drawn with probability ∝ its squared distance
    centres, d2 = carry
    idx = jax.random.categorical(jax.random.fold_in(key, i), jnp.log(jnp.maximum(d2, 1e-30)))
    c = x[idx]
    return centres.at[i].set(c), jnp.minimum(d2, ((x - c) ** 2).sum(1))

  centres, _ = jax.lax.fori_loop(1, k, seed_one, (centres, d2))

  def lloyd(_, centres):
    labels = jnp.argmin(_sq_dists(x, centres), axis=1)
    sums = jax.ops.segment_sum(x, labels, num_segments=k)
    counts = jax.ops.segment_sum(jnp.ones((n,), jnp.float32), labels, num_segments=k)
    return jnp.where(counts[:, None] > 0, sums / jnp.maximum(counts, 1.0)[:, None], centres)

  centres = jax.lax.fori_loop(0, iters, lloyd, centres)
  d2 = _sq_dists(x, centres)
  return centres, jnp.argmin(d2, axis=1).astype(jnp.int32), d2.min(1).sum()


def pca(x_NxD: np.ndarray, dims: int, fit_max: int = 10_000, seed: int = 0) -> np.ndarray:
  """The rows of `x_NxD` projected on their first `dims` principal components (float32), fitted on at most
  `fit_max` of the rows (a fixed random subset)."""
  x = np.asarray(x_NxD, np.float32)
  x = x - x.mean(0)
  if dims <= 0 or dims >= x.shape[1]:
    return x
  fit = x if len(x) <= fit_max else x[np.random.default_rng(seed).choice(len(x), fit_max, replace=False)]
  _, vecs = np.linalg.eigh(fit.T.astype(np.float64) @ fit.astype(np.float64))  # ascending eigenvalues
  return x @ vecs[:, ::-1][:, :dims].astype(np.float32)


def cluster_labels(x_Nx: np.ndarray, k: int, seed: int = 0, pca_dims: int = 64, iters: int = 30,
                   restarts: int = 4) -> Tuple[np.ndarray, np.ndarray]:
  """(int32 labels [N], int64 cluster sizes [K]) of k-means with `k` clusters on the flattened rows of `x_Nx`
  (uint8 images are scaled to [0, 1]), the best (lowest inertia) of `restarts` seedings; rows longer than
  `pca_dims` are first projected on their principal components."""
  x = np.asarray(x_Nx)
  if k < 1:
    raise ValueError(f"the number of clusters must be >= 1, got {k}")
  if k > x.shape[0]:
    raise ValueError(f"{k} clusters for {x.shape[0]} samples: use at most one cluster per sample")
  x = x.reshape(x.shape[0], -1).astype(np.float32) / (255.0 if x.dtype == np.uint8 else 1.0)
  if x.shape[1] > pca_dims > 0:
    x = pca(x, pca_dims, seed=seed)
  x = jnp.asarray(x)
  runs = [kmeans(x, k, jax.random.fold_in(jax.random.key(seed), r), iters=iters) for r in range(max(1, restarts))]
  labels = np.asarray(min(runs, key=lambda run: float(run[2]))[1], np.int32)
  return labels, np.bincount(labels, minlength=k)

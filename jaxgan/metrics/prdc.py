"""Precision/recall (Kynkäänniemi et al. 2019, k = 3) and density/coverage (Naeem et al. 2020, k = 5).

With r_k(x) the distance from x to its k-th nearest neighbour in its own set (itself excluded), B(x, r) the closed ball,
real set X (N points), generated set Y (M points):
  precision = 1/M Σ_j 1[∃i: y_j ∈ B(x_i, r_3(x_i))]        recall   = 1/N Σ_i 1[∃j: x_i ∈ B(y_j, r_3(y_j))]
  density   = 1/(5M) Σ_j Σ_i 1[y_j ∈ B(x_i, r_5(x_i))]     coverage = 1/N Σ_i 1[min_j ‖x_i − y_j‖ ≤ r_5(x_i)]
Works in any feature space. Distances are squared-Euclidean blocks (‖a‖² + ‖b‖² − 2ab, float32, features centred on
the real mean to limit cancellation) computed by one jitted kernel per block shape, so memory is O(block · N) and the
N×N matrices are never held.
"""
import functools
from typing import Dict

import jax
import jax.numpy as jnp
import numpy as np

_BLOCK = 1024


def _sqdist(a_BxD: jax.Array, b_MxD: jax.Array) -> jax.Array:
  d = jnp.sum(a_BxD ** 2, 1)[:, None] + jnp.sum(b_MxD ** 2, 1)[None, :] - 2.0 * a_BxD @ b_MxD.T
  return jnp.maximum(d, 0.0)


@functools.partial(jax.jit, static_argnums=2)
def _knn_sq_block(a_BxD: jax.Array, x_NxD: jax.Array, kmax: int) -> jax.Array:
  """Squared distances to the 1..kmax-th nearest neighbours (column 0 is the point itself, distance ≈ 0)."""
  neg, _ = jax.lax.top_k(-_sqdist(a_BxD, x_NxD), kmax + 1)
  return -neg


@jax.jit
def _cross_block(y_BxD, x_NxD, r3_real_N, r5_real_N, r3_fake_B):
  """One block of generated rows against all real points; squared radii throughout."""
  d = _sqdist(y_BxD, x_NxD)
  in_real3 = d <= r3_real_N[None, :]
  in_real5 = d <= r5_real_N[None, :]
  return (in_real3.any(axis=1),                             # precision, per generated point
          in_real5.sum(axis=1),                             # density numerator, per generated point
          (d <= r3_fake_B[:, None]).any(axis=0),            # recall, per real point (reduce over blocks with OR)
          d.min(axis=0))                                    # coverage, per real point (reduce with min)


def _blocks(a_NxD: np.ndarray, block: int):
  """Yields (start, padded block of `block` rows) so every kernel call has the same shape."""
  for s in range(0, a_NxD.shape[0], block):
    chunk = a_NxD[s:s + block]
    if chunk.shape[0] < block:
      chunk = np.concatenate([chunk, np.repeat(chunk[-1:], block - chunk.shape[0], axis=0)])
    yield s, chunk


def knn_sq_radii(x_NxD: np.ndarray, kmax: int, block: int = _BLOCK) -> np.ndarray:
  """N×(kmax+1) squared k-NN distances within x (column k = k-th neighbour, self excluded)."""
  n = x_NxD.shape[0]
  if n <= kmax:
    raise ValueError(f"need more than k={kmax} points, got {n}")
  xj = jnp.asarray(x_NxD)
  out = [np.asarray(_knn_sq_block(jnp.asarray(c), xj, kmax)) for _, c in _blocks(x_NxD, min(block, n))]
  return np.concatenate(out)[:n]


def prdc(real_NxD: np.ndarray, fake_MxD: np.ndarray, k_pr: int = 3, k_dc: int = 5,
         block: int = _BLOCK) -> Dict[str, float]:
  """Returns {'precision', 'recall', 'density', 'coverage'} (density may exceed 1)."""
  real = np.asarray(real_NxD, np.float32)
  fake = np.asarray(fake_MxD, np.float32)
  if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
    raise ValueError(f"need (N, D) and (M, D) features, got {real.shape} and {fake.shape}")
  center = real.mean(axis=0, keepdims=True)
  real, fake = real - center, fake - center
  real_r = knn_sq_radii(real, max(k_pr, k_dc), block)
  fake_r3 = knn_sq_radii(fake, k_pr, block)[:, k_pr]
  n, m = real.shape[0], fake.shape[0]
  bm = min(block, m)
  xj = jnp.asarray(real)
  r3, r5 = jnp.asarray(real_r[:, k_pr]), jnp.asarray(real_r[:, k_dc])
  fake_r3_padded = np.concatenate([fake_r3, np.full((-m) % bm, -1.0, np.float32)])  # pad rows cover nothing
  prec, dens = np.zeros(m, bool), np.zeros(m, np.int64)
  rec, cov_d = np.zeros(n, bool), np.full(n, np.inf, np.float32)
  for s, chunk in _blocks(fake, bm):
    p, d, r, c = _cross_block(jnp.asarray(chunk), xj, r3, r5, jnp.asarray(fake_r3_padded[s:s + bm]))
    e = min(bm, m - s)
    prec[s:s + e], dens[s:s + e] = np.asarray(p)[:e], np.asarray(d)[:e]
    rec |= np.asarray(r)
    cov_d = np.minimum(cov_d, np.asarray(c))  # padded rows repeat a real fake row: min unchanged
  return {
      "precision": float(prec.mean()),
      "recall": float(rec.mean()),
      "density": float(dens.sum() / (k_dc * m)),
      "coverage": float((cov_d <= real_r[:, k_dc]).mean()),
  }

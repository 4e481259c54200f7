"""Fréchet distance between two Gaussians fitted to feature sets (the math behind FID and "MNIST FD").

  d² = ||μ1 − μ2||² + Tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^½)

Tr (Σ1 Σ2)^½ is computed as Tr (Σ1^½ Σ2 Σ1^½)^½: the inner product is symmetric positive semi-definite, so two
`eigh` calls in float64 give it without the complex-valued `sqrtm` of a non-symmetric matrix that scipy needs (and
which is the usual source of NaNs and spurious imaginary parts). Eigenvalues below zero are rounding and are clipped.
"""
from typing import Tuple

import numpy as np


def feature_stats(features_NxD: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
  """Returns (μ_D, Σ_DxD) in float64; Σ uses the unbiased 1/(N−1) estimator like pytorch-fid and TF-GAN."""
  f = np.asarray(features_NxD, dtype=np.float64)
  if f.ndim != 2 or f.shape[0] < 2:
    raise ValueError(f"need features of shape (N>=2, D), got {f.shape}")
  return f.mean(axis=0), np.cov(f, rowvar=False).reshape(f.shape[1], f.shape[1])


def _psd_sqrt(s_DxD: np.ndarray) -> np.ndarray:
  w, v = np.linalg.eigh((s_DxD + s_DxD.T) / 2)
  return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def _trace_sqrt_product(s1_DxD: np.ndarray, s2_DxD: np.ndarray) -> float:
  """Tr (Σ1 Σ2)^½ = Σ sqrt(eig(Σ1^½ Σ2 Σ1^½)), both factors PSD."""
  r = _psd_sqrt(s1_DxD)
  m = r @ s2_DxD @ r
  w = np.linalg.eigvalsh((m + m.T) / 2)
  return float(np.sqrt(np.clip(w, 0.0, None)).sum())


def frechet_distance_from_stats(mu1_D, sigma1_DxD, mu2_D, sigma2_DxD, eps: float = 1e-6) -> float:
  """Fréchet distance d² between N(μ1, Σ1) and N(μ2, Σ2), in float64.

  If the trace term comes out non-finite (degenerate or ill-scaled covariances), retries once with eps·I added to
  both covariances, as pytorch-fid does; still non-finite raises ValueError.
  """
  mu1, mu2 = np.atleast_1d(np.asarray(mu1_D, np.float64)), np.atleast_1d(np.asarray(mu2_D, np.float64))
  s1, s2 = np.atleast_2d(np.asarray(sigma1_DxD, np.float64)), np.atleast_2d(np.asarray(sigma2_DxD, np.float64))
  if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
    raise ValueError(f"shape mismatch: mu {mu1.shape} vs {mu2.shape}, sigma {s1.shape} vs {s2.shape}")
  diff = mu1 - mu2
  try:
    tr_covmean = _trace_sqrt_product(s1, s2)
  except np.linalg.LinAlgError:
    tr_covmean = float("nan")
  if not np.isfinite(tr_covmean):
    offset = eps * np.eye(s1.shape[0])
    tr_covmean = _trace_sqrt_product(s1 + offset, s2 + offset)
  d2 = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean)
  if not np.isfinite(d2):
    raise ValueError("Fréchet distance is not finite: check the features for NaN/Inf")
  # Rounding can leave a tiny negative value for identical distributions; distances are >= 0.
  return max(d2, 0.0)


def frechet_distance(features1_NxD: np.ndarray, features2_MxD: np.ndarray, eps: float = 1e-6) -> float:
  """Fréchet distance between Gaussians fitted to two feature sets (rows are samples)."""
  return frechet_distance_from_stats(*feature_stats(features1_NxD), *feature_stats(features2_MxD), eps=eps)

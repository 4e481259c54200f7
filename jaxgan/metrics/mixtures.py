"""Mode-collapse metrics on the 2-D mixtures (PacGAN definitions; protocol: 2,500 samples, ≥ 10 seeds).

  high quality:  ‖x − c_nearest(x)‖ ≤ 3·std
  modes:         #{modes that are the nearest centre of ≥ 1 high-quality sample}
  reverse KL:    KL(p_gen ‖ Uniform(K)) = Σ_k p_k log(K p_k), p = mode histogram of the high-quality samples
"""
from typing import Any, Dict

import numpy as np

from jaxgan.data.mixtures import get_mixture


def kl_to_uniform(counts_K: np.ndarray) -> float:
  """KL(p ‖ Uniform(K)) for the histogram `counts_K` (0 log 0 = 0); NaN when the histogram is empty."""
  counts = np.asarray(counts_K, np.float64)
  total = counts.sum()
  if total == 0:
    return float("nan")
  p = counts[counts > 0] / total
  return float((p * np.log(p * counts.size)).sum())


def mixture_metrics(points_Nx2: np.ndarray, dataset: str = "ring8", num_std: float = 3.0) -> Dict[str, Any]:
  """Returns modes, high_quality_fraction, reverse_kl (None when no sample is high quality), mode_histogram."""
  mix = get_mixture(dataset)
  x = np.asarray(points_Nx2, np.float64)
  if x.ndim != 2 or x.shape[1] != 2 or x.shape[0] == 0:
    raise ValueError(f"mixture metrics need points of shape (N, 2), got {x.shape}")
  if not np.all(np.isfinite(x)):
    raise ValueError("mixture metrics: points contain NaN/Inf")
  d_NxK = np.linalg.norm(x[:, None, :] - mix.centers_Kx2[None], axis=-1)
  nearest = d_NxK.argmin(axis=1)
  hq = d_NxK[np.arange(x.shape[0]), nearest] <= num_std * mix.std
  counts = np.bincount(nearest[hq], minlength=mix.num_modes)
  kl = kl_to_uniform(counts)
  return {
      "modes": int((counts > 0).sum()),
      "num_modes": mix.num_modes,
      "high_quality_fraction": float(hq.mean()),
      "reverse_kl": kl if np.isfinite(kl) else None,
      "mode_histogram": counts.tolist(),
      "n": int(x.shape[0]),
      "dataset": dataset,
  }

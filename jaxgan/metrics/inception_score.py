"""Inception Score from classifier logits, for any classifier (Inception's 1008 logits, the MNIST judge's 10).

  IS = exp( E_x KL( p(y|x) ‖ p(y) ) ),  p(y) = E_x p(y|x)

computed on `splits` equal consecutive chunks (Salimans et al. use 10) and reported as mean and standard deviation
over the chunks. Its maximum is the number of classes (confident and uniformly spread predictions).
"""
from typing import Dict

import numpy as np


def _log_softmax(logits_NxC: np.ndarray) -> np.ndarray:
  z = logits_NxC - logits_NxC.max(axis=1, keepdims=True)
  return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def inception_score(logits_NxC: np.ndarray, splits: int = 10) -> Dict[str, float]:
  """Returns {'mean', 'std', 'splits'}; float64 throughout; N must be at least `splits`."""
  logits = np.asarray(logits_NxC, np.float64)
  if logits.ndim != 2:
    raise ValueError(f"need logits of shape (N, C), got {logits.shape}")
  if splits < 1 or logits.shape[0] < splits:
    raise ValueError(f"need at least splits={splits} samples, got {logits.shape[0]}")
  scores = []
  for chunk in np.array_split(logits, splits):
    log_p_yx = _log_softmax(chunk)
    p_yx = np.exp(log_p_yx)
    log_p_y = np.log(np.maximum(p_yx.mean(axis=0), np.finfo(np.float64).tiny))
    kl = (p_yx * (log_p_yx - log_p_y)).sum(axis=1).mean()
    scores.append(np.exp(kl))
  return {"mean": float(np.mean(scores)), "std": float(np.std(scores)), "splits": int(splits)}

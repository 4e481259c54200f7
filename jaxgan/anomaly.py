"""Anomaly detection with a trained run: scores of images, AUROC, a histogram of normal vs anomalous scores.

An anomaly objective (jaxgan/fanogan.py, jaxgan/ganomaly.py) has `anomaly_scores(state, x) -> {name: [B]}` (higher =
more anomalous; `x` float32 in [-1, 1]) and names its main score `primary_score`; the others are its parts, reported
beside it.

AUROC is the Mann-Whitney statistic: the probability that a random anomalous image scores higher than a random
normal one, ties counting one half,

  AUROC = (R_a − n_a(n_a + 1)/2) / (n_a · n_n),

R_a the sum of the anomalous images' ranks among all scores (tied scores share their mean rank).
"""
import functools
from typing import Dict, Sequence

import jax
import numpy as np


def average_ranks(values) -> np.ndarray:
  """1-based ranks of `values`; a group of equal values gets the mean of the ranks it spans (float64)."""
  v = np.asarray(values, np.float64).reshape(-1)
  order = np.argsort(v, kind="stable")
  sorted_v = v[order]
  starts = np.flatnonzero(np.r_[True, sorted_v[1:] != sorted_v[:-1]])   # first index of every tie group
  ends = np.r_[starts[1:], len(v)]                                      # one past its last
  mean_rank = (starts + 1 + ends) / 2.0                                 # mean of ranks starts+1 .. ends
  ranks = np.empty(len(v), np.float64)
  ranks[order] = np.repeat(mean_rank, ends - starts)
  return ranks


def auroc(scores, anomalous) -> float:
  """Area under the ROC curve of `scores` (higher = more anomalous) for the boolean labels `anomalous`; ties count
  one half. ValueError when a class is empty or a score is not finite."""
  s = np.asarray(scores, np.float64).reshape(-1)
  a = np.asarray(anomalous).reshape(-1).astype(bool)
  if len(s) != len(a):
    raise ValueError(f"{len(s)} scores for {len(a)} labels")
  n_a = int(a.sum())
  n_n = len(a) - n_a
  if n_a == 0 or n_n == 0:
    raise ValueError(f"AUROC needs normal and anomalous images; got {n_n} normal and {n_a} anomalous")
  if not np.all(np.isfinite(s)):
    raise ValueError(f"{int(np.sum(~np.isfinite(s)))} anomaly scores are not finite")
  r_a = average_ranks(s)[a].sum()
  return float((r_a - n_a * (n_a + 1) / 2.0) / (n_a * n_n))


def score_images(obj, state, images, batch: int = 500) -> Dict[str, np.ndarray]:
  """{score name: float32 [N]} for uint8 (or float in [-1, 1]) images [N, H, W, C], in batches of `batch` (the last
  one padded, so one program is compiled). Scores are per image: no network here mixes samples of a batch."""
  images = np.asarray(images)
  if images.ndim != 4:
    raise ValueError(f"anomaly scores need images [N, H, W, C], got shape {images.shape}")
  fn = _scorer(obj)
  out = {}
  n = len(images)
  for i in range(0, n, batch):
    x = images[i:i + batch]
    x = x.astype(np.float32) / 127.5 - 1.0 if x.dtype == np.uint8 else x.astype(np.float32)
    m = len(x)
    if m < batch and n > batch:
      x = np.concatenate([x, np.zeros((batch - m,) + x.shape[1:], np.float32)])
    for name, v in jax.device_get(fn(state, x)).items():
      out.setdefault(name, []).append(np.asarray(v, np.float32)[:m])
  return {name: np.concatenate(v) for name, v in out.items()}


@functools.lru_cache(maxsize=8)
def _scorer(obj):
  return jax.jit(obj.anomaly_scores)


def histogram(scores, anomalous, path: str, title: str = "", bins: int = 60) -> None:
  """A PNG histogram of the scores of normal vs anomalous images (densities, shared bins)."""
  from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415  (no pyplot: no global backend)
  from matplotlib.figure import Figure  # noqa: PLC0415
  s = np.asarray(scores, np.float64)
  a = np.asarray(anomalous, bool)
  lo, hi = np.percentile(s, [0.0, 99.5])
  edges = np.linspace(lo, hi if hi > lo else lo + 1.0, bins + 1)
  fig = Figure(figsize=(6, 3.6), dpi=100)
  FigureCanvasAgg(fig)
  ax = fig.add_subplot(1, 1, 1)
  clip = lambda v: np.clip(v, edges[0], edges[-1])
  ax.hist(clip(s[~a]), edges, density=True, alpha=0.6, label=f"normal ({int((~a).sum())})", color="tab:blue")
  ax.hist(clip(s[a]), edges, density=True, alpha=0.6, label=f"anomalous ({int(a.sum())})", color="tab:red")
  ax.set_xlabel("anomaly score (top 0.5% clipped into the last bin)")
  ax.set_ylabel("density")
  ax.set_title(title, fontsize=9)
  ax.legend()
  fig.tight_layout()
  fig.savefig(path)


def parse_classes(text: str, name: str = "--normal") -> Sequence[int]:
  """"3" or "1,7" -> (3,) or (1, 7); a one-line ValueError otherwise."""
  try:
    classes = tuple(int(t) for t in str(text).split(",") if t.strip() != "")
  except ValueError:
    raise ValueError(f"{name} takes class numbers separated by commas (e.g. 3 or 1,7), got {text!r}") from None
  if not classes:
    raise ValueError(f"{name} is empty; give the normal classes, e.g. {name}=3")
  return classes


def check_trained(obj, state) -> None:
  """A ValueError naming what to do when `obj` has no anomaly score or its scoring network has not trained."""
  if not hasattr(obj, "anomaly_scores"):
    raise ValueError(f"this run trained objective {type(obj).__name__}, which has no anomaly score; train "
                     f"jaxgan/configs/fanogan_mnist.py or ganomaly_mnist.py")
  starts = getattr(obj, "stage_starts", ())
  step = int(jax.device_get(state.step))
  if starts and step <= starts[-1]:
    raise ValueError(f"the run is at step {step} and its encoder trains from step {starts[-1]}: it has not "
                     f"trained yet; train on to config.steps (scripts/train.py with the same --workdir)")


def check_normal(labels, normal) -> None:
  """A ValueError when a normal class has no image among `labels`, or no image is anomalous."""
  labels = np.asarray(labels).reshape(-1)
  missing = [c for c in normal if not np.any(labels == int(c))]
  if missing:
    raise ValueError(f"normal class {missing[0]} has no images in the data scored (labels "
                     f"{int(labels.min())}..{int(labels.max())})")
  if np.all(np.isin(labels, np.asarray(normal, np.int64))):
    raise ValueError("every image scored is normal: AUROC needs anomalous images too (classes not in --normal)")


def evaluate(obj, state, images, labels, normal, histogram_path: str = "", title: str = "",
             batch: int = 500) -> dict:
  """Scores `images`, the ones whose label is in `normal` normal and the others anomalous: AUROC of the objective's
  main score and of each part, the main score's AUROC against each anomalous class alone, mean scores; with
  `histogram_path` a PNG histogram of the main score."""
  check_trained(obj, state)
  labels = np.asarray(labels).reshape(-1)
  normal = tuple(int(c) for c in normal)
  anomalous = ~np.isin(labels, np.asarray(normal))
  check_normal(labels, normal)
  scores = score_images(obj, state, images, batch)
  main = obj.primary_score
  s = scores[main]
  by_class = {str(int(c)): auroc(np.r_[s[~anomalous], s[labels == c]],
                                 np.r_[np.zeros((~anomalous).sum(), bool), np.ones((labels == c).sum(), bool)])
              for c in np.unique(labels[anomalous])}
  result = {"score": main, "auroc": auroc(s, anomalous),
            "auroc_parts": {k: auroc(v, anomalous) for k, v in scores.items() if k != main},
            "auroc_by_anomalous_class": by_class, "normal": list(normal), "num": int(len(s)),
            "num_normal": int((~anomalous).sum()), "num_anomalous": int(anomalous.sum()),
            "mean_score_normal": float(np.mean(s[~anomalous])), "mean_score_anomalous": float(np.mean(s[anomalous])),
            "step": int(jax.device_get(state.step))}
  if histogram_path:
    histogram(s, anomalous, histogram_path, title or f"{main} score, normal {list(normal)}: AUROC "
              f"{result['auroc']:.4f}")
    result["histogram"] = histogram_path
  return result

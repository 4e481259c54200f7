"""Memorisation check: does a generator copy its training set?

With 5,000 training digits or 4,009 emoji a generator can learn to reproduce training images. For every sample
its distance to the nearest training image is compared with how close training images are to each other:

  d_train(i)   = the distance from training image i to its nearest *other* training image (leave-one-out)
  threshold    = the `quantile` (default 5 %) of d_train: a pair this close is a near-duplicate by the
                 training set's own standard
  copy_fraction = the fraction of samples whose nearest training image is closer than the threshold

A generator that draws fresh images from the data distribution scores about what held-out real images score
(`heldout_copy_fraction`, when a held-out set is given: their nearest-training distances measured the same way);
a copying generator scores far above it. The medians of the three distance sets are reported too.

Feature spaces (named in every result):
  judge    the MNIST judge's 128 features (digits, 28×28 or padded to 32×32)
  pixels   the images box-averaged by an integer factor to at most 16 px a side, in [0, 1], flattened (any images;
           a copy is near in pixels whatever else it is)
"""
from typing import Any, Dict, Optional, Tuple

import numpy as np

_BLOCK = 1024


def _is_digits(images: np.ndarray) -> bool:
  return images.ndim >= 3 and images.shape[1:3] in ((28, 28), (32, 32)) and (images.ndim == 3 or
                                                                           images.shape[-1] == 1)


def pixel_features(images: np.ndarray, max_side: int = 16) -> np.ndarray:
  """uint8 [N, H, W(, C)] → float32 [N, D]: box-averaged by the smallest integer factor f (dividing H and W) that
  brings the side to ≤ `max_side`, scaled to [0, 1]."""
  x = np.asarray(images)
  if x.ndim == 3:
    x = x[..., None]
  if x.ndim != 4:
    raise ValueError(f"memorisation needs images [N, H, W, C], got shape {x.shape}")
  n, h, w, c = x.shape
  f = next((f for f in range(1, max(h, w) + 1) if h % f == 0 and w % f == 0 and max(h, w) // f <= max_side), 1)
  x = x.astype(np.float32).reshape(n, h // f, f, w // f, f, c).mean(axis=(2, 4))
  return (x / 255.0 if images.dtype == np.uint8 else (x + 1) / 2).reshape(n, -1)


def features(images: np.ndarray, space: str, judge=None) -> np.ndarray:
  if space == "judge":
    if judge is None:
      from jaxgan.metrics.mnist_judge import load_judge  # pylint: disable=g-import-not-at-top
      judge = load_judge()
    return judge(images)[0].astype(np.float32)
  if space == "pixels":
    return pixel_features(images)
  raise ValueError(f"unknown feature space {space!r}; use judge (digits) or pixels")


def nearest(queries: np.ndarray, refs: np.ndarray, exclude_self: bool = False) -> Tuple[np.ndarray, np.ndarray]:
  """Euclidean distance and index of each query's nearest reference ([N], [N]); with `exclude_self` the queries
  are the references and each one's own index is skipped (leave-one-out)."""
  q, r = np.asarray(queries, np.float64), np.asarray(refs, np.float64)
  if q.shape[1:] != r.shape[1:]:
    raise ValueError(f"feature widths differ: {q.shape[1:]} vs {r.shape[1:]}")
  if len(r) < (2 if exclude_self else 1):
    raise ValueError("memorisation needs at least two training images")
  r2 = np.sum(r * r, axis=1)
  dist, idx = np.empty(len(q)), np.empty(len(q), np.int64)
  for s in range(0, len(q), _BLOCK):
    qb = q[s:s + _BLOCK]
    d2 = np.sum(qb * qb, axis=1)[:, None] - 2 * qb @ r.T + r2[None]
    if exclude_self:
      d2[np.arange(len(qb)), s + np.arange(len(qb))] = np.inf
    j = np.argmin(d2, axis=1)
    idx[s:s + len(qb)] = j
    dist[s:s + len(qb)] = np.sqrt(np.maximum(d2[np.arange(len(qb)), j], 0))
  return dist, idx


def default_space(images: np.ndarray) -> str:
  return "judge" if _is_digits(images) else "pixels"


def memorisation(images: np.ndarray, train: Optional[np.ndarray] = None, heldout: Optional[np.ndarray] = None,
                 space: str = "auto", quantile: float = 0.05, judge=None) -> Dict[str, Any]:
  """The check of the module docstring. `train`: the generator's training images (default for digits: the 5,000
  embedded MNIST training digits that `mnist_offline` trains on); `heldout`: real images the generator never saw
  (default for digits in judge space: the first 5,000 MNIST test digits of `mnist_full`, when it is installed —
  not held out for a run that trained on them)."""
  images = np.asarray(images)
  if not 0 < quantile < 1:
    raise ValueError(f"quantile must be in (0, 1), got {quantile}")
  space = default_space(images) if space == "auto" else space
  desc_train = desc_held = None
  if train is None:
    if not _is_digits(images):
      raise ValueError("memorisation needs the training images (train=) for samples that are not MNIST digits")
    from jaxgan.data.embedded import load_mnist_5k  # pylint: disable=g-import-not-at-top
    train, desc_train = load_mnist_5k()[0], "embedded MNIST training digits (5000)"
  if heldout is None and space == "judge" and _is_digits(images):
    try:
      from jaxgan.data.mnist_full import load_mnist_full  # pylint: disable=g-import-not-at-top
      heldout, desc_held = load_mnist_full("test")[0][:5000], "MNIST test digits 0-4999"
    except Exception:  # pylint: disable=broad-except  (an optional reference: the check stands without it)
      heldout = None
  f_train = features(train, space, judge)
  f_samples = features(images, space, judge)
  d_train, _ = nearest(f_train, f_train, exclude_self=True)
  d_samples, _ = nearest(f_samples, f_train)
  threshold = float(np.quantile(d_train, quantile))
  out = {"copy_fraction": float(np.mean(d_samples < threshold)), "threshold": threshold, "quantile": quantile,
         "median_sample_nn": float(np.median(d_samples)), "median_train_nn": float(np.median(d_train)),
         "features": space, "n": int(len(images)), "n_train": int(len(train)),
         "train": desc_train or f"training images ({len(train)})"}
  if heldout is not None:
    d_held, _ = nearest(features(heldout, space, judge), f_train)
    out.update(heldout_copy_fraction=float(np.mean(d_held < threshold)), median_heldout_nn=float(np.median(d_held)),
               heldout=desc_held or f"held-out images ({len(heldout)})")
  return out


def neighbours_figure(images: np.ndarray, train: np.ndarray, space: str = "auto", n: int = 8, k: int = 4,
                      judge=None) -> np.ndarray:
  """uint8 [n·(k+1), H, W, C]: each of the first `n` samples followed by its `k` nearest training images (rows)."""
  from jaxgan.logging import images_to_uint8  # pylint: disable=g-import-not-at-top

  images, train = images_to_uint8(images)[:n], images_to_uint8(train)
  if images.ndim == 3:
    images, train = images[..., None], train[..., None]
  if images.shape[1:] != train.shape[1:]:
    raise ValueError(f"samples {images.shape[1:]} and training images {train.shape[1:]} differ in shape")
  space = default_space(images) if space == "auto" else space
  fs, ft = features(images, space, judge), features(train, space, judge)
  rows = []
  for i, f in enumerate(fs):
    d = np.sum(np.square(ft - f[None]), axis=1)
    rows += [images[i]] + [train[j] for j in np.argsort(d)[:k]]
  return np.stack(rows)

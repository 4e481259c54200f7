"""Stacked MNIST (1,000 modes): three independently drawn MNIST digits stacked as the channels of one 28×28×3 image.

Each channel draws its digit uniformly (with replacement) from the pool, so with a class-balanced pool the triple
(d0, d1, d2) is uniform over the 1,000 triples. Default pool: the 5,000 embedded training digits (500 per class),
so it works offline; any other uint8 digit set can be passed in.
"""
from typing import Optional, Tuple

import numpy as np


def triple_ids(labels_Nx3: np.ndarray) -> np.ndarray:
  """(d0, d1, d2) → 100·d0 + 10·d1 + d2 ∈ [0, 1000)."""
  labels = np.asarray(labels_Nx3)
  return (100 * labels[:, 0] + 10 * labels[:, 1] + labels[:, 2]).astype(np.int32)


def stack_digits(digits_Nx28x28: np.ndarray, index_Mx3: np.ndarray) -> np.ndarray:
  """Channel c of image m is digit index_Mx3[m, c]; returns uint8 M×28×28×3."""
  digits = np.asarray(digits_Nx28x28)
  if digits.ndim == 4:
    digits = digits[..., 0]
  return np.stack([digits[index_Mx3[:, c]] for c in range(3)], axis=-1)


def stack_indices(n: int, seed: int, pool_size: int) -> np.ndarray:
  """The pool indices (n×3, uniform with replacement) that `make_stacked_mnist` stacks for this seed."""
  return np.random.default_rng(seed).integers(0, pool_size, size=(n, 3))


def make_stacked_mnist(n: int, seed: int = 0, images: Optional[np.ndarray] = None,
                       labels: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
  """Returns (images uint8 n×28×28×3, labels int32 n×3); deterministic given `seed` and the pool."""
  if images is None:
    from jaxgan.data.embedded import load_mnist_5k  # pylint: disable=g-import-not-at-top
    images, labels = load_mnist_5k()
  if labels is None:
    raise ValueError("pass labels together with images")
  images, labels = np.asarray(images), np.asarray(labels)
  index_nx3 = stack_indices(n, seed, images.shape[0])
  return stack_digits(images, index_nx3), labels[index_nx3].astype(np.int32)

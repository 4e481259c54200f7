"""Fréchet distance and KID in a feature space that needs no weights: "pixels16", for colour data (the emoji).

jaxgan ships no feature network for colour images: the FID Inception needs a download (jaxgan.metrics.inception)
and the MNIST judge only knows digits. The offline score for such data uses the images themselves, box-averaged by
the smallest integer factor that brings each side to at most 16 px and scaled to [0, 1] (for 64×64 RGB emoji: 16×16
blocks of 4×4 pixels, 768 features). This is the space of `jaxgan.metrics.memorisation` for non-digits. It sees
colour, layout and blob shapes, not texture or semantics: it ranks a collapsed or blurred generator below a diverse
one, but a low figure is not a perceptual claim, and it is not comparable with an Inception FID.

The floor is measured, not assumed. The reference set (the training images) is split in two halves by a fixed
permutation (`seed`). `fd` is the FD between n generated images and half B; `floor` is the FD between n images of
half A and half B. Both use the same n = min(#samples, |A|) and the same reference, so FD's bias for finite samples
is the same on both sides. KID (unbiased, polynomial kernel, subsets as in jaxgan.metrics.kid) compares the samples
with the whole reference set; `kid_floor` is half A against half B.
"""
from typing import Any, Dict

import numpy as np

from jaxgan.metrics import frechet
from jaxgan.metrics import kid as kid_lib
from jaxgan.metrics.memorisation import pixel_features

FEATURES = "pixels16 (box-averaged to <= 16 px a side, [0, 1])"


def pixel_fd(images: np.ndarray, reference: np.ndarray, seed: int = 0, num_subsets: int = 100,
             subset_size: int = 1000) -> Dict[str, Any]:
  """FD and KID of `images` against `reference` (both uint8 [N, H, W, C] or float in [-1, 1]) with a real floor."""
  images, reference = np.asarray(images), np.asarray(reference)
  if images.ndim == 3:
    images = images[..., None]
  if reference.ndim == 3:
    reference = reference[..., None]
  if images.ndim != 4 or reference.ndim != 4:
    raise ValueError(f"pixel_fd needs images [N, H, W, C]; got {images.shape} and reference {reference.shape}")
  if images.shape[1:] != reference.shape[1:]:
    raise ValueError(f"samples {images.shape[1:]} and reference images {reference.shape[1:]} differ in shape")
  if len(reference) < 4 or len(images) < 2:
    raise ValueError(f"pixel_fd needs at least 2 samples and 4 reference images, got {len(images)} and "
                     f"{len(reference)}")
  f, r = pixel_features(images).astype(np.float64), pixel_features(reference).astype(np.float64)
  perm = np.random.RandomState(seed).permutation(len(r))
  half = len(r) // 2
  a, b = r[perm[:half]], r[perm[half:]]
  n = min(len(f), len(a))
  sub = min(subset_size, len(f), len(r))
  sub_floor = min(subset_size, len(a), len(b))
  k = kid_lib.kid(r, f, num_subsets=num_subsets, subset_size=sub)
  k_floor = kid_lib.kid(b, a, num_subsets=num_subsets, subset_size=sub_floor)
  return {"fd": frechet.frechet_distance(f[:n], b), "floor": frechet.frechet_distance(a[:n], b),
          "kid": k["kid"], "kid_std": k["kid_std"], "kid_floor": k_floor["kid"], "kid_subset_size": sub,
          "n": int(n), "n_samples": int(len(f)), "n_reference": int(len(r)), "features": FEATURES,
          "reference": f"reference images ({len(r)}): fd against a half of {len(b)}, floor = the other half's "
                       f"first {n} (split seed {seed})"}

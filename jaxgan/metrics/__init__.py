"""Evaluation metrics behind one registry: `evaluate(name, images=None, points=None, **kw) -> dict`.

  mnist_fd       Fréchet distance in the MNIST judge's features/logits vs held-out real digits, with the floor
  mnist_score    Inception-Score analogue with the judge's softmax, with real digits' score
  stacked_mnist  distinct digit triples (of 1,000) and KL to uniform, judge per channel (images N×28×28×3)
  mixture        modes / high-quality fraction / reverse KL on ring8 or grid25 (points N×2; kw dataset=)
  prdc           precision, recall, density, coverage (judge features for digits, Inception otherwise, raw for points)
  psnr, ssim, judge_accuracy, translation   image-to-image outputs vs `targets=` (and digit `labels=`):
                 PSNR, SSIM, the judge's accuracy, all of them with the judge's FD (jaxgan.metrics.paired)
  fid, kid, is   Inception metrics (need Inception weights, see jaxgan.metrics.inception;
                 kw reference=, inception_path=)
  memorisation   the fraction of samples nearer a training image than training images are to each other, beside
                 held-out reals' fraction (judge features for digits, 16-px pixels otherwise; kw train=,
                 heldout=, quantile=; jaxgan.metrics.memorisation)
  pixel_fd       FD and KID in "pixels16" (the images box-averaged to <= 16 px), no weights needed: the offline
                 score for colour data such as the emoji, vs `reference=` (the training images), with a real-vs-real
                 floor from a split of the reference (jaxgan.metrics.pixel_fd)
  scene_seg      label map → image (scenes): the scene segmenter's mIoU and pixel accuracy on the images against
                 `label_maps=` (and its real-image ceiling); scene_digit_fd: judge FD of digits cropped at `boxes=`
                 from the images vs from `reals=` (jaxgan.metrics.scene_segmenter)

Every result is a JSON-ready dict (Python scalars and lists; a non-finite value becomes None). Submodules are
imported lazily so `import jaxgan.metrics` stays cheap.
"""
import math
from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np

_INCEPTION_BATCH = 250


def _need(arr: Optional[np.ndarray], what: str, name: str) -> np.ndarray:
  if arr is None:
    raise ValueError(f"metric {name!r} needs {what}")
  return np.asarray(arr)


def _digits(images: np.ndarray) -> bool:
  return images.ndim >= 3 and images.shape[1:3] == (28, 28) and (images.ndim == 3 or images.shape[-1] == 1)


# --- Inception-based ------------------------------------------------------------------------------------------------

def _inception_outputs(images: np.ndarray, inception_path: Optional[str]) -> Tuple[np.ndarray, np.ndarray]:
  """(pool3_Nx2048, logits_Nx1008) in batches; grayscale is tiled to 3 channels (the standard FID practice)."""
  try:
    from jaxgan.metrics.inception import load_inception  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise FileNotFoundError(f"the Inception feature extractor is not available: {e}") from e
  fn = load_inception(inception_path)
  images = np.asarray(images)
  if images.ndim == 3:
    images = images[..., None]
  if images.ndim != 4 or images.shape[-1] not in (1, 3) or images.dtype != np.uint8:
    raise ValueError(f"Inception metrics need uint8 images (N, H, W, 1|3), got {images.dtype} {images.shape}")
  if images.shape[-1] == 1:
    images = np.repeat(images, 3, axis=-1)
  pools, logits = [], []
  for s in range(0, images.shape[0], _INCEPTION_BATCH):
    p, l = fn(images[s:s + _INCEPTION_BATCH])
    pools.append(np.asarray(p, np.float32))
    logits.append(np.asarray(l, np.float32))
  return np.concatenate(pools), np.concatenate(logits)


def _reference(reference: Any, images: np.ndarray, inception_path: Optional[str], need: str) -> Dict[str, Any]:
  """Reference for fid/kid/prdc: uint8 images, or an .npz path holding `mu`+`sigma` (FID only) or `features`.

  Default for 28×28 grayscale samples: the 5,000 embedded MNIST training digits.
  """
  if reference is None:
    if not _digits(images):
      raise ValueError("this metric needs reference= (uint8 images or an .npz with mu/sigma or features)")
    from jaxgan.data.embedded import load_mnist_5k  # pylint: disable=g-import-not-at-top
    reference = load_mnist_5k()[0]
    desc = "embedded MNIST train digits (5000)"
  else:
    desc = reference if isinstance(reference, str) else f"reference images ({len(reference)})"
  if isinstance(reference, str):
    with np.load(reference, allow_pickle=False) as z:
      if "features" in z.files:
        return {"features": z["features"], "description": desc}
      if need == "stats" and {"mu", "sigma"} <= set(z.files):
        return {"mu": z["mu"], "sigma": z["sigma"], "description": desc}
      wanted = "'features' or 'mu'+'sigma'" if need == "stats" else "'features'"
      raise ValueError(f"{reference} holds {z.files}; need {wanted}")
  return {"features": _inception_outputs(reference, inception_path)[0], "description": desc}


def _fid(images=None, points=None, reference=None, inception_path=None) -> Dict[str, Any]:
  del points
  from jaxgan.metrics import frechet  # pylint: disable=g-import-not-at-top
  images = _need(images, "images", "fid")
  feats, _ = _inception_outputs(images, inception_path)
  ref = _reference(reference, images, inception_path, need="stats")
  mu, sigma = (ref["mu"], ref["sigma"]) if "mu" in ref else frechet.feature_stats(ref["features"])
  return {"fid": frechet.frechet_distance_from_stats(*frechet.feature_stats(feats), mu, sigma),
          "n": int(feats.shape[0]), "reference": ref["description"], "features": "inception pool3"}


def _kid(images=None, points=None, reference=None, inception_path=None, num_subsets=100,
         subset_size=1000) -> Dict[str, Any]:
  del points
  from jaxgan.metrics import kid  # pylint: disable=g-import-not-at-top
  images = _need(images, "images", "kid")
  feats, _ = _inception_outputs(images, inception_path)
  ref = _reference(reference, images, inception_path, need="features")
  out = kid.kid(ref["features"], feats, num_subsets=num_subsets, subset_size=subset_size)
  out.update({"n": int(feats.shape[0]), "reference": ref["description"], "features": "inception pool3"})
  return out


def _is(images=None, points=None, inception_path=None, splits=10) -> Dict[str, Any]:
  del points
  from jaxgan.metrics import inception_score  # pylint: disable=g-import-not-at-top
  _, logits = _inception_outputs(_need(images, "images", "is"), inception_path)
  s = inception_score.inception_score(logits, splits=splits)
  return {"is": s["mean"], "is_std": s["std"], "splits": splits, "n": int(logits.shape[0])}


# --- MNIST judge ----------------------------------------------------------------------------------------------------

def _judge(judge_path: Optional[str]):
  from jaxgan.metrics import mnist_judge  # pylint: disable=g-import-not-at-top
  return mnist_judge, mnist_judge.load_judge(judge_path)


def _mnist_fd(images=None, points=None, judge_path=None, with_floor=True) -> Dict[str, Any]:
  del points
  lib, judge = _judge(judge_path)
  return lib.mnist_fd(_need(images, "images (N, 28, 28, 1) uint8", "mnist_fd"), judge=judge, with_floor=with_floor)


def _mnist_score(images=None, points=None, judge_path=None, splits=10, with_floor=True) -> Dict[str, Any]:
  del points
  lib, judge = _judge(judge_path)
  return lib.mnist_score(_need(images, "images (N, 28, 28, 1) uint8", "mnist_score"), splits=splits, judge=judge,
                         with_floor=with_floor)


def _stacked_mnist(images=None, points=None, judge_path=None, with_floor=True) -> Dict[str, Any]:
  del points
  from jaxgan.metrics import stacked_mnist  # pylint: disable=g-import-not-at-top
  _, judge = _judge(judge_path)
  return stacked_mnist.stacked_mnist_metrics(_need(images, "images (N, 28, 28, 3) uint8", "stacked_mnist"),
                                             judge=judge, with_floor=with_floor)


# --- mixtures and PRDC ----------------------------------------------------------------------------------------------

def _mixture(images=None, points=None, dataset="ring8") -> Dict[str, Any]:
  del images
  from jaxgan.metrics import mixtures  # pylint: disable=g-import-not-at-top
  return mixtures.mixture_metrics(_need(points, "points (N, 2)", "mixture"), dataset=dataset)


def _prdc(images=None, points=None, dataset="ring8", reference=None, judge_path=None, inception_path=None,
          k_pr=3, k_dc=5) -> Dict[str, Any]:
  """Real set: for points, as many fresh samples of `dataset` (seed 0); for digits, min(N, 5000) embedded digits
  in judge features; otherwise Inception features of `reference`."""
  from jaxgan.metrics import prdc  # pylint: disable=g-import-not-at-top
  judge_keys = {}
  if points is not None:
    import jax  # pylint: disable=g-import-not-at-top
    from jaxgan.data.mixtures import sample_mixture  # pylint: disable=g-import-not-at-top
    fake = np.asarray(points, np.float32)
    if fake.ndim != 2 or fake.shape[1] != 2:
      raise ValueError(f"prdc on points needs shape (N, 2), got {fake.shape}")
    real = np.asarray(sample_mixture(jax.random.PRNGKey(0), fake.shape[0], dataset))
    space, ref_desc = "raw 2-D points", f"{dataset} samples, seed 0 ({fake.shape[0]})"
  else:
    images = _need(images, "images or points", "prdc")
    if _digits(images) and reference is None:
      lib, judge = _judge(judge_path)
      fake = judge(images)[0]
      n_real = min(fake.shape[0], 5000)
      real = judge.floor_outputs(n_real)[0]
      space, ref_desc = "mnist_judge features", f"embedded MNIST train digits ({n_real})"
      judge_keys = {"judge": lib.JUDGE_NAME, "judge_version": lib.JUDGE_VERSION}
    else:
      fake = _inception_outputs(images, inception_path)[0]
      ref = _reference(reference, images, inception_path, need="features")
      real, space, ref_desc = ref["features"], "inception pool3", ref["description"]
  out = prdc.prdc(real, fake, k_pr=k_pr, k_dc=k_dc)
  out.update({"n": int(fake.shape[0]), "n_real": int(real.shape[0]), "features": space, "reference": ref_desc,
              "k_pr": k_pr, "k_dc": k_dc, **judge_keys})
  return out


def _memorisation(images=None, points=None, train=None, heldout=None, space="auto", quantile=0.05,
                  judge_path=None) -> Dict[str, Any]:
  from jaxgan.metrics import memorisation  # pylint: disable=g-import-not-at-top
  images = _need(images, "images", "memorisation")
  judge = _judge(judge_path)[1] if (space == "auto" and memorisation.default_space(images) == "judge") or \
      space == "judge" else None
  return memorisation.memorisation(images, train, heldout, space, quantile, judge)


def _pixel_fd(images=None, points=None, reference=None, seed=0) -> Dict[str, Any]:
  del points
  from jaxgan.metrics import pixel_fd  # pylint: disable=g-import-not-at-top
  images = _need(images, "images", "pixel_fd")
  if reference is None:
    raise ValueError("pixel_fd needs the reference images (the training set): give --workdir, or `reference` in "
                     "the samples .npz")
  return pixel_fd.pixel_fd(images, np.asarray(reference), seed=seed)


def _scene(fn: str, **kw) -> Dict[str, Any]:
  from jaxgan.metrics import scene_segmenter  # pylint: disable=g-import-not-at-top
  return getattr(scene_segmenter, fn)(**kw)


def _paired(name: str) -> Callable[..., Dict[str, Any]]:
  """An image-to-image metric of jaxgan.metrics.paired (kw targets=, labels=, judge_path=), imported when used."""
  def fn(**kw):
    from jaxgan.metrics import paired  # pylint: disable=g-import-not-at-top
    return paired.PAIRED_METRICS[name](**kw)
  return fn


PAIRED = ("psnr", "ssim", "judge_accuracy", "translation")  # need targets= (and labels=): image-to-image outputs

METRICS: Dict[str, Callable[..., Dict[str, Any]]] = {
    **{name: _paired(name) for name in PAIRED},
    "mnist_fd": _mnist_fd,
    "mnist_score": _mnist_score,
    "fid": _fid,
    "kid": _kid,
    "is": _is,
    "prdc": _prdc,
    "mixture": _mixture,
    "stacked_mnist": _stacked_mnist,
    "memorisation": _memorisation,
    "pixel_fd": _pixel_fd,
    "scene_seg": lambda **kw: _scene("scene_seg_metric", **kw),
    "scene_digit_fd": lambda **kw: _scene("scene_digit_fd_metric", **kw),
}


def _jsonable(x: Any) -> Any:
  if isinstance(x, dict):
    return {str(k): _jsonable(v) for k, v in x.items()}
  if isinstance(x, (list, tuple)):
    return [_jsonable(v) for v in x]
  if isinstance(x, np.ndarray):
    return _jsonable(x.tolist())
  if isinstance(x, (np.integer, np.bool_)):
    return x.item()
  if isinstance(x, (float, np.floating)):
    return float(x) if math.isfinite(x) else None
  return x


def evaluate(name: str, images: Optional[np.ndarray] = None, points: Optional[np.ndarray] = None,
             **kw: Any) -> Dict[str, Any]:
  """Runs metric `name` on generated `images` (uint8 N×H×W×C) or `points` (N×2); returns a JSON-ready dict.

  Raises ValueError for an unknown name or unusable input, FileNotFoundError for missing weights.
  """
  if name not in METRICS:
    raise ValueError(f"unknown metric {name!r}; known metrics: {', '.join(sorted(METRICS))}")
  try:
    out = METRICS[name](images=images, points=points, **kw)
  except TypeError as e:
    if "unexpected keyword" in str(e):
      raise ValueError(f"metric {name!r}: {e}") from e
    raise
  return _jsonable({"metric": name, **out})


__all__ = ["METRICS", "evaluate"]

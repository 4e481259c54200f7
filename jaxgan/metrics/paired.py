"""Image-to-image evaluation: PSNR, SSIM, the MNIST judge on translated digits, and the degraded-input ceiling.

  psnr(x, y)        10·log10(R² / MSE) with the MSE averaged over every pixel of every image (R = 255 for uint8):
                    finite unless every pair is identical (inf). Not the mean of per-image PSNRs, which is inf as
                    soon as one image is reproduced exactly (an inpainting hole over background) and weighs the
                    easiest images most; `psnr_per_image` gives those.
  ssim(x, y)        Wang et al. 2004: Gaussian window 11×11, σ = 1.5, K1 = 0.01, K2 = 0.03, R = 255, computed on the
                    'valid' part of each image (no padding), averaged over positions and channels, then images
  judge_accuracy    the MNIST judge's argmax on the outputs against the true digit labels
  translation_metrics  all of them plus the judge's Fréchet distance of the outputs to its held-out real digits
                    (`mnist_judge.mnist_fd`, whatever judge version is installed; the report names it)
  ceiling_accuracy  the ceiling of judge accuracy: a classifier of the judge's architecture trained by jaxgan on the
                    degraded training inputs themselves (brought to 28×28 as G's conditioning image is: bicubic
                    up-sampling, or the masked image ⊕ the mask), scored on the degraded test inputs — how much of the
                    label survives the degradation.
Bicubic up-sampling (`bicubic_up`) and the masked input are the trivial baselines on the same inputs.
"""
from typing import Any, Dict, Optional

import numpy as np

SSIM_WINDOW, SSIM_SIGMA, SSIM_K1, SSIM_K2 = 11, 1.5, 0.01, 0.03


def _pair(x, y, name: str):
  x, y = np.asarray(x), np.asarray(y)
  if x.shape != y.shape:
    raise ValueError(f"{name}: outputs {x.shape} and targets {y.shape} differ in shape")
  if x.ndim == 3:
    x, y = x[..., None], y[..., None]
  if x.ndim != 4 or not len(x):
    raise ValueError(f"{name} needs images N×H×W(×C), got shape {x.shape}")
  return x.astype(np.float64), y.astype(np.float64)


def psnr_per_image(x, y, data_range: float = 255.0) -> np.ndarray:
  x, y = _pair(x, y, "psnr")
  mse = np.mean(np.square(x - y), axis=(1, 2, 3))
  with np.errstate(divide="ignore"):
    return 10.0 * np.log10(data_range ** 2 / mse)


def psnr(x, y, data_range: float = 255.0) -> float:
  """PSNR in dB of the mean squared error over the whole set (inf only when every pair is identical)."""
  x, y = _pair(x, y, "psnr")
  mse = float(np.mean(np.square(x - y)))
  return float("inf") if mse == 0 else float(10.0 * np.log10(data_range ** 2 / mse))


def gaussian_window(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> np.ndarray:
  r = np.arange(size, dtype=np.float64) - (size - 1) / 2
  g = np.exp(-r ** 2 / (2 * sigma ** 2))
  return g / g.sum()


def _filter(x, g):
  """Separable 'valid' filtering of [N, H, W, C] by the 1-D window g along H and W."""
  w = len(g)
  x = np.lib.stride_tricks.sliding_window_view(x, w, axis=1) @ g
  return np.lib.stride_tricks.sliding_window_view(x, w, axis=2) @ g


def ssim_per_image(x, y, data_range: float = 255.0, window: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA):
  x, y = _pair(x, y, "ssim")
  if min(x.shape[1:3]) < window:
    raise ValueError(f"ssim needs images of at least {window}x{window}, got {x.shape[1]}x{x.shape[2]}")
  g = gaussian_window(window, sigma)
  c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
  mx, my = _filter(x, g), _filter(y, g)
  vx = _filter(x * x, g) - mx * mx
  vy = _filter(y * y, g) - my * my
  cxy = _filter(x * y, g) - mx * my
  s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
  return s.mean(axis=(1, 2, 3))


def ssim(x, y, data_range: float = 255.0) -> float:
  """Mean SSIM over images (1 for identical images)."""
  return float(np.mean(ssim_per_image(x, y, data_range)))


def judge_accuracy(images, labels, judge=None) -> float:
  """Fraction of `images` (uint8 digits) the MNIST judge classifies as their `labels`."""
  from jaxgan.metrics import mnist_judge
  judge = judge or mnist_judge.load_judge()
  labels = np.asarray(labels).reshape(-1)
  logits = judge(images)[1]
  if len(labels) != len(logits):
    raise ValueError(f"judge accuracy: {len(labels)} labels for {len(logits)} images")
  return float(np.mean(logits.argmax(-1) == labels))


def translation_metrics(outputs, targets, labels=None, judge=None, with_fd: bool = True) -> Dict[str, Any]:
  """PSNR and SSIM of outputs vs targets; for 28×28 digits with labels also the judge's accuracy and FD."""
  out: Dict[str, Any] = {"psnr": psnr(outputs, targets), "n": int(len(outputs))}
  if min(np.shape(outputs)[1:3]) >= SSIM_WINDOW:
    out["ssim"] = ssim(outputs, targets)
  if labels is not None and np.shape(outputs)[1:3] == (28, 28):
    from jaxgan.metrics import mnist_judge
    judge = judge or mnist_judge.load_judge()
    out["judge_accuracy"] = judge_accuracy(outputs, labels, judge)
    if with_fd:
      fd = mnist_judge.mnist_fd(outputs, judge=judge, with_floor=False)
      out["judge_fd"] = fd["fd"]
      out["judge"] = fd["judge"]
  return out


def bicubic_up(inputs_uint8, size):
  """The bicubic baseline: uint8 inputs up-sampled to `size` (H, W) as G's conditioning image is, rounded."""
  import jax.numpy as jnp
  from jaxgan.pix2pix import upsample
  x = jnp.asarray(inputs_uint8, jnp.float32) / 127.5 - 1.0
  y = np.asarray(upsample(x, tuple(size)))
  return np.clip(np.rint((y + 1.0) * 127.5), 0, 255).astype(np.uint8)


def degraded_view(inputs_uint8, masks=None, size=(28, 28)) -> np.ndarray:
  """What the ceiling classifier sees: float32 [N, 28, 28, C] in [0, 1], the bicubic-up-sampled input (⊕ mask)."""
  x = bicubic_up(inputs_uint8, size).astype(np.float32) / 255.0
  if masks is not None:
    x = np.concatenate([x, np.asarray(masks, np.float32).reshape(x.shape[:3] + (1,))], axis=-1)
  return x


def train_ceiling(train_x, train_y, epochs: int = 2, batch: int = 128, lr: float = 1e-3, seed: int = 0):
  """A classifier of the MNIST judge's architecture (`mnist_judge.Judge`) trained on degraded views [N, 28, 28, C]
  with Adam (no augmentation), `epochs` passes in a seeded order; returns predict(x) -> int labels. Deterministic."""
  import jax
  import jax.numpy as jnp
  import optax
  from jaxgan.metrics.mnist_judge import Judge
  module = Judge()
  params = module.init(jax.random.key(seed), jnp.zeros((1,) + train_x.shape[1:], jnp.float32))["params"]
  tx = optax.adam(lr)
  opt = tx.init(params)

  @jax.jit
  def step(params, opt, x, y, key):
    def loss_fn(p):
      logits = module.apply({"params": p}, x, train=True, rngs={"dropout": key})[1]
      return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    grads = jax.grad(loss_fn)(params)
    updates, opt = tx.update(grads, opt, params)
    return optax.apply_updates(params, updates), opt

  rng = np.random.default_rng(seed)
  n = len(train_x) // batch * batch
  t = 0
  for _ in range(epochs):
    order = rng.permutation(len(train_x))[:n].reshape(-1, batch)
    for idx in order:
      params, opt = step(params, opt, jnp.asarray(train_x[idx]), jnp.asarray(train_y[idx], jnp.int32),
                         jax.random.fold_in(jax.random.key(seed + 1), t))
      t += 1
  apply = jax.jit(lambda p, x: module.apply({"params": p}, x)[1].argmax(-1))

  def predict(x):
    return np.concatenate([np.asarray(apply(params, jnp.asarray(x[i:i + 500]))) for i in range(0, len(x), 500)])
  return predict


def ceiling_accuracy(train_x, train_y, test_x, test_y, epochs: int = 2, seed: int = 0) -> float:
  predict = train_ceiling(train_x, train_y, epochs=epochs, seed=seed)
  return float(np.mean(predict(test_x) == np.asarray(test_y)))


# -- the metrics registry's entries (jaxgan.metrics.METRICS) -------------------------------------------------------

def _targets(targets, name):
  if targets is None:
    raise ValueError(f"metric {name!r} needs targets: an .npz with `images` and `targets` (or --workdir of a "
                     f"pix2pix run)")
  return np.asarray(targets)


def metric_psnr(images=None, points=None, targets=None, labels=None, judge_path=None) -> Dict[str, Any]:
  del points, labels, judge_path
  return {"psnr": psnr(images, _targets(targets, "psnr")), "n": int(len(images))}


def metric_ssim(images=None, points=None, targets=None, labels=None, judge_path=None) -> Dict[str, Any]:
  del points, labels, judge_path
  return {"ssim": ssim(images, _targets(targets, "ssim")), "n": int(len(images))}


def metric_judge_accuracy(images=None, points=None, targets=None, labels=None, judge_path=None) -> Dict[str, Any]:
  del points, targets
  from jaxgan.metrics import mnist_judge
  if labels is None:
    raise ValueError("metric 'judge_accuracy' needs the digits' true labels (`labels` in the .npz)")
  return {"judge_accuracy": judge_accuracy(images, labels, mnist_judge.load_judge(judge_path)),
          "n": int(len(images)), "judge": mnist_judge.JUDGE_VERSION}


def metric_translation(images=None, points=None, targets=None, labels=None, judge_path=None) -> Dict[str, Any]:
  del points
  from jaxgan.metrics import mnist_judge
  judge = mnist_judge.load_judge(judge_path) if labels is not None else None
  return translation_metrics(images, _targets(targets, "translation"), labels, judge)


PAIRED_METRICS = {"psnr": metric_psnr, "ssim": metric_ssim, "judge_accuracy": metric_judge_accuracy,
                  "translation": metric_translation}

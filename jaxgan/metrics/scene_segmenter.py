"""The GauGAN protocol in miniature: segment generated `scenes` images and compare with the label maps they came from.

SPADE's paper scores label map → image models by running a segmentation network trained on real images over the
generated ones: mIoU and pixel accuracy against the input maps (a model that ignores the map scores low; a
perfect model scores what the network scores on real images, the *ceiling*). jaxgan ships its own small network
for the 14 classes of jaxgan/data/scenes.py.

Segmenter (`Segmenter`, float32, `weights/scene_segmenter.npz`, no pickle, < 1 MB): a small U-Net to 8×8 —
  conv3×3(12) → [stride-2 conv3×3, conv3×3] at 24, 32, 48 channels (32, 16, 8 px) → up 2× ⊕ skip, conv3×3 at 32,
  24 channels (16, 32 px) → 1×1 conv to 14 logits at 32×32, up-sampled 2× (nearest) to 64×64. ReLU throughout.
  Input: uint8 RGB 64×64 scaled to [0, 1]. (Label boxes have a 2-px margin; 32-px logits lose little.)
Trained by `scripts/train_segmenter.py` (deterministic; its figures are stored in the npz) on real training scenes
(`split=train`: MNIST training digits); evaluated on test scenes (`split=test`: MNIST test digits, seed 0), whose
mIoU is the ceiling `real_miou`.

Metrics:
  * `segment_scores(images, label_maps)`: mIoU (IoU per class accumulated over all pixels of all images, averaged
    over the classes present in the maps or predicted), pixel accuracy, the per-class IoU.
  * `digit_fd(fake, real, boxes)`: Fréchet distance, in the MNIST judge's features (jaxgan/metrics/mnist_judge.py),
    between digits cropped from the generated and the real scenes at the same boxes. A crop is greyscaled as
    clip((max(R, G, B) − 153) / 102) · 255: scene textures have value ≤ 0.6 (153) and digits are painted at value
    1, so the background goes black and strokes white, as the judge reads MNIST; the box is padded to a square,
    resized to 20×20 and centred in 28×28 (MNIST's framing).
"""
import functools
import os
from typing import Any, Dict, Optional, Tuple

import flax.linen as nn
from flax import traverse_util
import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.data.scenes import NUM_CLASSES, SIZE

# v2 (2026-12-03): 5,000 steps, real test mIoU 0.775; v1 (500 steps, mIoU 0.199) was under-trained. Figures of
# different versions are not comparable: every report names the version of the weights that made it.
SEGMENTER_VERSION = "scene_segmenter_v2"
DEFAULT_PATH = os.path.join(os.path.dirname(__file__), "weights", "scene_segmenter.npz")
_BATCH = 250


class Segmenter(nn.Module):
  num_classes: int = NUM_CLASSES
  widths: Tuple[int, ...] = (12, 24, 32, 48)

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    conv = lambda f, name, s=1: nn.Conv(f, (3, 3), strides=(s, s), name=name)
    w = self.widths
    skips = [nn.relu(conv(w[0], "in")(x))]
    h = skips[0]
    for i, f in enumerate(w[1:]):
      h = nn.relu(conv(f, f"down_{i}", 2)(h))
      h = nn.relu(conv(f, f"down_{i}_b")(h))
      skips.append(h)
    for i, f in enumerate(reversed(w[1:-1])):
      skip = skips[-2 - i]
      h = jnp.repeat(jnp.repeat(h, 2, axis=1), 2, axis=2)
      h = nn.relu(conv(f, f"up_{i}")(jnp.concatenate([h, skip], axis=-1)))
    logits = nn.Conv(self.num_classes, (1, 1), name="out")(h)
    f = x.shape[1] // logits.shape[1]
    return jnp.repeat(jnp.repeat(logits, f, axis=1), f, axis=2).astype(jnp.float32)


def preprocess(images: np.ndarray) -> np.ndarray:
  images = np.asarray(images)
  if images.ndim != 4 or images.shape[1:] != (SIZE, SIZE, 3):
    raise ValueError(f"the scene segmenter needs RGB images (N, {SIZE}, {SIZE}, 3), got {images.shape}")
  if images.dtype != np.uint8:
    raise ValueError(f"the scene segmenter needs uint8 images, got dtype {images.dtype}")
  return images.astype(np.float32) / 255.0


def check_maps(label_maps: np.ndarray, n: int) -> np.ndarray:
  maps = np.asarray(label_maps)
  if maps.shape != (n, SIZE, SIZE) or not np.issubdtype(maps.dtype, np.integer):
    raise ValueError(f"label maps must be integers (N, {SIZE}, {SIZE}) matching the {n} images, got "
                     f"{maps.dtype} {maps.shape}")
  if maps.size and (maps.min() < 0 or maps.max() >= NUM_CLASSES):
    raise ValueError(f"label maps hold classes {maps.min()}..{maps.max()}; scenes has 0..{NUM_CLASSES - 1}")
  return maps


class SceneSegmenter:
  """Loaded weights and a jitted, batched `predict`."""

  def __init__(self, params, meta: Dict[str, np.ndarray]):
    self.params, self.meta = params, meta
    module = Segmenter()
    self._apply = jax.jit(lambda p, x: jnp.argmax(module.apply({"params": p}, x), axis=-1).astype(jnp.int32))

  def predict(self, images: np.ndarray) -> np.ndarray:
    """uint8 [N, 64, 64, 3] → int32 label maps [N, 64, 64]."""
    x = preprocess(images)
    out = []
    for s in range(0, x.shape[0], _BATCH):
      chunk = x[s:s + _BATCH]
      pad = _BATCH - chunk.shape[0]
      if pad:
        chunk = np.concatenate([chunk, np.zeros((pad,) + chunk.shape[1:], np.float32)])
      out.append(np.asarray(self._apply(self.params, chunk))[:_BATCH - pad])
    return np.concatenate(out) if out else np.zeros((0, SIZE, SIZE), np.int32)


def save_segmenter(path: str, params, meta: Dict[str, Any]) -> None:
  flat = {"params/" + k: np.asarray(v, np.float32) for k, v in traverse_util.flatten_dict(params, sep="/").items()}
  np.savez_compressed(path, **flat, **{k: np.asarray(v) for k, v in meta.items()})


@functools.lru_cache(maxsize=4)
def load_segmenter(path: Optional[str] = None) -> SceneSegmenter:
  path = path or DEFAULT_PATH
  if not os.path.exists(path):
    raise FileNotFoundError(f"scene segmenter weights not found at {path}; run scripts/train_segmenter.py")
  with np.load(path, allow_pickle=False) as z:
    arrays = {k: z[k] for k in z.files}
  params = traverse_util.unflatten_dict(
      {k[len("params/"):]: jnp.asarray(v) for k, v in arrays.items() if k.startswith("params/")}, sep="/")
  return SceneSegmenter(params, {k: v for k, v in arrays.items() if not k.startswith("params/")})


def confusion(pred: np.ndarray, true: np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
  """[true, pred] pixel counts."""
  idx = np.asarray(true, np.int64).ravel() * num_classes + np.asarray(pred, np.int64).ravel()
  return np.bincount(idx, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def scores_from_confusion(conf: np.ndarray) -> Dict[str, Any]:
  """mIoU over classes present in the truth or the prediction, pixel accuracy, per-class IoU (None if absent)."""
  inter = np.diag(conf).astype(np.float64)
  union = conf.sum(0) + conf.sum(1) - inter
  present = union > 0
  iou = np.where(present, inter / np.maximum(union, 1), np.nan)
  return {"miou": float(np.nanmean(iou)) if present.any() else float("nan"),
          "pixel_accuracy": float(inter.sum() / max(conf.sum(), 1)),
          "class_iou": [None if np.isnan(v) else float(v) for v in iou]}


def segment_scores(images: np.ndarray, label_maps: np.ndarray, segmenter: Optional[SceneSegmenter] = None,
                   with_ceiling: bool = True) -> Dict[str, Any]:
  """mIoU and pixel accuracy of the segmenter's reading of `images` against `label_maps` (the maps they were made
  from), with the real-image ceiling stored in the weights."""
  seg = segmenter or load_segmenter()
  maps = check_maps(label_maps, len(preprocess(images)))
  out = scores_from_confusion(confusion(seg.predict(images), maps))
  out["n"] = int(maps.shape[0])
  out["segmenter"] = str(seg.meta.get("version", SEGMENTER_VERSION))
  if with_ceiling and "real_miou" in seg.meta:
    out["ceiling_miou"] = float(seg.meta["real_miou"])
    out["ceiling_pixel_accuracy"] = float(seg.meta["real_pixel_accuracy"])
    out["fraction_of_ceiling"] = out["miou"] / out["ceiling_miou"]
  return out


def digit_crops(images: np.ndarray, boxes: np.ndarray) -> np.ndarray:
  """uint8 28×28×1 digits cut from `images` at `boxes` (int [N, K, 5]: class, y0, x0, y1, x1; class −1 = none),
  greyscaled as the module docstring says; in box order."""
  from PIL import Image
  images, boxes = np.asarray(images), np.asarray(boxes)
  if boxes.ndim != 3 or boxes.shape[0] != images.shape[0] or boxes.shape[2] != 5:
    raise ValueError(f"boxes must be int [N, K, 5] for the {images.shape[0]} images, got {boxes.shape}")
  grey = np.clip((images.max(axis=-1).astype(np.float32) - 153.0) / 102.0, 0.0, 1.0)
  crops = []
  for n in range(images.shape[0]):
    for c, y0, x0, y1, x1 in boxes[n]:
      if c < 0:
        continue
      side = max(y1 - y0, x1 - x0)
      cy, cx = (y0 + y1) // 2, (x0 + x1) // 2
      top, left = cy - side // 2, cx - side // 2
      canvas = np.zeros((side, side), np.float32)
      ys, xs = slice(max(top, 0), min(top + side, SIZE)), slice(max(left, 0), min(left + side, SIZE))
      canvas[ys.start - top:ys.stop - top, xs.start - left:xs.stop - left] = grey[n, ys, xs]
      small = np.asarray(Image.fromarray(canvas).resize((20, 20), Image.BILINEAR))
      digit = np.zeros((28, 28), np.float32)
      digit[4:24, 4:24] = small
      crops.append(np.clip(np.round(digit * 255), 0, 255).astype(np.uint8))
  return np.stack(crops)[..., None] if crops else np.zeros((0, 28, 28, 1), np.uint8)


def digit_fd(fake: np.ndarray, real: np.ndarray, boxes: np.ndarray, judge_path: Optional[str] = None) -> Dict[str, Any]:
  """Fréchet distance (judge features) between digit crops of generated and real scenes at the same boxes."""
  from jaxgan.metrics import frechet, mnist_judge
  judge = mnist_judge.load_judge(judge_path)
  f_crops, r_crops = digit_crops(fake, boxes), digit_crops(real, boxes)
  if len(f_crops) < 2:
    raise ValueError("scene_digit_fd needs at least 2 digits in the boxes")
  ff, fl = judge(f_crops)
  rf, _ = judge(r_crops)
  truth = np.concatenate([b[b[:, 0] >= 0, 0] for b in np.asarray(boxes)])
  return {"fd": frechet.frechet_distance_from_stats(*frechet.feature_stats(ff), *frechet.feature_stats(rf)),
          "judge_accuracy": float(np.mean(fl.argmax(1) == truth)),
          "real_judge_accuracy": float(np.mean(judge(r_crops)[1].argmax(1) == truth)),
          "digits": int(len(f_crops)), "judge": getattr(mnist_judge, "JUDGE_VERSION", "?"),
          "crops": "greyscale clip((max(RGB) - 153) / 102), box padded square, 20x20 centred in 28x28"}


# -- evaluate.py: samples of a label-map run, and npz files ----------------------------------------------------------

SCENE_METRICS = ("scene_seg", "scene_digit_fd")


def translate_scenes(gan, state, maps: np.ndarray, batch: int = 100, seed: Optional[int] = None) -> np.ndarray:
  """uint8 images a label-map run (`spade` or `pix2pix_map`) makes from int maps, in fixed batches: SPADE from
  noise draws z from key `seed` (default 0); pix2pix samples its dropout noise only with a `seed`."""
  from jaxgan.logging import images_to_uint8
  key = None if seed is None else jax.random.key(int(seed))  # None: SPADE's translate uses key 0 for z
  fn = jax.jit(lambda p, v, m: gan.translate_maps(p, v, m, key=key))
  out = []
  for s in range(0, len(maps), batch):
    chunk = maps[s:s + batch]
    pad = batch - len(chunk)
    if pad:
      chunk = np.concatenate([chunk, np.zeros((pad,) + chunk.shape[1:], chunk.dtype)])
    out.append(images_to_uint8(fn(state.params("g"), state.vars("g"), jnp.asarray(chunk)))[:batch - pad])
  return np.concatenate(out)


def scene_samples(workdir: str, num: int) -> Dict[str, np.ndarray]:
  """The evaluation protocol's samples: the run's translations of the first `num` test scenes (`scenes`,
  split=test: MNIST test digits, seed 0), with those scenes' maps, boxes and real images."""
  from jaxgan.data.scenes import load_scenes
  from jaxgan.sampling import load_run
  run = load_run(workdir)
  if not hasattr(run.gan, "translate_maps"):
    raise ValueError(f"{workdir} is not a label-map run (objective spade or pix2pix_map); the scene metrics "
                     f"score label map → image models")
  test = load_scenes(int(num), 0, "test")
  return {"images": translate_scenes(run.gan, run.state, np.asarray(test.label_maps)),
          "label_maps": np.asarray(test.label_maps), "boxes": np.asarray(test.boxes), "reals": np.asarray(test.images)}


def load_scene_samples(path: str) -> Dict[str, np.ndarray]:
  """An npz with `images` (uint8 N×64×64×3), `label_maps` (int N×64×64), and for scene_digit_fd `boxes` and
  `reals` (the real scenes)."""
  try:
    with np.load(path, allow_pickle=False) as z:
      out = {k: z[k] for k in ("images", "label_maps", "boxes", "reals") if k in z.files}
  except (OSError, ValueError) as e:
    raise ValueError(f"cannot read {path} as .npz: {e}") from None
  for k in ("images", "label_maps"):
    if k not in out:
      raise ValueError(f"{path} lacks `{k}`; the scene metrics need images and the label maps they came from")
  return out


def scene_seg_metric(images=None, points=None, label_maps=None, segmenter_path=None, **_):
  del points
  if images is None or label_maps is None:
    raise ValueError("metric 'scene_seg' needs images and label_maps")
  return segment_scores(images, label_maps, load_segmenter(segmenter_path))


def scene_digit_fd_metric(images=None, points=None, reals=None, boxes=None, judge_path=None, **_):
  del points
  if images is None or reals is None or boxes is None:
    raise ValueError("metric 'scene_digit_fd' needs images, reals (the real scenes) and boxes")
  preprocess(images)
  preprocess(reals)
  return digit_fd(images, reals, boxes, judge_path)

"""Evaluates generated samples with one metric of jaxgan.metrics.

  python scripts/evaluate.py --samples=FILE.npz --metric=mnist_fd [--json]
  python scripts/evaluate.py --samples=points.npz --metric=mixture --dataset=grid25
  python scripts/evaluate.py --workdir=runs/mnist_fast --metric=mnist_fd [--num=5000] [--ema=auto|true|false]
  python scripts/evaluate.py --workdir=runs/stylegan2_mnist --metric=memorisation [--figure=nn.png]

FILE.npz holds `images` (uint8 N×H×W×C) or `points` (float N×2); for the image-to-image metrics (psnr, ssim,
judge_accuracy, translation) also `targets` (uint8, as `images`) and `labels` (the digits' classes). --workdir of a
pix2pix run translates its dataset's test split (MNIST test digits; --num of them). --metric=memorisation compares
samples with the training images: with --workdir, the run's own dataset; with --samples, MNIST digits only (the
embedded 5,000). --metric=pixel_fd (FD and KID in box-averaged pixels, for colour data with no offline feature
network) compares with the training images: with --workdir, the run's own dataset; with --samples, an array
`reference` in the same .npz. Metrics: see
jaxgan.metrics.METRICS.
Bad input prints one error line on stderr and exits with status 2.
"""
import json
import os
import sys
from typing import Any, Dict, Optional

from absl import app
from absl import flags
from absl import logging
import numpy as np

_SAMPLES = flags.DEFINE_string("samples", None, "npz with `images` (uint8 N×H×W×C) or `points` (float N×2)")
_METRIC = flags.DEFINE_string("metric", None, "metric name, e.g. mnist_fd, mnist_score, mixture, stacked_mnist")
_DATASET = flags.DEFINE_string("dataset", "ring8", "mixture dataset for --metric=mixture/prdc on points")
_WORKDIR = flags.DEFINE_string("workdir", None, "evaluate this run's latest checkpoint instead of --samples")
_NUM = flags.DEFINE_integer("num", 5000, "with --workdir: how many samples to generate (seed 0)")
_EMA = flags.DEFINE_enum("ema", "auto", ["auto", "true", "false"], "with --workdir: use the EMA generator")
_JSON = flags.DEFINE_bool("json", False, "print one JSON line instead of a readable report")
_FIGURE = flags.DEFINE_string("figure", None, "--metric=memorisation: also write a PNG of the first 8 samples, each "
                              "beside its 4 nearest training images")


class UsageError(Exception):
  """Bad input: reported as one line on stderr, exit status 2."""


def load_samples(path: str) -> Dict[str, np.ndarray]:
  """Returns {'images': ...} or {'points': ...} from an npz, validated for dtype and shape."""
  if not path:
    raise UsageError("--samples=FILE.npz is required")
  if not os.path.exists(path):
    raise UsageError(f"samples file not found: {path}")
  try:
    z = np.load(path, allow_pickle=False)
  except Exception as e:  # pylint: disable=broad-except
    raise UsageError(f"cannot read {path} as .npz: {e}") from e
  with z:
    if "images" in z.files:
      images = z["images"]
      if images.dtype != np.uint8 or images.ndim != 4:
        raise UsageError(f"{path}: `images` must be uint8 N×H×W×C, got {images.dtype} {images.shape}")
      out = {"images": images}
      if "reference" in z.files:  # pixel_fd's real images
        out["reference"] = z["reference"]
      if "targets" in z.files:  # image-to-image outputs and what they should have been (psnr, ssim)
        out["targets"] = z["targets"]
        if out["targets"].shape != images.shape:
          raise UsageError(f"{path}: `targets` {out['targets'].shape} must match `images` {images.shape}")
      if "labels" in z.files:  # the digits' true classes (judge_accuracy)
        out["labels"] = z["labels"]
        if out["labels"].ndim != 1 or len(out["labels"]) != len(images):
          raise UsageError(f"{path}: `labels` must be one integer per image, got shape {out['labels'].shape}")
      return out
    if "points" in z.files:
      points = z["points"]
      if points.ndim != 2 or points.shape[1] != 2 or not np.issubdtype(points.dtype, np.floating):
        raise UsageError(f"{path}: `points` must be float N×2, got {points.dtype} {points.shape}")
      return {"points": points}
    raise UsageError(f"{path} holds {z.files}; expected an array named `images` or `points`")


def samples_from_workdir(workdir: str) -> Dict[str, np.ndarray]:
  """--num samples from the run's latest checkpoint (fixed seed 0), as sample.py would write them."""
  if _NUM.value <= 0:
    raise UsageError(f"--num must be positive, got {_NUM.value}")
  from jaxgan.checkpoint import CheckpointError  # pylint: disable=g-import-not-at-top
  from jaxgan.sampling import full_size, generate, load_run  # pylint: disable=g-import-not-at-top
  try:
    run = load_run(workdir)
    if run.config.get("objective", "gan") == "pix2pix":  # translate the run's held-out pairs (MNIST test digits)
      from jaxgan.pix2pix import eval_pairs, translate_uint8  # pylint: disable=g-import-not-at-top
      pairs = eval_pairs(run.config, "test", _NUM.value)
      out = {"images": translate_uint8(run.gan, run.state.params("g"), run.state.vars("g"), pairs["inputs"],
                                       pairs["masks"]), "targets": pairs["targets"]}
      if pairs["labels"] is not None:
        out["labels"] = pairs["labels"]
      return out
    x = generate(run, _NUM.value, seed=0, ema={"auto": None, "true": True, "false": False}[_EMA.value])
    x = full_size(x, run.gan.image_shape)  # a Progressive GAN's checkpoint before its last stage: enlarged
    if x.ndim == 4 and _METRIC.value == "memorisation":
      return {"images": x, "train": training_images(run.config)}
    if x.ndim == 4 and _METRIC.value == "pixel_fd":
      return {"images": x, "reference": training_images(run.config)}
  except (FileNotFoundError, ValueError, CheckpointError) as e:
    raise UsageError(str(e)) from e
  return {"points": x} if x.ndim == 2 else {"images": x}


def training_images(config) -> np.ndarray:
  """Every image of the run's training set as the generator saw it (uint8 [N, H, W, C], padding and all)."""
  from jaxgan import data as data_lib  # pylint: disable=g-import-not-at-top
  d = data_lib.load(config.data)
  return d.images if d.images is not None else np.asarray(d.get(np.arange(d.num)))


def scene_samples(lib) -> Dict[str, np.ndarray]:
  """scene_seg / scene_digit_fd: --workdir of a label-map run (spade, pix2pix_map) translates the first --num test
  scenes; --samples is an npz with `images`, `label_maps` (and `boxes`, `reals` for scene_digit_fd)."""
  from jaxgan.checkpoint import CheckpointError  # pylint: disable=g-import-not-at-top
  if not _SAMPLES.value and not _WORKDIR.value:
    raise UsageError("give --samples=FILE.npz or --workdir=DIR")
  if _NUM.value <= 0:
    raise UsageError(f"--num must be positive, got {_NUM.value}")
  try:
    return lib.scene_samples(_WORKDIR.value, _NUM.value) if _WORKDIR.value else lib.load_scene_samples(_SAMPLES.value)
  except (FileNotFoundError, ValueError, CheckpointError) as e:
    raise UsageError(str(e)) from e


def run_metric(metric: str, images: Optional[np.ndarray] = None, points: Optional[np.ndarray] = None,
               **kw: Any) -> Dict[str, Any]:
  """Evaluates `metric`; the reusable core (e.g. for samples drawn from a checkpoint)."""
  from jaxgan import metrics  # pylint: disable=g-import-not-at-top
  if metric not in metrics.PAIRED:  # targets and labels are for the image-to-image metrics only
    kw.pop("targets", None)
    kw.pop("labels", None)
  if metric != "pixel_fd":
    kw.pop("reference", None)
  if metric in ("mixture", "prdc") and points is not None:
    kw.setdefault("dataset", "ring8")
  else:
    kw.pop("dataset", None)
  try:
    return metrics.evaluate(metric, images=images, points=points, **kw)
  except (ValueError, FileNotFoundError) as e:
    raise UsageError(str(e)) from e


def write_neighbours(path: str, samples: Dict[str, np.ndarray]) -> None:
  from jaxgan.logging import save_image_grid  # pylint: disable=g-import-not-at-top
  from jaxgan.metrics import memorisation  # pylint: disable=g-import-not-at-top
  train = samples.get("train")
  if train is None:
    from jaxgan.data.embedded import load_mnist_5k  # pylint: disable=g-import-not-at-top
    train = load_mnist_5k()[0]
  images = samples["images"]
  if images.shape[1:3] == (32, 32) and train.shape[1:3] == (28, 28):  # padded digits against the stored ones
    images = images[:, 2:30, 2:30]
  try:
    grid = memorisation.neighbours_figure(images, train)
  except ValueError as e:
    raise UsageError(str(e)) from e
  save_image_grid(grid, path, nrow=5, caption="sample | its 4 nearest training images")
  print(f"wrote {path}", file=sys.stderr)


def format_report(result: Dict[str, Any]) -> str:
  """One `key: value` line per entry, floats to 4 significant digits."""
  def fmt(v):
    return f"{v:.4g}" if isinstance(v, float) else str(v)
  return "\n".join(f"{k}: {fmt(v)}" for k, v in result.items())


def main(argv):
  # JAX logs backend probing at INFO through absl; the contract is one result, or one error line on stderr.
  logging.set_verbosity(logging.ERROR)
  if len(argv) > 1:
    print(f"evaluate.py: error: unexpected arguments {argv[1:]}", file=sys.stderr)
    sys.exit(2)
  try:
    if not _METRIC.value:
      raise UsageError("--metric is required")
    from jaxgan.metrics import METRICS  # pylint: disable=g-import-not-at-top
    if _METRIC.value not in METRICS:  # checked before loading samples: fail fast
      raise UsageError(f"unknown metric {_METRIC.value!r}; known metrics: {', '.join(sorted(METRICS))}")
    if _WORKDIR.value and _SAMPLES.value:
      raise UsageError("give --samples or --workdir, not both")
    if _METRIC.value in ("scene_seg", "scene_digit_fd"):  # label map → image: test scenes' maps, boxes, reals
      from jaxgan.metrics import scene_segmenter  # pylint: disable=g-import-not-at-top
      samples = scene_samples(scene_segmenter)
    else:
      samples = samples_from_workdir(_WORKDIR.value) if _WORKDIR.value else load_samples(_SAMPLES.value)
    if _DATASET.value not in ("ring8", "grid25"):
      raise UsageError(f"unknown --dataset {_DATASET.value!r}; use ring8 or grid25")
    if _FIGURE.value and _METRIC.value != "memorisation":
      raise UsageError("--figure is for --metric=memorisation")
    result = run_metric(_METRIC.value, dataset=_DATASET.value, **samples)
    if _FIGURE.value:
      write_neighbours(_FIGURE.value, samples)
  except UsageError as e:
    from jaxgan.cli import fail  # pylint: disable=g-import-not-at-top
    fail(str(e))  # one line, exit 2, no orbax thread noise after a failed checkpoint read
  print(json.dumps(result) if _JSON.value else format_report(result))


def _parse_flags(argv):
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:  # absl would exit 1 with usage text; bad flags are bad input like any other
    print(f"evaluate.py: error: {e}", file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
  app.run(main, flags_parser=_parse_flags)

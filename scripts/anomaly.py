"""Score images with a trained anomaly-detection run (f-AnoGAN, GANomaly) and report AUROC, normal vs anomalous.

  python scripts/anomaly.py --workdir=DIR [--data=mnist_full --split=test] [--normal=3] [--num=N] [--json]
                            [--hist=FILE.png]

Images whose label is in --normal (default: the classes the run trained on, `config.data.classes`) are normal, all
others anomalous. Prints the AUROC of the run's anomaly score (higher = more anomalous; ties count one half), of
its parts, and against each anomalous class alone; --json prints the same as one JSON object. Writes a histogram
of normal vs anomalous scores (default <workdir>/anomaly_hist.png). Bad input: one line on stderr, exit status 2.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from absl import flags  # noqa: E402

from jaxgan import cli  # noqa: E402

_WORKDIR = flags.DEFINE_string("workdir", None, "A trained anomaly run's directory (fanogan_mnist, ganomaly_mnist).")
_DATA = flags.DEFINE_string("data", "mnist_full", "Labelled images to score: a dataset name or .npz path.")
_SPLIT = flags.DEFINE_string("split", "test", "The dataset's split.")
_NORMAL = flags.DEFINE_string("normal", None, "Normal classes, e.g. 3 or 1,7 (default: the run's data.classes).")
_NUM = flags.DEFINE_integer("num", 0, "Score only the first N images (0 = all).")
_JSON = flags.DEFINE_bool("json", False, "Print the result as one JSON object.")
_HIST = flags.DEFINE_string("hist", None, "Histogram PNG path (default <workdir>/anomaly_hist.png).")
_STEP = flags.DEFINE_integer("step", None, "Checkpoint step (default: the latest).")


def main(argv):
  if not _WORKDIR.value:
    cli.fail("--workdir is required")
  if _NUM.value < 0:
    cli.fail(f"--num must be >= 0 (0 = all), got {_NUM.value}")
  hist = _HIST.value or os.path.join(_WORKDIR.value, "anomaly_hist.png")
  if not hist.endswith(".png"):
    cli.fail(f"--hist must end in .png, got {hist}")
  import dataclasses
  import json
  import ml_collections
  import numpy as np
  from jaxgan import anomaly, data as data_lib
  from jaxgan.sampling import load_run
  normal = anomaly.parse_classes(_NORMAL.value) if _NORMAL.value is not None else None
  data = data_lib.load(ml_collections.ConfigDict(dict(name=_DATA.value, split=_SPLIT.value)))
  if data.labels is None:
    cli.fail(f"dataset {data.name} has no labels: scoring needs to know which images are normal")
  n = data.num if not _NUM.value else min(_NUM.value, data.num)
  images, labels = data.images[:n], data.labels[:n]
  if normal is not None:  # checked before the run is loaded: a wrong class fails fast
    anomaly.check_normal(labels, normal)
  run = load_run(_WORKDIR.value, _STEP.value)
  anomaly.check_trained(run.gan, run.state)
  if normal is None:
    normal = tuple(run.config.data.get("classes", ()) or ())
    if not normal:
      cli.fail("the run trained on every class (config.data.classes is empty); say which are normal with --normal")
  pad = int(run.config.data.get("pad", 0) or 0)
  if pad:  # as the run's training images were padded (data.pad)
    images = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
  data_lib.check_shape(dataclasses.replace(data, shape=tuple(images.shape[1:])), run.gan.image_shape)
  result = anomaly.evaluate(run.gan, run.state, images, labels, normal, histogram_path=hist)
  result = {"workdir": _WORKDIR.value, "objective": run.config.get("objective", "gan"), "data": _DATA.value,
            "split": _SPLIT.value, **result}
  if _JSON.value:
    print(json.dumps(result, sort_keys=True))
  else:
    parts = ", ".join(f"{k} {v:.4f}" for k, v in result["auroc_parts"].items())
    print(f"AUROC {result['auroc']:.4f} ({result['score']} score; parts: {parts}) on {result['num']} images, "
          f"{result['num_normal']} normal (classes {list(normal)}), {result['num_anomalous']} anomalous; "
          f"histogram {hist}")


if __name__ == "__main__":
  cli.run(main, config_flag=None)

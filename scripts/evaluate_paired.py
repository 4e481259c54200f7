"""Scores trained image-to-image runs beside their baselines on the same held-out inputs (jaxgan.metrics.paired).

  python scripts/evaluate_paired.py --workdirs=runs/pix2pix_sr_mnist,runs/pix2pix_sr_mnist_l1 [--num=10000]
      [--ceiling_epochs=2] [--ceiling_train=55000] [--json=OUT.json]

All runs must share one dataset (e.g. sr:mnist). Rows, each on the first --num pairs of its test split (MNIST's
test digits, which neither G nor the judge trained on): the trivial baseline (bicubic up-sampling for
super-resolution, the masked input for inpainting), every run (its G, deterministic inference), the real targets
(the judge's own accuracy and FD on real digits), and the ceiling: the judge's architecture trained by jaxgan on
the degraded training inputs themselves (--ceiling_epochs over the first --ceiling_train; 0 = skip), scored on
the degraded test inputs. Columns: judge accuracy, judge FD (features, vs the judge's reference digits), PSNR (dB),
SSIM. Prints a Markdown table; --json also writes every figure. Bad input: one error line, exit status 2.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # run from a checkout too

from absl import flags  # noqa: E402
import numpy as np  # noqa: E402

from jaxgan import cli  # noqa: E402

_WORKDIRS = flags.DEFINE_list("workdirs", None, "pix2pix runs (same dataset)")
_NUM = flags.DEFINE_integer("num", 10_000, "test pairs to score")
_CEILING_EPOCHS = flags.DEFINE_integer("ceiling_epochs", 2, "epochs of the degraded-input classifier; 0 = skip")
_CEILING_TRAIN = flags.DEFINE_integer("ceiling_train", 0, "training pairs for the ceiling (0 = all)")
_JSON = flags.DEFINE_string("json", None, "write all figures to this JSON file")


def _row(name, metrics, **extra):
  return {"name": name, **metrics, **extra}


def main(argv):
  del argv
  if not _WORKDIRS.value:
    cli.fail("--workdirs is required")
  from jaxgan.checkpoint import CheckpointError
  from jaxgan.metrics import mnist_judge
  from jaxgan.metrics import paired as pm
  from jaxgan.pix2pix import eval_pairs, translate_uint8
  from jaxgan.sampling import load_run
  try:
    runs = [load_run(w) for w in _WORKDIRS.value]
    names = {str(r.config.data.name) for r in runs}
    if len(names) != 1 or any(r.config.get("objective", "gan") != "pix2pix" for r in runs):
      raise ValueError(f"--workdirs must be pix2pix runs on one dataset, got {sorted(names)}")
    config = runs[0].config
    test = eval_pairs(config, "test", _NUM.value)
  except (FileNotFoundError, ValueError, CheckpointError) as e:
    cli.fail(" ".join(str(e).split()))
  judge = mnist_judge.load_judge()
  obj = runs[0].gan
  size = obj.image_shape[:2]
  score = lambda x: pm.translation_metrics(x, test["targets"], test["labels"], judge)
  rows = []
  baseline = pm.bicubic_up(test["inputs"], size) if not obj.mask else test["inputs"]
  rows.append(_row("bicubic up-sampling" if not obj.mask else "masked input", score(baseline)))
  for w, run in zip(_WORKDIRS.value, runs):
    t = time.perf_counter()
    out = translate_uint8(run.gan, run.state.params("g"), run.state.vars("g"), test["inputs"], test["masks"])
    weight = float(run.gan.l1_weight)
    label = {"gan": f"pix2pix (adversarial + {weight:g}·L1)", "l1": "L1-only U-Net"}[run.gan.mode]
    rows.append(_row(label, score(out), workdir=w, step=run.step, translate_s=round(time.perf_counter() - t, 1),
                     **({"l1_weight": weight} if run.gan.mode == "gan" else {})))
  rows.append(_row("real targets", score(test["targets"])))
  if _CEILING_EPOCHS.value > 0 and test["labels"] is not None:
    train = eval_pairs(config, "train", _CEILING_TRAIN.value)
    t = time.perf_counter()
    acc = pm.ceiling_accuracy(pm.degraded_view(train["inputs"], train["masks"], size), train["labels"],
                              pm.degraded_view(test["inputs"], test["masks"], size), test["labels"],
                              epochs=_CEILING_EPOCHS.value)
    rows.append(_row("ceiling: classifier on degraded inputs", {"judge_accuracy": acc},
                     train_pairs=len(train["labels"]), epochs=_CEILING_EPOCHS.value,
                     train_s=round(time.perf_counter() - t, 1)))
  fmt = lambda v, p: "" if v is None else (f"{v:.{p}f}" if np.isfinite(v) else "inf")
  print(f"{config.data.name}, {len(test['inputs'])} test pairs, judge {mnist_judge.JUDGE_VERSION}")
  print("| | judge accuracy | judge FD | PSNR (dB) | SSIM |\n|---|---|---|---|---|")
  for r in rows:
    acc = r.get("judge_accuracy")
    print(f"| {r['name']} | {'' if acc is None else f'{100 * acc:.2f} %'} | {fmt(r.get('judge_fd'), 2)} | "
          f"{fmt(r.get('psnr'), 2)} | {fmt(r.get('ssim'), 4)} |")
  if _JSON.value:
    with open(_JSON.value, "w") as f:
      json.dump({"dataset": str(config.data.name), "n": len(test["inputs"]), "judge": mnist_judge.JUDGE_VERSION,
                 "rows": rows}, f, indent=2, default=float)


if __name__ == "__main__":
  cli.run(main, config_flag=None)

"""One-class MNIST anomaly detection: for each digit c, train on the training digits of class c only, score the
10,000 test digits (c normal, the other nine anomalous) and report AUROC per class and the mean.

  python benchmarks/anomaly_mnist.py [--methods=fanogan,ganomaly] [--classes=0,1,...,9] [--out=runs/anomaly_mnist]
                                     [--steps_scale=1.0]

Each (method, class) trains its preset (jaxgan/configs/<method>_mnist.py) with data.classes = (c,) in
<out>/<method>/class_<c>/ and writes <out>/<method>/class_<c>.json (AUROC, its parts, CPU minutes); a rerun skips
the classes that have their JSON and resumes a class whose training stopped midway from its checkpoint, so the
ten-class sweep resumes where it stopped. CPU minutes are this process's user + system time for the class,
summed over interrupted attempts (<out>/<method>/class_<c>/cpu.json), compilation included. <out>/summary.json:
every finished class and the mean per method, marked partial until all ten are done. The training set is
mnist_full's 55,000 digits (not MNIST's 60,000; jaxgan/data/mnist_full.py).
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from absl import flags  # noqa: E402

from jaxgan import cli  # noqa: E402

METHODS = ("fanogan", "ganomaly")
_METHODS = flags.DEFINE_string("methods", ",".join(METHODS), "Methods, comma-separated: fanogan, ganomaly.")
_CLASSES = flags.DEFINE_string("classes", "0,1,2,3,4,5,6,7,8,9", "Normal classes to run, one after the other.")
_OUT = flags.DEFINE_string("out", "runs/anomaly_mnist", "Output folder (per-class workdirs and JSON).")
_SCALE = flags.DEFINE_float("steps_scale", 1.0, "Multiply the presets' step counts (both stages) by this.")
_SEED = flags.DEFINE_integer("seed", 0, "Training seed.")


def config_for(method: str, c: int, scale: float, seed: int):
  import importlib
  config = importlib.import_module(f"jaxgan.configs.{method}_mnist").get_config()
  config.data.classes = (int(c),)
  config.seed = seed
  if scale != 1.0:
    if method == "fanogan":
      gan = max(1, round(config.fanogan.gan_steps * scale))
      enc = max(1, round((config.steps - config.fanogan.gan_steps) * scale))
      config.fanogan.gan_steps, config.steps = gan, gan + enc
    else:
      config.steps = max(1, round(config.steps * scale))
  return config


def cpu_seconds() -> float:
  return time.process_time()


def run_class(method: str, c: int, out: str, test, scale: float, seed: int) -> dict:
  from jaxgan import anomaly
  from jaxgan.sampling import load_run
  from jaxgan.trainer import Trainer
  workdir = os.path.join(out, method, f"class_{c}")
  os.makedirs(workdir, exist_ok=True)
  cpu_file = os.path.join(workdir, "cpu.json")
  spent = json.load(open(cpu_file)) if os.path.exists(cpu_file) else {"train_s": 0.0, "attempts": 0}
  config = config_for(method, c, scale, seed)
  t0, w0 = cpu_seconds(), time.perf_counter()
  result = Trainer(config, workdir, quiet=True).train()
  spent = {"train_s": spent["train_s"] + cpu_seconds() - t0, "attempts": spent["attempts"] + 1,
           "wall_s": spent.get("wall_s", 0.0) + time.perf_counter() - w0}
  with open(cpu_file + ".tmp", "w") as f:
    json.dump(spent, f)
  os.replace(cpu_file + ".tmp", cpu_file)
  if result["stopped"] != "done":
    raise SystemExit(f"{method} class {c}: training stopped ({result['stopped']}); rerun to resume")
  t1 = cpu_seconds()
  run = load_run(workdir)
  row = anomaly.evaluate(run.gan, run.state, test.images, test.labels, (c,),
                         histogram_path=os.path.join(workdir, "hist.png"),
                         title=f"{method}, normal digit {c}")
  row.update(method=method, normal_class=c, steps=int(config.steps), train_cpu_min=round(spent["train_s"] / 60, 2),
             train_wall_min=round(spent["wall_s"] / 60, 2), score_cpu_min=round((cpu_seconds() - t1) / 60, 2),
             attempts=spent["attempts"], seed=seed, steps_scale=scale, command=" ".join(sys.argv),
             date=time.strftime("%Y-%m-%d %H:%M"), train_set="mnist_full train (55,000 digits), class only",
             test_set="mnist_full test (10,000 digits)")
  row["cpu_min"] = round(row["train_cpu_min"] + row["score_cpu_min"], 2)
  path = os.path.join(out, method, f"class_{c}.json")
  with open(path + ".tmp", "w") as f:
    json.dump(row, f, indent=1, sort_keys=True)
  os.replace(path + ".tmp", path)
  return row


def summarize(out: str) -> dict:
  summary = {}
  for method in METHODS:
    rows = {}
    for c in range(10):
      path = os.path.join(out, method, f"class_{c}.json")
      if os.path.exists(path):
        with open(path) as f:
          rows[c] = json.load(f)
    if not rows:
      continue
    aurocs = [r["auroc"] for r in rows.values()]
    summary[method] = {"auroc": {str(c): round(r["auroc"], 4) for c, r in rows.items()},
                       "cpu_min": {str(c): r["cpu_min"] for c, r in rows.items()},
                       "mean_auroc": round(sum(aurocs) / len(aurocs), 4), "classes_done": len(rows),
                       "partial": len(rows) < 10}
  with open(os.path.join(out, "summary.json"), "w") as f:
    json.dump(summary, f, indent=1, sort_keys=True)
  return summary


def main(argv):
  methods = tuple(m.strip() for m in _METHODS.value.split(",") if m.strip())
  bad = [m for m in methods if m not in METHODS]
  if bad or not methods:
    cli.fail(f"--methods: unknown method {bad[0] if bad else '(none)'}; use {', '.join(METHODS)}")
  from jaxgan import anomaly
  from jaxgan import data as data_lib
  classes = anomaly.parse_classes(_CLASSES.value, "--classes")
  if any(not 0 <= c <= 9 for c in classes):
    cli.fail(f"--classes: MNIST digits are 0..9, got {_CLASSES.value}")
  if not _SCALE.value > 0:
    cli.fail(f"--steps_scale must be positive, got {_SCALE.value}")
  import ml_collections
  test = data_lib.load(ml_collections.ConfigDict(dict(name="mnist_full", split="test")))
  out = _OUT.value
  for c in classes:
    for method in methods:
      path = os.path.join(out, method, f"class_{c}.json")
      if os.path.exists(path):
        print(f"{method} class {c}: done before ({path})", flush=True)
        continue
      row = run_class(method, c, out, test, _SCALE.value, _SEED.value)
      print(f"{method} class {c}: AUROC {row['auroc']:.4f} ({row['score']}), parts "
            f"{ {k: round(v, 4) for k, v in row['auroc_parts'].items()} }, {row['cpu_min']} CPU-min", flush=True)
      summarize(out)
  summary = summarize(out)
  for method, s in summary.items():
    print(f"{method}: mean AUROC {s['mean_auroc']:.4f} over {s['classes_done']} classes"
          + (" (partial)" if s["partial"] else ""))


if __name__ == "__main__":
  cli.run(main, config_flag=None)

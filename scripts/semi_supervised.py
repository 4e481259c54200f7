"""Semi-supervised MNIST (Salimans et al. 2016): train with N labels per class chosen by a seed, report the error on
the test digits, over several label seeds.

  python scripts/semi_supervised.py [--config=jaxgan/configs/ssl_mnist.py] [--workdir=runs/ssl_mnist] [--seeds=0,1,2,3,4]
                        [--supervised] [--eval_every=N] [--json] [--config.<key>=<value> ...]

Seed s trains in <workdir>/seed_<s>/ with config.seed = ssl.label_seed = s (the labelled digits and the
initialisation both follow the seed), evaluating D's test error every `eval_every` steps into curve.jsonl (step,
test error, CPU seconds of this process, wall seconds) and writing result.json when it reaches config.steps. A
rerun skips seeds with a result and resumes the others from their checkpoints (a sweep resumes where it stopped;
a larger --config.steps continues finished seeds). SIGTERM / Ctrl-C save a checkpoint and exit. `--supervised` is
the baseline: the same D on the labelled digits alone (ssl.unsup_weight = 0, ssl.supervised_steps steps).
(Not named ssl.py: a script's folder comes first on sys.path, and `import ssl` anywhere would load it instead of
Python's ssl module.) Prints one line per evaluation and a summary; with --json only the summary, as JSON on stdout (also written to
<workdir>/summary.json).
"""
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # run from a checkout too

from absl import flags  # noqa: E402

from jaxgan import cli, configs  # noqa: E402

_CONFIG = cli.define_config(configs.path("ssl_mnist"), "Preset config file (objective 'ssl').")
_WORKDIR = flags.DEFINE_string("workdir", None, "Output directory (default runs/ssl_mnist[_supervised]).")
_SEEDS = flags.DEFINE_string("seeds", "0,1,2,3,4", "Comma-separated label seeds (non-negative integers).")
_SUPERVISED = flags.DEFINE_bool("supervised", False, "The baseline: GAN terms off, the labelled digits only.")
_EVAL_EVERY = flags.DEFINE_integer("eval_every", 0, "Steps between test evaluations (0: config.ssl.eval_every).")
_JSON = flags.DEFINE_bool("json", False, "Print only the summary, as JSON.")

RESULT, CURVE, SUMMARY = "result.json", "curve.jsonl", "summary.json"


def parse_seeds(text: str):
  try:
    seeds = [int(s) for s in str(text).split(",") if s.strip()]
  except ValueError:
    raise ValueError(f"--seeds must be comma-separated non-negative integers, got {text!r}") from None
  if not seeds or any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
    raise ValueError(f"--seeds must be distinct non-negative integers, got {text!r}")
  return seeds


def prepare(config, supervised: bool, eval_every: int):
  """The config the script trains (the baseline's when `supervised`), checked: one line on bad values."""
  config = config.copy_and_resolve_references()
  if str(config.get("objective", "gan")) != "ssl":
    raise ValueError(f"scripts/semi_supervised.py trains objective 'ssl'; the config has objective={config.get('objective')!r}")
  if supervised:
    config.ssl.unsup_weight = 0.0
    config.steps = int(config.ssl.get("supervised_steps", config.steps))
  every = int(eval_every or config.ssl.get("eval_every", 1000))
  if every <= 0:
    raise ValueError(f"eval_every must be a positive number of steps, got {every}")
  config.ssl.eval_every = every
  return config


def load_test(config):
  """(uint8 images, int32 labels) of the test digits: ssl.test_data, or the training dataset's "test" split."""
  import ml_collections
  from jaxgan import data as data_lib
  name = str(config.ssl.get("test_data", "") or "")
  cfg = ml_collections.ConfigDict(config.data.to_dict())
  if name:
    cfg.name = name
  cfg.split = "test"
  data = data_lib.load(cfg)
  if not data.has_labels or data.images is None:
    raise data_lib.DataError(f"test data {data.name} must have labels and fit in memory")
  return data.images, data.labels


def _read_curve(path, upto):
  if not os.path.exists(path):
    return []
  rows = [json.loads(line) for line in open(path) if line.strip()]
  return [r for r in rows if r["step"] <= upto]


def _write_json(path, obj, lines=False):
  tmp = path + ".tmp"
  with open(tmp, "w") as f:
    if lines:
      f.writelines(json.dumps(r) + "\n" for r in obj)
    else:
      json.dump(obj, f, indent=2)
  os.replace(tmp, path)


class Stop(Exception):
  pass


def run_seed(config, seed: int, workdir: str, test, log=print, stop=lambda: None):
  """Trains (or resumes, or reads the finished result of) one label seed; returns its result dict. `stop()`
  returns a signal name when the run should save and stop (raises Stop after saving)."""
  import jax
  from jaxgan import ssl as ssl_lib
  from jaxgan.trainer import Trainer
  config = config.copy_and_resolve_references()
  config.seed = int(seed)
  config.ssl.label_seed = int(seed)
  seed_dir = os.path.join(workdir, f"seed_{seed}")
  result_path = os.path.join(seed_dir, RESULT)
  if os.path.exists(result_path):
    with open(result_path) as f:
      result = json.load(f)
    if result.get("steps") == int(config.steps):
      return result
  cpu0, wall0 = time.process_time(), time.perf_counter()
  trainer = Trainer(config, seed_dir, quiet=True, progress=False)
  obj = trainer.gan
  images, labels = test
  classify = ssl_lib.make_classifier(obj)
  curve = _read_curve(os.path.join(seed_dir, CURVE), trainer.start_step)
  cpu_base = curve[-1]["cpu_s"] if curve else 0.0
  wall_base = curve[-1]["wall_s"] if curve else 0.0
  total = int(config.steps)
  every = trainer._multiple_of_k(int(config.ssl.eval_every))
  os.makedirs(seed_dir, exist_ok=True)
  if os.path.exists(result_path):
    os.remove(result_path)  # continued to more steps: the old result is superseded
  trainer.write_config()
  runner = trainer.runner()
  try:
    while not runner.done:
      runner.advance()
      if runner.stopped == "nonfinite":
        raise ValueError(f"seed {seed}: non-finite {runner.nonfinite} before step {runner.step + trainer.k}; "
                         f"the last checkpoint in {seed_dir} is intact")
      step = runner.step
      if step % every == 0 or step == total:
        state = jax.device_get(trainer.state)
        err = ssl_lib.test_error(obj, obj.classifier_params(state), images, labels, classify=classify)
        row = {"step": step, "test_error": err}
        if obj.d_ema > 0:  # the average classifies (the paper's test-time D); D's own error beside it
          row["test_error_raw_d"] = ssl_lib.test_error(obj, state.players["d"].params, images, labels, classify=classify)
        row.update(cpu_s=round(cpu_base + time.process_time() - cpu0, 2),
                   wall_s=round(wall_base + time.perf_counter() - wall0, 2))
        if not (step % trainer.checkpoint_every == 0 or step == total):
          trainer.save(step)  # the curve never runs ahead of the checkpoints
        curve.append(row)
        _write_json(os.path.join(seed_dir, CURVE), curve, lines=True)
        log(f"seed {seed} step {step}: test error {100 * err:.2f}% ({row['cpu_s'] / 60:.1f} CPU-min)")
      signame = stop()
      if signame:
        if step not in trainer.ckpt.all_steps():
          trainer.save(step)
        raise Stop(f"{signame}: seed {seed} saved at step {step}; rerun the same command to resume")
  finally:
    runner.close()
  last = curve[-1]
  result = {"seed": int(seed), "label_seed": int(seed), "labels_per_class": int(config.ssl.labels_per_class),
            "labelled": int(len(obj.labelled_y)), "supervised": obj.supervised_only, "steps": total,
            "test_error": last["test_error"], "test_error_pct": round(100 * last["test_error"], 3),
            "test_digits": int(len(labels)), "cpu_s": last["cpu_s"], "wall_s": last["wall_s"],
            "labelled_sha256": _digest(obj.labelled_x), "curve": curve}
  if "test_error_raw_d" in last:  # D's own error beside its average's (which lags by ~1 / (1 - ssl.d_ema) steps)
    result["test_error_raw_d_pct"] = round(100 * last["test_error_raw_d"], 3)
  _write_json(result_path, result)
  return result


def _digest(x):
  import hashlib
  import numpy as np
  return hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()[:16]


def summarise(results, seeds, config, supervised):
  import numpy as np
  errs = [100 * r["test_error"] for r in results]
  out = {"objective": "ssl", "supervised": bool(supervised), "data": str(config.data.name),
          "labels_per_class": int(config.ssl.labels_per_class), "steps": int(config.steps),
          "seeds": [r["seed"] for r in results], "complete": len(results) == len(seeds),
          "test_error_pct": [round(e, 3) for e in errs],
          "mean_test_error_pct": round(float(np.mean(errs)), 3) if errs else None,
          "std_test_error_pct": round(float(np.std(errs)), 3) if errs else None,
          "cpu_minutes": [round(r["cpu_s"] / 60, 2) for r in results]}
  if results and all("test_error_raw_d_pct" in r for r in results):  # with ssl.d_ema: D itself, beside the average
    raw = [r["test_error_raw_d_pct"] for r in results]                  # that test_error_pct scores
    out.update(raw_d_test_error_pct=raw, mean_raw_d_test_error_pct=round(float(np.mean(raw)), 3),
               std_raw_d_test_error_pct=round(float(np.std(raw)), 3))
  return out


def main(argv):
  del argv
  seeds = parse_seeds(_SEEDS.value)
  config = prepare(_CONFIG.value, _SUPERVISED.value, _EVAL_EVERY.value)
  preset = os.path.splitext(os.path.basename(flags.FLAGS["config"].config_filename))[0]
  workdir = _WORKDIR.value or os.path.join("runs", preset + ("_supervised" if _SUPERVISED.value else ""))
  from jaxgan import objective
  objective.build(config)  # bad settings (more labels than a class has, ...) fail here, before anything is written
  test = load_test(config)
  log = (lambda *_: None) if _JSON.value else (lambda m: print(m, flush=True))
  signals = {}
  handler = lambda signum, frame: signals.setdefault("name", signal.Signals(signum).name)
  old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
  results = []
  try:
    for seed in seeds:
      results.append(run_seed(config, seed, workdir, test, log, stop=lambda: signals.get("name")))
      log(f"seed {seed}: test error {results[-1]['test_error_pct']:.2f}% after {results[-1]['steps']} steps, "
          f"{results[-1]['cpu_s'] / 60:.1f} CPU-min")
  except Stop as e:
    print(str(e), file=sys.stderr, flush=True)
    raise SystemExit(1)
  finally:
    for s, h in old.items():
      signal.signal(s, h)
  summary = summarise(results, seeds, config, _SUPERVISED.value)
  os.makedirs(workdir, exist_ok=True)
  _write_json(os.path.join(workdir, SUMMARY), summary)
  if _JSON.value:
    print(json.dumps(summary))
  else:
    print(f"mean test error {summary['mean_test_error_pct']:.2f}% ± {summary['std_test_error_pct']:.2f} over seeds "
          f"{summary['seeds']} ({summary['labels_per_class']} labels per class); results in {workdir}")
    if "mean_raw_d_test_error_pct" in summary:
      print(f"(D's average, decay {float(config.ssl.d_ema)}; D itself: {summary['mean_raw_d_test_error_pct']:.2f}% ± "
            f"{summary['std_raw_d_test_error_pct']:.2f})")


if __name__ == "__main__":
  cli.run(main)

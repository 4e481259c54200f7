"""What the benchmark protocols share: train a preset timed, the machine record, and a traceable JSON row."""
import json
import os
import platform
import sys
import time

from absl import flags


def train_timed(config, workdir: str, train: bool = True):
  """Trains `config` in `workdir` (unless `train` is False), then loads it: (run, wall minutes, CPU minutes)."""
  from jaxgan.sampling import load_run  # pylint: disable=g-import-not-at-top
  from jaxgan.trainer import Trainer  # pylint: disable=g-import-not-at-top
  wall = cpu = 0.0
  if train:
    t0, c0 = time.perf_counter(), time.process_time()
    Trainer(config, workdir, quiet=True).train()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
  run = load_run(workdir)
  row = {"preset": os.path.basename(flags.FLAGS["config"].config_filename)[:-3], "steps": run.step,
         "train_wall_min": round(wall / 60, 2), "train_cpu_min": round(cpu / 60, 2)}
  return run, row


def machine(**extra) -> dict:
  """The machine a measurement ran on (platform, CPU count, jax version and backend), plus `extra` fields."""
  import jax  # pylint: disable=g-import-not-at-top
  return {"platform": platform.platform(), "cpus": os.cpu_count(), "jax": jax.__version__,
          "backend": jax.default_backend(), "device_kind": jax.devices()[0].device_kind, **extra}


def write_row(path: str, row: dict, protocol: str, config) -> None:
  """`row` plus the protocol, seed, command, date and machine, as JSON at `path`."""
  row = dict(row, protocol=protocol, seeds=[int(config.seed)], command=" ".join(sys.argv),
             date=time.strftime("%Y-%m-%d"), machine=machine(xla_flags=os.environ.get("XLA_FLAGS", "")))
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path, "w") as f:
    json.dump(row, f, indent=1)

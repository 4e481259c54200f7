"""Multi-host on one machine: two `scripts/train.py` processes joined by jax.distributed over localhost (gloo CPU
collectives), 2 CPU devices each, form one 4-device mesh. A run trained there, stopped and resumed there, matches
the same run on one process's 4 devices; only process 0 writes the workdir's logs and samples."""
import json
import os
import socket
import subprocess
import sys

import chex
import jax

from conftest import ONE_DEVICE_FLAGS
from jaxgan.configs import mlp_mnist
from jaxgan.sampling import load_run
from jaxgan.trainer import Trainer

from _scripts import ROOT

OVERRIDES = {"model.width": 0.0625, "batch_size": 16, "steps_per_call": 5, "checkpoint_every": 10,
             "sample_every": 10, "ema_decay": 0.9}


def _config(steps):
  c = mlp_mnist.get_config()
  c.update_from_flattened_dict({**OVERRIDES, "steps": steps})  # what the --config.<key> flags below do
  return c


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def _train_on_two_processes(workdir: str, steps: int) -> list:
  env = dict(os.environ, JAX_PLATFORMS="cpu",
             XLA_FLAGS="--xla_force_host_platform_device_count=2 " + ONE_DEVICE_FLAGS)
  port = _free_port()
  flags = [f"--config.{k}={v}" for k, v in OVERRIDES.items()]
  procs = [subprocess.Popen(
      [sys.executable, os.path.join(ROOT, "scripts", "train.py"), "--config=" + os.path.join(
          ROOT, "jaxgan", "configs", "mlp_mnist.py"), *flags, f"--config.steps={steps}", f"--workdir={workdir}",
       f"--coordinator_address=localhost:{port}", "--num_processes=2", f"--process_id={i}"],
      env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in range(2)]
  outs = []
  try:
    for p in procs:
      outs.append(p.communicate(timeout=300)[0])
  finally:
    for p in procs:
      p.kill()
  for p, out in zip(procs, outs):
    assert p.returncode == 0, out[-3000:]
  return outs


def test_two_processes_train_and_resume_like_one_process(tmp_path):
  multi = str(tmp_path / "multi")
  outs = _train_on_two_processes(multi, 20)
  assert "on 4 cpu device(s)" in outs[0] and "done: step 20" in outs[0]
  assert "jaxgan: preset" not in outs[1]  # process 1 trains silently
  outs = _train_on_two_processes(multi, 30)  # both resume from the step-20 checkpoint
  assert "resuming from step 20" in outs[0] and "done: step 30" in outs[0], outs[0][-2000:]

  single = Trainer(_config(30), str(tmp_path / "single"), devices=jax.devices()[:4], quiet=True)
  single.train()
  a = load_run(multi)
  assert a.step == 30
  # Same global batches, same mean over 4 devices; gloo may sum in another order than one process does.
  chex.assert_trees_all_close(a.state, jax.device_get(single.state), rtol=1e-5, atol=1e-6)
  with open(os.path.join(multi, "metrics.jsonl")) as f:
    steps = [json.loads(line)["step"] for line in f]
  assert steps == list(range(1, 31))  # one writer, resumed without gaps or repeats
  assert sorted(os.listdir(os.path.join(multi, "samples"))) == sorted(
      f"{tag}step_{s:07d}.png" for tag in ("ema_", "") for s in (10, 20, 30))
  assert sorted(int(s) for s in os.listdir(os.path.join(multi, "checkpoints"))) == [10, 20, 30]

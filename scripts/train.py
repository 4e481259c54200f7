"""Train a GAN. With no flags: the default preset on the offline MNIST digits, in a few CPU minutes.

  python scripts/train.py [--config=jaxgan/configs/<preset>.py] [--workdir=DIR] [--config.<key>=<value> ...]

Rerunning the same command on the same workdir resumes from its latest checkpoint; a larger --config.steps
continues training. SIGTERM / Ctrl-C save a checkpoint and exit cleanly.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # run from a checkout too

from absl import flags  # noqa: E402

from jaxgan import cli, configs  # noqa: E402

_CONFIG = cli.define_config(configs.path(configs.DEFAULT), "Preset config file.")
_WORKDIR = flags.DEFINE_string("workdir", None, "Output directory (default: runs/<preset name>).")
_DISTRIBUTED = flags.DEFINE_bool(
    "distributed", False, "Multi-host: call jax.distributed.initialize() before anything else. Run the same "
    "command on every host, with one --workdir on shared storage; process 0 writes logs and samples, all take part "
    "in checkpoints. Where the cluster is not detected (TPU pods, SLURM, Open MPI, Kubernetes are), give "
    "--coordinator_address, --num_processes and --process_id.")
_COORDINATOR = flags.DEFINE_string("coordinator_address", None, "host:port of process 0 (implies --distributed).")
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", None, "Processes in the run (implies --distributed).")
_PROCESS_ID = flags.DEFINE_integer("process_id", None, "This process's index, 0-based (implies --distributed).")


def _initialize_distributed() -> None:
  import jax
  jax.config.update("jax_cpu_collectives_implementation", "gloo")  # CPU hosts; GPU/TPU use their own
  try:
    jax.distributed.initialize(_COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value)
  except (ValueError, TypeError, RuntimeError) as e:
    cli.fail(f"--distributed: jax.distributed.initialize failed ({' '.join(str(e).split())[:300]}); outside a "
             "detected cluster give --coordinator_address=HOST:PORT --num_processes=N --process_id=I")


def main(argv):
  if _DISTRIBUTED.value or any(f.value is not None for f in (_COORDINATOR, _NUM_PROCESSES, _PROCESS_ID)):
    _initialize_distributed()
  from jaxgan.trainer import Trainer
  config = _CONFIG.value
  preset = os.path.splitext(os.path.basename(flags.FLAGS["config"].config_filename))[0]
  workdir = _WORKDIR.value or os.path.join("runs", preset)
  trainer = Trainer(config, workdir)
  if trainer.primary:
    print(f"jaxgan: preset {preset}, {trainer.config.steps} steps, batch {trainer.config.batch_size} on "
          f"{trainer.mesh.size} {trainer.backend} device(s), data {trainer.data.name} ({trainer.data.num} images), "
          f"K={trainer.k}; outputs in {workdir}", flush=True)
  result = trainer.train()
  if result["stopped"] == "nonfinite":
    raise SystemExit(3)
  if result["stopped"] == "done" and result.get("d_loss") is not None and trainer.primary:
    print(f"done: step {result['step']}, d_loss {result['d_loss']:.3f}, g_loss {result['g_loss']:.3f}; "
          f"samples in {os.path.join(workdir, 'samples')}, loss curve {os.path.join(workdir, 'losses.png')}")


if __name__ == "__main__":
  cli.run(main)

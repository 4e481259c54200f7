"""StyleGAN2-ADA on CIFAR-10, class-conditional: NVIDIA's `cifar` configuration (for accelerators).

  python scripts/train.py --config=jaxgan/configs/stylegan2_cifar10.py --workdir=runs/stylegan2_cifar10

NVIDIA's train.py `--cfg=cifar`: channel base 32768 (512 channels at every resolution up to 32 px), 2 mapping
layers, batch 64, minibatch-stddev groups of 32, Adam lr 0.0025 β (0, 0.99), R1 γ = 0.01 every 16 steps, EMA
half-life 500 kimg ramped up over 5% of the images shown, no path-length regularization, no style mixing, the
`orig` discriminator (no residual skips); ADA (bgc, target 0.6) as in the paper's CIFAR-10 runs, conditional on the
10 classes (`--cond=1`; `--config.model.num_classes=0` for unconditional).
Needs CIFAR-10 prepared for TFDS once (on a machine with a network: `--config.data.download=True`) and an
accelerator: the paper trains 100M images; 20,000 steps here (1.28M images) is a first look.
"""
from jaxgan.configs import base


def get_config():
  c = base.get_config()
  c.objective = "stylegan2"
  c.model.name = "stylegan2"
  c.model.image_shape = (32, 32, 3)
  c.model.latent_dim = 512
  c.model.w_dim = 512
  c.model.map_layers = 2
  c.model.channel_base = 32768
  c.model.channel_max = 512
  c.model.mbstd_group = 32
  c.model.d_architecture = "orig"
  c.model.num_classes = 10
  c.data.name = "tfds:cifar10"
  c.batch_size = 64
  c.loss.name = "non_saturating"
  c.optim.g = dict(name="adam", lr=0.0025, b1=0.0, b2=0.99, eps=1e-8)
  c.optim.d = dict(name="adam", lr=0.0025, b1=0.0, b2=0.99, eps=1e-8)
  c.stylegan2 = dict(style_mixing=0.0, pl_weight=0.0, pl_decay=0.01, pl_batch_shrink=2, pl_interval=4,
                     r1_gamma=0.01, r1_interval=16, ema_kimg=500.0, ema_rampup=0.05)
  c.augment = "ada"
  c.ada = dict(p=0.0, target=0.6, interval=4, kimg=500)
  c.steps = 20_000
  c.checkpoint_every = 2000
  c.sample_every = 2000
  return c

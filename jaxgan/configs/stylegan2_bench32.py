"""StyleGAN2 at exactly the configuration of NVIDIA's one-step driver, for the speed comparison (not for training).

  python scripts/benchmark.py --config=jaxgan/configs/stylegan2_bench32.py --json
  python ../shared/bench/stylegan2_ada_pytorch/torch_stylegan2_ada.py --res=32 --channels=3 --cbase=4096 \\
      --cmax=256 --batch=16 --steps=16 --json

32×32 RGB, channel base 4096 (at most 256 channels), z and w of 512, 2 mapping layers, batch 16, D's
minibatch-stddev groups of 4, R1 γ by NVIDIA's auto formula (0.0002·32²/16 = 0.0128) every 16 steps, path-length
weight 2 every 4 steps, style mixing 0.9, G's EMA, Adam lr 0.0025 β (0, 0.99), no augmentation. The ADA row:
`--config.augment=fixed` (the bgc pipeline at p = config.ada.p = 0.2, held fixed as the driver's `--aug=ada`). Data: the
emoji at 32 px (the driver draws random pixels; the step's cost does not depend on them).
"""
from jaxgan.configs import base


def get_config():
  c = base.get_config()
  c.objective = "stylegan2"
  c.model.name = "stylegan2"
  c.model.image_shape = (32, 32, 3)
  c.model.latent_dim = 512          # z
  c.model.w_dim = 512
  c.model.map_layers = 2
  c.model.channel_base = 4096
  c.model.channel_max = 256
  c.model.mbstd_group = 4
  c.model.d_architecture = "resnet"
  c.batch_size = 16
  c.loss.name = "non_saturating"
  c.optim.g = dict(name="adam", lr=0.0025, b1=0.0, b2=0.99, eps=1e-8)
  c.optim.d = dict(name="adam", lr=0.0025, b1=0.0, b2=0.99, eps=1e-8)
  c.stylegan2 = dict(style_mixing=0.9, pl_weight=2.0, pl_decay=0.01, pl_batch_shrink=2, pl_interval=4,
                     r1_gamma=-1.0,   # NVIDIA's auto γ = 0.0002·res²/batch
                     r1_interval=16, ema_kimg=-1.0, ema_rampup=0.05)   # EMA half-life batch·10/32 kimg
  c.augment = "none"                # none | ada | fixed
  c.ada = dict(p=0.2, target=0.6, interval=4, kimg=500)
  c.data.name = "emoji"             # any 32×32×3 images: the step's cost does not depend on the pixels
  c.data.resolution = 32
  c.steps = 1000
  c.first_sample = 0
  return c

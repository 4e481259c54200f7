"""SPADE / GauGAN on the `scenes` digit scenes (jaxgan/data/scenes.py): coarse label map → 64×64 image.

  python scripts/train.py --config=jaxgan/configs/spade_scenes.py --workdir=runs/spade_scenes

G: the SPADE generator from the label map downsampled to 4×4 (the paper's choice without the VAE), SPADE residual
blocks of 32, 32, 16, 16, 8 channels (SPADE's hidden convs: 16) (instance norm modulated by the one-hot map); D: two PatchGANs (64 and 32 px, 16-64 channels)
on map ⊕ image with spectral norm; hinge loss + feature matching (λ_FM = 10); the paper's TTUR (Adam β = (0, 0.9),
lr_G 1e-4, lr_D 4e-4). The VAE encoder (multi-modal outputs, KL term λ 0.05): `--config.model.use_vae=True`
(it sets G's start to noise). Budget and scores: docs/image_to_image.md.
"""
from jaxgan.configs import base
from jaxgan.data import scenes


def get_config():
  c = base.get_config()
  c.objective = "spade"
  c.model.name = "spade"
  c.model.image_shape = (64, 64, 3)
  c.model.map_classes = scenes.NUM_CLASSES
  c.model.latent_dim = 64
  c.model.widths = (32, 32, 16, 16, 8)   # 4, 8, 16, 32, 64 px
  c.model.spade_hidden = 16
  c.model.start = ""               # "" = from the map, or from noise with the VAE; "map" | "noise"
  c.model.use_vae = False
  c.model.encoder_widths = (16, 32, 64, 64)
  c.model.num_d = 2
  c.model.d_width = 16
  c.model.spectral_norm_d = True
  c.spade = dict(fm_weight=10.0, kl_weight=0.05)
  c.loss.name = "hinge"
  c.optim.g = dict(name="adam", lr=1e-4, b1=0.0, b2=0.9)
  c.optim.d = dict(name="adam", lr=4e-4, b1=0.0, b2=0.9)
  c.data.name = "scenes"
  c.data.num = 6000
  c.data.seed = 0
  c.batch_size = 16
  c.steps = 2000
  c.checkpoint_every = 500
  c.sample_every = 500
  c.first_sample = 100
  return c

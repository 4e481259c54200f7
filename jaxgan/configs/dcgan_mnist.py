"""A Radford-style DCGAN on the offline MNIST digits (conv G with BatchNorm, conv D), with an EMA generator.

  python scripts/train.py --config=jaxgan/configs/dcgan_mnist.py --workdir=runs/dcgan_mnist
"""
from jaxgan.configs import base


def get_config():
  c = base.get_config()
  c.steps = 5_000
  c.model.name = "dcgan"
  c.model.latent_dim = 100
  c.model.width = 0.5
  c.ema_decay = 0.999
  return c

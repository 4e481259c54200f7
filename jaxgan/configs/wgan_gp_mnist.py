"""WGAN-GP (Gulrajani et al. 2017) on the offline MNIST digits.

  python scripts/train.py --config=jaxgan/configs/wgan_gp_mnist.py --workdir=runs/wgan_gp_mnist

The paper's recipe: Wasserstein loss, gradient penalty λ = 10 on random interpolates of real and fake, 5 critic
updates per G update, Adam 1e-4 β=(0, 0.9) for both nets, batch 64, and no BatchNorm in the critic (the penalty is
per sample; the paper suggests layer norm, used here). DCGAN nets at half width so it trains on a CPU.
"""
import ml_collections

from jaxgan.configs import base


def get_config():
  c = base.get_config()
  c.steps = 3_000
  c.checkpoint_every = 500
  c.sample_every = 500
  c.model.name = "dcgan"
  c.model.width = 0.5
  c.model.d_norm = "layer"
  c.loss.name = "wasserstein"
  c.n_critic = 5
  c.penalty.name, c.penalty.weight, c.penalty.interval = "gp", 10.0, 1
  c.optim.g = ml_collections.ConfigDict(dict(name="adam", lr=1e-4, b1=0.0, b2=0.9))
  c.optim.d = ml_collections.ConfigDict(dict(name="adam", lr=1e-4, b1=0.0, b2=0.9))
  return c

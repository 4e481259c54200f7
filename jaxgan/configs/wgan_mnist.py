"""WGAN with weight clipping (Arjovsky et al. 2017) on the offline MNIST digits.

  python scripts/train.py --config=jaxgan/configs/wgan_mnist.py --workdir=runs/wgan_mnist

The paper's recipe: critic loss E[D(G(z))] − E[D(x)], 5 critic updates per G update, every critic weight clipped
to [−0.01, 0.01] after each update, RMSProp at 5e-5 for both nets, batch 64; DCGAN nets (half width here, so it
trains on a CPU). Clipping makes learning slow: expect blurrier digits than the default preset at equal time.
"""
import ml_collections

from jaxgan.configs import base


def get_config():
  c = base.get_config()
  c.steps = 4_000
  c.checkpoint_every = 500
  c.sample_every = 500
  c.model.name = "dcgan"
  c.model.width = 0.5
  c.loss.name = "wasserstein"
  c.n_critic = 5
  c.optim.g = ml_collections.ConfigDict(dict(name="rmsprop", lr=5e-5))
  c.optim.d = ml_collections.ConfigDict(dict(name="rmsprop", lr=5e-5, clip=0.01))
  return c

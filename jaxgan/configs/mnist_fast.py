"""The original PyTorch MLP GAN, reproduced faithfully (it collapses onto a few digits: that is the point).

  python scripts/train.py --config=jaxgan/configs/mlp_mnist.py --workdir=runs/mlp_mnist

G 100→256→512→1024→784 tanh, D 784→1024→512→256→1 LeakyReLU(0.2), torch.nn.Linear init, batch 64, N(0,1)
latents, Adam(2e-4, β=(0.5, 0.999)), D loss −[log D(x) + log(1 − D(G(z)))], G loss −log D(G(z)).
"""
from jaxgan.configs import base


def get_config():
  c = base.get_config()
  c.steps = 20_000
  return c

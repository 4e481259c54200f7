"""The original MLP GAN's exact layers, trained with jaxgan's stabilizers: no more collapse onto two digits.

  python scripts/train.py --config=jaxgan/configs/mlp_mnist_stable.py --workdir=runs/mlp_mnist_stable

Same G (100→256→512→1024→784, tanh) and D (784→1024→512→256→1, LeakyReLU 0.2), same init, batch, latents, Adam
2e-4 β=(0.5, 0.999) and losses as `mlp_mnist`; added: an R1 penalty on D's gradient at real digits (Mescheder et
al. 2018; weight 5, lazily every 4th D update as in StyleGAN2) and an EMA of G (decay 0.999). Measured at
3,000 steps (docs/experiments.md): all ten digits and judge v1 FD 132 for the EMA generator vs 452 with two digits for the
faithful preset; a minibatch-stddev feature in D instead of R1 did worse (FD 345, 8 digits; EMA 569, 4 digits).
"""
from jaxgan.configs import mlp_mnist


def get_config():
  c = mlp_mnist.get_config()
  c.penalty.name = "r1"
  c.penalty.weight = 5.0
  c.penalty.interval = 4
  c.ema_decay = 0.999
  return c

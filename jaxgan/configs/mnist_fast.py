"""The default preset: recognisable digits of all ten classes from the offline MNIST digits in a few CPU minutes.

  python scripts/train.py        # = --config=jaxgan/configs/mnist_fast.py --workdir=runs/mnist_fast

A class-conditional Radford-style DCGAN at half width: conv G with conditional BatchNorm (γ, β per digit), conv D
with a projection head (Miyato & Koyama 2018), labels from the dataset; Adam 5e-4 β=(0.5, 0.999) for both nets
(2.5× the classic 2e-4: measured to reach a given judge distance in fewer steps here), an EMA generator, and
2,000 steps of batch 64 (under 5 minutes on an idle 2-core CPU with compilation). On XLA:CPU the loop runs 4 steps
per call in a rolled scan (see docs/speed.md).

Why conditional: the unconditional recipe at the same budget scored judge v1 FD 87.9 (12× the floor) with classes 4.6:1
out of balance; conditioning on the digit and sampling every digit equally often gave FD 22 (3.1×) and 1.1:1.
`--config.model.num_classes=0` trains the unconditional variant.
"""
from jaxgan.configs import base


def get_config():
  c = base.get_config()
  c.steps = 2_000
  c.checkpoint_every = 500
  c.sample_every = 500
  c.model.name = "dcgan"
  c.model.latent_dim = 100
  c.model.width = 0.5
  c.model.num_classes = 10        # conditional on the digit: balanced classes by construction when sampling
  c.model.cond_d = "projection"
  c.ema_decay = 0.99
  c.optim.g.lr = 5e-4
  c.optim.d.lr = 5e-4
  return c

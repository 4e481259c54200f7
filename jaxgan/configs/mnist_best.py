"""The best MNIST recipe within a 30-minute CPU budget: the default preset trained 3× longer with a decaying rate.

  python scripts/train.py --config=jaxgan/configs/mnist_best.py --workdir=runs/mnist_best

The default's class-conditional half-width DCGAN (conditional BatchNorm G, projection D), Adam 5e-4 β=(0.5, 0.999)
decayed along a cosine to 5e-5 over the run, 6,000 steps of batch 64, and a longer-memory EMA generator (0.999, with
StyleGAN2-ADA's ramp-up so early samples are not stuck near the initial weights). Results: README "Results".
"""
from jaxgan.configs import mnist_fast


def get_config():
  c = mnist_fast.get_config()
  c.steps = 6_000
  c.checkpoint_every = 1000
  c.sample_every = 1000
  c.ema_decay = 0.999
  c.ema_rampup = 0.05
  for o in (c.optim.g, c.optim.d):
    o.lr_decay_steps = c.steps
    o.lr_final_ratio = 0.1
  return c

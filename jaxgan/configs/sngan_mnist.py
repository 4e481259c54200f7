"""SNGAN's ResNet family on the offline MNIST digits, sized for a CPU.

  python scripts/train.py --config=jaxgan/configs/sngan_mnist.py --workdir=runs/sngan_mnist

28×28×1 ResNets at width 1/8 (G: z ∈ R^128 → 7×7×32 → 2 up-blocks of 32 → 28×28, 242k params; D: 16 channels,
optimized block 28→14, a down block 14→7, two blocks at 7×7, every layer spectrally normalized, 17k params), hinge
loss. The ResNet G keeps its width up to 28×28, so it costs far more per image than the DCGANs: measured ≈ 1.3-1.8 s
per step of 64 on one pinned core of the loaded 2-core CPU (width 1/4: ≈ 6 s), i.e. most of an hour for the 2,000
steps here. To keep that short it takes one D update per G update with the paper's setting "C" (Adam lr 2e-4,
β = (0.5, 0.999), n_critic = 1), under which SN-GANs stayed stable in Miyato et al.'s Table 1/Fig. 1 (the CIFAR
recipe, sngan_cifar10, is β = (0, 0.9), n_critic = 5), plus an EMA generator as in mnist_fast. Not tuned by
quality runs.
"""
from jaxgan.configs import base


def get_config():
  c = base.get_config()
  c.steps = 2_000
  c.checkpoint_every = 500
  c.sample_every = 500
  c.model.name = "resnet"
  c.model.spectral_norm_d = True
  c.model.latent_dim = 128
  c.model.image_shape = (28, 28, 1)
  c.model.width = 0.125
  c.loss.name = "hinge"
  c.n_critic = 1
  c.ema_decay = 0.99
  c.optim.g.lr = c.optim.d.lr = 2e-4
  c.optim.g.b1 = c.optim.d.b1 = 0.5
  c.optim.g.b2 = c.optim.d.b2 = 0.999
  return c

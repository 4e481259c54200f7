"""SNGAN on CIFAR-10 (Miyato et al. 2018, ResNet, hinge loss): the paper's CIFAR-10 ResNet recipe.

  python scripts/train.py --config=jaxgan/configs/sngan_cifar10.py --workdir=runs/sngan_cifar10

Needs CIFAR-10 prepared for TFDS once (on a machine with a network: add `--config.data.download=True`, or
`python -c "import tensorflow_datasets as tfds; tfds.data_source('cifar10')"`) and a GPU/TPU: 50,000 G updates ×
5 D updates of the 4.3M/1.1M-parameter ResNets are far beyond a CPU.

G: z ∈ R^128 → 4×4×256 → 3 ResNet up-blocks (256 ch) → BN-ReLU-Conv3-tanh; D: optimized block + 3 ResNet blocks
(128 ch), every layer spectrally normalized, ReLU, global sum pool, linear (jaxgan/models/resnet.py). Hinge loss,
Adam lr 2e-4, β = (0, 0.9) for both nets, n_critic = 5, batch 64, 50k G updates, no EMA (the paper's setting;
Mimicry's reproduction adds linear lr decay and a 128-sample G batch, not used here). Class-conditional
(cGAN-pd): `--config.model.num_classes=10` once labels flow through the engine (projection D by default).
"""
from jaxgan.configs import base


def get_config():
  c = base.get_config()
  c.steps = 50_000                # G updates
  c.batch_size = 64
  c.n_critic = 5
  c.checkpoint_every = 5_000
  c.sample_every = 5_000
  c.model.name = "resnet"
  c.model.spectral_norm_d = True
  c.model.latent_dim = 128
  c.model.image_shape = (32, 32, 3)
  c.model.width = 1.0             # G 256 channels, D 128 (the paper's CIFAR-10 ResNet)
  c.loss.name = "hinge"
  c.optim.g.lr = c.optim.d.lr = 2e-4
  c.optim.g.b1 = c.optim.d.b1 = 0.0
  c.optim.g.b2 = c.optim.d.b2 = 0.9
  c.data.name = "tfds:cifar10"
  return c

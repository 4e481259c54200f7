"""Class-conditional DCGAN on the offline MNIST digits, full width: `sample.py --class=C` draws a chosen digit.

  python scripts/train.py --config=jaxgan/configs/cgan_mnist.py --workdir=runs/cgan_mnist
  python scripts/sample.py --workdir=runs/cgan_mnist --class=7 --num=64 --out=sevens.npz

G: conditional BatchNorm (γ, β per class, de Vries et al. 2017); D: projection head (Miyato & Koyama 2018), or an
auxiliary classifier with --config.model.cond_d=acgan (AC-GAN, Odena et al. 2017; `aux_weight` scales its class
loss). Labels come from the dataset (mnist_offline, tfds:mnist, tfds:fashion_mnist, tfds:cifar10 with
--config.model.image_shape="(32, 32, 3)", or an .npz with a `labels` array). The default preset is this recipe at
half width and 2,000 steps.
"""
from jaxgan.configs import base


def get_config():
  c = base.get_config()
  c.steps = 6_000
  c.checkpoint_every = 1000
  c.sample_every = 1000
  c.model.name = "dcgan"
  c.model.width = 1.0
  c.model.num_classes = 10
  c.model.cond_d = "projection"
  c.ema_decay = 0.999
  c.ema_rampup = 0.05
  c.optim.g.lr = 2e-4
  c.optim.d.lr = 2e-4
  return c

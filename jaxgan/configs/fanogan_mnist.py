"""f-AnoGAN (Schlegl et al. 2019) on one MNIST digit class: the one-class anomaly-detection protocol.

  python scripts/train.py --config=jaxgan/configs/fanogan_mnist.py --config.data.classes="(3,)" --workdir=runs/fano3
  python scripts/anomaly.py --workdir=runs/fano3 --json        # test digits: 3 normal, the rest anomalous → AUROC

Stage 0: WGAN-GP (Wasserstein loss, gradient penalty λ = 10, layer-norm critic, Adam β = (0, 0.9)) on the ~5,500
training digits of the chosen class of `mnist_full`, 600 G steps; stage 1: 600 steps of the izi_f encoder (κ = 1)
against the frozen G and D (jaxgan/fanogan.py). Sized for about 6 CPU-minutes per class (benchmarks/anomaly_mnist.py)
on a 2-core CPU, so smaller than the paper's: DCGAN nets at half width, batch 32, 3 critic updates per G update (the
paper: 5), rates 2e-4 (the paper: 1e-4).
"""
import ml_collections

from jaxgan.configs import base


def get_config():
  c = base.get_config()
  c.objective = "fanogan"
  c.model.name = "dcgan"
  c.model.width = 0.5
  c.model.d_norm = "layer"
  c.model.latent_dim = 64
  c.loss.name = "wasserstein"
  c.n_critic = 3
  c.penalty.name, c.penalty.weight, c.penalty.interval = "gp", 10.0, 1
  c.optim.g = ml_collections.ConfigDict(dict(name="adam", lr=2e-4, b1=0.0, b2=0.9))
  c.optim.d = ml_collections.ConfigDict(dict(name="adam", lr=2e-4, b1=0.0, b2=0.9))
  c.fanogan = ml_collections.ConfigDict(dict(
      gan_steps=600, kappa=1.0, optim=ml_collections.ConfigDict(dict(name="adam", lr=5e-4, b1=0.5, b2=0.999))))
  c.steps = 600 + 600               # GAN steps, then encoder steps
  c.batch_size = 32
  c.data.name = "mnist_full"
  c.data.split = "train"
  c.data.classes = (0,)             # the normal class; () trains on every digit
  c.checkpoint_every = 300
  c.sample_every = 600
  c.first_sample = 0
  return c

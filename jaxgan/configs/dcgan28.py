"""The 28x28 DCGAN of `shared/bench/torch_dcgan28.py` exactly (Lucic et al. 2018 InfoGAN-style nets), for speed
comparisons: same layers, z = 64, non-saturating loss, Adam(2e-4, β=(0.5, 0.999)), batch 64.

  python scripts/benchmark.py --config=jaxgan/configs/dcgan28.py
"""
from jaxgan.configs import base


def get_config():
  c = base.get_config()
  c.steps = 10_000
  c.model.name = "dcgan28"
  c.model.latent_dim = 64
  c.loss.name = "non_saturating"
  return c

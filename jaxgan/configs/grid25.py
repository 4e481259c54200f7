"""Grid-25 (25 Gaussians on {−4, −2, 0, 2, 4}², std 0.05): PacGAN protocol, ≥ 24.9/25 modes, ≥ 97% high quality.

  python benchmarks/mixtures.py --config=jaxgan/configs/grid25.py --seeds=10
  python scripts/train.py --config=jaxgan/configs/grid25.py --workdir=runs/grid25
"""
from jaxgan.configs import ring8


def get_config():
  c = ring8.get_config()
  c.data.name = "mixture:grid25"
  c.model.scale = 4.0             # the grid spans ±4: both nets work on unit-scale points
  return c

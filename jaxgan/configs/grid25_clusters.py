"""Grid-25, cluster-conditioned: k-means labels of the data condition G and D (jaxgan/data/clusters.py). Measured
(10 seeds, one thread): 25 ± 0 modes, 97.9 ± 0.3 % high quality, reverse KL 0.0056 ± 0.0005, 46 CPU-s a run.

  python benchmarks/mixtures.py --config=jaxgan/configs/grid25_clusters.py --seeds=10
  python scripts/train.py --config=jaxgan/configs/grid25_clusters.py --workdir=runs/grid25_clusters

Still an unconditional generative model: no label comes from outside the data. Before training, k-means (50
clusters, twice the grid's 25 modes, so the number of modes need not be known) labels the training points; G(z, y)
and a projection D(x, y) train on those labels, and sampling draws y in proportion to the clusters' sizes. This is
the static form of Liu et al.'s self-conditioned GAN (CVPR 2020). It removes what caps the plain `grid25` preset's
high-quality fraction at ≈ 91 %: a plain G is continuous in z, so it leaves a bridge of samples between every two
neighbouring modes it maps z to. Conditioned on a cluster, G draws one Gaussian (or half of one), with no
neighbour to bridge to.

The `grid25` recipe otherwise (MLPs of width 128, a 2-D latent, Adam β = (0, 0.99), cosine decay, EMA), with:
- no PacGAN (packing and conditional D do not combine, and the clusters already guard the modes);
- no R1: with it (γ = 0.1, lazy) 98.7 ± 0.2 % high quality at 69 CPU-s, without it 99.0 ± 0.1 % at 63 (3 seeds,
  20,000 steps);
- 12,000 steps (the cosine decay over the same): 98.8 ± 0.2 %, KL 0.0056 ± 0.0004 at ≈ 45 CPU-s a run, the
  clustering (≈ 3 s) included (3 seeds); 15,000 steps gave the same quality.
"""
from jaxgan.configs import grid25


def get_config():
  c = grid25.get_config()
  c.steps = 12_000
  c.optim.g.lr_decay_steps = c.optim.d.lr_decay_steps = c.steps
  c.sample_every = 6_000
  c.checkpoint_every = 6_000
  c.data.clusters = 50
  c.model.num_classes = 50
  c.pack = 1
  c.penalty.name = "none"
  return c

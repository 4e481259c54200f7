"""The best MNIST recipe for about 30 CPU-minutes: the default preset, trained 7.5× longer with DiffAugment.

  python scripts/train.py --config=jaxgan/configs/mnist_best.py --workdir=runs/mnist_best  # ≈ 22 min on 2 cores
  # the measured row, one XLA thread on one core (≈ 31 CPU-minutes; with both cores ≈ 35):
  XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" taskset -c 1 \
      python scripts/train.py --config=jaxgan/configs/mnist_best.py --workdir=runs/mnist_best

The default (`mnist_fast`: conditional half-width DCGAN, Adam 5e-4) plus:
- DiffAugment translation (Zhao et al. 2020) on everything D sees, real and fake alike. The offline training set
  has 5,000 digits, and on so little data D overfits. Without augmentation, 3× the steps bought nothing
  (judge FD 22.6 → 23.4); with translation, 6,000 steps reached 17.5.
- 15,000 steps. Constant rates: a cosine decay to 0.1× over 16,000 steps scored 15.97 against 14.17 (EMA G, both
  sampled with the raw G's statistics).
- An EMA generator with a longer half-life (0.999, ramped up over the first 5 % of training as in StyleGAN2-ADA),
  sampled with standing BatchNorm statistics (`standing_stats`, the default).

Measured (one thread): seed 0 judge FD 13.89 = 1.93× the floor, classes within 1.06, 30.8 CPU-minutes; seed 1
15.40 = 2.14×, classes 1.11. README "Results", docs/results/mnist_best.json and mnist_best_seed1.json.
"""
from jaxgan.configs import mnist_fast


def get_config():
  c = mnist_fast.get_config()
  c.steps = 15_000
  c.checkpoint_every = 3_000
  c.sample_every = 3_000
  c.augment = "translation"
  c.ema_decay = 0.999
  c.ema_rampup = 0.05
  return c

"""Stacked MNIST (1,000 modes): three offline digits stacked as the RGB channels of one 28×28×3 image.

  python scripts/train.py --config=jaxgan/configs/stacked_mnist.py --workdir=runs/stacked_mnist
  python benchmarks/stacked.py --config=jaxgan/configs/stacked_mnist.py --workdir=runs/stacked_mnist  # + score

Unconditional (the protocol counts the digit triples an unconditional G covers): the full-width DCGAN on 3
channels, PacGAN2 (D judges pairs of samples; PacDCGAN2 is the best published row: 1,000 modes, KL 0.06), a
minibatch-stddev feature in D (over groups of 4 packs, i.e. 8 samples), minibatch discrimination in D (50 kernels
of 5 numbers, soft neighbour counts over all 32 packs of a batch), lazy R1 (γ = 0.1 on every 4th D update), Adam
5e-4 β = (0.5, 0.999), EMA 0.999 with ramp-up, 15,000 steps, no augmentation. Data: 50,000 stacks drawn from the
5,000 embedded training digits (triples uniform over the 1,000). Scored on 26,000 samples with the MNIST judge (v1) per
channel.

Budget: ≈ 85 CPU-minutes on one thread of this project's 2-core CPU (2.5–2.9 steps a second on the VM of
2026-12-01; `python benchmarks/results.py --run=stacked_mnist` trains it pinned to one core). Measured there (EMA
G): seed 0 1,000 modes, KL 0.038 (0.018 of it the channels' digit balance, 0.020 their dependence, which is the
real stacks' floor of 0.020 at this sample count); seed 1 1,000 / 0.053 (0.025, 0.028); mean 0.045 ± 0.008
(PacDCGAN2: 0.06). The run is not monotone: seed 0 scored 0.18 at 7,000 steps, 0.069 at 10,000, 0.055 at
11,000, 0.043 at 13,000.

Minibatch discrimination is what fixed the balance. Without it (the preset before 2026-12-01's last change) the
same recipe scored 0.088 and 0.094 (balance 0.064 and 0.069) in 75 CPU-minutes: G drew 9s and 7s too often and 1s
too rarely in every channel, and D could not see it, since no per-sample D can tell that a batch repeats one kind
of digit too often (its logits scored the over-drawn 9s like every other digit). Counting each pack's near
neighbours in the batch lets D see the over-drawn digits, and G must spread them.

Before minibatch discrimination (the notes below were measured without it): seed 0 trained on to 20,000 and
25,000 steps stayed at 0.085 / 0.086 (a plateau); its raw G (no EMA) at 15,000 steps: 0.115. Seed 0 without
minibatch-stddev: 0.0997 on this CPU, 0.095 on one H200. The recipe before that (half width, DiffAugment
translation, no R1, 6,000 steps) scored 968 / 0.40 in 9.9 CPU-minutes; `stacked_mnist_clusters` (that recipe,
cluster-conditioned) is the ≈ 10-minute budget.

What the KL is made of, and what moved it (seed 0 unless said; before minibatch-stddev, on an H200 unless said;
`benchmarks/stacked.py` reports the split, and `--grid` draws each channel's digits grouped by the judge's class):
- The KL to uniform over triples is the sum of each channel's digit imbalance and the channels' dependence. Most of
  it is the imbalance: G draws some digits (1s) at a fraction of their share and others (7s, 9s) too often.
- Half width with translation: 963 / 0.39 at 6,000 steps, 998 / 0.34 at 15,000, 997 / 0.36 at 30,000.
- Full width: 988 / 0.28, 1,000 / 0.23, 1,000 / 0.25. PacGAN4 instead of 2 was worse (941 / 0.63 at 6,000).
- At full width and 15,000 steps, DiffAugment hurt the balance (translation 0.23, translation + cutout 0.30,
  none 0.16 and 0.13 on seeds 0 and 1): the 5,000 digits make 50,000 distinct stacks, so D does not overfit as it
  does on MNIST.
- Without augmentation: lazy R1 γ = 0.1 0.095; rates 1e-3 0.14; width 1.5 0.14; D rate 1e-3 0.16; EMA 0.9999 0.16;
  Adam β = (0, 0.99) 0.18; no packing 0.18; batch 128, rate 2e-4, hinge loss, no EMA (all with translation): 0.23–0.29.
- With minibatch-stddev, on this CPU (2026-12-01, seed 0 unless said, one thread; 26,000 samples unless said): lazy
  R1 γ = 0.3 0.081 (balance 0.057) on seed 0 but 0.114 (0.088) on seed 1, mean 0.098 against this preset's 0.091
  (0.088, 0.094), so γ stays 0.1; γ = 1.0 0.095 (0.070). Both were ahead early (KL of 10,000 samples at 4,000 steps:
  0.38 and 0.37, this preset 0.47), then the preset caught up. γ = 0.3 with both rates cosine-decayed to 0 over the
  15,000 steps (`optim.g/d.lr_decay_steps` set in a config file; no flag adds the key): 0.114 (0.088), against
  0.081 at constant rates. Minibatch-stddev over all 32 packs of a batch (`--config.model.mbstd_group=32`), at
  13,000 steps: 0.131 and 0.102 on seeds 0 and 1, where this preset's 13,000-step checkpoints have 0.099 and 0.102.
  No
  normalisation in D (`--config.model.d_norm=none`: one joint real+fake pass, nothing normalised per batch) is not
  what fixes the balance: 1,000 / 0.198 when stopped at 10,956 steps, 9s still the most drawn (18 % at 10,000);
  `d_norm=layer` was no better than BatchNorm at 3,000–4,000 steps and was stopped there.
- Cluster-conditioned at full width (this preset with `--config.pack=1 --config.data.clusters=100
  --config.model.num_classes=100`; this CPU, one thread each, 0.9–1 step a second. Unpacked, D sees twice as many
  inputs: `scripts/benchmark.py` gives 1.0 step a second with `--config.pack=1`, with or without the clusters,
  against 1.9 for this preset):
  - with translation: 995 / 0.23 at 3,000 steps, 999 / 0.128 at 6,000 (balance 0.087), 1,000 / 0.129 at 10,000
    (175 CPU-minutes): a plateau;
  - without augmentation (lazy R1 as here): 985 / 0.31 at 3,000, 997 / 0.20 at 4,000, 999 / 0.127 at 5,000
    (balance 0.090), still falling when stopped. Next to try, on a GPU: this one at 15,000 steps.
  Unconditioned, full width was at 0.28 after 6,000 steps (H200, translation).
- InfoGAN codes (2026-12-01, this CPU, one thread, seed 0, 26,000 samples): three uniform 10-way codes appended to
  z (`--config.model.info_codes="(10,10,10)"`, Q a head on D's features, `info_weight` 1) scored 1,000 / 0.113
  (balance 0.078, dependence 0.035) at 15,000 steps in 84 CPU-minutes, against this preset's 0.088; 0.121 at
  13,000 (this preset: 0.099). Q reads the codes back (cross-entropy ≈ 0.05 from 2,000 steps on), but they do not
  pick digits: the judge's most common digit of a code value in any channel covers 16–31 % of it, so uniform codes
  do not make the digits uniform, and 9s are still the most drawn (16 %). With Q reading code c from channel c
  alone (`--config.model.info_per_channel=True`) each code keeps to its channel (32–34 % purity there, 15–20 %
  elsewhere) but still not to its digits: 988 / 0.306 at 5,000 steps (the cluster-conditioned run above: 0.127),
  stopped there (2.2 steps a second).
- Rejection sampling of G's samples towards the data's histogram over 500 k-means cells of the stacks' first 64
  principal components did not move the balance (0.316 → 0.317, the no-augmentation run at 2,000 steps): pixel-PCA
  cells do not separate the digits of each channel. Nor does D know the imbalance, so discriminator rejection
  sampling cannot fix it: scoring 52,000 samples of the γ = 0.3 seed-0 run by D's mean logit over 4 random
  packings, the over-drawn 9s score like every other digit and the under-drawn 1s lowest; resampling 26,000 of them
  with weights exp(β·score) left the balance at 0.053–0.066 for β = 0.25–2 (KL 0.087–0.106, duplicates
  included), where the first 26,000 unweighted have 0.053 (KL 0.076).
"""
import ml_collections

from jaxgan.configs import base


def get_config():
  c = base.get_config()
  c.steps = 15_000
  c.checkpoint_every = 1000
  c.sample_every = 1000
  c.data.name = "stacked_mnist"
  c.data.num = 50_000
  c.data.seed = 0
  c.model.name = "dcgan"
  c.model.image_shape = (28, 28, 3)
  c.model.width = 1.0
  c.pack = 2
  c.model.mbstd = True  # minibatch-stddev over groups of 4 packs in D
  c.model.mbdisc = 50   # minibatch discrimination in D: 50 kernels of 5, neighbour counts over all 32 packs
  c.model.mbdisc_group = 32
  c.augment = ""
  c.penalty = ml_collections.ConfigDict(dict(name="r1", weight=0.1, interval=4))
  c.ema_decay = 0.999
  c.ema_rampup = 0.05
  c.optim.g.lr = 5e-4
  c.optim.d.lr = 5e-4
  return c

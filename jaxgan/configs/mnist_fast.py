"""The original PyTorch MLP GAN, reproduced faithfully (it collapses onto a few digits: that is the point).

  python scripts/train.py --config=jaxgan/configs/mlp_mnist.py --workdir=runs/mlp_mnist
"""
import ml_collections


def get_config():
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.steps = 20_000              # G updates
  c.batch_size = 64             # global, split over devices
  c.n_critic = 1
  c.ema_decay = 0.0
  c.nonfinite = "stop"          # stop | skip
  c.steps_per_call = 0          # K; 0 = chosen per backend
  c.unroll = 0                  # scan unroll; 0 = chosen per backend

  c.model = ml_collections.ConfigDict()
  c.model.name = "mlp"
  c.model.latent_dim = 100
  c.model.image_shape = (28, 28, 1)
  c.model.width = 1.0
  c.model.dtype = "float32"     # compute dtype; params, losses and optimizer stay float32

  c.loss = ml_collections.ConfigDict()
  c.loss.name = "non_saturating"  # the original: D cross-entropy, G −log D(G(z))

  c.optim = ml_collections.ConfigDict()
  c.optim.g = ml_collections.ConfigDict(dict(name="adam", lr=2e-4, b1=0.5, b2=0.999))
  c.optim.d = ml_collections.ConfigDict(dict(name="adam", lr=2e-4, b1=0.5, b2=0.999))

  c.data = ml_collections.ConfigDict()
  c.data.name = "mnist_offline"   # offline 5k digits; or tfds:<name>, or a path to .npz/.npy/image folder
  c.data.split = "train"
  return c

"""Keys every preset has; a preset calls `base.get_config()` and changes what its recipe needs."""
import ml_collections


def get_config():
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.objective = "gan"           # what the run trains (jaxgan/objective.py registry; docs/architecture.md)
  c.steps = 10_000              # G updates
  c.batch_size = 64             # global, split over devices
  c.n_critic = 1                # D updates per G update
  c.ema_decay = 0.0             # EMA of G's params; 0 = off
  c.nonfinite = "stop"          # stop | skip: a non-finite loss/gradient stops the run, or the update is skipped
  c.ema_rampup = 0.0            # StyleGAN2-ADA EMA ramp-up (see jaxgan/gan.py); 0 = constant decay
  c.standing_stats = 32         # EMA G with BatchNorm samples with statistics recomputed for its own weights
                                # from this many batches of 256 (GAN.standing_stats); 0 = reuse G's running ones
  c.augment = ""                # DiffAugment for D, e.g. "translation,cutout,color"
  c.pack = 1                    # PacGAN: D judges `pack` samples at once
  c.sanitize_grads = False      # non-finite gradient entries -> 0
  c.aux_weight = 1.0            # AC-GAN class loss weight (model.cond_d = "acgan")
  c.info_weight = 1.0           # InfoGAN code loss weight (model.info_codes)
  c.penalty = ml_collections.ConfigDict(dict(name="none", weight=10.0, interval=1))  # gp | dragan | r1 | r2
  c.lazy = "auto"               # lazy terms: cond (skip their compute) | mask (compute, count every N-th) | auto
                                # (= cond; objective.py)
  c.steps_per_call = 0          # K train steps per compiled call; 0 = chosen per backend
  c.unroll = 0                  # scan unroll; 0 = chosen per backend
  c.checkpoint_every = 1000     # steps (rounded up to a multiple of K)
  c.keep_checkpoints = 3
  c.sample_every = 1000         # sample grid + loss plot every N steps
  c.first_sample = 100          # and once early, at this step (a first picture in seconds; 0 = off)

  c.eval = ml_collections.ConfigDict()
  c.eval.metrics = ()           # e.g. ("mnist_fd",): scored during training, logged as eval/<metric>/<key>
  c.eval.every = 1000
  c.eval.num = 1000             # samples per evaluation (fixed seed 0)
  c.eval.best = ""              # e.g. "mnist_fd/fd": keep the best checkpoint under <workdir>/best/

  c.model = ml_collections.ConfigDict()
  c.model.name = "mlp"
  c.model.latent_dim = 100
  c.model.image_shape = (28, 28, 1)
  c.model.width = 1.0
  c.model.dtype = "float32"     # compute dtype; params, losses and optimizer states stay float32
  c.model.mbstd = False         # minibatch-stddev feature in D (mlp, mixture_mlp, dcgan, resnet; models/ops.py)
  c.model.mbstd_group = 4       # samples per minibatch-stddev group (the per-device batch, packed, must divide by it)
  c.model.mbdisc = 0            # minibatch discrimination in D (dcgan, mlp): this many kernels; 0 = off
  c.model.mbdisc_dim = 5        # numbers per kernel
  c.model.mbdisc_group = 16     # samples (packs) per group (the per-device batch, packed, must divide by it)
  c.model.spectral_norm_d = False  # spectral norm on every D layer (dcgan; resnet presets turn it on)
  c.model.spectral_norm_g = False  # and on G (resnet)
  c.model.d_norm = "batch"      # dcgan D's normalisation: batch | layer | none
  c.model.num_classes = 0       # > 0: class-conditional G and D, labels from the dataset (see jaxgan/gan.py)
  c.model.cond_d = "projection"  # how a conditional D uses labels: projection | acgan
  c.model.info_codes = ()       # InfoGAN: categorical code sizes appended to z, e.g. (10,); Q head on D (dcgan)
  c.model.info_per_channel = False  # Q reads code c from image channel c alone (one code per channel)

  c.loss = ml_collections.ConfigDict()
  c.loss.name = "non_saturating"  # minimax | non_saturating | hinge | wasserstein | least_squares

  c.optim = ml_collections.ConfigDict()
  c.optim.g = ml_collections.ConfigDict(dict(name="adam", lr=2e-4, b1=0.5, b2=0.999))
  c.optim.d = ml_collections.ConfigDict(dict(name="adam", lr=2e-4, b1=0.5, b2=0.999))

  c.data = ml_collections.ConfigDict()
  c.data.name = "mnist_offline"   # offline 5k real digits; tfds:<name>; or a path to .npz/.npy/an image folder
  c.data.split = "train"
  c.data.data_dir = ""            # TFDS data_dir ("" = TFDS_DATA_DIR or ~/tensorflow_datasets)
  c.data.download = False         # let TFDS download and prepare (needs a network)
  c.data.clusters = 0             # K > 0: a cluster-conditioned GAN on the data's k-means labels (set model.num_classes
                                  # = K; sampling draws clusters as often as they occur; jaxgan/data/clusters.py)
  c.data.cluster_pca = 64         # k-means runs on this many principal components of the flattened images
  c.data.resolution = 64          # emoji: images resized to this size, 8..72 (its PNGs are 72×72)
  c.data.pad = 0                  # pixels of 0 (black) on each side of every image; 2: MNIST 28×28 → 32×32
  return c

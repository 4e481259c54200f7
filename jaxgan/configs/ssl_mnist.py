"""Semi-supervised MNIST, 100 labels (Salimans et al. 2016, permutation-invariant MLP; jaxgan/ssl.py):

  python scripts/semi_supervised.py --config=jaxgan/configs/ssl_mnist.py --workdir=runs/ssl_mnist --seeds=0,1,2,3,4
  python scripts/semi_supervised.py --supervised --workdir=runs/ssl_mnist_supervised --seeds=0,1,2,3,4   # the baseline

The baseline (`--supervised`, i.e. ssl.unsup_weight = 0 and ssl.supervised_steps steps) trains the same D on
the 100 labelled digits alone: no fake class, no unlabelled digits, no G updates.

D 784-1000-500-250-250-250-10 with Gaussian noise (0.3 on [0, 1] pixels, 0.5 on hidden units) and weight
normalisation; G 100-500-500-784 (batch norm, softplus, weight-normalised sigmoid output); 10 labels per class
chosen by ssl.label_seed; batches of 100 labelled + 100 unlabelled (D) + 100 unlabelled (G) digits a step; Adam
3e-3, β₁ 0.5 (the paper's settings). The paper trains 300 epochs (≈ 165,000 steps of 100 over 55,000 digits);
`steps` here is what 60 CPU-minutes allow (see the notes on budgets).
"""
from jaxgan.configs import base


def get_config():
  c = base.get_config()
  c.objective = "ssl"
  c.steps = 30_000
  c.batch_size = 100              # unlabelled digits per batch (D and G each get one batch of this size a step)
  c.checkpoint_every = 1000
  c.sample_every = 5000
  c.first_sample = 0
  c.data.name = "mnist_full"
  c.model.name = "ssl_mlp"
  c.model.latent_dim = 100
  c.model.ssl_classes = 10
  c.model.input_noise = 0.6       # σ on [-1, 1] pixels = the paper's 0.3 on [0, 1]
  c.model.hidden_noise = 0.5
  c.model.ssl_v_init = 0.05        # the paper's code: 0.1
  c.model.ssl_train_hidden_scale = True   # the paper's code: False (g fixed by the data-dependent init)
  c.optim.g = dict(name="adam", lr=3e-3, b1=0.5, b2=0.999)
  c.optim.d = dict(name="adam", lr=3e-3, b1=0.5, b2=0.999)
  c.ssl = dict(labels_per_class=10, label_seed=0, labelled_batch=100, unsup_weight=1.0, fm_weight=1.0,
               test_data="", eval_every=1000, supervised_steps=3000,
               data_init=0,     # the paper's code: 500 (D's data-dependent init on that many training digits)
               d_ema=0.0)       # the paper's code: 0.9999 (an average of D classifies the test digits)
  return c

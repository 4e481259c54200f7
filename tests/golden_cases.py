"""Golden cases: every preset (and every feature no preset turns on) at tiny width, a fixed seed and a few steps,
on 1 and 4 devices. `tests/test_golden.py` re-runs them and compares with the record in tests/data/golden/.

Record anew (only when a change is *meant* to move the numbers; say why in the commit):

  python tests/golden_cases.py --record [CASE ...]    # all cases, or only the named ones (the others kept)

The data are synthetic (fixed numpy draws of the preset's shape), so the record checks the engine, not a
dataset reader. Each run returns a flat dict of canonical names -> arrays: the final state by player
(`g/params/...`, `d/opt/...`, `g/ema/...`), the stacked metrics (`metrics/<name>`) and a sample batch.
"""
import importlib
import os
import sys

if __name__ == "__main__":  # the same XLA flags as the suite (tests/conftest.py), so the record is bit-exact
  sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
  import conftest  # noqa: F401  (not `tests.conftest`: site-packages may hold a `tests` package)

import jax
import numpy as np

GOLDEN_DIR = os.path.join(os.path.dirname(__file__), "data", "golden")
STEPS = 4
BATCH = 16

# name -> (preset, overrides, streamed data)
CASES = {
    "mlp_mnist": ("mlp_mnist", {"model.width": 0.0625}, False),
    "mlp_mnist_stable": ("mlp_mnist_stable", {"model.width": 0.0625}, False),
    "mnist_best": ("mnist_best", {"model.width": 0.0625}, False),
    "mnist_fast": ("mnist_fast", {"model.width": 0.0625}, False),
    "mnist_fast_streamed": ("mnist_fast", {"model.width": 0.0625}, True),
    "dcgan28": ("dcgan28", {"model.width": 0.0625}, False),
    "dcgan_mnist": ("dcgan_mnist", {"model.width": 0.0625}, False),
    "cgan_mnist": ("cgan_mnist", {"model.width": 0.0625}, False),
    "sngan_mnist": ("sngan_mnist", {"model.width": 0.0625}, False),
    "sngan_cifar10": ("sngan_cifar10", {"model.width": 0.0625, "n_critic": 2}, False),
    "wgan_mnist": ("wgan_mnist", {"model.width": 0.0625}, False),
    "wgan_gp_mnist": ("wgan_gp_mnist", {"model.width": 0.0625}, False),
    "wgan_gp_streamed": ("wgan_gp_mnist", {"model.width": 0.0625, "n_critic": 2}, True),
    "grid25": ("grid25", {"model.width": 16}, False),
    "grid25_clusters": ("grid25_clusters", {"model.width": 16, "data.clusters": 5, "model.num_classes": 5}, False),
    "ring8": ("ring8", {"model.width": 16}, False),
    "stacked_mnist": ("stacked_mnist", {"model.width": 0.0625, "model.mbdisc": 4}, False),
    "stacked_mnist_clusters": ("stacked_mnist_clusters", {"model.width": 0.0625, "data.clusters": 5,
                                                          "model.num_classes": 5}, False),
    # Features no preset turns on.
    "acgan": ("cgan_mnist", {"model.width": 0.0625, "model.cond_d": "acgan", "aux_weight": 0.5}, False),
    "infogan": ("dcgan_mnist", {"model.width": 0.0625, "model.info_codes": (3, 4), "info_weight": 0.7}, False),
    "infogan_channels": ("stacked_mnist", {"model.width": 0.0625, "model.info_codes": (3, 3, 3),
                                           "model.info_per_channel": True, "model.mbdisc": 0}, False),
    "dragan_r2": ("dcgan_mnist", {"model.width": 0.0625, "model.d_norm": "none", "penalty.name": "dragan",
                                  "penalty.interval": 2, "optim.d.name": "optimistic_adam",
                                  "optim.g.lr_decay_steps": 10, "sanitize_grads": True}, False),
    # Progressive GAN: 16 px (stages 4, 8, 16); stage 0 for 4 steps, then stage 1 fading in over 2 steps (`run`)
    "progan_mnist": ("progan_mnist", {"model.image_shape": (16, 16, 1), "model.channel_base": 64,
                                      "model.channel_max": 8, "model.latent_dim": 8, "progan.stage_images": (64, 64, 64),
                                      "progan.fade_images": (0, 32, 32)}, False),
    "progan_emoji": ("progan_emoji", {"model.image_shape": (16, 16, 3), "model.channel_base": 64,
                                      "model.channel_max": 8, "model.latent_dim": 8, "progan.stage_images": (64, 64, 64),
                                      "progan.fade_images": (0, 32, 32), "progan.stage_batch": (16, 16, 16)}, False),
    # StyleGAN2-ADA: 8 px, tiny widths; path length every 2nd step and R1 every 3rd, so 4 steps hold both; ADA
    # adjusted every 2nd step with a large step (kimg 0.1) so p moves
    **{name: (name, {"model.image_shape": (8, 8, channels), "model.channel_base": 32, "model.channel_max": 8,
                     "model.latent_dim": 8, "model.w_dim": 8, "model.map_layers": 2, "model.mbstd_group": 4,
                     "stylegan2.pl_interval": 2, "stylegan2.r1_interval": 3, "stylegan2.r1_gamma": 1.0,
                     "ada": {"p": 0.2, "target": 0.6, "interval": 2, "kimg": 0.1},
                     "augment": "ada" if name != "stylegan2_bench32" else "fixed"}, False)
       for name, channels in (("stylegan2_bench32", 3), ("stylegan2_mnist", 1), ("stylegan2_emoji", 3),
                              ("stylegan2_cifar10", 3))},
    "r2_skip": ("mlp_mnist", {"model.width": 0.0625, "penalty.name": "r2", "penalty.weight": 1.0,
                              "nonfinite": "skip", "model.mbdisc": 3, "model.mbdisc_group": 2,
                              "augment": "translation,cutout,color", "optim.g.name": "sgd",
                              "optim.g.momentum": 0.9, "optim.g.clip": 0.5}, False),
}


def config_for(name):
  preset, overrides, _ = CASES[name]
  c = importlib.import_module(f"jaxgan.configs.{preset}").get_config()
  for key, value in overrides.items():
    node = c
    *path, last = key.split(".")
    for p in path:
      node = node[p]
    node[last] = value
  c.batch_size = BATCH
  c.seed = 3
  c.lazy = "cond"  # as the record was made; the masked form (conv models on XLA:CPU) is checked equal to it in
  return c         # tests/test_objective.py


def synthetic_data(config):
  """A fixed synthetic dataset of the config's shape: uint8 images (float points for 2-D models), int labels
  when the model is conditional."""
  shape = tuple(config.model.image_shape)
  rng = np.random.default_rng(0)
  n = 48
  if len(shape) == 1:
    images = rng.normal(size=(n,) + shape).astype(np.float32)
  else:
    images = rng.integers(0, 256, size=(n,) + shape, dtype=np.uint8)
  classes = int(config.model.get("num_classes", 0) or 0)
  labels = rng.integers(0, classes, size=n).astype(np.int32) if classes else None
  return images, labels


def flatten(prefix, tree):
  out = {}
  for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
    if jax.dtypes.issubdtype(getattr(leaf, "dtype", np.float32), jax.dtypes.prng_key):
      leaf = jax.random.key_data(leaf)
    out[prefix + jax.tree_util.keystr(path)] = np.asarray(leaf)
  return out


def run(name, n_devices):
  """The case's final state, metrics and samples as {canonical name: array}."""
  from jaxgan import data as data_lib
  from jaxgan import objective as objective_lib
  from jaxgan.loop import make_train_fn
  from jaxgan.parallel import make_mesh, replicate, replicated
  config = config_for(name)
  streamed = CASES[name][2]
  images, labels = synthetic_data(config)
  mesh = make_mesh(jax.devices()[:n_devices])
  gan = objective_lib.build(config, "data")
  gan.check_batch(BATCH, n_devices)
  if int(config.data.get("clusters", 0) or 0):
    gan = gan.with_label_prior(np.bincount(labels, minlength=gan.num_classes))
  state = replicate(gan.init_state(int(config.seed)), mesh)
  fn = make_train_fn(gan, mesh, BATCH, STEPS, 1, resident=not streamed)
  data = data_lib._from_array("golden", images, labels)
  if streamed:
    spec = jax.sharding.PartitionSpec(*((None, None) if gan.n_critic > 1 else (None,)), "data")
    it = data_lib.stream(data, BATCH, gan.n_critic, STEPS, int(config.seed), 0,
                         put=lambda x: jax.device_put(x, jax.sharding.NamedSharding(mesh, spec)),
                         streams=gan.streams)
    chunk = next(it)
    it.close()
  else:
    chunk = jax.device_put(data.resident(gan.streams), replicated(mesh))
  state, metrics = fn(state, chunk)
  if gan.num_stages > 1:  # a staged objective: then the next stage's program, from its first step (a fade-in)
    state = replicate(gan.enter_stage(jax.device_get(state), 1), mesh)
    gan = gan.for_stage(1)
    state, metrics = make_train_fn(gan, mesh, BATCH, STEPS, 1, resident=not streamed)(state, chunk)
  state = jax.device_get(state)
  out = {"step": np.asarray(state.step), "rng": np.asarray(state.rng)}
  for player in ("g", "d"):
    p = state.players[player]
    out.update(flatten(f"{player}/params", p.params))
    out.update(flatten(f"{player}/vars", p.vars))
    out.update(flatten(f"{player}/opt", p.opt_state))
  if "g" in state.ema:
    out.update(flatten("g/ema", state.ema["g"]))
  out.update({f"metrics/{k}": np.asarray(v) for k, v in jax.device_get(metrics).items()})
  z = gan.sample_latents(jax.random.key(1), 8)
  y = gan.sample_labels(8, jax.random.key(2))
  params = state.ema.get("g", state.params("g"))
  out["samples"] = np.asarray(gan.generate(params, state.vars("g"), z, y, **gan.sample_kwargs(state)))
  return out


KEEP = 64  # entries kept per leaf in the suite's record (a fixed stride through it), beside its full norm


def compact(out):
  """The record the suite keeps: small leaves whole; of a larger one, KEEP entries at a fixed stride and the
  float64 norm of the whole leaf (a change that moves a leaf moves nearly all of its entries)."""
  small = {}
  for key, x in out.items():
    flat = np.asarray(x).reshape(-1)
    if flat.size > KEEP:
      small[key + "#norm"] = np.linalg.norm(flat.astype(np.float64))
      flat = flat[::-(-flat.size // KEEP)]
    small[key] = flat
  return small


def path(n_devices, directory=GOLDEN_DIR):
  return os.path.join(directory, f"golden_{n_devices}dev.npz")


def record(names=None, directory=GOLDEN_DIR, full=False):
  """Runs the cases and writes one npz per device count (keys `<case>/<canonical name>`); `full` keeps whole
  leaves (for a bit-exact comparison outside the suite)."""
  os.makedirs(directory, exist_ok=True)
  for n in (1, 4):
    rows = {}
    if names and os.path.exists(path(n, directory)):  # named cases are (re)recorded beside the others
      with np.load(path(n, directory), allow_pickle=False) as f:
        rows = {k: f[k] for k in f.files if k.split("/")[0] not in names}
    for name in names or CASES:
      out = run(name, n)
      for key, x in (out if full else compact(out)).items():
        rows[f"{name}/{key}"] = x
      print(f"recorded {name} on {n} device(s)", flush=True)
    np.savez_compressed(path(n, directory), **rows)


def load(name, n_devices, directory=GOLDEN_DIR):
  prefix = name + "/"
  with np.load(path(n_devices, directory), allow_pickle=False) as f:
    return {k[len(prefix):]: f[k] for k in f.files if k.startswith(prefix)}


if __name__ == "__main__":
  args = [a for a in sys.argv[1:] if not a.startswith("--")]
  if "--record" in sys.argv:
    record(args)
  elif "--record-full" in sys.argv:  # python tests/golden_cases.py --record-full DIR
    record(None, directory=args[0], full=True)
  else:
    sys.exit(__doc__)

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
import jax.numpy as jnp
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
    "progan_mnist_clusters": ("progan_mnist_clusters", {"model.image_shape": (16, 16, 1), "model.channel_base": 64,
                                                        "model.channel_max": 8, "model.latent_dim": 8,
                                                        "progan.stage_images": (64, 64, 64),
                                                        "progan.fade_images": (0, 32, 32), "data.clusters": 5,
                                                        "model.num_classes": 5}, False),
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
    # Image to image, applications: small widths on the presets' own image sizes; the paired streams are
    # synthetic too, with the dtypes and value ranges of the preset's dataset (`synthetic_data`)
    "pix2pix_sr_mnist": ("pix2pix_sr_mnist", {"model.base": 4, "model.max_features": 8, "model.d_base": 4}, False),
    "pix2pix_inpaint_mnist": ("pix2pix_inpaint_mnist", {"model.base": 4, "model.max_features": 8,
                                                        "model.d_base": 4}, False),
    "pix2pix_scenes": ("pix2pix_scenes", {"model.base": 4, "model.max_features": 4, "model.d_base": 4,
                                          "data.num": 48}, False),
    "spade_scenes": ("spade_scenes", {"model.widths": (8, 8, 4, 4, 4), "model.spade_hidden": 4, "model.d_width": 4,
                                      "model.latent_dim": 8, "data.num": 48}, False),
    "fanogan_mnist": ("fanogan_mnist", {"model.width": 0.0625, "model.latent_dim": 8, "fanogan.gan_steps": STEPS},
                      False),
    "ganomaly_mnist": ("ganomaly_mnist", {"model.width": 0.0625, "model.latent_dim": 8}, False),
    "ssl_mnist": ("ssl_mnist", {"model.ssl_g_hidden": (16, 16), "model.ssl_d_hidden": (16, 16, 8),
                                "model.latent_dim": 8, "ssl.labels_per_class": 2, "ssl.labelled_batch": 8}, False),
    "r2_skip": ("mlp_mnist", {"model.width": 0.0625, "penalty.name": "r2", "penalty.weight": 1.0,
                              "nonfinite": "skip", "model.mbdisc": 3, "model.mbdisc_group": 2,
                              "augment": "translation,cutout,color", "optim.g.name": "sgd",
                              "optim.g.momentum": 0.9, "optim.g.clip": 0.5}, False),
}


# On four devices, a case per kind of step (resident and streamed data, n_critic > 1, BatchNorm D, packing +
# minibatch layers, penalties, conditional G and D, InfoGAN, skipping non-finite updates, stages).
FOUR = ("mlp_mnist_stable", "mnist_fast_streamed", "wgan_gp_streamed", "stacked_mnist", "acgan", "infogan",
        "r2_skip", "ring8", "sngan_cifar10", "progan_mnist")


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


def synthetic_data(config, streams=("real",)):
  """A fixed synthetic dataset of the config's shape: uint8 images (float points for 2-D models), int labels
  when the model is conditional, and random extra streams (`input`, `mask`, label maps) of the shapes, dtypes
  and value ranges that the preset's own dataset gives them (only those are read from it)."""
  shape = tuple(config.model.image_shape)
  rng = np.random.default_rng(0)
  n = 48
  if len(shape) == 1:
    images = rng.normal(size=(n,) + shape).astype(np.float32)
  else:
    images = rng.integers(0, 256, size=(n,) + shape, dtype=np.uint8)
  classes = int(config.model.get("num_classes", 0) or 0)
  if config.get("objective") == "ssl":
    classes = int(config.model.ssl_classes)
  labels = rng.integers(0, classes, size=n).astype(np.int32) if classes else None
  extra = [name for name in streams if name not in ("real", "target", "labels")]
  arrays = {}
  if extra:
    from jaxgan import data as data_lib
    like = data_lib.load(config.data)
    for name in extra:
      x = np.asarray(like.read(name, np.arange(8)))
      lo, hi = x.min(), x.max()
      if np.issubdtype(x.dtype, np.integer) or x.dtype == bool:
        arrays[name] = rng.integers(int(lo), int(hi) + 1, size=(n,) + x.shape[1:]).astype(x.dtype)
      else:
        arrays[name] = rng.uniform(float(lo), float(hi), size=(n,) + x.shape[1:]).astype(x.dtype)
  return images, labels, arrays


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
  mesh = make_mesh(jax.devices()[:n_devices])
  def build(axis_name):
    if config.get("objective") == "ssl":  # its labelled digits come from the (synthetic) pool, not a dataset
      from jaxgan import ssl
      return ssl.build_ssl(config, axis_name, pool=synthetic_data(config)[:2])
    return objective_lib.build(config, axis_name)

  gan = build("data")
  images, labels, arrays = synthetic_data(config, gan.streams)
  gan.check_batch(BATCH, n_devices)
  if int(config.data.get("clusters", 0) or 0):
    gan = gan.with_label_prior(np.bincount(labels, minlength=gan.num_classes))
  state = replicate(gan.init_state(int(config.seed)), mesh)
  fn = make_train_fn(gan, mesh, BATCH, STEPS, 1, resident=not streamed)
  data = data_lib._from_array("golden", images, labels, arrays, aliases={"target": "real"})
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
  params = state.ema.get("g", state.params("g"))
  gan = build(None)  # sampling runs outside shard_map
  gan = gan.for_stage(gan.num_stages - 1) if gan.num_stages > 1 else gan
  idx = np.arange(8)
  if hasattr(gan, "translate_maps"):  # label map -> image (SPADE, pix2pix on maps)
    samples = gan.translate_maps(params, state.vars("g"), data.read("input", idx), jax.random.key(1))
  elif hasattr(gan, "translate"):  # image -> image (pix2pix)
    inputs = jnp.asarray(data.read("input", idx), jnp.float32) / 127.5 - 1.0
    samples = gan.translate(params, state.vars("g"), inputs, data.read("mask", idx) if gan.mask else None)
  else:
    z = gan.sample_latents(jax.random.key(1), 8)
    y = gan.sample_labels(8, jax.random.key(2))
    samples = gan.generate(params, state.vars("g"), z, y, **gan.sample_kwargs(state))
  out["samples"] = np.asarray(samples)
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


# Another CPU rounds some operations differently (another vector width, another reduction order). Most leaves
# agree to ~1e-7 across machines; a few amplify that rounding (a leaf moved by Adam's first, sign-like steps where
# its gradient is small). The record measures each leaf's sensitivity: the same cases, compiled for an older ISA
# in a child process (another vector width: what an AVX-512, AVX2 or older CPU changes), and keeps the distance
# between the two runs as `<leaf>#spread`. The test allows a leaf max(1e-5·|x|, SPREAD_FACTOR·spread).
OTHER_ISA = "--xla_cpu_max_isa=SSE4_2"
# The suite compiles with XLA:CPU's legacy fusion emitters where the jaxlib has them (tests/conftest.py); a jaxlib
# without them compiles with the MLIR ones, which round some ops differently. Where the record is made with the
# legacy ones, the child also takes the MLIR ones, so each leaf's spread covers both.
SPREAD = "#spread"


def _other_flags(flags: str) -> str:
  from conftest import LEGACY_EMITTERS  # tests/ is on sys.path, as for golden_cases itself
  return (flags.replace(LEGACY_EMITTERS, "") + " " + OTHER_ISA).strip()


def _other_isa(names, n_devices):
  """Starts the cases on `n_devices` in a child process compiled for OTHER_ISA (and the other fusion emitters:
  `_other_flags`); returns a function that waits for it and gives its compact outputs."""
  import subprocess
  import tempfile
  env = dict(os.environ, XLA_FLAGS=_other_flags(os.environ.get("XLA_FLAGS", "")))
  tmp = tempfile.mkdtemp()
  out = os.path.join(tmp, "other.npz")
  child = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--dump", out, str(n_devices), *names],
                           env=env)

  def wait():
    if child.wait() != 0:
      raise RuntimeError(f"the {OTHER_ISA} run failed (exit {child.returncode})")
    with np.load(out, allow_pickle=False) as f:
      rows = {k: f[k] for k in f.files}
    os.remove(out)
    os.rmdir(tmp)
    return rows

  return wait


def _dump(out, n_devices, names):
  rows = {}
  for name in names:
    rows.update({f"{name}/{key}": x for key, x in compact(run(name, n_devices)).items()})
  np.savez(out, **rows)


def record(names=None, directory=GOLDEN_DIR, full=False):
  """Runs the cases and writes one npz per device count (keys `<case>/<canonical name>`, and each leaf's spread
  across ISAs where it is not 0); `full` keeps whole leaves (for a bit-exact comparison outside the suite)."""
  os.makedirs(directory, exist_ok=True)
  for n in (1, 4):
    names_n = [name for name in (names or CASES) if n == 1 or name in FOUR]
    rows = {}
    if os.path.exists(path(n, directory)) and names:  # the named cases beside the others
      with np.load(path(n, directory), allow_pickle=False) as f:
        rows = {k: f[k] for k in f.files if k.split("/")[0] not in names_n}
    other = None if full else _other_isa(names_n, n)  # (started now, runs beside this process)
    for name in names_n:
      out = run(name, n)
      for key, x in (out if full else compact(out)).items():
        rows[f"{name}/{key}"] = x
      print(f"recorded {name} on {n} device(s)", flush=True)
    if other is not None:
      other = other()
      for key in [k for k in rows if k.split("/")[0] in names_n and not k.endswith(SPREAD)]:
        spread = np.linalg.norm(np.asarray(rows[key], np.float64) - np.asarray(other[key], np.float64))
        if spread > 0:
          rows[key + SPREAD] = np.float64(spread)
      print(f"measured the spread across ISAs on {n} device(s)", flush=True)
    np.savez_compressed(path(n, directory), **rows)


def load(name, n_devices, directory=GOLDEN_DIR):
  """({leaf: recorded value}, {leaf: spread across ISAs}) of one case."""
  prefix = name + "/"
  with np.load(path(n_devices, directory), allow_pickle=False) as f:
    rows = {k[len(prefix):]: f[k] for k in f.files if k.startswith(prefix)}
  spread = {k[:-len(SPREAD)]: float(v) for k, v in rows.items() if k.endswith(SPREAD)}
  return {k: v for k, v in rows.items() if not k.endswith(SPREAD)}, spread


if __name__ == "__main__":
  args = [a for a in sys.argv[1:] if not a.startswith("--")]
  if "--record" in sys.argv:
    record(args)
  elif "--record-full" in sys.argv:  # python tests/golden_cases.py --record-full DIR
    record(None, directory=args[0], full=True)
  elif "--dump" in sys.argv:  # (the record's child) python tests/golden_cases.py --dump OUT N CASE ...
    _dump(args[0], int(args[1]), args[2:])
  else:
    sys.exit(__doc__)

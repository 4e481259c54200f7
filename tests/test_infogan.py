"""InfoGAN codes (model.info_codes): the latents, the mutual-information term, Q learning to read G's codes, and
the same run on one device or four."""
import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import step as step_lib
from jaxgan.configs import mlp_mnist
from jaxgan.gan import build_gan, init_state
from jaxgan.loop import make_train_fn
from jaxgan.models import ops
from jaxgan.parallel import make_mesh, replicate


def info_config(codes=(4,), pack=1, **overrides):
  c = mlp_mnist.get_config()
  c.batch_size = 8
  c.model.name = "dcgan"
  c.model.image_shape = (28, 28, 1)
  c.model.latent_dim = 4
  c.model.width = 1 / 16
  c.model.info_codes = tuple(codes)
  c.pack = pack
  for k, v in overrides.items():
    c[k] = v
  return c


def blobs(n=32, seed=0):
  """28×28 images of one bright square in one of four corners: four obvious discrete factors to discover."""
  rng = np.random.default_rng(seed)
  x = np.zeros((n, 28, 28, 1), np.uint8)
  for i, q in enumerate(rng.integers(0, 4, n)):
    r, c = divmod(int(q), 2)
    x[i, r * 14:r * 14 + 14, c * 14:c * 14 + 14] = 255
  return x


def test_latents_hold_uniform_one_hot_codes():
  gan = build_gan(info_config(codes=(3, 5)))
  assert gan.z_dim == 4 + 3 + 5
  z = gan.sample_latents(jax.random.key(0), 6000)
  chex.assert_shape(z, (6000, 12))
  codes = np.asarray(gan.latents.codes_of(z))
  chex.assert_shape(codes, (6000, 2))
  for start, k, col in ((4, 3, 0), (7, 5, 1)):
    block = np.asarray(z[:, start:start + k])
    np.testing.assert_array_equal(block.sum(1), 1.0)                      # one-hot
    np.testing.assert_array_equal(block.argmax(1), codes[:, col])          # codes_of reads them back
    share = np.bincount(codes[:, col], minlength=k) / 6000
    np.testing.assert_allclose(share, 1 / k, atol=0.025)                   # uniform
  gauss = np.asarray(z[:, :4])
  assert abs(gauss.mean()) < 0.05 and abs(gauss.std() - 1) < 0.05
  assert len(np.unique(codes[:, 0] * 5 + codes[:, 1])) == 15               # the codes are drawn independently


def info_xent(gan, out, z):
  """The D phase's InfoGAN term on D's raw output `out` for the fakes of latents z."""
  term = next(t for t in gan.phases[0].terms if t.name == "info")
  return term.fn(None, {"fake": gan.d_outputs(out), "z": z})[0]


def test_info_xent_is_the_codes_cross_entropy_per_pack_member():
  gan = build_gan(info_config(codes=(3, 5), pack=2))
  z = gan.sample_latents(jax.random.key(1), 8)
  codes = np.asarray(gan.latents.codes_of(z))
  s = 3 + 5
  # Uniform Q logits: ln 3 + ln 5 whatever the codes.
  out = jnp.zeros((4, 1 + 2 * s))
  chex.assert_trees_all_close(info_xent(gan, out, z), np.log(3) + np.log(5), rtol=1e-6)
  # Logits of +20 on each sample's own codes, member j of pack p in columns 1 + j·s …: cross-entropy ≈ 0.
  q = np.zeros((8, s), np.float32)
  q[np.arange(8), codes[:, 0]] = 20
  q[np.arange(8), 3 + codes[:, 1]] = 20
  out = jnp.concatenate([jnp.zeros((4, 1)), jnp.asarray(q.reshape(4, 2 * s))], axis=1)
  assert float(info_xent(gan, out, z)) < 1e-6
  # The same logits with the pack members swapped miss every code that differs between a pack's two samples.
  swapped = jnp.concatenate([jnp.zeros((4, 1)), jnp.asarray(q.reshape(4, 2, s)[:, ::-1].reshape(4, 2 * s))], axis=1)
  assert float(info_xent(gan, swapped, z)) > 1.0
  heads = gan.d_outputs(out)
  chex.assert_shape(heads["logits"], (4,))
  assert sorted(heads) == ["logits", "q"]


def test_q_learns_to_read_the_codes_and_g_uses_them():
  config = info_config(codes=(4,), pack=2, batch_size=32)
  config.model.width = 1 / 8
  config.optim.d.lr = config.optim.g.lr = 2e-3
  gan = build_gan(config)
  real = jnp.asarray(blobs(256), jnp.float32) / 127.5 - 1
  step = jax.jit(lambda s, x: step_lib.train_step(gan, s, {"real": x}))
  state = init_state(gan, 0)
  xents = []
  for i in range(60):
    state, m = step(state, real[(i % 8) * 32:(i % 8) * 32 + 32])
    xents.append(float(m["info_xent"]))
  chex.assert_tree_all_finite(state)
  assert np.mean(xents[:3]) > 0.8 * np.log(4)                               # chance at first
  assert np.mean(xents[-10:]) < 0.3 * np.log(4), xents                      # read back after 60 steps
  # G's output depends on the code: the same Gaussian latent with each of the 4 codes gives 4 different images.
  z = gan.sample_latents(jax.random.key(3), 1)
  zs = jnp.concatenate([jnp.repeat(z[:, :4], 4, 0), jnp.eye(4)], axis=1)
  x = np.asarray(gan.generate(state.params("g"), state.vars("g"), zs))
  assert min(np.abs(x[i] - x[j]).mean() for i in range(4) for j in range(i)) > 1e-3


def test_per_channel_q_reads_each_code_from_its_own_channel():
  config = info_config(codes=(5, 5, 5), pack=2)
  config.model.image_shape = (28, 28, 3)
  config.model.info_per_channel = True
  gan = build_gan(config)
  state = init_state(gan, 0)
  x = jax.random.uniform(jax.random.key(0), (4, 28, 28, 3), minval=-1, maxval=1)
  d = lambda x: gan.d_apply({"params": state.params("d"), **state.vars("d")}, ops.pack(x, 2), train=False)
  q_of = lambda out: gan.d_outputs(out)["q"].reshape(-1, 15)  # Q's logits per sample
  q = np.asarray(q_of(d(x))).reshape(4, 3, 5)       # [sample, code = channel, logits]
  chex.assert_shape(d(x), (2, 1 + 2 * 15))
  changed = np.asarray(q_of(d(x.at[1, ..., 2].set(0.5)))).reshape(4, 3, 5)
  moved = np.abs(changed - q).max(-1)                            # [sample, code]
  assert moved[1, 2] > 1e-4                                      # sample 1's code 2 read from its channel 2
  np.testing.assert_array_equal(np.delete(moved.reshape(-1), 1 * 3 + 2), 0.0)  # nothing else moved
  # One shared reader: the same grey image in any channel gives the same logits.
  same = jnp.broadcast_to(x[:, :, :, :1], x.shape)
  qs = np.asarray(q_of(d(same))).reshape(4, 3, 5)
  np.testing.assert_allclose(qs[:, 1], qs[:, 0], rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(qs[:, 2], qs[:, 0], rtol=1e-5, atol=1e-6)


def _run(config, n_devices, calls=2, k=2):
  mesh = make_mesh(jax.devices()[:n_devices])
  gan = build_gan(config, "data")
  state = replicate(init_state(gan, config.seed), mesh)
  fn = make_train_fn(gan, mesh, config.batch_size, k, resident=True)
  data = replicate({"real": jnp.asarray(blobs())}, mesh)
  metrics = []
  for _ in range(calls):
    state, m = fn(state, data)
    metrics.append(jax.device_get(m))
  return jax.device_get(state), {k_: np.concatenate([m[k_] for m in metrics]) for k_ in metrics[0]}


def test_info_codes_on_four_devices_match_one():
  config = info_config(codes=(3, 2), pack=2)
  for opt in (config.optim.g, config.optim.d):
    opt.name, opt.lr, opt.momentum = "sgd", 0.05, 0.9
  s1, m1 = _run(config, 1)
  s4, m4 = _run(config, 4)
  assert "info_xent" in m1
  chex.assert_trees_all_close(s4, s1, rtol=3e-5, atol=3e-5)
  chex.assert_trees_all_close(m4, m1, rtol=3e-5, atol=3e-5)


def test_trainer_checkpoint_and_sampling(tmp_path):
  from jaxgan.sampling import generate, load_run
  from jaxgan.trainer import Trainer
  config = info_config(codes=(10,), steps=4, checkpoint_every=4, sample_every=4)
  config.data.name = "mnist_offline"  # the embedded 5,000 digits
  workdir = str(tmp_path / "run")
  trainer = Trainer(config, workdir, quiet=True)
  trainer.train()
  run = load_run(workdir)
  assert run.gan.latents.codes == (10,) and run.step == 4
  x = generate(run, 12, seed=2)
  chex.assert_shape(x, (12, 28, 28, 1))
  np.testing.assert_array_equal(generate(run, 12, seed=2), x)   # one seed, one draw (codes included)


@pytest.mark.parametrize("overrides, message", [
    (dict(codes=(1,)), "code sizes"),
    (dict(codes=(10,), num_classes=10), "unconditional"),
    (dict(codes=(10,), model="mlp"), "no InfoGAN head"),
    (dict(codes=(10,), info_weight=-1.0), "info_weight"),
    (dict(codes=(10, 10), per_channel=True), "equal sizes"),
])
def test_clear_errors(overrides, message):
  config = info_config(codes=overrides["codes"])
  if "num_classes" in overrides:
    config.model.num_classes = overrides["num_classes"]
  if "model" in overrides:
    config.model.name = overrides["model"]
    config.model.image_shape = (8, 8, 1)
  if "per_channel" in overrides:
    config.model.info_per_channel = True
  if "info_weight" in overrides:
    config.info_weight = overrides["info_weight"]
  with pytest.raises(ValueError, match=message):
    build_gan(config)

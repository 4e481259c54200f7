"""Progressive GAN: fade-in exactness of the grown networks, the stage schedule, exact resume in a fade and at a
stage boundary, 1 vs 4 devices across a stage change, optimizer handling at stage changes, bad schedules."""
import json
import os

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import data as data_lib
from jaxgan import objective as objective_lib
from jaxgan.configs import progan_mnist
from jaxgan.logging import read_png
from jaxgan.models.progan import ProGANDiscriminator, ProGANGenerator, downsample, upsample2x
from jaxgan.progan import make_schedule
from jaxgan.trainer import ConfigError, Trainer


@pytest.fixture(scope="module")
def data16(tmp_path_factory):
  """64 random 16×16 grey images: the exactness tests need data, not digits."""
  path = str(tmp_path_factory.mktemp("data") / "x16.npz")
  rng = np.random.default_rng(0)
  np.savez(path, images=(rng.random((64, 16, 16, 1)) * 255).astype(np.uint8))
  return path


def tiny(data_path, steps=11, **progan):
  """16 px target (stages 4, 8, 16), tiny widths; stages of 3, 4 and 4 steps (batches 8, 8, 4), fades of 2 and 3
  steps."""
  c = progan_mnist.get_config()
  c.data.name = data_path
  c.data.pad = 0
  c.model.image_shape = (16, 16, 1)
  c.model.channel_base = 64
  c.model.channel_max = 8
  c.model.latent_dim = 8
  c.batch_size = 8
  c.progan.stage_images = (24, 32, 16)
  c.progan.fade_images = (0, 16, 12)
  c.progan.stage_batch = (8, 8, 4)
  c.progan.update(progan)
  c.eval.metrics = ()
  c.steps = steps
  c.steps_per_call = 2
  c.checkpoint_every = c.sample_every = 2
  c.first_sample = 0
  return c


def _nets(stage_res=16, channels=1):
  g = ProGANGenerator(stage_res, channel_base=64, channel_max=8, channels=channels)
  d = ProGANDiscriminator(stage_res, channel_base=64, channel_max=8, mbstd=True, mbstd_group=4)
  z = jax.random.normal(jax.random.key(0), (8, 8))
  x = jax.random.uniform(jax.random.key(1), (8, stage_res, stage_res, channels), minval=-1, maxval=1)
  g_params = g.init(jax.random.key(2), z)["params"]
  d_params = d.init(jax.random.key(3), x)["params"]
  return g, d, g_params, d_params, z, x


def test_fade_in_at_alpha_0_is_the_previous_stage_upsampled_and_at_alpha_1_the_new_block_alone():
  g, d, gp, dp, z, x = _nets()
  for stage in (1, 2):
    grown = g.apply({"params": gp}, z, stage=stage, alpha=0.0)
    previous = g.apply({"params": gp}, z, stage=stage - 1, alpha=1.0)
    chex.assert_shape(grown, (8, 4 * 2 ** stage, 4 * 2 ** stage, 1))
    chex.assert_trees_all_close(grown, upsample2x(previous), atol=1e-6)
    xs = downsample(x, 2 ** (2 - stage))  # D's input at this stage's resolution
    chex.assert_trees_all_close(d.apply({"params": dp}, xs, stage=stage, alpha=0.0),
                                d.apply({"params": dp}, downsample(xs), stage=stage - 1, alpha=1.0), atol=1e-5)
    # α = 1: the previous resolution's toRGB / fromRGB no longer contribute (zero gradient), the new ones do
    old, new = f"to_rgb_{stage - 1}", f"to_rgb_{stage}"
    grads = jax.grad(lambda p: jnp.sum(g.apply({"params": p}, z, stage=stage, alpha=1.0) ** 2))(gp)
    assert float(jnp.abs(grads[old]["kernel"]).max()) == 0.0 and float(jnp.abs(grads[new]["kernel"]).max()) > 0
    grads = jax.grad(lambda p: jnp.sum(d.apply({"params": p}, xs, stage=stage, alpha=1.0) ** 2))(dp)
    old, new = f"from_rgb_{stage - 1}", f"from_rgb_{stage}"
    assert float(jnp.abs(grads[old]["kernel"]).max()) == 0.0 and float(jnp.abs(grads[new]["kernel"]).max()) > 0
    # in between, both paths count
    mid = g.apply({"params": gp}, z, stage=stage, alpha=0.5)
    full = g.apply({"params": gp}, z, stage=stage, alpha=1.0)
    chex.assert_trees_all_close(mid, 0.5 * grown + 0.5 * full, atol=1e-5)


def test_all_resolutions_have_parameters_from_the_start(data16):
  gan = objective_lib.build(tiny(data16))
  state = gan.init_state(0)
  assert {f"to_rgb_{s}" for s in range(3)} <= set(state.params("g"))
  assert {f"from_rgb_{s}" for s in range(3)} <= set(state.params("d"))
  shapes = jax.tree.map(jnp.shape, state)
  later = gan.enter_stage(state, 2)
  assert jax.tree.map(jnp.shape, later) == shapes  # the tree never changes across stages


def test_schedule_steps_batches_and_alpha(data16):
  s = make_schedule(tiny(data16))
  assert s.starts == (0, 3, 7) and s.lengths == (3, 4, 4) and s.batches == (8, 8, 4) and s.total_steps == 11
  assert [float(s.alpha(1, t)) for t in (3, 4, 5, 6)] == [0.0, 0.5, 1.0, 1.0]
  np.testing.assert_allclose([float(s.alpha(2, t)) for t in (7, 8, 9, 10)], [0.0, 1 / 3, 2 / 3, 1.0], rtol=1e-6)
  assert float(s.alpha(0, 0)) == 1.0
  c = progan_mnist.get_config()
  assert c.steps == make_schedule(c).total_steps and make_schedule(c).starts[-1] < c.steps


def test_resume_mid_fade_and_at_a_stage_boundary_is_bit_exact(data16, tmp_path, monkeypatch):
  """Straight: 11 steps over three stages, streamed data (batch 4 in the last stage, so the stream reopens).
  Interrupted at step 7 (the boundary: the checkpoint still holds stage 1) and at step 9 (mid-fade in stage 2: α
  goes 0, 1/3, 2/3, 1 over steps 7..10). Both are ends of the straight run's K-step calls, as every checkpoint the
  trainer writes is (periodic or on a signal), so the resumed run compiles the same programs."""
  monkeypatch.setattr(data_lib, "RESIDENT_MAX_BYTES", 0)  # stream batches from the host, as a large dataset would
  straight = Trainer(tiny(data16), str(tmp_path / "straight"), quiet=True)
  assert not straight.resident
  straight.train()
  final = jax.device_get(straight.state)
  assert int(final.stage) == 2 and float(final.aux["alpha"]) == 1.0 and int(final.aux["stage_images"]) == 16
  for first in (7, 9):
    work = str(tmp_path / f"resumed_{first}")
    Trainer(tiny(data16, steps=first), work, quiet=True).train()
    resumed = Trainer(tiny(data16), work, quiet=True)
    assert resumed.start_step == first and resumed.stage == (1 if first == 7 else 2)
    resumed.train()
    chex.assert_trees_all_equal(jax.device_get(resumed.state), final)
  rows = [json.loads(line) for line in open(os.path.join(tmp_path / "straight", "metrics.jsonl"))]
  by_step = {r["step"]: r for r in rows if "alpha" in r}
  assert [by_step[t]["stage"] for t in (1, 4, 8)] == [0, 1, 2]
  np.testing.assert_allclose([by_step[t]["alpha"] for t in (4, 5, 8, 9, 10)], [0, 0.5, 0, 1 / 3, 2 / 3], rtol=1e-6)
  assert by_step[11]["stage_progress"] == 1.0
  samples = os.listdir(tmp_path / "straight" / "samples")
  assert "stages.png" in samples and "ema_step_0000011.png" in samples
  with np.load(tmp_path / "straight" / "samples" / "stages.npz", allow_pickle=False) as f:
    assert sorted(f.files) == ["stage_0_4px", "stage_1_8px", "stage_2_16px"]  # each stage at the size it drew
    assert all(f[k].shape == (8, 16, 16, 1) for k in f.files)  # shown enlarged to the final size
  stages = read_png(tmp_path / "straight" / "samples" / "stages.png")
  assert stages.shape[1] > stages.shape[0] / 8 * 2  # three stage columns


def test_four_devices_equal_one_across_a_stage_change(data16, tmp_path):
  """Batches 16, 16, 8 with minibatch-stddev groups of 2: every device's batch divides into whole groups, so the
  groups are the same on 1 and 4 devices (with fewer samples per device than the group size they could not be)."""
  states = []
  for n in (1, 4):
    c = tiny(data16, steps=8, stage_images=(32, 64, 32), fade_images=(0, 32, 24), stage_batch=(16, 16, 8))
    c.model.mbstd_group = 2
    # SGD with momentum: Adam with β₁ = 0 turns float rounding in near-zero gradient entries into ±lr steps (a
    # sign flip), which says nothing about device invariance; the gradients and their reductions are the subject
    c.optim.g = c.optim.d = dict(name="sgd", lr=1e-3, momentum=0.9)
    t = Trainer(c, str(tmp_path / f"dev{n}"), devices=jax.devices()[:n], quiet=True)
    t.train()
    states.append(jax.device_get(t.state))
  assert int(states[0].stage) == 2
  chex.assert_trees_all_close(states[0], states[1], rtol=1e-5, atol=1e-5)


def test_class_conditional_progan_fades_exactly_and_trains_on_cluster_labels(data16, tmp_path):
  """G embeds the label beside z, D projects it on its last features; the fade-in identities hold per label, and a
  cluster-conditioned run (k-means labels of unlabelled data) trains through a stage change."""
  g = ProGANGenerator(16, channel_base=64, channel_max=8, num_classes=3, embed_dim=8)
  d = ProGANDiscriminator(16, channel_base=64, channel_max=8, mbstd_group=4, num_classes=3)
  z = jax.random.normal(jax.random.key(0), (8, 8))
  x = jax.random.uniform(jax.random.key(1), (8, 8, 8, 1), minval=-1, maxval=1)
  y, y2 = jnp.arange(8) % 3, (jnp.arange(8) + 1) % 3
  gp = g.init(jax.random.key(2), z, y)["params"]
  dp = d.init(jax.random.key(3), jnp.zeros((8, 16, 16, 1)), y)["params"]
  out = g.apply({"params": gp}, z, y, stage=1, alpha=0.0)
  chex.assert_trees_all_close(out, upsample2x(g.apply({"params": gp}, z, y, stage=0)), atol=1e-6)
  assert float(jnp.abs(out - g.apply({"params": gp}, z, y2, stage=1, alpha=0.0)).min()) > 0  # every image moves
  chex.assert_trees_all_close(d.apply({"params": dp}, x, y, stage=1, alpha=0.0),
                              d.apply({"params": dp}, downsample(x), y, stage=0), atol=1e-5)
  logits = d.apply({"params": dp}, x, y, stage=1, alpha=0.5)
  assert bool(jnp.all(logits != d.apply({"params": dp}, x, y2, stage=1, alpha=0.5)))
  with pytest.raises(ValueError, match="without labels"):
    g.apply({"params": gp}, z, stage=1)
  with pytest.raises(ValueError, match="cond_d"):
    c = tiny(data16)
    c.model.num_classes, c.model.cond_d = 3, "acgan"
    objective_lib.build(c)

  data8 = str(tmp_path / "x8.npz")
  np.savez(data8, images=np.load(data16)["images"][:, ::2, ::2])
  c = tiny(data8, steps=5, stage_images=(16, 24), fade_images=(0, 8), stage_batch=(8, 8))  # 8 px: stages 0, 1
  c.model.image_shape = (8, 8, 1)
  c.checkpoint_every = c.sample_every = 5
  c.data.clusters = c.model.num_classes = 3
  t = Trainer(c, str(tmp_path / "w"), quiet=True)
  start = jax.device_get(t.state)
  t.train()
  end = jax.device_get(t.state)
  assert int(end.stage) == 1
  chex.assert_tree_all_finite(end.players["g"].params)
  for player in ("g", "d"):  # both label embeddings were trained
    moved = end.params(player)["embed"]["kernel"] - start.params(player)["embed"]["kernel"]
    assert float(np.abs(moved).max()) > 0, player


def test_optimizer_reset_at_stage_changes_is_a_choice(data16):
  for reset in (True, False):
    gan = objective_lib.build(tiny(data16, reset_optimizer=reset))
    state = gan.init_state(0)
    moved = state.with_player("g", opt_state=jax.tree.map(lambda a: a + 1, state.players["g"].opt_state))
    entered = gan.enter_stage(moved, 1)
    assert int(entered.stage) == 1 and float(entered.aux["alpha"]) == 0.0
    expected = state.players["g"].opt_state if reset else moved.players["g"].opt_state
    chex.assert_trees_all_equal(entered.players["g"].opt_state, expected)


@pytest.mark.parametrize("change, message", [
    (dict(stage_images=(24, 0, 16)), "every stage must show images"),
    (dict(stage_images=(24, 32)), "has 2 entries; this target resolution has 3 stages"),
    (dict(fade_images=(0, 64, 8)), "stage 1 fades over 64 images but shows 32"),
    (dict(stage_batch=(8, 8, 6)), "stage 2: batch_size 6 does not divide by the 4 devices"),
])
def test_bad_schedules_are_one_line_errors_before_training(data16, tmp_path, change, message):
  with pytest.raises((ConfigError, ValueError), match=message) as e:
    Trainer(tiny(data16, **change), str(tmp_path / "w"), quiet=True)
  assert "\n" not in str(e.value)
  assert not os.path.exists(tmp_path / "w" / "checkpoints")


def test_unreachable_resolutions_are_errors(data16, tmp_path):
  for shape in ((24, 24, 1), (2, 2, 1), (16, 8, 1)):
    c = tiny(data16)
    c.model.image_shape = shape
    with pytest.raises(ValueError, match="power of two|square") as e:
      objective_lib.build(c)
    assert "\n" not in str(e.value)


def test_cli_bad_schedule_exits_nonzero_with_one_line(data16, tmp_path):
  from test_cli import run
  out = run("train.py", "--config=jaxgan/configs/progan_mnist.py", f"--workdir={tmp_path / 'w'}",
                   f"--config.data.name={data16}", "--config.progan.stage_images=(1000,0,1000,1000)")
  assert out.returncode != 0
  assert "every stage must show images" in out.stderr and "Traceback" not in out.stderr

"""Exact resume: N steps, stop, resume to 2N is bit-identical to 2N uninterrupted (state and samples)."""
import dataclasses
import os

import chex
import jax
import numpy as np
import pytest

from jaxgan import objective as objective_lib
from jaxgan.configs import mlp_mnist
from jaxgan.gan import build_gan
from jaxgan.sampling import generate, load_run
from jaxgan.trainer import Trainer


def config(steps, **kw):
  c = mlp_mnist.get_config()
  c.model.width = 0.0625
  c.batch_size = 16
  c.steps_per_call = 5
  c.checkpoint_every = 10
  c.sample_every = 10
  c.ema_decay = 0.9
  c.steps = steps
  for k, v in kw.items():
    c[k] = v
  return c


@pytest.mark.parametrize("devices", [1, 4])
def test_resume_is_bit_identical(tmp_path, devices):
  devs = jax.devices()[:devices]
  Trainer(config(20), str(tmp_path / "a"), devices=devs, quiet=True).train()
  resumed = Trainer(config(40), str(tmp_path / "a"), devices=devs, quiet=True)
  assert resumed.start_step == 20
  resumed.train()
  straight = Trainer(config(40), str(tmp_path / "b"), devices=devs, quiet=True)
  straight.train()
  chex.assert_trees_all_equal(jax.device_get(resumed.state), jax.device_get(straight.state))
  a, b = load_run(str(tmp_path / "a")), load_run(str(tmp_path / "b"))
  assert a.step == b.step == 40
  np.testing.assert_array_equal(generate(a, 16, seed=1), generate(b, 16, seed=1))
  lines_a = open(tmp_path / "a" / "metrics.jsonl").read().splitlines()
  assert len(lines_a) == 40


@objective_lib.register("test_lazy_d_phase")
def _with_a_lazy_d_phase(config, axis_name=None):
  """The MLP GAN with a second D update (on D's own loss) every 4th step: a lazy phase, as StyleGAN2's Dreg."""
  gan = build_gan(config, axis_name)
  lazy = gan.phases[0]._replace(name="Dlazy", interval=4, repeat=None)
  return dataclasses.replace(gan, phases=gan.phases + (lazy,))


def test_unrolled_calls_compile_one_program_per_schedule_and_resume_bit_exactly(tmp_path):
  """--config.unroll=K (each call's lazy phases decided statically): a lazy phase every 4th step in calls of 2
  gives one program per call start mod 4 (two: with and without it); a run resumed at step 2 picks the right one
  and is bit for bit the straight run. (That such calls equal the rolled scan: test_stylegan2.py's unrolled-call
  tests.)"""
  def cfg(steps):
    c = config(steps, steps_per_call=2, checkpoint_every=2, sample_every=100, unroll=2)
    c.objective = "test_lazy_d_phase"
    return c
  straight = Trainer(cfg(6), str(tmp_path / "a"), quiet=True)
  straight.train()
  assert len([k for k in straight._fns if isinstance(k, tuple)]) == 2
  final = jax.device_get(straight.state)
  adam_counts = {int(x) for x in jax.tree.leaves(final.players["d"].opt_state) if np.ndim(x) == 0}
  assert adam_counts == {6 + 2}  # D's updates: 6 of its own phase, and the lazy one's at steps 0 and 4
  Trainer(cfg(2), str(tmp_path / "b"), quiet=True).train()
  resumed = Trainer(cfg(6), str(tmp_path / "b"), quiet=True)
  assert resumed.start_step == 2
  resumed.train()
  chex.assert_trees_all_equal(jax.device_get(resumed.state), final)


def test_streamed_data_resumes_exactly(tmp_path, monkeypatch):
  # Force the streaming path (as for datasets larger than device memory) and check resume there too.
  import jaxgan.data as data_lib
  monkeypatch.setattr(data_lib, "RESIDENT_MAX_BYTES", 0)
  import jaxgan.trainer as trainer_lib
  monkeypatch.setattr(trainer_lib.data_lib, "RESIDENT_MAX_BYTES", 0)
  t = Trainer(config(10), str(tmp_path / "a"), quiet=True)
  assert not t.resident
  t.train()
  r = Trainer(config(20), str(tmp_path / "a"), quiet=True)
  r.train()
  s = Trainer(config(20), str(tmp_path / "b"), quiet=True)
  s.train()
  chex.assert_trees_all_equal(jax.device_get(r.state), jax.device_get(s.state))


def test_metrics_during_training_and_best_checkpoint(tmp_path):
  c = config(20)
  c.eval.metrics = ("mnist_fd",)
  c.eval.every = 10
  c.eval.num = 100
  c.eval.best = "mnist_fd/fd"
  Trainer(c, str(tmp_path), quiet=True).train()
  import json
  rows = [json.loads(l) for l in open(tmp_path / "metrics.jsonl")]
  evals = [r for r in rows if "eval/mnist_fd/fd" in r]
  assert [r["step"] for r in evals] == [10, 20]
  assert all(r["eval/mnist_fd/fd"] > r["eval/mnist_fd/floor"] for r in evals)
  assert all(r["eval/mnist_fd/judge_version"] == 2 for r in evals)  # every logged judge figure names its judge
  best_step = min(evals, key=lambda r: r["eval/mnist_fd/fd"])["step"]
  assert os.listdir(tmp_path / "best" / "checkpoints") == [str(best_step)]


def test_unknown_eval_metric_is_a_config_error(tmp_path):
  from jaxgan.trainer import ConfigError
  c = config(10)
  c.eval.metrics = ("bogus",)
  with pytest.raises(ConfigError, match="unknown metric 'bogus'"):
    Trainer(c, str(tmp_path), quiet=True)


def _scored_trainer(tmp_path, monkeypatch, scores):
  """A Trainer that keeps the best checkpoint by mnist_fd/fd, whose evaluations return `scores` in turn, and a
  metrics writer for it."""
  import jaxgan.metrics
  from jaxgan import logging as log_lib
  c = config(10)
  c.eval.metrics, c.eval.every, c.eval.num, c.eval.best = ("mnist_fd",), 10, 16, "mnist_fd/fd"
  trainer = Trainer(c, str(tmp_path), quiet=True)
  values = iter(scores)
  monkeypatch.setattr(jaxgan.metrics, "evaluate", lambda name, **kw: {"fd": next(values)})
  return trainer, log_lib.MetricWriter(str(tmp_path))


def test_best_checkpoint_swap_keeps_the_better_even_at_a_lower_step(tmp_path, monkeypatch):
  # step 20 first, then a better step 10 (as after a resume), then a worse step 30
  trainer, writer = _scored_trainer(tmp_path, monkeypatch, [5.0, 3.0, 4.0])
  for step in (20, 10, 30):
    trainer.evaluate(step, writer)
  writer.close()
  assert os.listdir(tmp_path / "best" / "checkpoints") == ["10"]
  assert trainer.best_ckpt.read_meta(10)["best_value"] == 3.0


def test_failed_best_save_keeps_the_old_best(tmp_path, monkeypatch):
  from jaxgan.checkpoint import CheckpointError
  trainer, writer = _scored_trainer(tmp_path, monkeypatch, [5.0, 3.0])
  trainer.evaluate(10, writer)

  def failing_save(*a, **kw):  # e.g. the disk filled up, or a kill, between deleting and saving
    raise CheckpointError("disk full")
  monkeypatch.setattr(trainer.best_ckpt, "save", failing_save)
  with pytest.raises(CheckpointError):
    trainer.evaluate(20, writer)
  writer.close()
  assert os.listdir(tmp_path / "best" / "checkpoints") == ["10"]  # the old best was not deleted first


def test_conv_presets_on_cpu_never_compile_one_step_a_call():
  # One train step per compiled call ran ~10x slower a step on XLA:CPU (see choose_k); n_critic 5 used to get 1.
  from jaxgan.configs import mnist_fast, wgan_gp_mnist, wgan_mnist
  from jaxgan.trainer import choose_k
  assert choose_k(wgan_mnist.get_config(), "cpu") == (2, 1)  # rolled scans (layers.conv2d's canonical gradients)
  assert choose_k(wgan_gp_mnist.get_config(), "cpu") == (2, 1)
  assert choose_k(mnist_fast.get_config(), "cpu") == (4, 1)
  assert choose_k(wgan_mnist.get_config(), "gpu") == (100, 1)
  explicit = wgan_mnist.get_config()
  explicit.steps_per_call = 1  # a user's explicit choice is kept
  assert choose_k(explicit, "cpu") == (1, 1)


def _tb_images(workdir):
  """{(step, tag): decoded image} of every image summary in workdir/tb, read back with tensorboardX's Event."""
  import glob
  import io
  import struct
  from PIL import Image
  from tensorboardX.proto.event_pb2 import Event
  out = {}
  for path in glob.glob(os.path.join(workdir, "tb", "events.out.tfevents.*")):
    data, pos = open(path, "rb").read(), 0
    while pos < len(data):
      (n,) = struct.unpack("<Q", data[pos:pos + 8])
      event = Event.FromString(data[pos + 12:pos + 12 + n])
      pos += 16 + n
      for v in event.summary.value:
        if v.HasField("image"):
          out[(event.step, v.tag)] = np.asarray(Image.open(io.BytesIO(v.image.encoded_image_string)))
  return out


def test_sample_grids_are_logged_to_tensorboard_at_sample_every(tmp_path):
  Trainer(config(20), str(tmp_path), quiet=True).train()
  images = _tb_images(str(tmp_path))
  assert sorted(images) == [(10, "samples/ema_g"), (10, "samples/g"), (20, "samples/ema_g"), (20, "samples/g")]
  from PIL import Image
  png = np.asarray(Image.open(tmp_path / "samples" / "ema_step_0000020.png"))  # the same grid as the PNG
  chex.assert_trees_all_equal(images[(20, "samples/ema_g")], np.repeat(png[..., None], 3, axis=-1))


def test_point_models_log_their_scatter_plot(tmp_path):
  from jaxgan.configs import ring8
  c = ring8.get_config()
  c.steps, c.steps_per_call, c.sample_every, c.checkpoint_every, c.batch_size = 4, 2, 4, 4, 16
  for n in ("g", "d"):
    c.optim[n].lr_decay_steps = 4
  Trainer(c, str(tmp_path), quiet=True).train()
  images = _tb_images(str(tmp_path))
  assert (4, "samples/g") in images
  from PIL import Image
  png = np.asarray(Image.open(tmp_path / "samples" / "step_0000004.png"))
  chex.assert_trees_all_equal(images[(4, "samples/g")], png)


class _Killed(BaseException):
  """Stands in for SIGKILL: nothing after the raise runs, and no `except Exception` catches it."""


@pytest.mark.parametrize("kill_at", ["moving the old best away", "moving the new best in"])
def test_best_rescored_at_the_same_step_survives_a_kill_mid_swap(tmp_path, monkeypatch, kill_at):
  from jaxgan import checkpoint as ckpt_lib
  # step 10 scored, then re-scored better at the same step (as after a resume)
  trainer, writer = _scored_trainer(tmp_path, monkeypatch, [5.0, 3.0])
  trainer.evaluate(10, writer)
  real_rename = os.rename

  def rename(src, dst):
    src, dst = os.fspath(src), os.fspath(dst)
    moving_in = ".staged-" in src and ".orbax-checkpoint-tmp" not in src  # not orbax finalizing the staged save
    moving_out = dst.endswith("-replaced")
    if (moving_in and kill_at == "moving the new best in") or (moving_out and kill_at == "moving the old best away"):
      raise _Killed
    return real_rename(src, dst)
  monkeypatch.setattr(ckpt_lib.os, "rename", rename)
  with pytest.raises(_Killed):
    trainer.evaluate(10, writer)
  writer.close()
  monkeypatch.setattr(ckpt_lib.os, "rename", real_rename)
  listed = [n for n in os.listdir(tmp_path / "best" / "checkpoints") if n.isdigit()]
  assert listed == ([] if kill_at == "moving the new best in" else ["10"])  # the kill's window: none listed
  # The next run opens the best directory: one complete best of step 10 is there, and it restores.
  best = ckpt_lib.Checkpointer(str(tmp_path / "best"), keep=None)
  assert best.all_steps() == [10]
  assert best.read_meta(10)["best_value"] == (3.0 if kill_at == "moving the new best in" else 5.0)
  restored, _ = best.restore(trainer.state)
  chex.assert_trees_all_equal(jax.device_get(restored), jax.device_get(trainer.state))
  assert sorted(os.listdir(tmp_path / "best")) == ["checkpoints"]  # staging and tmp leftovers are gone
  assert os.listdir(tmp_path / "best" / "checkpoints") == ["10"]


def test_best_rescored_at_the_same_step_is_replaced(tmp_path, monkeypatch):
  trainer, writer = _scored_trainer(tmp_path, monkeypatch, [5.0, 3.0])
  trainer.evaluate(10, writer)
  trainer.evaluate(10, writer)
  writer.close()
  assert trainer.best_ckpt.all_steps() == [10] and trainer.best_ckpt.read_meta(10)["best_value"] == 3.0
  assert sorted(os.listdir(tmp_path / "best")) == ["checkpoints"]
  assert os.listdir(tmp_path / "best" / "checkpoints") == ["10"]


@pytest.mark.parametrize("first,grids", [(15, [15, 20, 30]), (0, [20, 30]), (20, [20, 30])])
def test_an_early_first_picture_besides_sample_every(tmp_path, first, grids):
  c = config(30)
  c.sample_every, c.first_sample = 20, first
  Trainer(c, str(tmp_path), quiet=True).train()
  written = sorted(int(f[5:12]) for f in os.listdir(tmp_path / "samples") if f.startswith("step_"))
  assert written == grids


def test_a_bad_first_sample_is_a_config_error(tmp_path):
  from jaxgan.trainer import ConfigError
  c = config(10)
  c.first_sample = -1
  with pytest.raises(ConfigError, match="first_sample must be an integer >= 0"):
    Trainer(c, str(tmp_path), quiet=True)

"""Every shipped preset builds: its config validates, its model takes its dataset's images (and labels), and one
train step traces to the expected shapes (jax.eval_shape: no compilation, no training)."""
import importlib
import os

import jax
import jax.numpy as jnp
import pytest

from jaxgan import configs, data as data_lib
from jaxgan import objective as objective_lib
from jaxgan.gan import init_state
from jaxgan.step import train_step
from jaxgan.trainer import validate

PRESETS = sorted(f[:-3] for f in os.listdir(configs.DIR) if f.endswith(".py") and f not in ("__init__.py", "base.py"))


def test_the_default_preset_is_shipped():
  assert configs.DEFAULT in PRESETS and len(PRESETS) >= 10


@pytest.mark.parametrize("name", PRESETS)
def test_preset_builds_and_a_step_traces(name):
  config = importlib.import_module(f"jaxgan.configs.{name}").get_config()
  validate(config)
  gan = objective_lib.build(config)  # the objective the preset names (gan, progan, ...)
  if not str(config.data.name).startswith("tfds:"):  # TFDS presets need a prepared dataset; checked elsewhere
    data = data_lib.load(config.data)
    data_lib.check_shape(data, gan.image_shape)
    data_lib.check_labels(data, gan.num_classes)
  state = jax.eval_shape(lambda: init_state(gan, int(config.seed)))
  lead = (int(config.batch_size),) if gan.n_critic == 1 else (gan.n_critic, int(config.batch_size))
  real = jax.ShapeDtypeStruct((*lead, *gan.image_shape), jnp.float32)
  labels = jax.ShapeDtypeStruct(lead, jnp.int32) if gan.num_classes else None
  new_state, metrics = jax.eval_shape(lambda s, x, y: train_step(gan, s, {"real": x, "labels": y}), state, real, labels)
  assert jax.tree.map(lambda a: (a.shape, a.dtype), new_state) == jax.tree.map(lambda a: (a.shape, a.dtype), state)
  for key in ("d_loss", "g_loss", "d_real", "d_fake"):
    assert metrics[key].shape == ()

"""Every shipped preset builds: its config validates, its model takes its dataset's images (and labels), and one
train step traces to the expected shapes (jax.eval_shape: no compilation, no training)."""
import importlib
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import configs, data as data_lib
from jaxgan import objective as objective_lib
from jaxgan.loop import to_float
from jaxgan.step import train_step
from jaxgan.trainer import validate

PRESETS = sorted(f[:-3] for f in os.listdir(configs.DIR) if f.endswith(".py") and f not in ("__init__.py", "base.py"))
GENERATED, SMALL = ("mixture:", "stacked_mnist", "scenes"), 1_000  # generated datasets: at most 1,000 items here


def test_the_default_preset_is_shipped():
  assert configs.DEFAULT in PRESETS and len(PRESETS) >= 10


def _batch_shapes(gan, config, data):
  """The shapes of one step's batch as the loop feeds it: every stream the objective reads, with a leading axis
  of `batch_repeats` when it consumes several real batches a step (n_critic, SSL's two unlabelled batches)."""
  lead = (int(config.batch_size),)
  if gan.batch_repeats > 1:
    lead = (gan.batch_repeats,) + lead
  if data is None:  # a TFDS preset: its images and labels as the model takes them
    items = {"real": ((*gan.image_shape,), jnp.float32), "labels": ((), jnp.int32)}
    return {n: jax.ShapeDtypeStruct((*lead, *items[n][0]), items[n][1]) for n in gan.streams}
  batch = {}
  for name in gan.streams:
    x = to_float(jnp.asarray(data.read(name, np.zeros(lead, np.int64))))
    batch[name] = jax.ShapeDtypeStruct(x.shape, x.dtype)
  return batch


@pytest.mark.parametrize("name", PRESETS)
def test_preset_builds_and_a_step_traces(name):
  config = importlib.import_module(f"jaxgan.configs.{name}").get_config()
  validate(config)
  gan = objective_lib.build(config)  # the objective the preset names (gan, progan, ...)
  data = None
  if str(config.data.name).startswith(GENERATED):  # generated the same way at any size: k-means of 50k stacks
    config.data.num = min(int(config.data.get("num", SMALL) or SMALL), SMALL)  # or 6k scenes is not the test
  if not str(config.data.name).startswith("tfds:"):  # TFDS presets need a prepared dataset; checked elsewhere
    data = data_lib.load(config.data)
    data_lib.check_shape(data, gan.image_shape)
    data_lib.check_labels(data, gan.num_classes)
  state = jax.eval_shape(lambda: gan.init_state(int(config.seed)))
  batch = _batch_shapes(gan, config, data)
  new_state, metrics = jax.eval_shape(lambda s, b: train_step(gan, s, b), state, batch)
  assert jax.tree.map(lambda a: (a.shape, a.dtype), new_state) == jax.tree.map(lambda a: (a.shape, a.dtype), state)
  for key in ("d_loss", "g_loss", "d_real", "d_fake"):
    assert metrics[key].shape == ()

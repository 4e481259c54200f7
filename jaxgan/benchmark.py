"""Steady-state training speed of a config: compile seconds of the first K-step call, then img/s over timed calls."""
import time

import jax
import numpy as np

from jaxgan import data as data_lib
from jaxgan import objective as objective_lib
from jaxgan.loop import make_train_fn
from jaxgan.parallel import make_mesh, replicate, replicated
from jaxgan.trainer import choose_k, validate


def benchmark(config, steps: int = 300, devices=None) -> dict:
  validate(config)
  mesh = make_mesh(devices)
  gan = objective_lib.build(config, "data")
  gan.check_batch(int(config.batch_size), mesh.size)
  data = data_lib.load(config.data)
  data_lib.check_shape(data, gan.image_shape)
  backend = jax.default_backend()
  k, unroll = choose_k(config, backend)
  fn = make_train_fn(gan, mesh, int(config.batch_size), k, unroll, resident=True)
  state = replicate(gan.init_state(int(config.seed)), mesh)
  data_lib.check_labels(data, gan.num_classes)
  images = jax.device_put(data.resident(gan.streams), replicated(mesh))  # the trainer's resident streams
  t0 = time.perf_counter()
  state, metrics = fn(state, images)
  jax.block_until_ready(metrics)
  compile_sec = time.perf_counter() - t0
  state, metrics = fn(state, images)  # one more warm-up call
  jax.block_until_ready(metrics)
  calls = max(1, int(np.ceil(steps / k)))
  t0 = time.perf_counter()
  for _ in range(calls):
    state, metrics = fn(state, images)
  jax.block_until_ready(metrics)
  dt = time.perf_counter() - t0
  sps = calls * k / dt
  return {"steps_per_sec": sps, "images_per_sec": sps * int(config.batch_size), "compile_sec": compile_sec,
          "backend": backend, "devices": mesh.size, "batch_size": int(config.batch_size), "steps_per_call": k,
          "unroll": unroll, "model": config.model.name, "dtype": config.model.get("dtype", "float32"),
          "d_loss": float(metrics["d_loss"][-1]), "g_loss": float(metrics["g_loss"][-1])}

"""Training speed of a config: where start-up goes, then steady-state img/s over timed calls.

  startup_sec     from `t_start` (the script passes its process start) to the end of the first K-step call
  compile_sec     lowering and compiling the K-step program (read from the persistent cache when it is warm)
  first_call_sec  the first K-step call, compiled
  data_sec, init_sec  reading the dataset; initialising the state
"""
import time
from typing import Optional

import jax
import numpy as np

from jaxgan import data as data_lib
from jaxgan import objective as objective_lib
from jaxgan.loop import call_start, make_train_fn
from jaxgan.parallel import make_mesh, replicate, replicated
from jaxgan.trainer import choose_k, validate


def benchmark(config, steps: int = 300, devices=None, t_start: Optional[float] = None) -> dict:
  t_start = time.perf_counter() if t_start is None else t_start
  validate(config)
  mesh = make_mesh(devices)
  gan = objective_lib.build(config, "data")
  gan.check_batch(int(config.batch_size), mesh.size)
  t0 = time.perf_counter()
  data = data_lib.load(config.data)
  data_sec = time.perf_counter() - t0
  data_lib.check_shape(data, gan.image_shape)
  backend = jax.default_backend()
  k, unroll = choose_k(config, backend)
  start = call_start(gan, 0, k, unroll)  # as the trainer's calls (steps 0, K, 2K, …)
  fn = make_train_fn(gan, mesh, int(config.batch_size), k, unroll, resident=True, start=start)
  t0 = time.perf_counter()
  state = jax.block_until_ready(replicate(gan.init_state(int(config.seed)), mesh))
  init_sec = time.perf_counter() - t0
  data_lib.check_labels(data, gan.num_classes)
  images = jax.device_put(data.resident(gan.streams), replicated(mesh))  # the trainer's resident streams
  t0 = time.perf_counter()
  fn = fn.lower(state, images).compile()
  compile_sec = time.perf_counter() - t0
  t0 = time.perf_counter()
  state, metrics = fn(state, images)
  jax.block_until_ready(metrics)
  first_call_sec = time.perf_counter() - t0
  startup_sec = time.perf_counter() - t_start
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
          "startup_sec": startup_sec, "first_call_sec": first_call_sec, "data_sec": data_sec, "init_sec": init_sec,
          "backend": backend, "devices": mesh.size, "batch_size": int(config.batch_size), "steps_per_call": k,
          "unroll": unroll, "model": config.model.name, "dtype": config.model.get("dtype", "float32"),
          "d_loss": float(metrics["d_loss"][-1]), "g_loss": float(metrics["g_loss"][-1])}

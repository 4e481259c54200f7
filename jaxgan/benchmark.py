"""Training speed of a config: where start-up goes, then steady-state img/s over timed calls.

  startup_sec     from `t_start` (the script passes its process start) to the end of the first K-step call
  compile_sec     lowering and compiling the K-step programs, one per schedule of lazy phases (read from the
                  persistent cache when it is warm); `programs` says how many
  first_call_sec  the first K-step call, compiled
  data_sec, init_sec  reading the dataset; initialising the state
"""
import time
from typing import Optional

import jax
import numpy as np

from jaxgan import data as data_lib
from jaxgan import objective as objective_lib
from jaxgan.loop import call_start, make_train_fn, schedule
from jaxgan.parallel import make_mesh, replicate, replicated
from jaxgan.trainer import choose_k, validate


def _period(obj, k: int, unroll: int) -> int:
  """Steps after which the calls' lazy-phase schedules repeat (K when there is nothing to schedule)."""
  start = call_start(obj, 0, k, unroll)
  return k if start is None else start[1]


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
  # As the trainer's calls (steps 0, K, 2K, …): one program per schedule of lazy phases (loop.schedule), the calls
  # of one period of the schedules timed in turn
  starts = [call_start(gan, step, k, unroll) for step in range(0, _period(gan, k, unroll), k)]
  keys = [schedule(gan, k, st) for st in starts]
  fns = {}
  for key, st in zip(keys, starts):
    if key not in fns:
      fns[key] = make_train_fn(gan, mesh, int(config.batch_size), k, unroll, resident=True, start=st)
  t0 = time.perf_counter()
  state = jax.block_until_ready(replicate(gan.init_state(int(config.seed)), mesh))
  init_sec = time.perf_counter() - t0
  data_lib.check_labels(data, gan.num_classes)
  images = jax.device_put(data.resident(gan.streams), replicated(mesh))  # the trainer's resident streams
  t0 = time.perf_counter()
  fns = {key: fn.lower(state, images).compile() for key, fn in fns.items()}
  compile_sec = time.perf_counter() - t0
  t0 = time.perf_counter()
  state, metrics = fns[keys[0]](state, images)
  jax.block_until_ready(metrics)
  first_call_sec = time.perf_counter() - t0
  startup_sec = time.perf_counter() - t_start
  for key in keys[1:] + keys[:1]:  # one more warm-up call of each program, back to the period's start
    state, metrics = fns[key](state, images)
  jax.block_until_ready(metrics)
  calls = max(1, int(np.ceil(steps / k)))
  calls = -(-calls // len(keys)) * len(keys)  # whole periods: each program as often as training runs it
  t0 = time.perf_counter()
  for c in range(calls):
    state, metrics = fns[keys[(c + 1) % len(keys)]](state, images)
  jax.block_until_ready(metrics)
  dt = time.perf_counter() - t0
  sps = calls * k / dt
  return {"steps_per_sec": sps, "images_per_sec": sps * int(config.batch_size), "compile_sec": compile_sec,
          "startup_sec": startup_sec, "first_call_sec": first_call_sec, "data_sec": data_sec, "init_sec": init_sec,
          "backend": backend, "devices": mesh.size, "batch_size": int(config.batch_size), "steps_per_call": k,
          "programs": len(fns),
          "unroll": unroll, "model": config.model.name, "dtype": config.model.get("dtype", "float32"),
          "d_loss": float(metrics["d_loss"][-1]), "g_loss": float(metrics["g_loss"][-1])}

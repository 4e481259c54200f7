"""Compile time and steady-state speed of every stage of a staged objective (Progressive GAN), one program per stage.

  python benchmarks/stage_speed.py --config=jaxgan/configs/progan_mnist.py [--k=4] [--calls=3] [--json=FILE]

For each stage: the first call of its compiled K-step program (compile + one call, the state fresh; with the
persistent compilation cache as train.py uses it, so a second run shows the warm figure) and the median
of `calls` further calls, as ms per step and images per second at the stage's batch size. The data are the
preset's, device-resident; K and unroll as the trainer picks them on this backend unless --k is given.
"""
import argparse
import json
import time

import jax
import numpy as np

from jaxgan import data as data_lib
from jaxgan import objective as objective_lib
from jaxgan.loop import make_train_fn
from jaxgan.parallel import make_mesh, replicate, replicated
from jaxgan.trainer import choose_k, load_config


def _config(path: str):
  if path.endswith(".json"):
    return load_config(path)
  import importlib.util
  spec = importlib.util.spec_from_file_location("preset", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--config", required=True)
  ap.add_argument("--k", type=int, default=0, help="steps per call (0: as the trainer picks)")
  ap.add_argument("--calls", type=int, default=3)
  ap.add_argument("--json", default="")
  args = ap.parse_args()
  from jaxgan import compile_cache
  compile_cache.enable()  # as train.py: JAXGAN_COMPILE_CACHE=DIR|off; a warm cache shows what a resume pays
  config = _config(args.config)
  k, unroll = choose_k(config, jax.default_backend())
  k = args.k or k
  mesh = make_mesh(None)
  obj = objective_lib.build(config, "data")
  data = data_lib.load(config.data)
  dataset = jax.device_put(data.resident(obj.streams), replicated(mesh))
  rows = []
  for stage in range(obj.num_stages):
    batch = obj.batch_size(stage, config.batch_size)
    fn = make_train_fn(obj.for_stage(stage), mesh, batch, k, min(unroll, k), resident=True)
    state = replicate(obj.enter_stage(obj.init_state(0), stage) if stage else obj.init_state(0), mesh)
    t0 = time.perf_counter()
    state, _ = fn(state, dataset)
    jax.block_until_ready(state)
    first = time.perf_counter() - t0
    times = []
    for _ in range(args.calls):
      t0 = time.perf_counter()
      state, _ = fn(state, dataset)
      jax.block_until_ready(state)
      times.append(time.perf_counter() - t0)
    step = float(np.median(times)) / k
    res = getattr(obj.for_stage(stage), "resolution", lambda: None)()
    rows.append({"stage": stage, "resolution": res, "batch": batch, "first_call_sec": round(first, 2),
                 "ms_per_step": round(step * 1000, 1), "img_per_sec": round(batch / step, 1)})
    print(f"stage {stage} ({res} px, batch {batch}): first call {first:.1f} s, {step * 1000:.0f} ms/step, "
          f"{batch / step:.0f} img/s", flush=True)
  if args.json:
    with open(args.json, "w") as f:
      json.dump({"config": args.config, "k": k, "backend": jax.default_backend(), "stages": rows}, f, indent=2)


if __name__ == "__main__":
  main()

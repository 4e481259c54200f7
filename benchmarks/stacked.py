"""Stacked-MNIST protocol: train a preset, then count the digit triples of 26,000 samples (MNIST judge per channel).

  python benchmarks/stacked.py --config=jaxgan/configs/stacked_mnist.py --workdir=runs/stacked_mnist [--json=out]
      [--grid=out.png] [--eval_only]

Prints one JSON line: modes (of 1,000), KL(p_gen ‖ uniform) over the triple histogram, the same for 26,000 real
stacks (the floor a perfect generator scores at this sample count), each channel's digit counts, steps and training
wall/CPU minutes. Samples come from the EMA generator when the preset keeps one (seed 0).
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from absl import flags  # noqa: E402

from jaxgan import cli, configs  # noqa: E402

import _protocol  # noqa: E402  (benchmarks/_protocol.py)

_CONFIG = cli.define_config(configs.path("stacked_mnist"), "Preset.")
_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (resumed if it exists).")
_NUM = flags.DEFINE_integer("num", 26_000, "Samples to score (the protocol's 26,000).")
_EVAL_ONLY = flags.DEFINE_bool("eval_only", False, "Score the workdir's latest checkpoint without training.")
_JSON = flags.DEFINE_string("json", None, "Also write the row (with the machine and command) to this JSON file.")
_GRID = flags.DEFINE_string("grid", None, "Also write a PNG: 64 stacks (RGB), then each channel's first 12 digits "
                            "of every class the judge gave them, one row per class.")


def class_grid(images_Nx28x28x3, ids_N, per_class: int = 12):
  """uint8 [H, W, 3]: 64 stacks as RGB; beside them, for each channel, one row per digit d of the first
  `per_class` samples whose channel the judge read as d (grey; black tiles where there are fewer)."""
  import numpy as np
  from jaxgan.logging import image_grid
  digits = np.stack([ids_N // 100, ids_N // 10 % 10, ids_N % 10], axis=1)
  blocks = [image_grid(images_Nx28x28x3[:64], nrow=8)]
  for c in range(3):
    tiles = np.zeros((10 * per_class, 28, 28), np.uint8)
    for d in range(10):
      found = images_Nx28x28x3[digits[:, c] == d][:per_class, :, :, c]
      tiles[d * per_class:d * per_class + len(found)] = found
    blocks.append(np.repeat(image_grid(tiles[..., None], nrow=per_class), 3, axis=-1))
  height = max(b.shape[0] for b in blocks)
  pad = lambda b: np.pad(b, ((0, height - b.shape[0]), (0, 8), (0, 0)), constant_values=255)
  return np.concatenate([pad(b) for b in blocks], axis=1)


def main(argv):
  from jaxgan import metrics
  from jaxgan.sampling import generate
  config = _CONFIG.value
  workdir = _WORKDIR.value or cli.fail("--workdir is required")
  run, row = _protocol.train_timed(config, workdir, train=not _EVAL_ONLY.value)
  images = generate(run, _NUM.value, seed=0)
  r = metrics.evaluate("stacked_mnist", images=images)
  row.update({k: v for k, v in r.items() if isinstance(v, (int, float, str))})
  row["channel_counts"] = r["channel_counts"]
  if _GRID.value:
    from PIL import Image
    from jaxgan.metrics.stacked_mnist import predicted_triples
    few = images[:5000]  # ≈ 500 a class: plenty for 12 tiles each
    Image.fromarray(class_grid(few, predicted_triples(few))).save(_GRID.value)
  print(json.dumps(row), flush=True)
  if _JSON.value:
    _protocol.write_row(_JSON.value, row, f"stacked MNIST, {_NUM.value} samples (seed 0), MNIST judge "
                        f"v{r['judge_version']} per channel", config)


if __name__ == "__main__":
  cli.run(main)

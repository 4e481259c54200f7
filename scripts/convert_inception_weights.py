"""Converts pytorch-fid's FID Inception weights to the flat .npz that `jaxgan.metrics.inception` loads.

Usage (needs torch, run once, on any machine that has it; jaxgan itself never imports torch):
  wget https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth
  python scripts/convert_inception_weights.py pt_inception-2015-12-05-6726825d.pth \
      ~/.cache/jaxgan/pt_inception-2015-12-05.npz

The output holds one float32 array per torch parameter, keyed by its torch name (`Mixed_5b.branch1x1.conv.weight`,
torch layout), and no pickled objects; `num_batches_tracked` counters are dropped. Set $JAXGAN_INCEPTION_WEIGHTS
to the output if you write it elsewhere.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

import numpy as np


def state_dict_to_arrays(state_dict: Mapping[str, Any]) -> dict[str, np.ndarray]:
  """torch tensors (or arrays) -> float32 NumPy arrays under the same names, minus BN step counters."""
  out = {}
  for name, value in state_dict.items():
    if name.endswith("num_batches_tracked"):
      continue
    if hasattr(value, "detach"):  # a torch.Tensor; duck-typed so this function needs no torch
      value = value.detach().cpu().float().numpy()
    out[name] = np.ascontiguousarray(np.asarray(value, dtype=np.float32))
  return out


def write_npz(arrays: Mapping[str, np.ndarray], out_path: str) -> None:
  os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
  tmp = out_path + ".tmp.npz"
  np.savez(tmp, **arrays)
  os.replace(tmp, out_path)  # never leave a half-written file at the path load_inception looks at


def main(argv: list[str]) -> None:
  if len(argv) != 3:
    sys.exit(__doc__)
  import torch  # only the converter needs torch

  state_dict = torch.load(argv[1], map_location="cpu", weights_only=True)
  arrays = state_dict_to_arrays(state_dict)
  try:  # validate names and shapes when jaxgan is importable here too
    from jaxgan.metrics.inception import torch_to_flax
    torch_to_flax(arrays)
  except ImportError:
    print("jaxgan not importable here: skipped the name/shape check (load_inception will do it).")
  write_npz(arrays, argv[2])
  print(f"wrote {argv[2]}: {len(arrays)} arrays, {sum(a.size for a in arrays.values())} numbers")


if __name__ == "__main__":
  main(sys.argv)

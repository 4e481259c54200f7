"""Converts a StyleGAN2-ADA (NVIDIA, PyTorch) snapshot `.pkl` to an `.npz` that jaxgan loads without pickle.

Run it where torch is installed (jaxgan is not needed; NVIDIA's own code is not imported or executed):

  python scripts/convert_stylegan2.py network-snapshot-000000.pkl out.npz

NVIDIA's snapshots pickle their networks as "persistent" objects that carry the source code of their modules and
execute it when unpickled. This script never does: its unpickler allows only the globals a snapshot needs (torch's
tensor/parameter rebuild functions, OrderedDict, numpy scalars, dnnlib's EasyDict as a dict) and replaces NVIDIA's
`_reconstruct_persistent_obj` with a function that keeps the object's recorded state (parameters, buffers,
sub-modules, constructor arguments) as plain data. Anything else in the file is refused with a one-line error.
Storages are read with `torch.load(..., weights_only=True)`.

The .npz holds, for each network of the snapshot (G, D, G_ema): `<net>/<state_dict name>` float32 arrays in
NVIDIA's layout, and `<net>/init_kwargs`, its constructor arguments as JSON. jaxgan reads it with
`jaxgan.models.stylegan2.load_nvidia_npz(path, "G_ema")` → (module, variables).
"""
import collections
import io
import json
import os
import pickle
import sys

import numpy as np

NETS = ("G", "D", "G_ema")


class _Persistent(dict):
  """What a persistent NVIDIA object becomes: its class name and recorded state, nothing executed."""


def _reconstruct_persistent_obj(meta):
  if not isinstance(meta, dict) or meta.get("type") != "class" or not isinstance(meta.get("state"), dict):
    raise pickle.UnpicklingError("unexpected persistent object in the snapshot")
  return _Persistent(class_name=str(meta.get("class_name")), state=meta["state"])


class _EasyDict(dict):
  pass


def _allowed():
  import torch
  import torch._utils as tu

  def load_storage(b):
    return torch.load(io.BytesIO(b), weights_only=True)

  table = {
      ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
      ("collections", "OrderedDict"): collections.OrderedDict,
      ("dnnlib.util", "EasyDict"): _EasyDict,
      ("torch._utils", "_rebuild_tensor_v2"): tu._rebuild_tensor_v2,
      ("torch._utils", "_rebuild_parameter"): tu._rebuild_parameter,
      ("torch.storage", "_load_from_bytes"): load_storage,
      ("torch", "device"): torch.device,
      ("builtins", "set"): set,
      ("builtins", "frozenset"): frozenset,
      ("numpy", "dtype"): np.dtype,
      ("numpy", "ndarray"): np.ndarray,
  }
  try:
    from numpy._core import multiarray
  except ImportError:  # numpy < 2
    from numpy.core import multiarray
  for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
    table[(mod, "scalar")] = multiarray.scalar
    table[(mod, "_reconstruct")] = multiarray._reconstruct
  for name in ("float32", "float16", "float64", "bfloat16", "int64", "int32", "uint8", "bool"):
    table[("torch", name)] = getattr(torch, name)
  for name in ("FloatStorage", "HalfStorage", "DoubleStorage", "LongStorage", "IntStorage", "ByteStorage",
               "BoolStorage"):
    table[("torch", name)] = getattr(torch, name)
  table[("copyreg", "_reconstructor")] = _safe_reconstructor
  return {k: v for k, v in table.items() if v is not None}


def _safe_reconstructor(cls, base, state):
  if cls not in (_EasyDict, collections.OrderedDict, _Persistent) or base not in (dict, object):
    raise pickle.UnpicklingError(f"the snapshot reconstructs a {cls!r}, which this converter does not allow")
  obj = cls.__new__(cls)
  if state is not None:
    obj.update(state)
  return obj


class RestrictedUnpickler(pickle.Unpickler):
  def __init__(self, f):
    super().__init__(f)
    self._table = _allowed()

  def find_class(self, module, name):
    fn = self._table.get((module, name))
    if fn is None:
      raise pickle.UnpicklingError(f"the snapshot needs {module}.{name}, which this converter does not allow")
    return fn


def state_dict(obj, prefix=""):
  """name → numpy float32 array from a `_Persistent` network's recorded parameters, buffers and sub-modules."""
  import torch
  if not isinstance(obj, _Persistent):
    raise ValueError(f"expected a network at {prefix or 'top level'}, got {type(obj).__name__}")
  st = obj["state"]
  out = {}
  for kind in ("_parameters", "_buffers"):
    for k, v in (st.get(kind) or {}).items():
      if v is None:
        continue
      if not isinstance(v, torch.Tensor):
        raise ValueError(f"{prefix}{k} is not a tensor")
      out[prefix + k] = v.detach().cpu().to(torch.float32).numpy()
  for k, m in (st.get("_modules") or {}).items():
    if m is not None:
      out.update(state_dict(m, f"{prefix}{k}."))
  return out


def _jsonable(v):
  if isinstance(v, dict):
    return {str(k): _jsonable(x) for k, x in v.items()}
  if isinstance(v, (list, tuple)):
    return [_jsonable(x) for x in v]
  if isinstance(v, (np.generic,)):
    return v.item()
  if v is None or isinstance(v, (bool, int, float, str)):
    return v
  raise ValueError(f"unexpected constructor argument {v!r}")


def convert(pkl_path, out_path):
  with open(pkl_path, "rb") as f:
    data = RestrictedUnpickler(f).load()
  if not isinstance(data, dict) or not any(n in data for n in NETS):
    raise ValueError(f"{pkl_path} is not a StyleGAN2-ADA snapshot (no G, D or G_ema)")
  arrays = {}
  for net in NETS:
    if data.get(net) is None:
      continue
    obj = data[net]
    for k, v in state_dict(obj).items():
      arrays[f"{net}/{k}"] = v
    kwargs = dict(obj["state"].get("_init_kwargs") or {})
    args = obj["state"].get("_init_args") or ()
    if args:
      raise ValueError(f"{net} was built with positional arguments; this converter expects keyword arguments")
    arrays[f"{net}/init_kwargs"] = np.array(json.dumps(_jsonable(kwargs)))
    arrays[f"{net}/class_name"] = np.array(obj["class_name"])
  tmp = out_path + ".tmp.npz"
  np.savez(tmp, **arrays)
  os.replace(tmp, out_path)
  return arrays


def main(argv):
  if len(argv) != 3:
    sys.exit("usage: convert_stylegan2.py SNAPSHOT.pkl OUT.npz")
  try:
    arrays = convert(argv[1], argv[2])
  except (OSError, pickle.UnpicklingError, ValueError, EOFError) as e:
    sys.exit(f"error: {e}")
  nets = sorted({k.split("/")[0] for k in arrays})
  print(f"wrote {argv[2]}: {', '.join(nets)} ({len(arrays)} arrays)")


if __name__ == "__main__":
  main(sys.argv)

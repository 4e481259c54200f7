"""Model registry: `get_model(name)` returns a (Generator, Discriminator) factory pair.

Contract for every registered family (see DESIGN.md):
  G(z_BxZ, train: bool, [labels]) -> images_BxHxWxC in [-1, 1]   (NHWC, tanh output)
  D(x_BxHxWxC, train: bool, [labels]) -> logits_B                   (raw logits; sigmoid lives in the loss)
    and D sows its last features [B, F] as ("intermediates", "features"), which a loss term reads by applying D
    with mutable "intermediates" (e.g. feature matching); otherwise the sow is a no-op
Modules take `dtype` (compute dtype; params stay float32) and `axis_name` (BatchNorm statistics across devices).
"""
from typing import Callable, Dict

_REGISTRY: Dict[str, Callable] = {}


def register(name: str):
  def deco(fn):
    _REGISTRY[name] = fn
    return fn
  return deco


def get_model(name: str):
  """`name` -> builder(config, axis_name) -> (generator_module, discriminator_module)."""
  _import_all()
  if name not in _REGISTRY:
    raise ValueError(f"unknown model {name!r}; known models: {', '.join(sorted(_REGISTRY))}")
  return _REGISTRY[name]


def is_convolutional(name: str) -> bool:
  """Whether model family `name` is built from convolutions (every family but the dense `mlp` ones): the loop's
  K on CPU reads this (short calls for conv models, whose steps are slow)."""
  return name not in ("mlp", "mixture_mlp", "ssl_mlp")


def model_names():
  _import_all()
  return sorted(_REGISTRY)


def _import_all():
  import importlib, pkgutil
  for m in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{m.name}")

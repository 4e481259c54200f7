"""pix2pix on label maps: the pix2pix objective (jaxgan/pix2pix.py, U-Net G, PatchGAN D, adversarial + λ·L1)
whose input is an int label map [B, H, W] instead of an image — the `pix2pix_scenes` side of the SPADE comparison.

The map is one-hot encoded in-graph as ±1 channels (`model.map_classes` of them), which is G's conditioning image and
what D sees beside the image; everything else is pix2pix's (its phases, terms, U-Net and PatchGAN). Registered as
objective "pix2pix_map"; `model.input_shape` is set from the map (H, W, map_classes).
"""
import dataclasses
from typing import Optional

import jax
import jax.numpy as jnp
import ml_collections

from jaxgan.objective import register
from jaxgan.pix2pix import Pix2Pix, build_pix2pix


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class Pix2PixMap(Pix2Pix):
  map_classes: int

  @property
  def stream_shapes(self) -> dict:
    return {"input": tuple(self.image_shape[:2]), "target": tuple(self.image_shape)}

  def condition(self, inputs, masks=None):
    """int label maps [B, H, W] → one-hot ±1 [B, H, W, map_classes]."""
    del masks
    return jax.nn.one_hot(inputs.astype(jnp.int32), self.map_classes, dtype=jnp.float32) * 2.0 - 1.0

  def translate_maps(self, g_params, g_vars, maps, key=None):
    """Images in [−1, 1] for int label maps [B, H, W] (the interface the spade objective shares)."""
    return self.translate(g_params, g_vars, maps, key=key)

  def sample_grid(self, state, data, n: int = 16):
    from jaxgan.spade import map_grid
    return map_grid(lambda maps: self.translate(state.params("g"), state.vars("g"), maps), data, n)


@register("pix2pix_map")
def build_pix2pix_map(config, axis_name: Optional[str] = None) -> Pix2PixMap:
  classes = int(config.model.get("map_classes", 0) or 0)
  if classes < 2:
    raise ValueError(f"objective 'pix2pix_map' needs model.map_classes (the label map's class count >= 2), "
                     f"got {classes}")
  if bool((config.get("pix2pix", None) or {}).get("mask", False)):
    raise ValueError("objective 'pix2pix_map' translates label maps; pix2pix.mask (inpainting) does not apply")
  h, w = tuple(config.model.image_shape)[:2]
  config = ml_collections.ConfigDict(config.to_dict())  # an unlocked copy (train.py locks its config)
  config.model.input_shape = (h, w, classes)
  base = build_pix2pix(config, axis_name)
  fields = {f.name: getattr(base, f.name) for f in dataclasses.fields(base)}
  return Pix2PixMap(**fields, map_classes=classes)

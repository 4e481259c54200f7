"""The pix2pix objective (Isola et al. 2017): a conditional GAN that translates an input image into an output image.

Streams (jaxgan/data/paired.py): `input`, `target`, and for inpainting `mask`. G's conditioning image `cond` is the
input brought to the output size — a smaller input (super-resolution) is up-sampled bicubically in-graph
(`jax.image.resize`, Keys a = −0.5), so G learns what bicubic up-sampling misses — and for inpainting the masked
input ⊕ the mask (as −1/+1 in an extra channel). G is a U-Net (models/unet.py) whose dropout is its only noise (no
z, as in the paper); for inpainting its output is composited: known pixels are the input's, G fills the hole.

  D phase: D(cond ⊕ target) → real, D(cond ⊕ G(cond)) → fake   (a PatchGAN: one logit per patch)
  G phase: adversarial(D(cond ⊕ G(cond))) + λ·|G(cond) − target|₁  (λ = `pix2pix.l1_weight`, 100 in the paper)

`pix2pix.mode = "l1"` trains the same G by λ·L1 alone, with no D at all (the players are {g}): the baseline that
shows what the adversarial term adds. Losses are on logits (`loss.name`, default non-saturating), float32.

Config: objective = "pix2pix", model.name = "unet", model.image_shape (the output), model.input_shape (the input,
e.g. (7, 7, 1) for ×4 super-resolution of digits), pix2pix = dict(mode="gan" | "l1", l1_weight=100.0,
mask=False). Sample grids (samples/step_*.png) show input | output | target for 16 fixed items of the data.
"""
import dataclasses
from typing import Optional, Tuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxgan import losses, terms
from jaxgan.gan import make_optimizer
from jaxgan.models import get_model
from jaxgan.objective import Objective, Phase, PhaseInput, Player, Term, register, require_model

MODES = ("gan", "l1")


def upsample(x, size: Tuple[int, int]):
  """Bicubic up-sampling (Keys, a = −0.5) of float NHWC images to `size`, clipped to [-1, 1]; unchanged when
  already that size."""
  if tuple(x.shape[1:3]) == tuple(size):
    return x
  y = jax.image.resize(x.astype(jnp.float32), (x.shape[0],) + tuple(size) + (x.shape[3],), "bicubic")
  return jnp.clip(y, -1.0, 1.0)


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class Pix2Pix(Objective):
  image_shape: Tuple[int, int, int]   # G's output (the target)
  input_shape: Tuple[int, int, int]   # the input as the dataset holds it
  loss: losses.GANLoss
  mode: str = "gan"
  l1_weight: float = 100.0
  mask: bool = False
  num_classes: int = 0                # the trainer's class-label checks: none here
  label_prior: Optional[tuple] = None

  @property
  def stream_shapes(self) -> dict:
    shapes = {"input": tuple(self.input_shape), "target": tuple(self.image_shape)}
    if self.mask:
      shapes["mask"] = tuple(self.image_shape[:2]) + (1,)
    return shapes

  @property
  def generator(self):
    return self.players["g"].module

  @property
  def cond_channels(self) -> int:
    return self.input_shape[2] + (1 if self.mask else 0)

  def condition(self, inputs, masks=None):
    """G's and D's conditioning image [B, H, W, C'] from float inputs in [-1, 1] (and bool masks)."""
    x = upsample(inputs.astype(jnp.float32), self.image_shape[:2])
    if self.mask:
      if masks is None:
        raise ValueError("this run inpaints: it needs a mask with every input")
      x = jnp.concatenate([x, jnp.where(masks, 1.0, -1.0).astype(jnp.float32)], axis=-1)
    return x

  def composite(self, out, inputs, masks=None):
    """G's output with the known pixels of an inpainting input put back (unchanged otherwise)."""
    if not self.mask:
      return out
    return jnp.where(masks, out, inputs.astype(out.dtype))

  def example_input(self, player: str):
    h, w, c = self.image_shape
    if player == "g":
      return (jnp.zeros((2, h, w, self.cond_channels), jnp.float32),), {}
    return (jnp.zeros((2, h, w, self.cond_channels + c), jnp.float32),), {}

  def check_batch(self, batch_size: int, n_devices: int = 1) -> None:
    del batch_size, n_devices  # every per-device batch works: no groups, no packing

  def translate(self, g_params, g_vars, inputs, masks=None, key=None):
    """G's outputs (float [-1, 1], composited for inpainting) for float inputs in [-1, 1]; inference mode (no
    dropout, BatchNorm running averages) unless a `key` is given, which samples the dropout noise."""
    cond = self.condition(inputs, masks)
    variables = {"params": g_params, **g_vars}
    if key is None:
      out = self.generator.apply(variables, cond, train=False)
    else:  # the paper's test-time dropout: train-mode G, its collections not updated
      out, _ = self.generator.apply(variables, cond, train=True, rngs={"dropout": key}, mutable=list(g_vars))
    return self.composite(out, inputs, masks)

  def sample_grid(self, state, data, n: int = 16):
    """uint8 images for a grid of `n` fixed data items (the first n) as rows of input | output | target, two
    items per row, and the number of columns (6)."""
    from jaxgan.logging import images_to_uint8
    n = min(n, data.num)
    idx = np.arange(n)
    inputs = data.read("input", idx)
    masks = data.read("mask", idx) if self.mask else None
    f = lambda a: jnp.asarray(a, jnp.float32) / 127.5 - 1.0
    out = jax.jit(self.translate)(state.params("g"), state.vars("g"), f(inputs), masks)
    targets = data.read("target", idx)
    shown_in = np.asarray(images_to_uint8(upsample(f(inputs), self.image_shape[:2])))
    if shown_in.shape[-1] != targets.shape[-1]:  # e.g. a grey input beside colour targets: first channel, tiled
      shown_in = np.repeat(shown_in[..., :1], targets.shape[-1], axis=-1)
    if masks is not None and targets.shape[-1] == 3:  # show the hole in red on colour images
      shown_in = np.where(masks, np.array([255, 0, 0], np.uint8), shown_in)
    rows = np.stack([shown_in, np.asarray(images_to_uint8(out)), targets], axis=1)  # [n, 3, H, W, C]
    return rows.reshape((-1,) + rows.shape[2:]), 6


# -- phases --------------------------------------------------------------------------------------------------------

def _g(obj: Pix2Pix, state, params, cond, key):
  g = state.players["g"]
  out, g_vars = obj.generator.apply({"params": params, **g.vars}, cond, train=True, rngs={"dropout": key},
                                    mutable=list(g.vars))
  return out, g_vars


def _d(obj: Pix2Pix, state, params, x, update: bool):
  """D's patch logits of x; its collections are updated (returned) only with `update`."""
  d = obj.players["d"].module
  d_vars = state.players["d"].vars
  out, new_vars = d.apply({"params": params, **d_vars}, x, train=True, mutable=list(d_vars))
  return out, (new_vars if update else d_vars)


def _cond(obj: Pix2Pix, batch):
  inputs, masks = batch["input"], batch.get("mask")
  return inputs, masks, obj.condition(inputs, masks)


def d_forward(inp: PhaseInput, d_params):
  obj, state, batch = inp.obj, inp.state, inp.batch
  inputs, masks, cond = _cond(obj, batch)
  fake, _ = _g(obj, state, state.params("g"), cond, inp.key)  # G's collections are updated in G's phase only
  fake = lax.stop_gradient(obj.composite(fake, inputs, masks))
  real_logits, d_vars = _d(obj, state, d_params, jnp.concatenate([cond, batch["target"]], -1), True)
  state = state.with_player("d", vars=d_vars)
  fake_logits, d_vars = _d(obj, state, d_params, jnp.concatenate([cond, fake], -1), True)
  return {"real": {"logits": real_logits}, "fake": {"logits": fake_logits}}, {"d": d_vars}


def g_forward(inp: PhaseInput, g_params):
  obj, state, batch = inp.obj, inp.state, inp.batch
  inputs, masks, cond = _cond(obj, batch)
  fake, g_vars = _g(obj, state, g_params, cond, inp.key)
  fake = obj.composite(fake, inputs, masks)
  out = {"fake_x": fake, "target": batch["target"]}
  if "d" in obj.players:
    out["fake"] = {"logits": _d(obj, state, state.params("d"), jnp.concatenate([cond, fake], -1), False)[0]}
  return out, {"g": g_vars}


def l1(inp, out):
  """Mean |G(x) − y| over pixels, in [-1, 1] units (float32)."""
  value = jnp.mean(jnp.abs(out["fake_x"].astype(jnp.float32) - out["target"].astype(jnp.float32)))
  return value, {"g_l1": value}


def _adversarial_g(loss):
  fn = terms.adversarial_g(loss)

  def term(inp, out):
    value, m = fn(inp, out)
    return value, {**m, "g_adv": value}
  return term


@register("pix2pix")
def build_pix2pix(config, axis_name: Optional[str] = None) -> Pix2Pix:
  """The pix2pix objective `config` describes (see the module doc); one-line ValueErrors for bad settings."""
  require_model(config, "pix2pix", "unet")
  p = config.get("pix2pix", None) or {}
  mode = str(p.get("mode", "gan"))
  if mode not in MODES:
    raise ValueError(f"pix2pix.mode must be 'gan' (adversarial + L1) or 'l1' (L1 only), got {mode!r}")
  weight = float(p.get("l1_weight", 100.0))
  if weight < 0 or (mode == "l1" and weight == 0):
    raise ValueError(f"pix2pix.l1_weight must be >= 0 (> 0 in l1 mode), got {weight}")
  image_shape = tuple(int(v) for v in config.model.image_shape)
  input_shape = tuple(int(v) for v in config.model.get("input_shape", image_shape))
  if len(input_shape) != 3 or input_shape[0] > image_shape[0] or input_shape[1] > image_shape[1]:
    raise ValueError(f"model.input_shape {input_shape} must be H×W×C no larger than image_shape {image_shape}")
  mask = bool(p.get("mask", False))
  if mask and input_shape[:2] != image_shape[:2]:
    raise ValueError(f"inpainting (pix2pix.mask) needs inputs the size of the outputs: {input_shape} vs "
                     f"{image_shape}")
  g, d = get_model("unet")(config.model, axis_name)
  loss = losses.get_loss(str(config.loss.get("name", "non_saturating")))
  g_terms = (Term("l1", l1, weight),)
  players = {"g": Player(g, make_optimizer(config.optim.g))}
  phases = ()
  if mode == "gan":
    players["d"] = Player(d, make_optimizer(config.optim.d))
    g_terms = (Term("adversarial", _adversarial_g(loss)),) + g_terms
    phases = (Phase("d", "d", d_forward, (Term("adversarial", terms.adversarial_d(loss)),)),)
  phases += (Phase("g", "g", g_forward, g_terms, total_metric="g_loss"),)
  return Pix2Pix(players=players, phases=phases, streams=("input", "target") + (("mask",) if mask else ()),
                 skip_nonfinite=config.get("nonfinite", "stop") == "skip",
                 sanitize_grads=bool(config.get("sanitize_grads", False)), axis_name=axis_name,
                 image_shape=image_shape, input_shape=input_shape, loss=loss, mode=mode, l1_weight=weight,
                 mask=mask)


# -- applying a trained G --------------------------------------------------------------------------------------------

def translate_uint8(obj: Pix2Pix, g_params, g_vars, inputs, masks=None, batch: int = 500,
                    noise_seed: Optional[int] = None) -> np.ndarray:
  """uint8 outputs [N, H, W, C] for uint8 `inputs` [N, h, w, c] (and bool `masks` [N, H, W, 1] when inpainting),
  in batches of `batch` (the last one padded: one compiled shape). `noise_seed` samples the dropout noise (the
  paper's test-time dropout); None: deterministic inference."""
  from jaxgan.logging import images_to_uint8
  inputs = np.asarray(inputs)
  if obj.mask and masks is None:
    raise ValueError("this model inpaints: give a mask with every input")
  fn = jax.jit(obj.translate)
  out = []
  for i in range(0, len(inputs), batch):
    x = inputs[i:i + batch]
    m = None if masks is None else np.asarray(masks[i:i + batch], bool)
    pad = batch - len(x) if len(inputs) > batch else 0
    if pad:
      x = np.concatenate([x, np.zeros((pad,) + x.shape[1:], x.dtype)])
      m = None if m is None else np.concatenate([m, np.zeros((pad,) + m.shape[1:], bool)])
    key = None if noise_seed is None else jax.random.fold_in(jax.random.key(noise_seed), i)
    y = fn(g_params, g_vars, jnp.asarray(x, jnp.float32) / 127.5 - 1.0, None if m is None else jnp.asarray(m), key)
    out.append(np.asarray(images_to_uint8(y))[:len(x) - pad])
  return np.concatenate(out)


def eval_pairs(config, split: str = "test", num: int = 0) -> dict:
  """The run's paired dataset (`config.data`) in `split` (default MNIST's test digits), first `num` items (0: all):
  {"inputs", "targets", "labels" (None when unlabelled), "masks" (None unless inpainting)}."""
  from jaxgan import data as data_lib
  cfg = config.data.copy_and_resolve_references()
  with cfg.unlocked():
    cfg.split = split
    cfg.num = int(num)
  data = data_lib.load(cfg)
  idx = np.arange(data.num)
  return {"inputs": data.read("input", idx), "targets": data.read("target", idx),
          "labels": data.labels if data.has_labels else None,
          "masks": data.read("mask", idx) if "mask" in data.stream_names else None}

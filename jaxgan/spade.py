"""The SPADE / GauGAN objective (Park et al. 2019): label map → image.

Streams: `input`, an int label map [B, H, W] (classes 0..`model.map_classes` − 1; one-hot encoded here), and
`target`, the real image [B, H, W, C] in [−1, 1]. Players: `g` (jaxgan/models/spade.py's SPADEGenerator, holding
the optional VAE encoder) and `d` (the multi-scale PatchGAN on map ⊕ image).

  D phase  hinge:            (1/S) Σ_s [ E relu(1 − D_s(m, x)) + E relu(1 + D_s(m, G(m))) ]   (E over patches, batch)
  G phase  hinge:            −(1/S) Σ_s E D_s(m, G(m))
           feature matching: λ_FM · (1/S) Σ_s Σ_l E |D_s^l(m, G(m)) − D_s^l(m, x)|   (l: every layer but the logits;
                             λ_FM = 10, `spade.fm_weight`)
           KL (with `model.use_vae`): λ_KL · E_b [ −½ Σ_j (1 + log σ²_j − μ_j² − σ²_j) ]  (λ_KL = 0.05)

S = `model.num_d` scales. All losses in float32 on D's raw outputs. The paper's VGG perceptual loss needs ImageNet
weights jaxgan does not have offline, so it is left out (NVIDIA's `--no_vgg_loss`). Random numbers (z, the VAE's ε)
are drawn for the global batch and sliced per device; instance norm is per sample: the family is device-count
invariant. Optimizers: the paper's TTUR, Adam β = (0, 0.9), lr_G 1e-4, lr_D 4e-4 (the presets say theirs).

Sampling: `translate(g_params, maps, key)` — from the map alone (z ~ N(0, I) when G starts from noise);
with the encoder, `translate(..., style=images)` takes z from the images' encodings (multi-modal outputs).
"""
import dataclasses
from typing import Optional, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan import parallel
from jaxgan.gan import make_optimizer
from jaxgan.models.spade import MultiscaleDiscriminator, SPADEGenerator
from jaxgan.objective import Objective, Phase, PhaseInput, Player, Term, register, require_model

MAP, IMAGE = "input", "target"


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class Spade(Objective):
  image_shape: Tuple[int, int, int]
  map_classes: int
  z_dim: int
  use_vae: bool = False
  start: str = "map"
  num_classes: int = 0          # class labels of a class-conditional GAN: none here (the trainer checks these)
  label_prior: Optional[Tuple[int, ...]] = None

  @property
  def generator(self):
    return self.players["g"].module

  @property
  def discriminator(self):
    return self.players["d"].module

  @property
  def needs_z(self) -> bool:
    return self.start == "noise"

  def one_hot(self, maps):
    """int label maps [B, H, W] → float32 one-hot [B, H, W, map_classes]."""
    return jax.nn.one_hot(maps.astype(jnp.int32), self.map_classes, dtype=jnp.float32)

  def example_input(self, player: str):
    h, w, c = self.image_shape
    m = jnp.zeros((2, h, w, self.map_classes), jnp.float32)
    if player == "g":
      return (m,), {"z": jnp.zeros((2, self.z_dim), jnp.float32) if self.needs_z else None}
    return (m, jnp.zeros((2, h, w, c), jnp.float32)), {}

  def check_batch(self, batch_size: int, n_devices: int = 1) -> None:
    del batch_size, n_devices  # nothing looks across samples

  def translate_maps(self, g_params, g_vars, maps, key=None):
    """Images in [−1, 1] for int label maps [B, H, W] (the interface pix2pix_map shares)."""
    return self.translate(g_params, maps, key, g_vars=g_vars)

  @property
  def stream_shapes(self) -> dict:
    return {MAP: tuple(self.image_shape[:2]), IMAGE: tuple(self.image_shape)}

  def sample_grid(self, state, data, n: int = 16):
    """The trainer's grid: rows of label map (palette colours) | output | target for the first `n` items of the
    data, two items per row (6 columns); z of a fixed key when G starts from noise."""
    return map_grid(lambda maps: self.translate(state.params("g"), maps, jax.random.key(0),
                                                g_vars=state.vars("g")), data, n)

  # -- the generator's input ----------------------------------------------------------------------------------

  def local_normal(self, key, local: int):
    """This device's rows of N(0, I) [global batch, z_dim]."""
    n = local * parallel.n_devices(self.axis_name)
    return parallel.local_slice(self.axis_name, jax.random.normal(key, (n, self.z_dim), jnp.float32), local)

  def g_forward(self, g_params, g_vars, m, real, key):
    """G's output in training: z from the real image's encoding (VAE) or N(0, I) (noise start); (fake, stats)."""
    local = m.shape[0]
    kw = {}
    if self.use_vae:
      kw = {"image": real, "eps": self.local_normal(key, local)}
    elif self.needs_z:
      kw = {"z": self.local_normal(key, local)}
    return self.generator.apply({"params": g_params, **g_vars}, m, **kw)

  def translate(self, g_params, maps, key=None, style=None, g_vars=None):
    """Images [B, H, W, C] in [−1, 1] for int label maps [B, H, W]; `key` draws z when G starts from noise;
    `style` (images in [−1, 1]) sets z to their encodings' means (needs the encoder)."""
    m = self.one_hot(maps)
    variables = {"params": g_params, **(g_vars or {})}
    if style is not None:
      if not self.use_vae:
        raise ValueError("style images need the VAE encoder (model.use_vae = True)")
      eps = jnp.zeros((maps.shape[0], self.z_dim), jnp.float32)  # z = the encoding's mean
      return self.generator.apply(variables, m, image=style, eps=eps)[0]
    z = None
    if self.needs_z:
      key = jax.random.key(0) if key is None else key
      z = jax.random.normal(key, (maps.shape[0], self.z_dim), jnp.float32)
    return self.generator.apply(variables, m, z=z)[0]


def map_grid(translate, data, n: int = 16):
  """uint8 rows of colourised map | translate(maps) | target for the first `n` items; (images, 6 columns)."""
  from jaxgan.data.scenes import colorize
  from jaxgan.logging import images_to_uint8
  n = min(n, data.num)
  idx = np.arange(n)
  maps = np.asarray(data.read(MAP, idx))
  out = np.asarray(images_to_uint8(jax.jit(translate)(jnp.asarray(maps))))
  rows = np.stack([colorize(maps), out, np.asarray(data.read(IMAGE, idx))], axis=1)
  return rows.reshape((-1,) + rows.shape[2:]), 6


def _d_apply(obj: Spade, d_params, d_vars, m, x, mutable: bool):
  variables = {"params": d_params, **d_vars}
  if mutable and d_vars:
    return obj.discriminator.apply(variables, m, x, train=True, mutable=list(d_vars))
  return obj.discriminator.apply(variables, m, x, train=False), d_vars


def d_forward(inp: PhaseInput, d_params):
  """D on (map, real) and (map, G(map)) in one pass (instance norm is per sample, so one pass is exact)."""
  obj, state = inp.obj, inp.state
  m, real = obj.one_hot(inp.batch[MAP]), inp.batch[IMAGE]
  g = state.players["g"]
  fake, _ = obj.g_forward(g.params, g.vars, m, real, inp.key)
  fake = jax.lax.stop_gradient(fake).astype(real.dtype)
  n = real.shape[0]
  d = state.players["d"]
  out, new_vars = _d_apply(obj, d_params, d.vars, jnp.concatenate([m, m]), jnp.concatenate([real, fake]), True)
  real_logits = [f[-1][:n] for f in out]
  fake_logits = [f[-1][n:] for f in out]
  return {"real": real_logits, "fake": fake_logits}, {"d": new_vars}


def g_forward(inp: PhaseInput, g_params):
  """G's fakes and D's features on them and on the reals (D's spectral estimates not updated)."""
  obj, state = inp.obj, inp.state
  m, real = obj.one_hot(inp.batch[MAP]), inp.batch[IMAGE]
  g, d = state.players["g"], state.players["d"]
  fake, stats = obj.g_forward(g_params, g.vars, m, real, inp.key)
  n = real.shape[0]
  out, _ = _d_apply(obj, d.params, d.vars, jnp.concatenate([m, m]), jnp.concatenate([fake, real]), False)
  fake_f = [[f[:n] for f in scale] for scale in out]
  real_f = [[jax.lax.stop_gradient(f[n:]) for f in scale] for scale in out]
  return {"fake_f": fake_f, "real_f": real_f, "stats": stats}, {}


def hinge_d(inp, out):
  """(1/S) Σ_s E relu(1 − real_s) + E relu(1 + fake_s), float32."""
  r = [jnp.mean(jax.nn.relu(1.0 - x.astype(jnp.float32))) for x in out["real"]]
  f = [jnp.mean(jax.nn.relu(1.0 + x.astype(jnp.float32))) for x in out["fake"]]
  value = (sum(r) + sum(f)) / len(r)
  return value, {"d_real": sum(jnp.mean(x.astype(jnp.float32)) for x in out["real"]) / len(r),
                 "d_fake": sum(jnp.mean(x.astype(jnp.float32)) for x in out["fake"]) / len(r)}


def hinge_g(inp, out):
  """−(1/S) Σ_s E fake_s."""
  logits = [scale[-1] for scale in out["fake_f"]]
  value = -sum(jnp.mean(x.astype(jnp.float32)) for x in logits) / len(logits)
  return value, {"g_adversarial": value}


def feature_matching(inp, out):
  """(1/S) Σ_s Σ_l E |fake_s^l − real_s^l| over every layer but the logits (real features held fixed)."""
  total = 0.0
  for fs, rs in zip(out["fake_f"], out["real_f"]):
    for f, r in zip(fs[:-1], rs[:-1]):
      total = total + jnp.mean(jnp.abs(f.astype(jnp.float32) - r.astype(jnp.float32)))
  value = total / len(out["fake_f"])
  return value, {"g_feature_matching": value}


def kl(inp, out):
  """E_b −½ Σ_j (1 + log σ² − μ² − σ²) of the encoder's posterior against N(0, I)."""
  mu, logvar = out["stats"]
  value = jnp.mean(-0.5 * jnp.sum(1.0 + logvar - jnp.square(mu) - jnp.exp(logvar), axis=-1))
  return value, {"g_kl": value}


def build_networks(config, axis_name=None):
  """(G, D) of `config.model` (name "spade")."""
  mc = config.model
  h, w, c = tuple(mc.image_shape)
  if h != w:
    raise ValueError(f"spade: square images only, got {h}x{w}")
  widths = tuple(int(x) for x in mc.get("widths", (64, 64, 32, 32, 16)))
  if h % 2 ** (len(widths) - 1):
    raise ValueError(f"spade: image size {h} does not halve {len(widths) - 1} times (model.widths has "
                     f"{len(widths)} entries)")
  use_vae = bool(mc.get("use_vae", False))
  start = str(mc.get("start", "") or ("noise" if use_vae else "map"))
  if start not in ("map", "noise"):
    raise ValueError(f"model.start must be 'map' or 'noise', got {start!r}")
  if use_vae and start != "noise":
    raise ValueError("model.use_vae needs model.start = 'noise' (z from the encoder feeds G's first layer)")
  num_d = int(mc.get("num_d", 2))
  if num_d < 1 or h % (4 * 2 ** (num_d - 1)):
    raise ValueError(f"model.num_d = {num_d} does not fit {h}x{h} images")
  g = SPADEGenerator(image_size=h, channels=c, widths=widths, hidden=int(mc.get("spade_hidden", 32)),
                     z_dim=int(mc.get("latent_dim", 64)), start=start, use_vae=use_vae,
                     encoder_widths=tuple(int(x) for x in mc.get("encoder_widths", (16, 32, 64, 64))))
  d = MultiscaleDiscriminator(num_d=num_d, width=int(mc.get("d_width", 32)),
                              spectral=bool(mc.get("spectral_norm_d", True)), axis_name=axis_name)
  return g, d


@register("spade")
def build_spade(config, axis_name: Optional[str] = None) -> Spade:
  """The SPADE objective `config` describes (model.name = "spade"; see the module docstring)."""
  require_model(config, "spade", "spade")
  map_classes = int(config.model.get("map_classes", 0) or 0)
  if map_classes < 2:
    raise ValueError(f"model.map_classes must be the label map's class count (>= 2), got {map_classes}")
  g, d = build_networks(config, axis_name)
  s = config.get("spade", {})
  fm, kl_w = float(s.get("fm_weight", 10.0)), float(s.get("kl_weight", 0.05))
  if fm < 0 or kl_w < 0:
    raise ValueError(f"spade.fm_weight and spade.kl_weight must be >= 0, got {fm}, {kl_w}")
  g_terms = [Term("adversarial", hinge_g)]
  if fm:
    g_terms.append(Term("feature_matching", feature_matching, fm))
  if g.use_vae:
    g_terms.append(Term("kl", kl, kl_w))
  phases = (Phase("d", "d", d_forward, (Term("adversarial", hinge_d),), total_metric="d_loss"),
            Phase("g", "g", g_forward, tuple(g_terms), total_metric="g_loss"))
  return Spade(players={"g": Player(g, make_optimizer(config.optim.g)), "d": Player(d, make_optimizer(config.optim.d))},
               phases=phases, streams=(MAP, IMAGE), skip_nonfinite=config.get("nonfinite", "stop") == "skip",
               axis_name=axis_name, lazy_cond=False, image_shape=tuple(config.model.image_shape),
               map_classes=map_classes, z_dim=g.z_dim, use_vae=g.use_vae, start=g.start)

"""The FID InceptionV3 (pytorch-fid's port of the 2015-12-05 TF graph) in Flax, and its weight loader.

`load_inception(path)` returns `extract(images_NxHxWxC_uint8) -> (pool3_Nx2048, logits_Nx1008)`, both float32
NumPy arrays, computed as pytorch-fid computes them:

  x = uint8 / 255;  x = bilinear_resize(x, 299x299, align_corners=False, no antialias);  x = 2x - 1
  pool3 = mean_hw(InceptionV3_features(x));  logits = pool3 @ fc.weight^T + fc.bias

The architecture is torchvision's `Inception3` with pytorch-fid's patches: in Mixed_5b-d (A), Mixed_6b-e (C) and
Mixed_7b (E_1) the pool branch averages over valid pixels only (TF's avg-pool, `count_include_pad=False`), and
Mixed_7c (E_2) max-pools there. Every conv is `BasicConv2d`: conv (no bias) -> BatchNorm(eps=1e-3) -> ReLU.

Weights: a flat `.npz` keyed by the torch parameter names (`Mixed_5b.branch1x1.conv.weight`, ...), written once
by `scripts/convert_inception_weights.py` on a machine with torch. At load time each BatchNorm is folded into its
conv (inference only): kernel' = kernel * s, bias' = beta - mean * s, s = gamma / sqrt(var + eps).
"""
from __future__ import annotations

import functools
import os
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

BN_EPS = 1e-3
NUM_LOGITS = 1008
POOL3_DIM = 2048
INPUT_SIZE = 299
WEIGHTS_ENV = "JAXGAN_INCEPTION_WEIGHTS"
DEFAULT_WEIGHTS_PATH = os.path.join("~", ".cache", "jaxgan", "pt_inception-2015-12-05.npz")
TORCH_WEIGHTS_URL = ("https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
                     "pt_inception-2015-12-05-6726825d.pth")

Pad = tuple[tuple[int, int], tuple[int, int]]
Extractor = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


# ----------------------------------------------------------------------------------------------------------------
# Architecture. Module names equal torchvision's attribute names, so the torch key `A.B.conv.weight` lives at the
# Flax path ('A', 'B', 'conv', 'kernel').


class BasicConv2d(nn.Module):
  """relu(conv(x) + bias): torchvision's BasicConv2d with its BatchNorm folded into the conv."""
  features: int
  kernel: tuple[int, int] = (1, 1)
  strides: tuple[int, int] = (1, 1)
  padding: tuple[int, int] = (0, 0)
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x_BxHxWxC: jax.Array) -> jax.Array:
    (ph, pw) = self.padding
    y = nn.Conv(self.features, self.kernel, self.strides, padding=((ph, ph), (pw, pw)), use_bias=True,
                dtype=self.dtype, name="conv")(x_BxHxWxC)
    return nn.relu(y)


def _avg_pool_valid(x: jax.Array) -> jax.Array:
  # TF's 3x3/1 SAME avg-pool divides by the number of real pixels, not 9 (pytorch-fid's patch).
  return nn.avg_pool(x, (3, 3), strides=(1, 1), padding=((1, 1), (1, 1)), count_include_pad=False)


def _max_pool_3x3_s2(x: jax.Array) -> jax.Array:
  return nn.max_pool(x, (3, 3), strides=(2, 2), padding="VALID")


class InceptionA(nn.Module):
  pool_features: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    conv = functools.partial(BasicConv2d, dtype=self.dtype)
    b1 = conv(64, name="branch1x1")(x)
    b5 = conv(48, name="branch5x5_1")(x)
    b5 = conv(64, (5, 5), padding=(2, 2), name="branch5x5_2")(b5)
    b3 = conv(64, name="branch3x3dbl_1")(x)
    b3 = conv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(b3)
    b3 = conv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_3")(b3)
    bp = conv(self.pool_features, name="branch_pool")(_avg_pool_valid(x))
    return jnp.concatenate([b1, b5, b3, bp], axis=-1)


class InceptionB(nn.Module):
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    conv = functools.partial(BasicConv2d, dtype=self.dtype)
    b3 = conv(384, (3, 3), strides=(2, 2), name="branch3x3")(x)
    bd = conv(64, name="branch3x3dbl_1")(x)
    bd = conv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(bd)
    bd = conv(96, (3, 3), strides=(2, 2), name="branch3x3dbl_3")(bd)
    return jnp.concatenate([b3, bd, _max_pool_3x3_s2(x)], axis=-1)


class InceptionC(nn.Module):
  channels_7x7: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    conv = functools.partial(BasicConv2d, dtype=self.dtype)
    c7 = self.channels_7x7
    b1 = conv(192, name="branch1x1")(x)
    b7 = conv(c7, name="branch7x7_1")(x)
    b7 = conv(c7, (1, 7), padding=(0, 3), name="branch7x7_2")(b7)
    b7 = conv(192, (7, 1), padding=(3, 0), name="branch7x7_3")(b7)
    bd = conv(c7, name="branch7x7dbl_1")(x)
    bd = conv(c7, (7, 1), padding=(3, 0), name="branch7x7dbl_2")(bd)
    bd = conv(c7, (1, 7), padding=(0, 3), name="branch7x7dbl_3")(bd)
    bd = conv(c7, (7, 1), padding=(3, 0), name="branch7x7dbl_4")(bd)
    bd = conv(192, (1, 7), padding=(0, 3), name="branch7x7dbl_5")(bd)
    bp = conv(192, name="branch_pool")(_avg_pool_valid(x))
    return jnp.concatenate([b1, b7, bd, bp], axis=-1)


class InceptionD(nn.Module):
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    conv = functools.partial(BasicConv2d, dtype=self.dtype)
    b3 = conv(192, name="branch3x3_1")(x)
    b3 = conv(320, (3, 3), strides=(2, 2), name="branch3x3_2")(b3)
    b7 = conv(192, name="branch7x7x3_1")(x)
    b7 = conv(192, (1, 7), padding=(0, 3), name="branch7x7x3_2")(b7)
    b7 = conv(192, (7, 1), padding=(3, 0), name="branch7x7x3_3")(b7)
    b7 = conv(192, (3, 3), strides=(2, 2), name="branch7x7x3_4")(b7)
    return jnp.concatenate([b3, b7, _max_pool_3x3_s2(x)], axis=-1)


class InceptionE(nn.Module):
  """E_1 (`pool='avg'`, Mixed_7b) or E_2 (`pool='max'`, Mixed_7c: the TF graph max-pools here)."""
  pool: str = "avg"
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    conv = functools.partial(BasicConv2d, dtype=self.dtype)
    b1 = conv(320, name="branch1x1")(x)
    b3 = conv(384, name="branch3x3_1")(x)
    b3 = jnp.concatenate([conv(384, (1, 3), padding=(0, 1), name="branch3x3_2a")(b3),
                          conv(384, (3, 1), padding=(1, 0), name="branch3x3_2b")(b3)], axis=-1)
    bd = conv(448, name="branch3x3dbl_1")(x)
    bd = conv(384, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(bd)
    bd = jnp.concatenate([conv(384, (1, 3), padding=(0, 1), name="branch3x3dbl_3a")(bd),
                          conv(384, (3, 1), padding=(1, 0), name="branch3x3dbl_3b")(bd)], axis=-1)
    if self.pool == "max":
      # -inf padding, as F.max_pool2d(padding=1).
      pooled = nn.max_pool(x, (3, 3), strides=(1, 1), padding=((1, 1), (1, 1)))
    else:
      pooled = _avg_pool_valid(x)
    bp = conv(192, name="branch_pool")(pooled)
    return jnp.concatenate([b1, b3, bd, bp], axis=-1)


class FIDInceptionV3(nn.Module):
  """x in [-1, 1], Bx299x299x3 -> (pool3 Bx2048, logits Bx1008), float32 outputs."""
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x_BxHxWx3: jax.Array) -> tuple[jax.Array, jax.Array]:
    conv = functools.partial(BasicConv2d, dtype=self.dtype)
    x = conv(32, (3, 3), strides=(2, 2), name="Conv2d_1a_3x3")(x_BxHxWx3)
    x = conv(32, (3, 3), name="Conv2d_2a_3x3")(x)
    x = conv(64, (3, 3), padding=(1, 1), name="Conv2d_2b_3x3")(x)
    x = _max_pool_3x3_s2(x)
    x = conv(80, name="Conv2d_3b_1x1")(x)
    x = conv(192, (3, 3), name="Conv2d_4a_3x3")(x)
    x = _max_pool_3x3_s2(x)
    x = InceptionA(32, self.dtype, name="Mixed_5b")(x)
    x = InceptionA(64, self.dtype, name="Mixed_5c")(x)
    x = InceptionA(64, self.dtype, name="Mixed_5d")(x)
    x = InceptionB(self.dtype, name="Mixed_6a")(x)
    x = InceptionC(128, self.dtype, name="Mixed_6b")(x)
    x = InceptionC(160, self.dtype, name="Mixed_6c")(x)
    x = InceptionC(160, self.dtype, name="Mixed_6d")(x)
    x = InceptionC(192, self.dtype, name="Mixed_6e")(x)
    x = InceptionD(self.dtype, name="Mixed_7a")(x)
    x = InceptionE("avg", self.dtype, name="Mixed_7b")(x)
    x = InceptionE("max", self.dtype, name="Mixed_7c")(x)
    pool3_Bx2048 = jnp.mean(x.astype(jnp.float32), axis=(1, 2))
    # Logits stay float32: IS exponentiates them.
    logits_Bx1008 = nn.Dense(NUM_LOGITS, dtype=jnp.float32, name="fc")(pool3_Bx2048)
    return pool3_Bx2048, logits_Bx1008


# ----------------------------------------------------------------------------------------------------------------
# Torch names <-> Flax tree.


@functools.cache
def _flax_param_shapes() -> dict[str, Any]:
  shapes = jax.eval_shape(FIDInceptionV3().init, jax.random.key(0),
                          jax.ShapeDtypeStruct((1, INPUT_SIZE, INPUT_SIZE, 3), jnp.float32))
  return shapes["params"]


def torch_param_shapes() -> list[tuple[str, tuple[int, ...]]]:
  """(name, shape) of every tensor in a pytorch-fid FID Inception state dict (minus `num_batches_tracked`)."""
  out = []
  for path, leaf in jax.tree_util.tree_flatten_with_path(_flax_param_shapes())[0]:
    keys = [k.key for k in path]
    if keys[-1] != "kernel":
      continue
    if keys[0] == "fc":
      (c_in, c_out) = leaf.shape
      out += [("fc.weight", (c_out, c_in)), ("fc.bias", (c_out,))]
    else:
      (kh, kw, c_in, c_out) = leaf.shape
      prefix = ".".join(keys[:-2])
      out.append((f"{prefix}.conv.weight", (c_out, c_in, kh, kw)))
      out += [(f"{prefix}.bn.{n}", (c_out,)) for n in ("weight", "bias", "running_mean", "running_var")]
  return out


def _set(tree: dict, keys: Sequence[str], value: np.ndarray) -> None:
  for k in keys[:-1]:
    tree = tree.setdefault(k, {})
  tree[keys[-1]] = value


def torch_to_flax(state: Mapping[str, np.ndarray]) -> dict[str, Any]:
  """Flat torch-named arrays -> Flax `params`, folding each BatchNorm into its conv (in float64)."""
  expected = dict(torch_param_shapes())
  names = set(state) - {k for k in state if k.endswith("num_batches_tracked")}
  missing, extra = sorted(set(expected) - names), sorted(names - set(expected))
  if missing or extra:
    raise ValueError(f"Not an FID Inception state dict: missing {missing[:5]} ({len(missing)}), "
                     f"unexpected {extra[:5]} ({len(extra)}).")
  for name, shape in expected.items():
    if tuple(state[name].shape) != shape:
      raise ValueError(f"{name}: shape {tuple(state[name].shape)}, expected {shape}.")
  params: dict[str, Any] = {}
  for name in expected:
    if not name.endswith(".conv.weight"):
      continue
    prefix = name[:-len(".conv.weight")]
    bn = {n: np.asarray(state[f"{prefix}.bn.{n}"], np.float64)
          for n in ("weight", "bias", "running_mean", "running_var")}
    scale_O = bn["weight"] / np.sqrt(bn["running_var"] + BN_EPS)
    w_OxIxHxW = np.asarray(state[name], np.float64)
    keys = prefix.split(".") + ["conv"]
    _set(params, keys + ["kernel"], (w_OxIxHxW.transpose(2, 3, 1, 0) * scale_O).astype(np.float32))
    _set(params, keys + ["bias"], (bn["bias"] - bn["running_mean"] * scale_O).astype(np.float32))
  params["fc"] = {"kernel": np.asarray(state["fc.weight"], np.float32).T.copy(),
                  "bias": np.asarray(state["fc.bias"], np.float32)}
  return params


def random_torch_state(seed: int) -> dict[str, np.ndarray]:
  """Deterministic stand-in weights, torch layout, for tests (no torch needed).

  Each tensor draws from its own stream `default_rng([seed, crc32(name)])`, so the order of names is irrelevant.
  conv: N(0, 2/fan_in) (He, keeps activations O(1) through 94 layers); bn gamma U(0.5, 1.5), beta N(0, 0.1^2),
  running_mean N(0, 0.1^2), running_var U(0.5, 2); fc: N(0, 1/2048), bias N(0, 0.1^2).
  `scripts/make_inception_golden.py` re-implements this filler for its torch reference.
  """
  out = {}
  for name, shape in torch_param_shapes():
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    if name.endswith("conv.weight"):
      fan_in = int(np.prod(shape[1:]))
      v = rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
    elif name == "fc.weight":
      v = rng.standard_normal(shape) / np.sqrt(shape[1])
    elif name.endswith("bn.weight"):
      v = rng.uniform(0.5, 1.5, shape)
    elif name.endswith("running_var"):
      v = rng.uniform(0.5, 2.0, shape)
    else:  # bn.bias, bn.running_mean, fc.bias
      v = 0.1 * rng.standard_normal(shape)
    out[name] = v.astype(np.float32)
  return out


# ----------------------------------------------------------------------------------------------------------------
# Preprocessing and the extractor.


def bilinear_matrix(n_in: int, n_out: int = INPUT_SIZE) -> np.ndarray:
  """n_out x n_in matrix of torch's F.interpolate(mode='bilinear', align_corners=False, antialias=False).

  src = max((dst + 0.5) * n_in / n_out - 0.5, 0); i0 = floor(src), i1 = min(i0 + 1, n_in - 1);
  out[dst] = (1 - l) * in[i0] + l * in[i1], l = src - i0. Unlike jax.image.resize it never antialiases, which
  is what pytorch-fid does when shrinking large images.
  """
  dst = np.arange(n_out, dtype=np.float64)
  src = np.maximum((dst + 0.5) * (n_in / n_out) - 0.5, 0.0)
  i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
  i1 = np.minimum(i0 + 1, n_in - 1)
  lam = src - i0
  m = np.zeros((n_out, n_in), np.float64)
  np.add.at(m, (np.arange(n_out), i0), 1.0 - lam)
  np.add.at(m, (np.arange(n_out), i1), lam)
  return m.astype(np.float32)


@functools.cache
def _preprocess_fn(h: int, w: int, c: int) -> Callable[[jax.Array], jax.Array]:
  """uint8 BxHxWxC -> float Bx299x299x3 in [-1, 1], jitted per input shape (cheap next to the network)."""
  if c not in (1, 3):
    raise ValueError(f"Expected 1 or 3 channels, got {c}.")
  r_h = jnp.asarray(bilinear_matrix(h))
  r_w = jnp.asarray(bilinear_matrix(w))

  @jax.jit
  def preprocess(x_BxHxWxC: jax.Array) -> jax.Array:
    x = x_BxHxWxC.astype(jnp.float32) / 255.0
    x = jnp.einsum("ph,bhwc->bpwc", r_h, x, precision=jax.lax.Precision.HIGHEST)
    x = jnp.einsum("qw,bpwc->bpqc", r_w, x, precision=jax.lax.Precision.HIGHEST)
    x = 2.0 * x - 1.0
    return jnp.broadcast_to(x, x.shape[:3] + (3,))  # grayscale -> RGB; resize is per channel, so tile after.

  return preprocess


def default_weights_path(path: str | None = None) -> str:
  """`path`, else $JAXGAN_INCEPTION_WEIGHTS, else ~/.cache/jaxgan/pt_inception-2015-12-05.npz."""
  return os.path.expanduser(path or os.environ.get(WEIGHTS_ENV) or DEFAULT_WEIGHTS_PATH)


def load_torch_npz(path: str | None = None) -> dict[str, np.ndarray]:
  """The flat torch-named arrays written by scripts/convert_inception_weights.py (no pickle)."""
  path = default_weights_path(path)
  if not os.path.isfile(path):
    raise FileNotFoundError(
        f"FID Inception weights not found at {path}: download {TORCH_WEIGHTS_URL} and run "
        f"`python scripts/convert_inception_weights.py pt_inception-2015-12-05-6726825d.pth {path}` "
        f"(needs torch, once), or point ${WEIGHTS_ENV} at the converted .npz.")
  with np.load(path, allow_pickle=False) as f:
    return {k: f[k] for k in f.files}


def load_inception(path: str | None = None, batch_size: int = 64, dtype: Any = jnp.float32,
                   devices: Sequence[jax.Device] | None = None) -> Extractor:
  """Returns `extract(images_NxHxWxC_uint8) -> (pool3_Nx2048, logits_Nx1008)` (float32 NumPy).

  Images are fed in fixed batches of `batch_size` (the last one zero-padded) so the network compiles once per
  process; any HxW works (resized to 299x299), C is 1 or 3. Each batch is split over `devices` (default: all
  local devices; `batch_size` is rounded up to a multiple of their count). `dtype=jnp.bfloat16` computes the convs
  in bfloat16: for GPU/TPU speed, not the reference numerics (pool3 ~4e-3 off); no faster on XLA:CPU.
  """
  params = torch_to_flax(load_torch_npz(path))
  model = FIDInceptionV3(dtype=dtype)
  devices = list(devices or jax.local_devices())
  n_dev = len(devices)
  batch_size = -(-batch_size // n_dev) * n_dev
  mesh = jax.sharding.Mesh(np.asarray(devices), ("data",))
  replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
  by_batch = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("data"))
  params = jax.device_put(params, replicated)

  @functools.partial(jax.jit, in_shardings=(replicated, by_batch), out_shardings=by_batch)
  def network(p, x_Bx299x299x3):
    # float32 means float32: without this GPUs run the convs in TF32 and TPUs in bfloat16 passes (~1e-3 off).
    with jax.default_matmul_precision("highest" if dtype == jnp.float32 else "default"):
      return model.apply({"params": p}, x_Bx299x299x3)

  def extract(images_NxHxWxC: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    images = np.asarray(images_NxHxWxC)
    if images.ndim != 4 or images.dtype != np.uint8:
      raise ValueError(f"Expected NxHxWxC uint8 images, got {images.dtype} {images.shape}.")
    n, h, w, c = images.shape
    preprocess = _preprocess_fn(h, w, c)
    pools, logits = [], []
    for start in range(0, n, batch_size):
      chunk = images[start:start + batch_size]
      if len(chunk) < batch_size:
        chunk = np.concatenate([chunk, np.zeros((batch_size - len(chunk), h, w, c), np.uint8)])
      x = jax.device_put(chunk, by_batch)
      pool, logit = network(params, preprocess(x))
      pools.append(pool)
      logits.append(logit)
    if not pools:
      return np.zeros((0, POOL3_DIM), np.float32), np.zeros((0, NUM_LOGITS), np.float32)
    # Gather at the end so batches dispatch back to back.
    return (np.concatenate([np.asarray(p) for p in pools])[:n],
            np.concatenate([np.asarray(l) for l in logits])[:n])

  return extract

"""DiffAugment: shapes, value ranges, exact translation/cutout structure, determinism, gradients, device split."""
import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import PartitionSpec as P

from jaxgan import augment
from jaxgan.parallel import make_mesh

B, H, W, C = 8, 8, 8, 3


def images(seed=0):
  return jnp.asarray(np.random.default_rng(seed).uniform(-1, 1, (B, H, W, C)), jnp.float32)


def shift_zero_fill(x_HxWxC, tx, ty):
  """out[i, j] = x[i + tx, j + ty], zero outside."""
  out = np.zeros_like(x_HxWxC)
  for i in range(H):
    for j in range(W):
      if 0 <= i + tx < H and 0 <= j + ty < W:
        out[i, j] = x_HxWxC[i + tx, j + ty]
  return out


def test_translation_is_a_zero_filled_shift_within_an_eighth():
  x = np.asarray(images())
  y = np.asarray(augment.translation(jax.random.key(0), jnp.asarray(x)))
  chex.assert_shape(y, (B, H, W, C))
  r = int(H * 0.125 + 0.5)
  shifts = []
  for b in range(B):
    found = [(tx, ty) for tx in range(-r, r + 1) for ty in range(-r, r + 1)
             if np.allclose(y[b], shift_zero_fill(x[b], tx, ty), atol=1e-6)]
    assert found, f"image {b} is not a shift of at most {r} pixels"
    shifts.append(found[0])
  assert len(set(shifts)) > 1  # per-image draws


def test_cutout_zeroes_one_square_of_half_the_size():
  x = jnp.ones((B, H, W, C))
  y = np.asarray(augment.cutout(jax.random.key(1), x))
  size = int(H * 0.5 + 0.5)
  assert set(np.unique(y)) <= {0.0, 1.0}
  for b in range(B):
    zero = y[b, :, :, 0] == 0
    assert np.all(zero == (y[b] == 0).all(-1))  # all channels alike
    rows, cols = np.where(zero.any(1))[0], np.where(zero.any(0))[0]
    assert 0 < rows.size <= size and 0 < cols.size <= size
    assert zero[rows.min():rows.max() + 1, cols.min():cols.max() + 1].all()  # one filled rectangle
    assert zero.sum() == rows.size * cols.size
  np.testing.assert_array_equal(np.asarray(augment.cutout(jax.random.key(1), images()))[y == 1] != 0, True)


def test_color_is_brightness_saturation_contrast():
  x = images()
  y = augment.color(jax.random.key(2), x)
  chex.assert_shape(y, x.shape)
  # Affine per image: saturation and contrast scale deviations by [0, 2) and [0.5, 1.5); the mean moves only by
  # the brightness shift in [-½, ½).
  dev = lambda v: np.asarray(v - v.mean(axis=(1, 2, 3), keepdims=True))
  ratio = np.abs(dev(y)).sum((1, 2, 3)) / np.abs(dev(x)).sum((1, 2, 3))
  assert np.all(ratio < 2 * 1.5 + 1e-5)
  shift = np.asarray(y.mean((1, 2, 3)) - x.mean((1, 2, 3)))
  assert np.all(np.abs(shift) <= 0.5 + 1e-5)


def test_deterministic_and_differentiable(policy="translation,cutout,color"):
  x = images()
  f = jax.jit(lambda k, x_: augment.diff_augment(k, x_, augment.parse(policy)))
  chex.assert_trees_all_equal(f(jax.random.key(3), x), f(jax.random.key(3), x))
  assert not np.allclose(f(jax.random.key(3), x), f(jax.random.key(4), x))
  # Affine in x for a fixed draw, f(x) = Ax + c: the gradient of <f(x), v> is Aᵀv at every x, and
  # <Aᵀv, u> = <f(x + u) − f(x), v>. So gradients reach the input, exactly.
  v, u = images(1), images(2)
  grad = jax.jit(jax.grad(lambda x_: jnp.vdot(f(jax.random.key(3), x_), v)))
  g = grad(x)
  chex.assert_trees_all_close(grad(u), g, atol=1e-6)
  np.testing.assert_allclose(jnp.vdot(g, u), jnp.vdot(f(jax.random.key(3), x + u) - f(jax.random.key(3), x), v),
                             rtol=1e-4)
  assert np.abs(np.asarray(g)).max() > 0


def test_parse_and_errors():
  assert augment.parse("") == () and augment.parse(" translation, color ") == ("translation", "color")
  with pytest.raises(ValueError, match="unknown augmentation 'flip'"):
    augment.parse("flip")
  with pytest.raises(ValueError, match="needs images"):
    augment.diff_augment(jax.random.key(0), jnp.zeros((4, 2)), ("color",))


def test_four_devices_draw_the_same_augmentations_as_one():
  x = images()
  policy = augment.parse("translation,cutout,color")
  one = augment.diff_augment(jax.random.key(5), x, policy)
  mesh = make_mesh(jax.devices()[:4])
  fn = jax.jit(jax.shard_map(functools.partial(augment.diff_augment, policy=policy, axis_name="data"),
                             mesh=mesh, in_specs=(P(), P("data")), out_specs=P("data")))
  np.testing.assert_allclose(fn(jax.random.key(5), x), one, atol=1e-6)

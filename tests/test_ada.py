"""ADA: NVIDIA-golden transforms (tests/data/ada_golden.npz from scripts/make_ada_golden.py), identity at p = 0,
gradients (first and second order), the p controller's arithmetic, 1 vs 4 devices, determinism."""
import functools
import os

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from jax.sharding import PartitionSpec as P

from jaxgan import ada
from jaxgan.parallel import make_mesh

GOLDEN = os.path.join(os.path.dirname(__file__), "data", "ada_golden.npz")
# Measured worst case over the cases: 5.9e-6 of the output scale (outputs), 1.6e-6 (gradients); float32 rounding of
# NVIDIA's coordinate chain (normalised grid → pixels) against ours (pixels directly) and of summation order.
TOL = 2e-5
# One compiled program per (function, shapes, spec), shared by the tests below (compiles dominate their time).
APPLY = jax.jit(ada.apply)
MATRICES = jax.jit(ada.matrices, static_argnums=(2, 3, 4, 5))
AUGMENT = jax.jit(ada.augment, static_argnames=("spec", "axis_name"))
GRAD = jax.jit(jax.grad(lambda x, g, c, m, w: jnp.sum(ada.apply(x, g, c, m) * w)))


@functools.lru_cache(None)
def golden():
  with np.load(GOLDEN, allow_pickle=False) as d:
    return {k: d[k] for k in d.files}


CASES = str(golden()["cases"]).split(",")


def run_case(name):
  """The arguments of ada.apply for the draws NVIDIA's run recorded (x, G_inv, C, margin), and NVIDIA's y."""
  d = golden()
  x, p = d[f"{name}/x"], d[f"{name}/p"]
  kw = {k: float(v) for k, v in (e.split("=") for e in str(d[f"{name}/pipe"]).split(","))}
  spec = ada.make_spec(kw)
  b, h, w, c = x.shape
  calls = ada.draw_calls(spec, c)
  assert "".join(kind for _, kind, _ in calls) == str(d[f"{name}/kinds"])   # NVIDIA's call order and kinds
  draws = {}
  for i, (transform, _, shape) in enumerate(calls):
    v = d[f"{name}/draw_{i}"]
    chex.assert_shape(v, (b,) + tuple(shape))
    draws.setdefault(transform, []).append(jnp.asarray(v))
  g_inv, cm = MATRICES({t: tuple(v) for t, v in draws.items()}, p, spec, h, w, c)
  m = None if g_inv is None else ada.margin(g_inv, h, w)
  return (jnp.asarray(x), g_inv, cm, m), d[f"{name}/y"]


def test_golden_file_covers_every_transform_alone_and_the_whole_pipe():
  singles = {c.split("_", 1)[1] for c in CASES if c.startswith("rgb_")}
  assert set(ada.GEOMETRIC + ada.COLOR) <= singles
  assert {"rgb_bgc", "gray_bgc", "wide_bgc", "rgb_bgc_p0.5", "rgb_zoomout"} <= set(CASES)
  assert os.path.getsize(GOLDEN) < 1 << 20


@pytest.mark.parametrize("name", CASES)
def test_matches_nvidia(name):
  args, want = run_case(name)
  x = args[0]
  got = np.asarray(APPLY(*args))
  chex.assert_shape(got, want.shape)
  scale = max(1.0, float(np.abs(want).max()))
  np.testing.assert_allclose(got, want, rtol=0, atol=TOL * scale)
  assert not np.allclose(got, np.asarray(x), atol=1e-3)   # the case does transform its images


@pytest.mark.parametrize("name", [c for c in CASES if f"{c}/dx" in golden()])
def test_gradients_match_nvidia(name):
  args, _ = run_case(name)
  d = golden()
  dx = np.asarray(GRAD(*args, d[f"{name}/w"]))
  want = d[f"{name}/dx"]
  np.testing.assert_allclose(dx, want, rtol=0, atol=TOL * max(1.0, float(np.abs(want).max())))


def test_upsampling_is_nvidias_matrix_and_its_transpose():
  x = jnp.asarray(np.random.default_rng(0).standard_normal((2, 9, 7, 3)), jnp.float32)
  for axis in (1, 2):
    u = ada._upsample_matrix(x.shape[axis])
    want = np.moveaxis(np.tensordot(u, np.moveaxis(np.asarray(x), axis, 0), 1), 0, axis)
    np.testing.assert_allclose(ada.upsample_axis(x, axis), want, atol=2e-6)
    dy = jnp.asarray(np.random.default_rng(1).standard_normal(want.shape), jnp.float32)
    g = jax.grad(lambda z: jnp.sum(ada.upsample_axis(z, axis) * dy))(x)
    np.testing.assert_allclose(g, np.moveaxis(np.tensordot(u.T, np.moveaxis(np.asarray(dy), axis, 0), 1), 0, axis),
                               atol=2e-6)


def images(b=8, h=16, w=16, c=3, seed=0):
  return jnp.asarray(np.random.default_rng(seed).uniform(-1, 1, (b, h, w, c)), jnp.float32)


def test_p_zero_is_the_identity_and_the_filter_alone_nearly_so():
  x = images()
  np.testing.assert_array_equal(AUGMENT(x, jax.random.key(0), 0.0, spec="bgc"), x)
  # With every sample's transform the identity, the pad/up/sample/down chain is the identity to float rounding
  # (sym6 is orthogonal); NVIDIA runs it at p = 0 too, jaxgan skips it.
  x = images(b=4)
  g = jnp.broadcast_to(jnp.eye(3), (4, 3, 3))
  np.testing.assert_allclose(APPLY(x, g, None, ada.margin(g, 16, 16)), x, atol=1e-6)


def test_gradients_flow_first_and_second_order():
  x = images(c=3)
  key = jax.random.key(3)
  f = lambda x: ada.augment(x, key, 0.7, "bgc")

  # R1 through the pipe: the squared input-gradient norm of a toy D, differentiated w.r.t. D's parameter a.
  @jax.jit
  @jax.value_and_grad
  def r1(a):
    grad_x = jax.grad(lambda x: jnp.sum(jnp.tanh(a * f(x))))(x)
    return jnp.sum(grad_x ** 2)

  v, da = r1(jnp.float32(0.5))
  assert np.isfinite(float(v)) and float(v) > 1e-2          # first order: D's input gradient reaches the images
  assert np.isfinite(float(da)) and abs(float(da)) > 1e-3    # second order


def test_one_channel_gets_brightness_contrast_and_luma_flip_only():
  x = images(c=1)
  y = AUGMENT(x, jax.random.key(1), 1.0, spec="color")
  chex.assert_shape(y, x.shape)
  # per image an affine map of the pixel values: y = a·x + b
  for i in range(x.shape[0]):
    a, b = np.polyfit(np.asarray(x[i]).ravel(), np.asarray(y[i]).ravel(), 1)
    np.testing.assert_allclose(np.asarray(y[i]), a * np.asarray(x[i]) + b, atol=1e-5)
  assert [n for n, _, _ in ada.draw_calls(ada.make_spec("color"), 1)].count("hue") == 0


def test_deterministic_in_the_key_and_per_sample():
  x = images()
  a = AUGMENT(x, jax.random.key(7), 0.6, spec="bgc")
  np.testing.assert_array_equal(a, AUGMENT(x, jax.random.key(7), 0.6, spec="bgc"))
  assert not np.allclose(a, AUGMENT(x, jax.random.key(8), 0.6, spec="bgc"))
  # identical images in a batch get different augmentations
  same = jnp.broadcast_to(x[:1], x.shape)
  out = np.asarray(AUGMENT(same, jax.random.key(7), 1.0, spec="bgc"))
  assert not np.allclose(out[0], out[1])
  # turning a transform off leaves the others' draws alone
  d1 = ada.draw(jax.random.key(2), 4, ada.make_spec("bgc"), 3)
  d2 = ada.draw(jax.random.key(2), 4, ada.make_spec("geom"), 3)
  for name in d2:
    np.testing.assert_array_equal(d1[name][0], d2[name][0])


def test_four_devices_agree_with_one():
  x = images(b=8)
  key, p = jax.random.key(11), 0.8
  one = AUGMENT(x, key, p, spec="bgc")       # the program the tests above compiled (a Python-float p)
  mesh = make_mesh(jax.devices()[:4])
  fn = jax.jit(jax.shard_map(lambda k, p, x: ada.augment(x, k, p, "bgc", axis_name="data"),
                             mesh=mesh, in_specs=(P(), P(), P("data")), out_specs=P("data")))
  np.testing.assert_allclose(fn(key, jnp.float32(p), x), one, atol=1e-6)

  ctrl = ada.Controller()
  logits = jnp.asarray([3.0, -1.0, 2.0, 0.5, -2.0, 1.0, 0.0, 4.0])
  acc = jax.jit(jax.shard_map(lambda s, l: ctrl.accumulate(s, l, "data"), mesh=mesh,
                              in_specs=(P(), P("data")), out_specs=P()))
  four = acc(ctrl.init(), logits)
  single = ctrl.accumulate(ctrl.init(), logits)
  assert float(four.signs_sum) == float(single.signs_sum) == 3.0
  assert float(four.signs_count) == float(single.signs_count) == 8.0


def test_controller_follows_nvidias_rule_by_hand():
  ctrl = ada.Controller(mode="ada", p_init=0.0, target=0.6, interval=4, kimg=500)
  batch = 16
  step_size = batch * 4 / (500 * 1000)              # 1.28e-4
  upd = jax.jit(functools.partial(ctrl.update, global_batch=batch))
  aux = ctrl.init()
  assert float(aux.p) == 0.0
  # steps 0..3: all real logits positive → r = 1 > 0.6 → p rises by one step at the end of step 3
  for step in range(4):
    aux = ctrl.accumulate(aux, jnp.ones((batch,)))
    before = float(aux.p)
    aux = upd(aux, step)
    if step < 3:
      assert float(aux.p) == before and float(aux.signs_count) == batch * (step + 1)
  assert float(aux.p) == np.float32(step_size)
  assert float(aux.signs_sum) == 0.0 and float(aux.signs_count) == 0.0
  # steps 4..7: signs sum to 8 of 64 → r = 0.125 < 0.6 → p falls back, then is held at 0
  for step in range(4, 12):
    aux = ctrl.accumulate(aux, jnp.asarray([1.0] * 9 + [-1.0] * 7))
    aux = upd(aux, step)
  assert float(aux.p) == 0.0
  # the Dreg phase reports too: two accumulations in a step count both; r = 0.6 exactly → no change
  aux = aux._replace(p=jnp.float32(0.5))
  for step in range(12, 16):
    aux = ctrl.accumulate(aux, jnp.asarray([1.0] * 4 + [-1.0] * 1))    # 3/5 = 0.6
    aux = upd(aux, step)
  assert float(aux.p) == 0.5
  # nothing accumulated in an interval: p unchanged
  aux = upd(aux, 19)
  assert float(aux.p) == 0.5
  # above 1 p keeps rising (NVIDIA clamps at 0 only)
  aux = aux._replace(p=jnp.float32(1.0))
  aux = upd(ctrl.accumulate(aux, jnp.ones((4,))), 23)
  assert float(aux.p) == np.float32(np.float32(1.0) + np.float32(step_size))


def test_controller_modes_and_config():
  cfg = ml_collections.ConfigDict({"augment": "ada_fixed", "ada_p": 0.2})
  fixed = ada.Controller.from_config(cfg)
  aux = fixed.init()
  assert float(aux.p) == np.float32(0.2)
  aux2 = fixed.update(fixed.accumulate(aux, jnp.ones((8,))), 3, 8)
  assert float(aux2.p) == np.float32(0.2) and float(aux2.signs_count) == 0.0
  off = ada.Controller.from_config(ml_collections.ConfigDict({"augment": "noaug"}))
  x = images(b=2)
  assert off.augment(off.init(), x, jax.random.key(0)) is x
  on = ada.Controller.from_config(ml_collections.ConfigDict({"augment": "ada", "augpipe": "bg", "ada_kimg": 100}))
  assert on.mode == "ada" and on.kimg == 100 and not on.spec.color() and on.spec.geometric()
  assert ada.selected("ada") and ada.selected("ada_fixed")
  assert not ada.selected("translation,color") and not ada.selected("") and not ada.selected(None)
  with pytest.raises(ValueError, match="unknown ADA mode"):
    ada.Controller(mode="sometimes")
  with pytest.raises(ValueError, match="unknown ADA pipe"):
    ada.make_spec("bgcfnc")
  with pytest.raises(ValueError, match="1 or 3 channels"):
    ada.augment(images(c=2), jax.random.key(0), 0.5, "bgc")

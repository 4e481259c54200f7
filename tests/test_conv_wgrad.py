"""`layers.conv2d`: a lax forward with the weight gradient as per-tap matmuls, or both gradients in XLA's
canonical conv form (the fast paths on XLA:CPU; the canonical one also inside loops).

Their values and gradients must be lax's (the canonical form's bit for bit where its input gradient is a stride-1
conv): first order, second order (R1 differentiates the input gradient with respect to the weights), strided and
odd paddings, under shard_map with replicated weights, and behind flax's `nn.Conv(conv_general_dilated=...)`
hook."""
import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import NamedSharding, PartitionSpec as P

from jaxgan.models import layers as L
from jaxgan.parallel import make_mesh

CASES = [  # (H, W, kh, kw, stride, padding)
    (8, 8, 3, 3, 1, ((1, 1), (1, 1))),
    (8, 7, 2, 1, 1, ((0, 0), (0, 0))),
    (5, 5, 3, 3, 1, ((3, 3), (0, 4))),  # padding past k - 1: the input gradient takes the phase path
    (9, 9, 3, 3, 2, ((0, 0), (0, 0))),  # StyleGAN2's down-conv
    (10, 7, 3, 3, 2, ((1, 0), (0, 2))),
    (9, 9, 4, 4, 2, ((1, 1), (1, 1))),
    (11, 11, 3, 3, 3, ((1, 1), (1, 1))),
    (8, 8, 1, 1, 2, ((0, 0), (0, 0))),
]


def _data(h, w, kh, kw, cin=3, cout=4):
  x = jax.random.normal(jax.random.PRNGKey(0), (2, h, w, cin))
  k = jax.random.normal(jax.random.PRNGKey(1), (kh, kw, cin, cout)) / np.sqrt(kh * kw * cin)
  return x, k


def _rel(a, b):
  return float(jnp.max(jnp.abs(a - b)) / (jnp.max(jnp.abs(b)) + 1e-12))


@pytest.mark.parametrize("h,w,kh,kw,stride,padding", CASES)
def test_values_gradients_and_second_order_match_lax(h, w, kh, kw, stride, padding):
  x, k = _data(h, w, kh, kw)
  conv = lambda x, k, m: L.conv2d(x, k, stride, padding, wgrad=m)
  y_lax, y_taps = conv(x, k, "lax"), conv(x, k, "taps")
  chex.assert_trees_all_equal(y_taps, y_lax)  # the same forward op
  ct = jax.random.normal(jax.random.PRNGKey(2), y_lax.shape)
  grads = {m: jax.grad(lambda x, k: jnp.sum(conv(x, k, m) * ct), (0, 1))(x, k) for m in ("lax", "taps")}
  for a, b in zip(grads["taps"], grads["lax"]):
    assert _rel(a, b) < 1e-5
    assert float(jnp.max(jnp.abs(b))) > 1e-2  # not a comparison of zeros

  def r1(k, m):  # |d/dx Σ tanh(conv(x))³|², differentiated with respect to the kernel
    gx = jax.grad(lambda x: jnp.sum(jnp.tanh(conv(x, k, m)) ** 3))(x)
    return jnp.sum(gx ** 2)
  h_lax, h_taps = jax.grad(r1)(k, "lax"), jax.grad(r1)(k, "taps")
  assert _rel(h_taps, h_lax) < 1e-5 and float(jnp.max(jnp.abs(h_lax))) > 1e-3
  # the canonical form is what XLA makes of lax's gradients outside a loop: the same numbers, bit for bit, where
  # the input gradient is itself a stride-1 conv; else it is summed by output phases (to float32 rounding)
  chex.assert_trees_all_equal(conv(x, k, "canonical"), y_lax)
  g_can = jax.grad(lambda x, k: jnp.sum(conv(x, k, "canonical") * ct), (0, 1))(x, k)
  h_can = jax.grad(r1)(k, "canonical")
  if stride == 1 and all(kk - 1 - p >= 0 for kk, pp in ((kh, padding[0]), (kw, padding[1])) for p in pp):
    chex.assert_trees_all_equal(g_can, grads["lax"])
    chex.assert_trees_all_equal(h_can, h_lax)
  else:
    chex.assert_trees_all_equal(g_can[1], grads["lax"][1])  # the weight gradient is still XLA's own
    assert _rel(g_can[0], grads["lax"][0]) < 1e-5 and _rel(h_can, h_lax) < 1e-5


SLOW_FORMS = ("f01b_i01o->01bf",  # lax's weight gradient as XLA leaves it in a loop body (the naive path)
              "b01f_01oi->b01f")  # its input gradient there, the kernel's in/out swapped


def test_canonical_gradients_keep_the_fast_form_inside_a_rolled_scan():
  """In a rolled scan XLA:CPU leaves lax's conv gradients in the forms its layout passes rewrite elsewhere (and
  runs them ~50-200x slower); the canonical ones keep the NHWC/HWIO form, and give lax's values. Trained with
  an R1-like loss through a stride-2 conv: the second order differentiates the input gradient and the forward
  conv again, and neither may fall back to lax's rules."""
  x, k = _data(8, 8, 4, 4, cin=3, cout=5)

  def train(m):
    def r1(k):
      gx = jax.grad(lambda x: jnp.sum(jnp.tanh(L.conv2d(x, k, 2, ((1, 1), (1, 1)), wgrad=m)) ** 3))(x)
      return jnp.sum(gx ** 2)

    def body(k, _):
      return k - 0.01 * jax.grad(r1)(k), None
    return jax.jit(lambda k: jax.lax.scan(body, k, None, length=3)[0])
  hlo = {m: train(m).lower(k).compile().as_text() for m in ("lax", "canonical")}
  for form in SLOW_FORMS:
    assert form in hlo["lax"]  # the trap is still there (else this test proves nothing)
    assert form not in hlo["canonical"]
  assert "b01f_01io->b01f" in hlo["canonical"]
  chex.assert_trees_all_close(train("canonical")(k), train("lax")(k), rtol=1e-5, atol=1e-6)


def test_string_padding_and_bad_method():
  x, k = _data(9, 9, 3, 3)
  chex.assert_trees_all_equal(L.conv2d(x, k, 2, "SAME", wgrad="taps"),
                              jax.lax.conv_general_dilated(x, k, (2, 2), "SAME",
                                                           dimension_numbers=("NHWC", "HWIO", "NHWC")))
  with pytest.raises(ValueError, match="wgrad must be one of"):
    L.conv2d(x, k, wgrad="fast")


def test_replicated_kernel_under_shard_map_gets_the_summed_gradient():
  """A replicated kernel used with per-device activations: its cotangent is the sum over devices, as lax's."""
  mesh = make_mesh(jax.devices()[:4])
  x, k = _data(6, 6, 3, 3, cin=2, cout=2)
  x = jnp.concatenate([x, -x], 0)  # 4 samples, one per device
  xs = jax.device_put(x, NamedSharding(mesh, P("data")))
  out = {}
  for m in ("lax", "taps", "canonical"):
    def per_device(k, x, m=m):
      return jax.grad(lambda k: jnp.sum(jnp.tanh(L.conv2d(x, k, 2, ((1, 1), (1, 1)), wgrad=m))))(k)
    out[m] = jax.jit(jax.shard_map(per_device, mesh=mesh, in_specs=(P(), P("data")), out_specs=P()))(k, xs)
  whole = jax.grad(lambda k: jnp.sum(jnp.tanh(L.conv2d(x, k, 2, ((1, 1), (1, 1)), wgrad="lax"))))(k)
  chex.assert_trees_all_close(out["taps"], out["lax"], rtol=1e-5, atol=1e-6)
  chex.assert_trees_all_close(out["taps"], whole, rtol=1e-5, atol=1e-6)
  chex.assert_trees_all_close(out["canonical"], whole, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kw", [dict(kernel_size=(3, 3)), dict(kernel_size=(4, 4), strides=(2, 2)),
                                dict(kernel_size=(3, 3), padding="VALID"), dict(kernel_size=(3, 3), kernel_dilation=2)])
def test_flax_conv_hook_matches_plain_flax(kw):
  x, _ = _data(9, 9, 1, 1)
  plain = nn.Conv(4, **kw)
  fast = nn.Conv(4, **kw, conv_general_dilated=L.conv_general_dilated)
  params = plain.init(jax.random.PRNGKey(1), x)
  chex.assert_trees_all_equal(fast.apply(params, x), plain.apply(params, x))
  loss = lambda m: lambda p, x: jnp.sum(jnp.sin(m.apply(p, x)))
  g_plain = jax.grad(loss(plain), (0, 1))(params, x)
  g_fast = jax.grad(loss(fast), (0, 1))(params, x)
  chex.assert_trees_all_close(g_fast, g_plain, rtol=1e-5, atol=1e-5)


def test_auto_takes_taps_where_they_pay_and_the_canonical_gradients_elsewhere(monkeypatch):
  """On CPU `wgrad="auto"` picks the per-tap gradient for StyleGAN2-sized convs and the canonical-form gradients
  (lax's own outside loops, and as fast inside them) for small ones, where per-tap matmuls are slower."""
  taken = []
  for name in ("_conv_taps", "_conv_canonical"):
    real = getattr(L, name)
    monkeypatch.setattr(L, name, lambda *a, real=real, name=name: (taken.append(name), real(*a))[1])

  def method(x_shape, w_shape, stride=1, padding="SAME"):
    taken.clear()
    jax.make_jaxpr(lambda x, k: L.conv2d(x, k, stride, padding))(
        jax.ShapeDtypeStruct(x_shape, jnp.float32), jax.ShapeDtypeStruct(w_shape, jnp.float32))
    return {"_conv_taps": "taps", "_conv_canonical": "canonical"}[taken[0]] if taken else "lax"
  assert method((32, 32, 32, 128), (3, 3, 128, 128)) == "taps"             # D's 32-px layer at stylegan2_bench32
  assert method((32, 33, 33, 128), (3, 3, 128, 256), 2, "VALID") == "taps"  # its down-conv
  assert method((8, 16, 16, 8), (3, 3, 8, 8)) == "canonical"                # a test-sized layer
  assert method((16, 32, 32, 32), (3, 3, 32, 32)) == "canonical"            # 32 channels: taps are slower
  assert L.taps_pay((32, 32, 32, 128), (3, 3, 128, 128), 1, ((1, 1), (1, 1)))

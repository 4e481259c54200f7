"""StyleGAN2 networks against NVIDIA's own code (tests/data/stylegan2_golden.npz, written by
scripts/make_stylegan2_golden.py from stylegan2-ada-pytorch's unmodified modules; no torch needed here): upfirdn2d in
every formulation, the modulated convolution, mapping (truncation, w_avg update), synthesis (const and recorded
per-sample noise), resnet / orig / conditional discriminators, R1 and path-length penalties with their parameter
gradients; weights go through `from_nvidia`. Then shapes and parameter counts (NVIDIA's, at the benchmark
configuration), truncation, 1 vs 3 channels, w_avg averaged over devices, and clear errors."""
import os

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ml_collections import ConfigDict

from jaxgan.models import get_model
from jaxgan.parallel import make_mesh
from jaxgan.models import stylegan2 as S
from jaxgan.models import upfirdn as U

GOLDEN = os.path.join(os.path.dirname(__file__), "data", "stylegan2_golden.npz")
TOL = 1e-4  # of the output scale (max |expected|), float32


@pytest.fixture(scope="module")
def gold():
  with np.load(GOLDEN, allow_pickle=False) as f:
    return {k: f[k] for k in f.files}


def close(got, want, tol=TOL):
  got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
  assert got.shape == want.shape, (got.shape, want.shape)
  scale = max(float(np.abs(want).max()), 1e-12)
  err = float(np.abs(got - want).max()) / scale
  assert err < tol, f"max error {err:.2e} of the output scale {scale:.3g}"
  return err


def state(gold, tag, prefix="sd"):
  p = f"{tag}/{prefix}/"
  return {k[len(p):]: v for k, v in gold.items() if k.startswith(p)}


def generator(gold, tag):
  res, ch, z, w, layers, base, cmax, c_dim, clamp = (float(v) for v in gold[f"{tag}/config"])
  g = S.Generator(int(res), int(ch), int(z), int(w), int(c_dim), int(layers), channel_base=int(base),
                  channel_max=int(cmax), conv_clamp=None if clamp < 0 else clamp)
  return g, S.from_nvidia(state(gold, tag), g)


def discriminator(gold, tag):
  res, ch, c_dim, base, cmax, group, layers, clamp, resnet = (float(v) for v in gold[f"{tag}/config"])
  d = S.Discriminator(int(res), int(ch), "resnet" if resnet else "orig", int(base), int(cmax), int(c_dim),
                      map_layers=int(layers), mbstd_group=int(group), conv_clamp=None if clamp < 0 else clamp)
  return d, S.from_nvidia(state(gold, tag), d)


# -- upfirdn2d and the modulated convolution ------------------------------------------------------------------


@pytest.mark.parametrize("method", U.METHODS)
def test_upfirdn2d_matches_nvidia(gold, method):
  n = 0
  for i in range(100):
    if f"upf/{i}/x" not in gold:
      break
    a = gold[f"upf/{i}/args"]
    f = gold[f"upf/{i}/f"].astype(np.float64)
    if method == "matmul" and U._factor(f) is None:
      with pytest.raises(ValueError, match="separable"):
        U.upfirdn2d(jnp.asarray(gold[f"upf/{i}/x"]), f, method=method)
      continue
    y = U.upfirdn2d(jnp.asarray(gold[f"upf/{i}/x"]), f, up=(int(a[0]), int(a[1])), down=(int(a[2]), int(a[3])),
                    padding=tuple(int(v) for v in a[4:8]), flip_filter=bool(a[8]), gain=float(a[9]),
                    method=method)
    close(y, gold[f"upf/{i}/y"])
    n += 1
  assert n >= 4


def test_upfirdn2d_helpers_keep_sizes_and_dc():
  x = jnp.ones((1, 8, 8, 2))
  chex.assert_trees_all_close(U.upsample2d(x, S.FIR)[:, 2:-2, 2:-2], jnp.ones((1, 12, 12, 2)), atol=1e-6)
  chex.assert_trees_all_close(U.downsample2d(x, S.FIR)[:, 1:-1, 1:-1], jnp.ones((1, 2, 2, 2)), atol=1e-6)
  chex.assert_shape(U.filter2d(x, S.FIR), (1, 8, 8, 2))
  with pytest.raises(ValueError, match="method"):
    U.upfirdn2d(x, S.FIR, method="fft")
  with pytest.raises(ValueError, match="output would be"):
    U.upfirdn2d(x, S.FIR, padding=-4)


@pytest.mark.parametrize("upconv", ["phase", "lax"])
def test_modulated_conv_matches_nvidia(gold, upconv):
  for i in range(5):
    a, n = gold[f"modconv/{i}/args"], gold[f"modconv/{i}/noise"]
    y = S.modulated_conv2d(jnp.asarray(gold[f"modconv/{i}/x"]), jnp.asarray(gold[f"modconv/{i}/w"]),
                           jnp.asarray(gold[f"modconv/{i}/styles"]), demodulate=bool(a[0]), up=int(a[1]),
                           noise=jnp.asarray(n) if n.size else None, upconv_method=upconv)
    close(y, gold[f"modconv/{i}/y"])


# -- G ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tag", ["G", "Gc"])
def test_generator_matches_nvidia(gold, tag):
  g, v = generator(gold, tag)
  labels = jnp.asarray(gold[f"{tag}/mapping/labels"]) if g.num_classes else None
  z = jnp.asarray(gold[f"{tag}/mapping/z"])
  psi, cutoff = float(gold[f"{tag}/mapping/psi"]), int(gold[f"{tag}/mapping/cutoff"])
  ws_mix = jnp.asarray(gold[f"{tag}/synthesis/ws"])
  noise = [jnp.asarray(gold[f"{tag}/synthesis/noise_{k}"]) for k in range(int(gold[f"{tag}/synthesis/num_noise"]))]
  assert [n.shape[1] for n in noise] == list(g.noise_resolutions)

  @jax.jit
  def run(v, z, labels, ws_mix, noise):
    _, new = g.apply(v, z, labels, update_w_avg=True, method=g.mapping, mutable=["buffers"])
    return dict(ws=g.apply(v, z, labels, method=g.mapping),
                ws_t=g.apply(v, z, labels, psi=psi, cutoff=cutoff, method=g.mapping),
                w_avg=new["buffers"]["mapping_network"]["w_avg"],
                const=g.apply(v, ws_mix, "const", method=g.synthesis),
                random=g.apply(v, ws_mix, "random", noise, method=g.synthesis))

  out = run(v, z, labels, ws_mix, noise)
  close(out["ws"], gold[f"{tag}/mapping/ws"])
  close(out["ws_t"], gold[f"{tag}/mapping/ws_trunc"])
  assert np.abs(np.asarray(out["ws_t"] - out["ws"])).max() > 1e-2  # the truncation did something
  close(out["w_avg"], gold[f"{tag}/mapping/w_avg_after"])
  close(out["const"], gold[f"{tag}/synthesis/img_const"])
  close(out["random"], gold[f"{tag}/synthesis/img_random"])


def test_generator_call_is_mapping_then_synthesis(gold):
  g, v = generator(gold, "G")
  z = jnp.asarray(gold["G/mapping/z"])

  @jax.jit
  def run(v, z):
    img, new = g.apply(v, z, train=True, noise_mode="const", mutable=["buffers"])   # train: w_avg updated
    return dict(img=img, w_avg=new["buffers"]["mapping_network"]["w_avg"],
                two_step=g.apply(v, g.apply(v, z, method=g.mapping), "const", method=g.synthesis),
                rand=g.apply(v, z, train=True, update_w_avg=False, rngs={"noise": jax.random.key(1)}))

  out = run(v, z)
  chex.assert_trees_all_close(out["img"], out["two_step"], atol=1e-6)
  close(out["w_avg"], gold["G/mapping/w_avg_after"])
  assert float(jnp.abs(out["rand"] - out["img"]).max()) > 1e-3  # train: random noise (non-zero strengths)
  # (eval's default, const noise, is what test_truncation's ψ = 0 images rely on)


def test_truncation(gold):
  g, v = generator(gold, "G")
  z = jnp.asarray(gold["G/mapping/z"])
  w_avg = v["buffers"]["mapping_network"]["w_avg"]

  @jax.jit
  def run(v, z, half):
    m = lambda **kw: g.apply(v, z, method=g.mapping, **kw)
    return dict(ws=m(), one=m(psi=1.0), zero=m(psi=0.0), part=m(psi=0.0, cutoff=3), half=m(psi=half),
                images=g.apply(v, z, psi=0.0))

  out = run(v, z, 0.5)   # ψ may be traced
  ws, zero, part = out["ws"], out["zero"], out["part"]
  chex.assert_trees_all_equal(out["one"], ws)
  chex.assert_trees_all_close(zero, jnp.broadcast_to(w_avg, zero.shape), atol=1e-6)
  chex.assert_trees_all_close(part[:, :3], jnp.broadcast_to(w_avg, part[:, :3].shape), atol=1e-6)
  chex.assert_trees_all_equal(part[:, 3:], ws[:, 3:])
  chex.assert_trees_all_close(out["half"], w_avg + 0.5 * (ws - w_avg), atol=1e-5)
  chex.assert_trees_all_close(out["images"][0], out["images"][1], atol=1e-5)   # ψ = 0, const noise: alike


# -- D ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tag", ["D", "Do", "Dc"])
def test_discriminator_matches_nvidia(gold, tag):
  d, v = discriminator(gold, tag)
  x = jnp.asarray(gold["D/x"] if tag == "Do" else gold[f"{tag}/x"])
  labels = jnp.asarray(gold[f"{tag}/labels"]) if d.num_classes else None
  logits, cols = jax.jit(lambda v, x, y: d.apply(v, x, y, mutable=["intermediates"]))(v, x, labels)
  close(logits, gold[f"{tag}/logits"])
  chex.assert_shape(cols["intermediates"]["features"][0], (x.shape[0], S.channels_at(4, 128, 16)))
  if labels is not None:   # a float one-hot c gives the same logits as int labels
    one_hot = jax.jit(lambda v, x, y: d.apply(v, x, jax.nn.one_hot(y, d.num_classes)))(v, x, labels)
    chex.assert_trees_all_close(one_hot, logits, atol=1e-6)


# -- penalties on the golden weights ------------------------------------------------------------------------------


def test_r1_penalty_and_gradient_match_nvidia(gold):
  d, v = discriminator(gold, "D")
  x, gamma = jnp.asarray(gold["D/x"]), float(gold["r1/gamma"])

  def penalty(params):
    img_grad = jax.grad(lambda xx: jnp.sum(d.apply({"params": params}, xx)))(x)
    return jnp.sum(jnp.square(img_grad), axis=(1, 2, 3)), img_grad

  loss = lambda p: (jnp.mean(penalty(p)[0]) * gamma / 2, penalty(p))
  grads, (pen, img_grad) = jax.jit(jax.grad(loss, has_aux=True))(v["params"])
  close(pen, gold["r1/penalty"])
  close(img_grad, gold["r1/img_grad"])
  close_trees(grads, S.from_nvidia(state(gold, "r1", "grad"), d)["params"])


def test_path_length_penalty_and_gradient_match_nvidia(gold):
  g, v = generator(gold, "G")
  z, noise = jnp.asarray(gold["pl/z"]), jnp.asarray(gold["pl/noise"])
  before, decay, weight = (float(gold[f"pl/{k}"]) for k in ("pl_mean_before", "decay", "weight"))

  def loss(params):
    var = {"params": params, "buffers": v["buffers"]}
    ws = g.apply(var, z, method=g.mapping)
    grad_ws = jax.grad(lambda w: jnp.sum(g.apply(var, w, "const", method=g.synthesis) * noise))(ws)
    lengths = jnp.sqrt(jnp.mean(jnp.sum(jnp.square(grad_ws), axis=2), axis=1))
    pl_mean = before + decay * (jnp.mean(lengths) - before)
    pen = jnp.square(lengths - pl_mean)
    return jnp.mean(pen) * weight, (lengths, pl_mean, pen)

  grads, (lengths, pl_mean, pen) = jax.jit(jax.grad(loss, has_aux=True))(v["params"])
  close(lengths, gold["pl/lengths"])
  close(pl_mean, gold["pl/pl_mean"])
  close(pen, gold["pl/penalty"])
  sd = state(gold, "pl", "grad")
  sd.update({k: val for k, val in state(gold, "G").items() if k.endswith(("w_avg", "noise_const"))})
  close_trees(grads, S.from_nvidia(sd, g)["params"])


def close_trees(got, want, tol=TOL):
  """Every leaf within tol of the whole tree's scale (a gradient's scale is its largest entry anywhere)."""
  assert jax.tree_util.tree_structure(got) == jax.tree_util.tree_structure(want)
  scale = max(float(np.abs(np.asarray(w)).max()) for w in jax.tree_util.tree_leaves(want))
  for (path, g), w in zip(jax.tree_util.tree_leaves_with_path(got), jax.tree_util.tree_leaves(want)):
    err = float(np.abs(np.asarray(g, np.float64) - np.asarray(w, np.float64)).max()) / scale
    assert err < tol, f"{jax.tree_util.keystr(path)}: max error {err:.2e} of the gradient scale {scale:.3g}"


# -- shapes, counts, configuration ------------------------------------------------------------------------------


def _count(tree):
  return sum(int(np.prod(x.shape)) for x in jax.tree_util.tree_leaves(tree))


def _bench_cfg(**kw):
  c = ConfigDict(dict(name="stylegan2", image_shape=(32, 32, 3), latent_dim=512, map_layers=2, channel_base=4096,
                      channel_max=256, num_classes=0, d_architecture="resnet"))
  c.update(kw)
  return c


@pytest.mark.parametrize("kw, g_count, d_count", [
    # NVIDIA's Generator / Discriminator parameter counts at these settings (torch: sum of p.numel())
    (dict(), 5238419, 4608897),
    (dict(d_architecture="orig"), 5238419, 4445057),
    (dict(image_shape=(64, 64, 3)), 5480664, 4727617),
    (dict(image_shape=(32, 32, 1), num_classes=10), 5504395, 5203328),
])
def test_parameter_counts_match_nvidia(kw, g_count, d_count):
  cfg = _bench_cfg(**kw)
  g, d = get_model("stylegan2")(cfg)
  r, _, c = cfg.image_shape
  labels = jnp.zeros((2,), jnp.int32) if cfg.num_classes else None
  gv = jax.eval_shape(lambda k: g.init({"params": k}, jnp.zeros((2, 512)), labels), jax.random.key(0))
  dv = jax.eval_shape(lambda k: d.init({"params": k}, jnp.zeros((2, r, r, c)), labels), jax.random.key(0))
  assert _count(gv["params"]) == g_count
  assert _count(dv["params"]) == d_count
  assert g.num_ws == 2 * int(np.log2(r)) - 2
  assert jax.eval_shape(lambda v: g.apply(v, jnp.zeros((2, 512)), labels), gv).shape == (2, r, r, c)
  assert set(gv["buffers"]["mapping_network"]) == {"w_avg"}
  blocks = dv["params"][f"b{r}"]
  assert ("skip" in blocks) == (cfg.d_architecture == "resnet")


def test_shapes_for_grey_and_rgb_at_several_resolutions():
  for r, c in ((16, 1), (16, 3), (64, 3), (256, 1)):
    cfg = _bench_cfg(image_shape=(r, r, c), latent_dim=8, w_dim=8, channel_base=64 * r, channel_max=8,
                     mbstd_group=2)
    g, d = get_model("stylegan2")(cfg)
    gv = jax.eval_shape(lambda k: g.init({"params": k}, jnp.zeros((4, 8))), jax.random.key(0))
    img = jax.eval_shape(lambda v: g.apply(v, jnp.zeros((4, 8))), gv)
    assert img.shape == (4, r, r, c) and img.dtype == jnp.float32
    dv = jax.eval_shape(lambda k: d.init({"params": k}, jnp.zeros(img.shape)), jax.random.key(0))
    logits = jax.eval_shape(lambda v: d.apply(v, jnp.zeros(img.shape)), dv)
    assert logits.shape == (4,) and logits.dtype == jnp.float32
    assert sorted(dv["params"]) == sorted([f"b{2 ** i}" for i in range(2, int(np.log2(r)) + 1)])
    assert gv["params"]["synthesis_network"][f"b{r}"]["torgb"]["kernel"].shape == (1, 1, 8, c)


def test_w_avg_update_is_the_same_on_1_and_4_devices():
  g = S.Generator(16, 1, 8, 8, map_layers=2, channel_base=64, channel_max=8, axis_name="data")
  z = jax.random.normal(jax.random.key(0), (8, 8))
  v = jax.jit(lambda k: g.init({"params": k}, z, method=g.mapping))(jax.random.key(1))   # the mapping alone
  v = {**v, "buffers": {**v["buffers"], "mapping_network": {"w_avg": jnp.full((8,), 0.3)}}}

  def update(v, z):
    return g.apply(v, z, update_w_avg=True, method=g.mapping, mutable=["buffers"])[1]["buffers"]

  one = update(v, z)
  mesh = make_mesh(jax.devices()[:4])
  P = jax.sharding.PartitionSpec
  four = jax.jit(jax.shard_map(update, mesh=mesh, in_specs=(P(), P("data")), out_specs=P()))(v, z)
  chex.assert_trees_all_close(four, one, atol=1e-6)
  mean = jnp.mean(jax.jit(lambda v, z: g.apply(v, z, method=g.mapping))(v, z)[:, 0], axis=0)
  chex.assert_trees_all_close(one["mapping_network"]["w_avg"], mean + 0.995 * (0.3 - mean), atol=1e-6)


def test_bad_configurations_and_inputs_are_clear_errors(gold):
  with pytest.raises(ValueError, match="power of two"):
    get_model("stylegan2")(_bench_cfg(image_shape=(24, 24, 3)))
  with pytest.raises(ValueError, match="d_architecture"):
    get_model("stylegan2")(_bench_cfg(d_architecture="skip"))
  with pytest.raises(ValueError, match="mbstd_group"):
    get_model("stylegan2")(_bench_cfg(mbstd_group=0))
  with pytest.raises(ValueError, match="channel"):
    get_model("stylegan2")(_bench_cfg(channel_base=8, channel_max=4))
  g, v = generator(gold, "Gc")
  with pytest.raises(ValueError, match="without labels"):
    g.apply(v, jnp.zeros((2, 16)))
  with pytest.raises(ValueError, match="noise_mode"):
    g.apply(v, jnp.zeros((2, 16)), jnp.zeros((2,), jnp.int32), noise_mode="fixed")
  with pytest.raises(ValueError, match="rngs"):
    g.apply(v, jnp.zeros((2, 16)), jnp.zeros((2,), jnp.int32), noise_mode="random")
  d, dv = discriminator(gold, "D")
  with pytest.raises(ValueError, match="images"):
    d.apply(dv, jnp.zeros((4, 16, 16, 3)))
  sd = state(gold, "D")
  with pytest.raises(ValueError, match="missing"):
    S.from_nvidia({k: val for k, val in sd.items() if not k.startswith("b4.fc")}, d)
  with pytest.raises(ValueError, match="shape"):
    S.from_nvidia({**sd, "b4.out.bias": np.zeros((3,), np.float32)}, d)
  with pytest.raises(ValueError, match="filter"):
    S.from_nvidia({**sd, "b32.resample_filter": np.ones((4, 4), np.float32)}, d)


def test_load_nvidia_npz_builds_the_network_from_a_converted_snapshot(gold, tmp_path):
  """The layout scripts/convert_stylegan2.py writes: <net>/<name> arrays, <net>/init_kwargs JSON, class name."""
  import json
  res, ch, z, w, layers, base, cmax, c_dim, clamp = (float(v) for v in gold["G/config"])
  g_kwargs = dict(z_dim=int(z), c_dim=0, w_dim=int(w), img_resolution=int(res), img_channels=int(ch),
                  mapping_kwargs=dict(num_layers=int(layers)),
                  synthesis_kwargs=dict(channel_base=int(base), channel_max=int(cmax)))
  arrays = {f"G_ema/{k}": v for k, v in state(gold, "G").items()}
  arrays["G_ema/init_kwargs"] = np.array(json.dumps(g_kwargs))
  arrays["G_ema/class_name"] = np.array("Generator")
  path = str(tmp_path / "snap.npz")
  np.savez(path, **arrays)
  g, v = S.load_nvidia_npz(path, "G_ema")
  assert (g.resolution, g.channels, g.z_dim, g.map_layers, g.channel_max) == (32, 3, 16, 2, 16)
  ref_g, ref_v = generator(gold, "G")
  chex.assert_trees_all_equal(v, ref_v)
  with pytest.raises(ValueError, match="no network 'D'"):
    S.load_nvidia_npz(path, "D")
  with pytest.raises(ValueError, match="architecture"):
    S.module_from_nvidia_kwargs("Generator", {**g_kwargs, "synthesis_kwargs": {"architecture": "resnet"}})

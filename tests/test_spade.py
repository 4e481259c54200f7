"""SPADE / GauGAN: the scenes dataset (deterministic, coarse label maps), SPADE normalisation against its formula,
hinge and feature-matching losses against theirs, 1 vs 4 devices, bit-exact resume, mIoU on a hand case, the
paired presets' parameter counts."""
import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import loop, objective, parallel
from jaxgan import spade as spade_lib
from jaxgan.configs import pix2pix_scenes, spade_scenes
from jaxgan.data import scenes
from jaxgan.metrics import scene_segmenter as ss
from jaxgan.models.spade import SPADE, count_params, instance_norm
from jaxgan.trainer import Trainer


@pytest.fixture(scope="module")
def digits():
  """40 MNIST test digits (mnist_full, offline): a small pool keeps scene building fast."""
  from jaxgan.data.mnist_full import load_mnist_full
  images, labels = load_mnist_full("test")
  return images[:40], labels[:40]


def test_scenes_are_deterministic_and_scene_i_does_not_depend_on_num(digits):
  a = scenes.make_scenes(6, seed=3, digits=digits)
  b = scenes.make_scenes(6, seed=3, digits=digits)
  c = scenes.make_scenes(3, seed=3, digits=digits)
  d = scenes.make_scenes(6, seed=4, digits=digits)
  for x, y in zip(a, b):
    np.testing.assert_array_equal(x, y)
  for x, y in zip(a, c):
    np.testing.assert_array_equal(x[:3], y)
  assert not np.array_equal(a.images, d.images)
  chex.assert_shape(a.images, (6, 64, 64, 3))
  assert a.images.dtype == np.uint8 and a.label_maps.dtype == np.int32 and a.label_maps.shape == (6, 64, 64)


def test_label_maps_are_coarse_boxes_that_hold_every_stroke(digits):
  s = scenes.make_scenes(12, seed=0, digits=digits)
  for img, lab, boxes in zip(s.images, s.label_maps, s.boxes):
    present = boxes[boxes[:, 0] >= 0]
    assert 1 <= len(present) <= scenes.MAX_DIGITS
    digit_area = np.zeros(lab.shape, bool)
    for c, y0, x0, y1, x1 in present:
      assert 0 <= c < 10 and y1 > y0 and x1 > x0
      np.testing.assert_array_equal(lab[y0:y1, x0:x1], c)   # a whole box, not strokes
      digit_area[y0:y1, x0:x1] = True
    # outside the boxes only textures (10..13); inside only digit classes
    assert lab[~digit_area].min() >= 10 and lab[digit_area].max() < 10
    # strokes (only digits are painted brighter than value 0.6 = 153) lie inside the boxes ...
    strokes = img.max(-1) > 170
    assert strokes.any() and not (strokes & ~digit_area).any()
    # ... and cover a small part of them: the map is coarse
    assert strokes[digit_area].mean() < 0.6


def test_colorize_and_bad_maps():
  np.testing.assert_array_equal(scenes.colorize(np.array([[0, 13]])), scenes.PALETTE[[[0, 13]]])
  with pytest.raises(ValueError, match="classes"):
    scenes.colorize(np.array([[14]]))


def test_spade_norm_matches_its_formula():
  x = jax.random.normal(jax.random.key(0), (2, 8, 8, 3)) * 3 + 1
  labels = jax.random.randint(jax.random.key(1), (2, 16, 16), 0, 5)
  m = jax.nn.one_hot(labels, 5)
  mod = SPADE(hidden=4)
  params = mod.init(jax.random.key(2), x, m)["params"]
  params = jax.tree.map(lambda p: p + 0.1 * jax.random.normal(jax.random.key(3), p.shape), params)  # non-zero γ, β
  got = mod.apply({"params": params}, x, m)
  # by hand: instance norm in numpy, nearest-resized map, the convs with lax
  xn = np.asarray(x, np.float64)
  mu, var = xn.mean(axis=(1, 2), keepdims=True), xn.var(axis=(1, 2), keepdims=True)
  normed = (xn - mu) / np.sqrt(var + 1e-5)
  small = m[:, ::2, ::2]
  conv = lambda h, p: jax.lax.conv_general_dilated(h, p["kernel"], (1, 1), "SAME",
                                                   dimension_numbers=("NHWC", "HWIO", "NHWC")) + p["bias"]
  a = jax.nn.relu(conv(small, params["shared"]))
  gamma, beta = np.asarray(conv(a, params["gamma"])), np.asarray(conv(a, params["beta"]))
  np.testing.assert_allclose(np.asarray(got), normed * (1 + gamma) + beta, atol=2e-5)
  np.testing.assert_allclose(np.asarray(instance_norm(x)), normed, atol=2e-5)


def test_hinge_and_feature_matching_losses_match_their_formulas():
  r0, f0 = np.array([[2.0, 0.5], [-1.0, 0.0]]), np.array([[-2.0, 0.5], [1.0, -0.5]])
  r1, f1 = np.array([0.2, 3.0]), np.array([-3.0, 0.0])
  d_value, m = spade_lib.hinge_d(None, {"real": [jnp.asarray(r0), jnp.asarray(r1)],
                                        "fake": [jnp.asarray(f0), jnp.asarray(f1)]})
  # scale 0: relu(1 − r) = [0, .5, 2, 1] → 0.875; relu(1 + f) = [0, 1.5, 2, .5] → 1.0
  # scale 1: relu(1 − r) = [.8, 0] → .4; relu(1 + f) = [0, 1] → .5
  np.testing.assert_allclose(float(d_value), (0.875 + 1.0 + 0.4 + 0.5) / 2, rtol=1e-6)
  np.testing.assert_allclose(float(m["d_real"]), (np.mean(r0) + np.mean(r1)) / 2, rtol=1e-6)
  feats = lambda *a: [jnp.asarray(v, jnp.float32) for v in a]
  out = {"fake_f": [feats([1.0, 2.0], [3.0], [9.0]), feats([0.0], [5.0])],
         "real_f": [feats([0.0, 4.0], [1.0], [-9.0]), feats([2.0], [0.0])]}
  g_value, _ = spade_lib.hinge_g(None, out)
  np.testing.assert_allclose(float(g_value), -(9.0 + 5.0) / 2, rtol=1e-6)
  fm_value, _ = spade_lib.feature_matching(None, out)
  # scale 0 layers (logits excluded): mean|[1, −2]| = 1.5, |2| = 2; scale 1: |−2| = 2
  np.testing.assert_allclose(float(fm_value), (1.5 + 2.0 + 2.0) / 2, rtol=1e-6)
  mu, logvar = jnp.array([[1.0, 0.0]]), jnp.array([[0.0, np.log(2.0)]])
  kl_value, _ = spade_lib.kl(None, {"stats": (mu, logvar)})
  np.testing.assert_allclose(float(kl_value), -0.5 * ((1 + 0 - 1 - 1) + (1 + np.log(2) - 0 - 2)), rtol=1e-6)


def tiny(**model):
  c = spade_scenes.get_config()
  c.model.widths = (8, 8, 4)       # 16 → 32 → 64 px
  c.model.spade_hidden = 4
  c.model.d_width = 4
  c.model.latent_dim = 4
  c.model.encoder_widths = (4, 4, 4, 4)
  c.model.update(model)
  c.data.num = 16
  c.batch_size = 8
  c.steps_per_call = 2
  c.unroll = 1                     # a rolled scan: one step body to compile
  c.checkpoint_every = c.sample_every = 2
  c.first_sample = 0
  return c


def _run(c, devices, data, steps=2):
  obj = objective.build(c, "data")
  mesh = parallel.make_mesh(devices)
  state = parallel.replicate(obj.init_state(0), mesh)
  fn = loop.make_train_fn(obj, mesh, c.batch_size, steps, 1)   # a rolled scan: one body to compile
  return fn(state, jax.device_put(data, parallel.replicated(mesh)))


def _initial_params(c):
  st = objective.build(c, "data").init_state(0)
  return {k: (p.params, p.vars) for k, p in st.players.items()}


def test_one_and_four_devices_agree(digits):
  """With the VAE encoder: its ε, the KL term and every network of the family (the resume test runs without it)."""
  assert len(jax.devices()) >= 4
  s = scenes.make_scenes(16, seed=0, digits=digits)
  data = {"input": s.label_maps, "target": s.images}
  c = tiny(use_vae=True)
  # SGD, so that a parameter's difference is its gradient's times the step. Under the preset's Adam (β1 = 0) the
  # first update of an entry is ±lr by its gradient's sign alone, so an entry whose gradient is near zero moves by a
  # whole lr or not by rounding, and rounding depends on the CPU's vector width: measured with Adam, 2 of D's 1,088
  # first-conv weights 5e-5 apart on an AVX2 machine (within 2e-5 on AVX-512 and SSE4.2 builds).
  c.optim.g = c.optim.d = dict(name="sgd", lr=1e-2, momentum=0.9)
  s1, m1 = _run(c, jax.devices()[:1], data)
  s4, m4 = _run(c, jax.devices()[:4], data)
  moments = lambda st: {k: p.opt_state for k, p in st.players.items()}
  params = lambda st: {k: (p.params, p.vars) for k, p in st.players.items()}
  moved = jax.tree.map(lambda a, b: float(jnp.max(jnp.abs(a - b))), params(s1), _initial_params(c))
  assert max(jax.tree.leaves(moved)) > 1e-3   # the steps moved the parameters: the comparison below is not vacuous
  chex.assert_trees_all_close(params(s1), params(s4), atol=2e-5, rtol=2e-5)
  # SGD's trace holds the gradients: measured at 0.42 of a 2e-5 tolerance (AVX2), the parameters at 0.006 of it
  chex.assert_trees_all_close(moments(s1), moments(s4), atol=5e-5, rtol=2e-5)
  for k in m1:
    np.testing.assert_allclose(m1[k], m4[k], atol=2e-5, rtol=2e-4)
  assert np.all(np.isfinite(m1["g_loss"])) and m1["nonfinite"].max() == 0
  assert "g_kl" in m1 and np.all(m1["g_kl"] > 0)


def test_resume_is_bit_exact(tmp_path):
  c = tiny()
  c.steps = 4
  Trainer(c, str(tmp_path / "a"), devices=jax.devices()[:2], quiet=True).train()
  c.steps = 2
  Trainer(c, str(tmp_path / "b"), devices=jax.devices()[:2], quiet=True).train()
  c.steps = 4
  t = Trainer(c, str(tmp_path / "b"), devices=jax.devices()[:2], quiet=True)
  assert t.start_step == 2
  t.train()
  a = Trainer(c, str(tmp_path / "a"), devices=jax.devices()[:2], quiet=True).state
  chex.assert_trees_all_equal(jax.device_get(a.players), jax.device_get(t.state.players))
  assert (tmp_path / "a" / "samples" / "step_0000004.png").exists()
  # translate.py's label-map path: a palette PNG of another size in, images out
  from PIL import Image
  from jaxgan.data.label_maps import translate_file
  from jaxgan.sampling import load_run
  m = np.full((32, 32), 11, np.uint8)
  m[8:20, 8:16] = 7
  Image.fromarray(scenes.colorize(m)).save(tmp_path / "map.png")
  msg = translate_file(load_run(str(tmp_path / "a")), str(tmp_path / "map.png"), str(tmp_path / "out.npz"))
  assert "1 label maps" in msg
  with np.load(tmp_path / "out.npz", allow_pickle=False) as z:
    assert z["outputs"].shape == (1, 64, 64, 3) and z["outputs"].dtype == np.uint8
    np.testing.assert_array_equal(z["label_maps"][0], np.repeat(np.repeat(m, 2, 0), 2, 1))


def test_miou_and_pixel_accuracy_on_a_hand_case():
  true = np.array([[0, 0, 1, 1], [0, 0, 1, 1]])
  pred = np.array([[0, 1, 1, 1], [0, 0, 1, 2]])
  out = ss.scores_from_confusion(ss.confusion(pred, true, num_classes=4))
  # class 0: ∩ 3, ∪ 4; class 1: ∩ 3, ∪ 5; class 2: ∩ 0, ∪ 1 (predicted only); class 3 absent
  np.testing.assert_allclose(out["miou"], (3 / 4 + 3 / 5 + 0) / 3)
  np.testing.assert_allclose(out["pixel_accuracy"], 6 / 8)
  assert out["class_iou"][3] is None
  with pytest.raises(ValueError, match="label maps"):
    ss.check_maps(np.zeros((2, 64, 64), np.float32), 2)


def test_the_shipped_segmenter_reads_real_scenes_and_notices_maps_that_do_not_match():
  """The ceiling is a working instrument: on real test scenes (MNIST test digits, which it never trained on) it
  recovers the label maps, names its version, and a map of another scene scores far lower."""
  s = scenes.make_scenes(24, seed=0, split="test")
  out = ss.segment_scores(s.images, s.label_maps)
  assert out["segmenter"] == ss.SEGMENTER_VERSION == "scene_segmenter_v2"
  assert out["miou"] > 0.6 and out["pixel_accuracy"] > 0.85
  assert out["ceiling_miou"] > 0.7
  wrong = ss.segment_scores(s.images, np.roll(s.label_maps, 1, axis=0))
  assert wrong["miou"] < out["miou"] - 0.25


def test_digit_crops_cut_white_digits_on_black(digits):
  s = scenes.make_scenes(4, seed=0, digits=digits)
  crops = ss.digit_crops(s.images, s.boxes)
  assert crops.shape == (int((s.boxes[..., 0] >= 0).sum()), 28, 28, 1) and crops.dtype == np.uint8
  assert crops[:, :4].max() == 0 and crops.max() > 200   # MNIST framing: an empty border, bright strokes


def test_presets_build_with_parameter_counts_within_20_percent():
  counts = {}
  for name, mod in (("spade", spade_scenes), ("pix2pix", pix2pix_scenes)):
    c = mod.get_config()
    c.lock()  # as scripts/train.py hands it over
    obj = objective.build(c)
    counts[name] = {}
    for p in ("g", "d"):  # shapes only: no compute
      args, kw = obj.example_input(p)
      shapes = jax.eval_shape(lambda: obj.players[p].module.init(jax.random.key(0), *args, train=False, **kw))
      counts[name][p] = count_params(shapes["params"])
  total = {k: v["g"] + v["d"] for k, v in counts.items()}
  assert abs(total["pix2pix"] / total["spade"] - 1) <= 0.2, counts
  assert abs(counts["pix2pix"]["g"] / counts["spade"]["g"] - 1) <= 0.2, counts
  with pytest.raises(ValueError, match="map_classes"):
    c = pix2pix_scenes.get_config()
    c.model.map_classes = 0
    objective.build(c)


def test_label_map_pngs_index_palette_and_errors(tmp_path):
  from PIL import Image
  from jaxgan.data.label_maps import read_label_maps
  m = np.zeros((32, 32), np.uint8)
  m[4:12, 8:20] = 3
  m[20:, :] = 12
  idx = Image.fromarray(m, mode="P")
  idx.putpalette(scenes.PALETTE.ravel().tolist())
  idx.save(tmp_path / "index.png")
  Image.fromarray(scenes.colorize(m)).save(tmp_path / "colour.png")
  for name in ("index.png", "colour.png"):
    got, _ = read_label_maps(str(tmp_path / name), scenes.NUM_CLASSES, scenes.PALETTE, size=(64, 64))
    np.testing.assert_array_equal(got[0], np.repeat(np.repeat(m, 2, 0), 2, 1))   # nearest: classes never blend
  bad = scenes.colorize(m)
  bad[0, 0] = (1, 2, 3)
  Image.fromarray(bad).save(tmp_path / "bad.png")
  with pytest.raises(ValueError, match="not in the label palette"):
    read_label_maps(str(tmp_path / "bad.png"), scenes.NUM_CLASSES, scenes.PALETTE)
  Image.fromarray(np.full((8, 8), 20, np.uint8)).save(tmp_path / "high.png")
  with pytest.raises(ValueError, match="classes 20..20"):
    read_label_maps(str(tmp_path / "high.png"), scenes.NUM_CLASSES)

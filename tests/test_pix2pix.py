"""pix2pix and the paired-data plumbing: paired datasets deterministic and aligned (resident and streamed), PSNR /
SSIM on hand cases, the L1-only mode has no D, 1 vs 4 devices, bit-exact resume, translate.py's errors and round
trip."""
import json
import os
import subprocess
import sys

import chex
import jax
import ml_collections
import numpy as np
import pytest

from _scripts import ROOT, load_script
from jaxgan import data as data_lib
from jaxgan import objective as objective_lib
from jaxgan.configs import pix2pix_inpaint_mnist, pix2pix_sr_mnist
from jaxgan.data import paired
from jaxgan.metrics import paired as pm
from jaxgan.trainer import Trainer


def _data_cfg(**kw):
  return ml_collections.ConfigDict(dict(dict(name="sr:mnist", split="train", num=64, seed=0, factor=4, hole=0,
                                             pad=0, clusters=0, resolution=64), **kw))


@pytest.fixture(scope="module")
def pairs8(tmp_path_factory):
  """48 random 8×8 grey targets, their 4×4 box-down-sampled inputs and labels, as a user's .npz."""
  rng = np.random.default_rng(0)
  targets = (rng.random((48, 8, 8, 1)) * 255).astype(np.uint8)
  path = str(tmp_path_factory.mktemp("pairs") / "pairs8.npz")
  np.savez(path, inputs=paired.box_down(targets, 2), targets=targets, labels=np.arange(48) % 3)
  return path


def tiny(path, steps=4, mode="gan"):
  c = pix2pix_sr_mnist.get_config()
  c.data.name = f"paired:{path}"
  c.model.image_shape, c.model.input_shape = (8, 8, 1), (4, 4, 1)
  c.model.base, c.model.depth, c.model.d_base, c.model.d_layers, c.model.max_features = 4, 1, 4, 1, 8
  c.pix2pix.mode = mode
  c.batch_size = 8
  c.steps = steps
  c.steps_per_call = 2
  c.checkpoint_every = c.sample_every = 2
  c.first_sample = 0
  return c


# -- data -----------------------------------------------------------------------------------------------------------

def test_box_down_and_holes_by_hand():
  x = np.array([[0, 2, 10, 10], [4, 6, 10, 11], [0, 0, 255, 255], [0, 1, 255, 255]], np.uint8)[None, :, :, None]
  np.testing.assert_array_equal(paired.box_down(x, 2)[0, :, :, 0], [[3, 10], [0, 255]])  # 10.25 → 10, 0.25 → 0
  m = paired.hole_masks(50, (28, 28), 14, seed=0)
  assert m.shape == (50, 28, 28, 1) and m.dtype == bool and (m.sum(axis=(1, 2, 3)) == 196).all()
  rows = m.any(axis=(2, 3))
  assert all(np.flatnonzero(r).max() - np.flatnonzero(r).min() == 13 for r in rows)  # one 14-row square
  np.testing.assert_array_equal(m, paired.hole_masks(50, (28, 28), 14, seed=0))
  assert not np.array_equal(m, paired.hole_masks(50, (28, 28), 14, seed=0, stream=1))  # the test split's


def test_sr_and_inpaint_mnist_are_deterministic_aligned_and_keep_labels():
  from jaxgan.data.mnist_full import load_mnist_full
  images, labels = load_mnist_full("test")
  sr = data_lib.load(_data_cfg(split="test"))
  assert sr.stream_names == ("real", "labels", "input", "target")
  assert sr.shapes == {"real": (28, 28, 1), "labels": (), "input": (7, 7, 1), "target": (28, 28, 1)}
  np.testing.assert_array_equal(sr.read("target", np.arange(64)), images[:64])
  np.testing.assert_array_equal(sr.labels, labels[:64])
  np.testing.assert_array_equal(sr.arrays["input"], paired.box_down(images[:64], 4))
  ip = data_lib.load(_data_cfg(name="inpaint:mnist", split="test", hole=14))
  again = data_lib.load(_data_cfg(name="inpaint:mnist", split="test", hole=14))
  chex.assert_trees_all_equal(ip.arrays, again.arrays)
  m, x = ip.arrays["mask"], ip.arrays["input"]
  assert (m.sum(axis=(1, 2, 3)) == 196).all()
  np.testing.assert_array_equal(np.where(m, 0, images[:64]), x)
  # streamed and resident: every stream at the same indices
  chunk = next(data_lib.stream(ip, 8, 1, 2, seed=3, start_step=0, streams=("input", "target", "mask", "labels")))
  for j in range(2):
    idx = data_lib.StreamOrder(64, 8, 3).indices(j)
    np.testing.assert_array_equal(chunk["target"][j], images[idx])
    np.testing.assert_array_equal(chunk["labels"][j], labels[idx])
    np.testing.assert_array_equal(chunk["input"][j], np.where(chunk["mask"][j], 0, images[idx]))
  res = ip.resident(("input", "target", "mask"))
  assert res["target"] is ip.images and res["mask"].dtype == bool
  with pytest.raises(data_lib.DataError, match="has the streams real, labels, input, mask, target, not 'foo'"):
    ip.resident(("foo",))


def test_user_pairs_npz_and_folders(pairs8, tmp_path):
  from PIL import Image
  d = data_lib.load(_data_cfg(name=f"paired:{pairs8}", num=0))
  with np.load(pairs8) as z:
    np.testing.assert_array_equal(d.images, z["targets"])
    np.testing.assert_array_equal(d.arrays["input"], z["inputs"])
    np.testing.assert_array_equal(d.labels, z["labels"])
  for sub, arr in (("inputs", d.arrays["input"][:3]), ("targets", d.images[:3]),
                   ("masks", np.zeros((3, 4, 4, 1), np.uint8))):
    os.makedirs(tmp_path / sub)
    for i, a in enumerate(arr):
      Image.fromarray(a[..., 0]).save(tmp_path / sub / f"{i}.png")
  f = data_lib.load(_data_cfg(name=f"paired:{tmp_path}", num=0))
  np.testing.assert_array_equal(f.images, d.images[:3])
  assert f.arrays["mask"].shape == (3, 4, 4, 1) and not f.arrays["mask"].any()
  bad = str(tmp_path / "bad.npz")
  np.savez(bad, inputs=np.zeros((3, 4, 4), np.uint8), targets=np.zeros((2, 8, 8), np.uint8))
  with pytest.raises(data_lib.DataError, match="2 targets for 3 inputs; they must be aligned"):
    data_lib.load(_data_cfg(name=f"paired:{bad}"))
  np.savez(bad, images=np.zeros((3, 4, 4), np.uint8))
  with pytest.raises(data_lib.DataError, match=r"need arrays named inputs and targets"):
    data_lib.load(_data_cfg(name=f"paired:{bad}"))
  with pytest.raises(data_lib.DataError, match="pad is for single-image datasets"):
    data_lib.load(_data_cfg(name=f"paired:{pairs8}", pad=2))


def test_an_objective_that_reads_streams_the_data_lacks_is_one_error(pairs8, tmp_path):
  c = tiny(pairs8)
  c.model.input_shape = (8, 8, 1)
  with pytest.raises(data_lib.DataError, match="stream 'input' has items 4x4x1 but the model takes 8x8x1"):
    Trainer(c, str(tmp_path / "w"), quiet=True)
  c = pix2pix_inpaint_mnist.get_config()
  c.data.name = f"paired:{pairs8}"
  c.model.image_shape = c.model.input_shape = (8, 8, 1)
  with pytest.raises(data_lib.DataError, match=r"has real, labels, input, target \(no mask\)"):
    Trainer(c, str(tmp_path / "w2"), quiet=True)


# -- metrics --------------------------------------------------------------------------------------------------------

def test_psnr_and_ssim_hand_cases():
  x = np.full((2, 16, 16, 1), 100, np.uint8)
  assert pm.psnr(x, x) == float("inf") and pm.ssim(x, x) == pytest.approx(1.0, abs=1e-12)
  np.testing.assert_allclose(pm.psnr(x, x + 10), 20 * np.log10(255 / 10), rtol=1e-12)  # MSE = 100
  y = np.zeros((1, 16, 16, 1), np.uint8)
  z = y.copy()
  z[0, 3, 5] = 255
  np.testing.assert_allclose(pm.psnr(y, z), 10 * np.log10(256), rtol=1e-12)  # MSE = 255² / 256
  # a set with one exact image (an inpainting hole over background) stays finite: PSNR of the set's mean MSE,
  # here (0 + 100) / 2 = 50; the per-image PSNRs are inf and 20·log10(25.5)
  pair = np.concatenate([x[:1], x[:1] + 10])
  np.testing.assert_allclose(pm.psnr(x, pair), 10 * np.log10(255 ** 2 / 50), rtol=1e-12)
  per = pm.psnr_per_image(x, pair)
  assert np.isinf(per[0]) and per[1] == pytest.approx(20 * np.log10(25.5))
  # constant images a, b: σ = 0, so SSIM = (2ab + C1) / (a² + b² + C1) with C1 = (0.01·255)²
  c1 = (0.01 * 255) ** 2
  np.testing.assert_allclose(pm.ssim(x, x + 10), (2 * 100 * 110 + c1) / (100 ** 2 + 110 ** 2 + c1), rtol=1e-9)
  # a random image against its photographic negative (structure anticorrelated): SSIM < 0; against itself plus
  # small noise: > 0
  rng = np.random.default_rng(0)
  a = (rng.random((3, 28, 28, 1)) * 255).astype(np.uint8)
  assert pm.ssim(a, 255 - a) < 0 < pm.ssim(a, np.clip(a.astype(int) + rng.integers(-20, 20, a.shape), 0, 255))
  np.testing.assert_allclose(pm.ssim(a, a[::-1]), pm.ssim(a[::-1], a), rtol=1e-12)  # symmetric
  g = pm.gaussian_window()
  assert g.shape == (11,) and abs(g.sum() - 1) < 1e-12 and g[5] == g.max()
  with pytest.raises(ValueError, match="differ in shape"):
    pm.psnr(x, y)


def test_judge_accuracy_and_translation_metrics_on_real_digits():
  from jaxgan.metrics import evaluate
  from jaxgan.data.mnist_full import load_mnist_full
  images, labels = load_mnist_full("test")
  x, y = images[:200], labels[:200]
  acc = pm.judge_accuracy(x, y)
  assert acc > 0.97 and pm.judge_accuracy(x, (y + 1) % 10) < 0.03
  out = evaluate("translation", images=x, targets=x, labels=y)
  assert out["psnr"] is None and out["ssim"] == pytest.approx(1.0) and out["judge_accuracy"] == acc  # inf → None
  assert out["judge_fd"] > 0 and out["judge"].startswith("mnist_judge")
  with pytest.raises(ValueError, match="needs targets"):
    evaluate("psnr", images=x)
  up = pm.bicubic_up(paired.box_down(x, 4), (28, 28))
  assert up.shape == x.shape and 10 < pm.psnr(up, x) < 25


# -- the objective ----------------------------------------------------------------------------------------------------

def test_l1_mode_has_no_d_and_gan_mode_updates_both(pairs8):
  l1 = objective_lib.build(tiny(pairs8, mode="l1"))
  assert set(l1.players) == {"g"} and [p.name for p in l1.phases] == ["g"]
  assert [t.name for t in l1.phases[0].terms] == ["l1"] and l1.phases[0].terms[0].weight == 100.0
  assert set(l1.init_state(0).players) == {"g"}
  gan = objective_lib.build(tiny(pairs8))
  assert [p.name for p in gan.phases] == ["d", "g"] and gan.streams == ("input", "target")
  assert [t.name for t in gan.phases[1].terms] == ["adversarial", "l1"]
  from jaxgan.step import train_step
  d = data_lib.load(_data_cfg(name=f"paired:{pairs8}", num=0))
  f = lambda a: jax.numpy.asarray(a, jax.numpy.float32) / 127.5 - 1
  batch = {"input": f(d.arrays["input"][:8]), "target": f(d.images[:8])}
  for obj in (l1, gan):
    s0 = obj.init_state(0)
    s1, metrics = jax.jit(lambda s, b, o=obj: train_step(o, s, b))(s0, batch)
    for name in obj.players:  # every player it has moved
      assert not np.allclose(jax.tree.leaves(s1.params(name))[0], jax.tree.leaves(s0.params(name))[0])
    assert ("d_loss" in metrics) == (obj is gan) and float(metrics["g_l1"]) > 0
  with pytest.raises(ValueError, match="pix2pix.mode must be 'gan'"):
    objective_lib.build(tiny(pairs8, mode="l2"))


def test_four_devices_equal_one(pairs8, tmp_path):
  states = []
  for n in (1, 4):
    c = tiny(pairs8, steps=2)
    c.model.norm = c.model.d_norm = "batch"  # statistics over the global batch; dropout masks drawn globally
    c.optim.g = c.optim.d = dict(name="sgd", lr=1e-2, momentum=0.9)
    t = Trainer(c, str(tmp_path / f"dev{n}"), devices=jax.devices()[:n], quiet=True)
    t.train()
    states.append(jax.device_get(t.state))
  chex.assert_trees_all_close(states[0], states[1], atol=2e-5, rtol=2e-5)


def test_resume_is_bit_exact_and_grids_show_input_output_target(pairs8, tmp_path):
  straight = Trainer(tiny(pairs8, steps=4), str(tmp_path / "straight"), quiet=True)
  straight.train()
  work = str(tmp_path / "resumed")
  Trainer(tiny(pairs8, steps=2), work, quiet=True).train()
  resumed = Trainer(tiny(pairs8, steps=4), work, quiet=True)
  assert resumed.start_step == 2
  resumed.train()
  chex.assert_trees_all_equal(jax.device_get(resumed.state), jax.device_get(straight.state))
  from jaxgan.logging import read_png
  grid = read_png(tmp_path / "straight" / "samples" / "step_0000004.png")
  assert grid.shape[:2] == (2 + 8 * 10, 2 + 6 * 10)  # 16 items, two per row: 8 rows of 6 cells of 8 px + 2
  rows = [json.loads(line) for line in open(tmp_path / "straight" / "metrics.jsonl")]
  assert {"d_loss", "g_l1", "g_adv", "g_loss"} <= set(rows[-1])


# -- translate.py ------------------------------------------------------------------------------------------------------

def test_translate_round_trip_and_one_line_errors(pairs8, tmp_path):
  work = str(tmp_path / "run")
  Trainer(tiny(pairs8, steps=2), work, quiet=True).train()
  env = dict(os.environ, PYTHONPATH=ROOT)
  script = os.path.join(ROOT, "scripts", "translate.py")
  out = str(tmp_path / "out.npz")
  r = subprocess.run([sys.executable, script, f"--workdir={work}", f"--input={pairs8}", f"--out={out}",
                      f"--grid={tmp_path / 'g.png'}"], capture_output=True, text=True, env=env)
  assert r.returncode == 0, r.stderr
  assert "translated 48 inputs" in r.stdout and "PSNR" in r.stdout
  from jaxgan.pix2pix import translate_uint8
  from jaxgan.sampling import load_run
  run = load_run(work)
  with np.load(out) as z, np.load(pairs8) as p:
    expected = translate_uint8(run.gan, run.state.params("g"), run.state.vars("g"), p["inputs"])
    np.testing.assert_array_equal(z["outputs"], expected)
    np.testing.assert_array_equal(z["targets"], p["targets"])
    assert z["outputs"].shape == (48, 8, 8, 1) and z["outputs"].dtype == np.uint8
  big = str(tmp_path / "big.npz")
  np.savez(big, inputs=np.zeros((2, 6, 6), np.uint8))
  r = subprocess.run([sys.executable, script, f"--workdir={work}", f"--input={big}", f"--out={tmp_path / 'x.npz'}"],
                     capture_output=True, text=True, env=env)
  assert r.returncode == 2 and r.stderr.count("\n") == 1 and not os.path.exists(tmp_path / "x.npz")
  assert "the inputs are 6x6 but this model takes 4x4; pass --resize" in r.stderr
  # the checks themselves, in-process
  tr = load_script("scripts/translate.py")
  fit = lambda **kw: tr.fit_inputs(dict(dict(inputs=np.zeros((2, 4, 4, 1), np.uint8)), **kw), (4, 4, 1),
                                   (8, 8, 1), False, False)
  with pytest.raises(ValueError, match="takes no masks"):
    fit(masks=np.zeros((2, 4, 4, 1), bool))
  with pytest.raises(ValueError, match="the inputs have 3 channel"):
    fit(inputs=np.zeros((2, 4, 4, 3), np.uint8))
  with pytest.raises(ValueError, match="the targets are 4x4x1 but this model makes 8x8x1"):
    fit(targets=np.zeros((2, 4, 4, 1), np.uint8))
  resized = tr.fit_inputs({"inputs": np.full((2, 8, 8, 1), 7, np.uint8)}, (4, 4, 1), (8, 8, 1), False, True)
  np.testing.assert_array_equal(resized["inputs"], np.full((2, 4, 4, 1), 7, np.uint8))  # box: a flat image stays
  with pytest.raises(ValueError, match="this model inpaints: give `masks`"):
    tr.fit_inputs({"inputs": np.zeros((2, 8, 8, 1), np.uint8)}, (8, 8, 1), (8, 8, 1), True, False)


# -- evaluate_paired.py -------------------------------------------------------------------------------------------

def test_evaluate_paired_scores_each_run_beside_the_baselines(tmp_path):
  """Two tiny `sr:mnist` runs (adversarial with λ = 300, and L1 only), 2 steps each, scored on 64 test digits:
  the rows in order, each run's row named by its loss (λ included), the real digits near-perfect for the judge and
  bicubic far from them; a run on another dataset is one error line."""
  works = []
  for mode, weight in (("gan", 300.0), ("l1", 100.0)):
    c = pix2pix_sr_mnist.get_config()
    c.model.base, c.model.depth, c.model.d_base, c.model.d_layers, c.model.max_features = 4, 1, 4, 1, 8
    c.pix2pix.mode, c.pix2pix.l1_weight = mode, weight
    c.data.num, c.batch_size, c.steps, c.steps_per_call = 64, 8, 2, 2
    c.checkpoint_every = c.sample_every = 2
    works.append(str(tmp_path / mode))
    Trainer(c, works[-1], quiet=True).train()
  env = dict(os.environ, PYTHONPATH=ROOT)
  script = os.path.join(ROOT, "scripts", "evaluate_paired.py")
  out = tmp_path / "eval.json"
  r = subprocess.run([sys.executable, script, f"--workdirs={','.join(works)}", "--num=64", "--ceiling_epochs=0",
                      f"--json={out}"], capture_output=True, text=True, env=env)
  assert r.returncode == 0, r.stderr
  result = json.loads(out.read_text())
  assert result["dataset"] == "sr:mnist" and result["n"] == 64
  rows = {row["name"]: row for row in result["rows"]}
  assert list(rows) == ["bicubic up-sampling", "pix2pix (adversarial + 300·L1)", "L1-only U-Net", "real targets"]
  assert rows["pix2pix (adversarial + 300·L1)"]["l1_weight"] == 300.0 and "l1_weight" not in rows["L1-only U-Net"]
  assert [rows[n]["workdir"] for n in list(rows)[1:3]] == works and rows["L1-only U-Net"]["step"] == 2
  assert rows["real targets"]["judge_accuracy"] >= 0.9 and rows["real targets"]["psnr"] == float("inf")
  # (an FD of 64 samples is biased far above 0, even for real digits)
  assert rows["bicubic up-sampling"]["judge_fd"] > 2 * rows["real targets"]["judge_fd"]
  assert rows["bicubic up-sampling"]["judge_accuracy"] < rows["real targets"]["judge_accuracy"]
  assert "| pix2pix (adversarial + 300·L1) |" in r.stdout
  other = tmp_path / "inpaint"
  c = pix2pix_inpaint_mnist.get_config()
  c.model.base, c.model.depth, c.model.d_base, c.model.d_layers, c.model.max_features = 4, 1, 4, 1, 8
  c.data.num, c.batch_size, c.steps, c.steps_per_call, c.checkpoint_every, c.sample_every = 64, 8, 2, 2, 2, 2
  Trainer(c, str(other), quiet=True).train()
  r = subprocess.run([sys.executable, script, f"--workdirs={works[0]},{other}", "--num=8"], capture_output=True,
                     text=True, env=env)
  assert r.returncode == 2 and r.stderr.count("\n") == 1 and "must be pix2pix runs on one dataset" in r.stderr

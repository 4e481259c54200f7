"""Anomaly detection: AUROC against hand-computed cases (with ties), one-class data, f-AnoGAN's encoder stage leaving G
and D bit for bit unchanged, GANomaly on 1 vs 4 devices, scripts/anomaly.py (output and one-line errors) and the
one-class protocol runner's resume."""
import json
import os

import chex
import jax
import numpy as np
import pytest
from ml_collections import ConfigDict

from _scripts import ROOT, run_script
from conftest import ONE_DEVICE_FLAGS
from jaxgan import anomaly
from jaxgan import data as data_lib
from jaxgan.configs import fanogan_mnist, ganomaly_mnist
from jaxgan.data.embedded import load_mnist_5k
from jaxgan.trainer import Trainer


# -- AUROC ---------------------------------------------------------------------------------------------------------

def test_average_ranks_share_the_mean_rank_of_a_tie():
  np.testing.assert_array_equal(anomaly.average_ranks([0.1, 0.4, 0.4, 0.8, 0.4, 0.2]), [1, 4, 4, 6, 4, 2])


def test_auroc_hand_computed_with_ties():
  # normal 0.1, 0.4, 0.2; anomalous 0.4, 0.8, 0.4. Pairs (anomalous above normal = 1, tie = ½):
  # 0.4: 1 + ½ + 1; 0.8: 3; 0.4: 1 + ½ + 1  →  8 of 9 pairs
  scores = [0.1, 0.4, 0.4, 0.8, 0.4, 0.2]
  anomalous = [False, True, False, True, True, False]
  assert anomaly.auroc(scores, anomalous) == pytest.approx(8 / 9, abs=1e-12)
  assert anomaly.auroc([1, 2, 3, 4], [0, 0, 1, 1]) == 1.0
  assert anomaly.auroc([4, 3, 2, 1], [0, 0, 1, 1]) == 0.0
  assert anomaly.auroc([5, 5, 5, 5, 5], [0, 1, 1, 0, 1]) == 0.5
  # brute force over all pairs on random scores with many ties
  rng = np.random.default_rng(0)
  s, a = rng.integers(0, 5, 200), rng.random(200) < 0.3
  pairs = (s[a][:, None] > s[~a][None]).mean() + 0.5 * (s[a][:, None] == s[~a][None]).mean()
  assert anomaly.auroc(s, a) == pytest.approx(pairs, abs=1e-12)


def test_auroc_needs_both_classes_and_finite_scores():
  with pytest.raises(ValueError, match="normal and anomalous"):
    anomaly.auroc([1.0, 2.0], [True, True])
  with pytest.raises(ValueError, match="not finite"):
    anomaly.auroc([1.0, np.nan], [True, False])


# -- one-class data --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def digits(tmp_path_factory):
  """64 real digits of classes 0 and 1 (32 each, 28×28) with labels, as an .npz."""
  images, labels = load_mnist_5k()
  idx = np.r_[np.flatnonzero(labels == 0)[:32], np.flatnonzero(labels == 1)[:32]]
  path = str(tmp_path_factory.mktemp("data") / "digits01.npz")
  np.savez(path, images=images[idx], labels=labels[idx])
  return path


def test_class_filter_keeps_only_the_chosen_classes(digits):
  data = data_lib.load(ConfigDict(dict(name=digits, classes=(1,))))
  assert data.num == 32 and set(data.labels.tolist()) == {1}
  full = np.load(digits)
  np.testing.assert_array_equal(data.images, full["images"][full["labels"] == 1])
  assert data_lib.load(ConfigDict(dict(name=digits, classes=()))).num == 64


def test_class_filter_errors(digits, tmp_path):
  with pytest.raises(data_lib.DataError, match=r"class 7 has no images .* labels are 0\.\.1"):
    data_lib.load(ConfigDict(dict(name=digits, classes=(0, 7))))
  unlabelled = str(tmp_path / "x.npz")
  np.savez(unlabelled, images=np.zeros((4, 28, 28, 1), np.uint8))
  with pytest.raises(data_lib.DataError, match="needs a labelled dataset"):
    data_lib.load(ConfigDict(dict(name=unlabelled, classes=(0,))))


# -- training ---------------------------------------------------------------------------------------------------------

# SGD with momentum: Adam turns float rounding in near-zero gradient entries into ±lr steps, which says nothing
# about device invariance (as tests/test_progan.py notes)
SGD = dict(name="sgd", lr=1e-2, momentum=0.9)


def _sgd(c):
  c.optim.g = c.optim.d = SGD
  return c


def tiny_fanogan(data_path, steps=4, gan_steps=2):
  c = fanogan_mnist.get_config()
  c.data.name, c.data.classes = data_path, (0,)
  c.model.width, c.model.latent_dim = 0.125, 8
  c.batch_size, c.n_critic = 8, 2
  c.fanogan.gan_steps, c.steps = gan_steps, steps
  c.steps_per_call, c.checkpoint_every, c.sample_every = 2, 2, 100
  c.fanogan.optim = SGD
  return _sgd(c)


def tiny_ganomaly(data_path, steps=2):
  c = ganomaly_mnist.get_config()
  c.data.name, c.data.classes = data_path, (0,)
  c.model.width, c.model.latent_dim = 0.125, 8
  c.batch_size, c.steps = 8, steps
  c.steps_per_call, c.checkpoint_every, c.sample_every = 2, 2, 100
  return _sgd(c)


def _get(tree):
  return jax.tree.map(np.asarray, jax.device_get(tree))


@pytest.fixture(scope="module")
def fanogan_runs(digits, tmp_path_factory):
  """A tiny f-AnoGAN on 4 devices: the state at init, at the stage boundary (step 2) and at the end (step 4)."""
  base = tmp_path_factory.mktemp("fanogan")
  t = Trainer(tiny_fanogan(digits), str(base / "four"), quiet=True)
  init = _get(t.state)
  runner = t.runner()
  runner.advance()   # steps 1-2: the GAN
  boundary = _get(t.state)
  runner.advance()   # steps 3-4: the encoder
  runner.close()
  return {"init": init, "boundary": boundary, "end": _get(t.state), "obj": t.gan,
          "workdir": str(base / "four")}


def test_encoder_stage_leaves_g_and_d_bit_for_bit_unchanged(fanogan_runs):
  init, boundary, end = fanogan_runs["init"], fanogan_runs["boundary"], fanogan_runs["end"]
  assert int(boundary.step) == 2 and int(end.step) == 4 and int(end.stage) == 1
  for name in ("g", "d"):
    chex.assert_trees_all_equal(boundary.players[name], end.players[name])   # params, vars, Adam moments
    assert not all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(init.players[name].params),
                                                         jax.tree.leaves(boundary.players[name].params)))
  # the encoder: untouched while the GAN trains, trained in stage 1
  chex.assert_trees_all_equal(init.players["e"], boundary.players["e"])
  assert not all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(boundary.players["e"].params),
                                                       jax.tree.leaves(end.players["e"].params)))


def test_ganomaly_one_and_four_devices_agree_and_scores_are_per_image(digits, tmp_path):
  states = []
  for n, name in ((4, "four"), (1, "one")):
    t = Trainer(tiny_ganomaly(digits), str(tmp_path / name), devices=jax.devices()[:n], quiet=True)
    t.train()
    states.append(t.state)
  chex.assert_trees_all_close(_get(states[0].players), _get(states[1].players), rtol=2e-4, atol=2e-5)
  images = np.load(digits)["images"][:12]
  obj = t.gan
  whole = anomaly.score_images(obj, states[1], images, batch=12)
  parts = anomaly.score_images(obj, states[1], images, batch=5)   # other batches, the last one padded
  assert set(whole) == {"latent", "image"} and whole["latent"].shape == (12,)
  chex.assert_trees_all_close(whole, parts, rtol=1e-5, atol=1e-6)


# -- scripts/anomaly.py -----------------------------------------------------------------------------------------------

def run_anomaly(*args):
  env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS=ONE_DEVICE_FLAGS)
  return run_script("scripts/anomaly.py", *args, cwd=ROOT, env=env, timeout=300)


def assert_one_line_error(r, *fragments):
  assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
  lines = [line for line in r.stderr.strip().splitlines() if line.strip()]
  assert len(lines) == 1 and "error:" in lines[0] and "Traceback" not in r.stderr, r.stderr
  for f in fragments:
    assert f in lines[0], lines[0]


def test_anomaly_script_reports_auroc_and_writes_a_histogram(fanogan_runs, digits, tmp_path):
  hist = str(tmp_path / "h.png")
  r = run_anomaly(f"--workdir={fanogan_runs['workdir']}", f"--data={digits}", "--json", f"--hist={hist}")
  assert r.returncode == 0, r.stderr
  out = json.loads(r.stdout.strip().splitlines()[-1])
  assert out["normal"] == [0] and out["num_normal"] == 32 and out["num_anomalous"] == 32 and out["step"] == 4
  assert out["score"] == "izif" and set(out["auroc_parts"]) == {"image", "features"}
  assert 0.0 <= out["auroc"] <= 1.0 and list(out["auroc_by_anomalous_class"]) == ["1"]
  assert out["auroc_by_anomalous_class"]["1"] == pytest.approx(out["auroc"])  # one anomalous class: the same
  with open(hist, "rb") as f:
    assert f.read(8) == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("args,fragments", [
    (["--normal=x"], ["--normal takes class numbers"]),
    (["--normal=5"], ["normal class 5 has no images"]),
    (["--normal=0,1"], ["every image scored is normal"]),
])
def test_anomaly_script_bad_input_is_one_line(fanogan_runs, digits, args, fragments):
  extra = [] if any(a.startswith("--data") for a in args) else [f"--data={digits}"]
  assert_one_line_error(run_anomaly(f"--workdir={fanogan_runs['workdir']}", *extra, *args), *fragments)


def test_scoring_an_untrained_encoder_or_a_missing_workdir_is_one_line(fanogan_runs, tmp_path):
  with pytest.raises(ValueError, match="encoder trains from step 2: it has not trained yet"):
    anomaly.check_trained(fanogan_runs["obj"], fanogan_runs["boundary"])
  assert_one_line_error(run_anomaly(f"--workdir={tmp_path / 'nope'}"), "does not exist")


def test_protocol_runner_skips_finished_classes_and_summarizes(tmp_path):
  """A class whose JSON exists is not trained again (the sweep resumes where it stopped); the summary is partial."""
  os.makedirs(tmp_path / "fanogan")
  row = {"auroc": 0.9, "cpu_min": 5.0, "score": "izif"}
  for c in (3, 4):
    with open(tmp_path / "fanogan" / f"class_{c}.json", "w") as f:
      json.dump(dict(row, auroc=0.9 + c / 100), f)
  env = dict(os.environ, JAX_PLATFORMS="cpu")
  r = run_script("benchmarks/anomaly_mnist.py", "--methods=fanogan", "--classes=3,4", f"--out={tmp_path}", cwd=ROOT,
                 env=env, timeout=300)
  assert r.returncode == 0, r.stderr
  assert "fanogan class 3: done before" in r.stdout and "mean AUROC 0.9350 over 2 classes (partial)" in r.stdout
  with open(tmp_path / "summary.json") as f:
    summary = json.load(f)
  assert summary["fanogan"]["auroc"] == {"3": 0.93, "4": 0.94} and summary["fanogan"]["partial"]
  assert not os.path.exists(tmp_path / "fanogan" / "class_3")   # nothing trained

"""The memorisation check (jaxgan/metrics/memorisation.py, `evaluate.py --metric=memorisation`): copies of training
images are caught, fresh images of the same distribution are not, and the nearest neighbours are the true ones."""
import json

import numpy as np
import pytest
from PIL import Image

from jaxgan import metrics
from jaxgan.data.embedded import load_mnist_5k
from jaxgan.metrics import memorisation as mem

from _scripts import run_script


@pytest.fixture(scope="module")
def digits():
  x = load_mnist_5k()[0]
  order = np.random.default_rng(0).permutation(len(x))
  return x[order[:1500]], x[order[1500:3000]]   # "training" and held-out digits of every class


def test_nearest_is_the_brute_force_nearest():
  rng = np.random.default_rng(1)
  a, b = rng.normal(size=(37, 5)), rng.normal(size=(1100, 5))   # more rows than a block
  d, i = mem.nearest(a, b)
  full = np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1))
  np.testing.assert_array_equal(i, full.argmin(1))
  np.testing.assert_allclose(d, full.min(1), rtol=1e-9, atol=1e-9)
  d_self, i_self = mem.nearest(b, b, exclude_self=True)
  full = np.sqrt(((b[:, None] - b[None]) ** 2).sum(-1))
  np.fill_diagonal(full, np.inf)
  np.testing.assert_array_equal(i_self, full.argmin(1))
  np.testing.assert_allclose(d_self, full.min(1), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("space", ["judge", "pixels"])
def test_copies_are_caught_and_fresh_digits_are_not(digits, space):
  train, held = digits
  rng = np.random.default_rng(2)
  noisy = np.clip(train[:300].astype(int) + rng.integers(-3, 4, train[:300].shape), 0, 255).astype(np.uint8)
  copied = mem.memorisation(noisy, train, held, space=space)
  fresh = mem.memorisation(held[:300], train, held, space=space)
  assert copied["features"] == space and copied["n_train"] == 1500
  assert copied["copy_fraction"] > 0.9
  assert fresh["copy_fraction"] < 0.25
  assert fresh["copy_fraction"] == pytest.approx(fresh["heldout_copy_fraction"], abs=0.06)
  assert copied["median_sample_nn"] < copied["threshold"] < fresh["median_sample_nn"]
  # the threshold is the quantile of the training set's own leave-one-out distances
  f = mem.features(train, space)
  assert copied["threshold"] == pytest.approx(np.quantile(mem.nearest(f, f, exclude_self=True)[0], 0.05))


def test_pixel_features_and_the_neighbours_figure():
  x = np.zeros((2, 64, 64, 3), np.uint8)
  x[1, :32] = 255
  f = mem.pixel_features(x)
  assert f.shape == (2, 16 * 16 * 3) and f[0].max() == 0 and f[1].reshape(16, 16, 3)[:8].min() == 1
  assert mem.pixel_features(np.zeros((1, 28, 28), np.uint8)).shape == (1, 14 * 14)
  train = np.stack([np.full((8, 8, 3), v, np.uint8) for v in (0, 100, 200, 250)])
  fig = mem.neighbours_figure(np.full((1, 8, 8, 3), 190, np.uint8), train, k=2)
  assert fig.shape == (3, 8, 8, 3) and fig[1].max() == 200 and fig[2].max() == 250
  with pytest.raises(ValueError, match="training images"):
    metrics.evaluate("memorisation", images=np.zeros((4, 8, 8, 3), np.uint8))


def _evaluate(*args):
  return run_script("scripts/evaluate.py", *args)


def test_evaluate_reports_copies_of_the_embedded_digits_with_a_figure(tmp_path):
  np.savez(tmp_path / "s.npz", images=load_mnist_5k()[0][::50][..., None] if load_mnist_5k()[0].ndim == 3
           else load_mnist_5k()[0][::50])
  p = _evaluate(f"--samples={tmp_path / 's.npz'}", "--metric=memorisation", "--json",
                f"--figure={tmp_path / 'nn.png'}")
  assert p.returncode == 0, p.stderr
  r = json.loads(p.stdout)
  assert r["copy_fraction"] == 1.0 and r["features"] == "judge" and r["n"] == 100
  assert r["heldout_copy_fraction"] < 0.25 and "test digits" in r["heldout"]
  with Image.open(tmp_path / "nn.png") as im:
    assert im.size == (5 * 30 + 2, 8 * 30 + 2 + 14)
  p = _evaluate(f"--samples={tmp_path / 's.npz'}", "--metric=mnist_fd", f"--figure={tmp_path / 'x.png'}")
  assert p.returncode == 2 and p.stderr.count("\n") == 1 and "--figure" in p.stderr
  assert not (tmp_path / "x.png").exists()

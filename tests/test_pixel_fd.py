"""The weight-free FD/KID for colour data (jaxgan/metrics/pixel_fd.py, `evaluate.py --metric=pixel_fd`): unseen real
images of the distribution score at the floor, a collapsed or blurred generator far above it, in that order."""
import json

import numpy as np
import pytest

from jaxgan import metrics
from jaxgan.data.emoji import load_emoji
from jaxgan.metrics.frechet import frechet_distance
from jaxgan.metrics.memorisation import pixel_features
from jaxgan.metrics.pixel_fd import pixel_fd

from _scripts import run_script


@pytest.fixture(scope="module")
def emoji():
  x = load_emoji(8)   # 8×8×3 = 192 pixel features: fast, and colour and layout are still there
  order = np.random.default_rng(0).permutation(len(x))
  return x[order[:3000]], x[order[3000:]]   # the "training" set and 1,009 emoji it does not contain


def test_real_at_the_floor_collapse_and_blur_far_above(emoji):
  train, unseen = emoji
  kw = dict(num_subsets=10, subset_size=300)
  real = pixel_fd(unseen, train, **kw)
  one = pixel_fd(np.repeat(unseen[:1], len(unseen), axis=0), train, **kw)          # one image for every latent
  blur = unseen.reshape(-1, 2, 4, 2, 4, 3).mean(axis=(2, 4), keepdims=True)  # 4×4 blocks: layout, no detail
  blurred = pixel_fd(np.broadcast_to(blur, (len(unseen), 2, 4, 2, 4, 3)).reshape(unseen.shape).astype(np.uint8),
                     train, **kw)
  assert (real["n"], real["n_samples"], real["n_reference"]) == (len(unseen), len(unseen), len(train))
  assert real["fd"] < 1.5 * real["floor"] and real["floor"] > 0, real
  assert blurred["fd"] > 3 * real["fd"] and one["fd"] > blurred["fd"], (real, blurred, one)
  assert abs(real["kid"]) < 3 * real["kid_std"] + 1e-3 and one["kid"] > blurred["kid"] > 10 * abs(real["kid"])
  assert abs(real["kid_floor"]) < one["kid"] / 10
  assert real["floor"] == one["floor"] and "pixels16" in real["features"]


def test_fd_is_against_one_half_and_the_floor_the_other_half(emoji):
  train, unseen = emoji
  ref = train[:400]
  r = pixel_fd(unseen[:150], ref, seed=3, num_subsets=2)
  perm = np.random.RandomState(3).permutation(400)
  f = pixel_features(ref).astype(np.float64)
  a, b = f[perm[:200]], f[perm[200:]]
  np.testing.assert_allclose(r["fd"], frechet_distance(pixel_features(unseen[:150]).astype(np.float64), b), rtol=1e-9)
  np.testing.assert_allclose(r["floor"], frechet_distance(a[:150], b), rtol=1e-9)
  assert r["n"] == 150 and r["kid_subset_size"] == 150


def test_bad_input_is_one_clear_error(emoji, tmp_path):
  train, unseen = emoji
  with pytest.raises(ValueError, match="differ in shape"):
    pixel_fd(unseen[:, :4], train)
  with pytest.raises(ValueError, match="reference images"):
    metrics.evaluate("pixel_fd", images=unseen)
  np.savez(tmp_path / "s.npz", images=unseen[:200], reference=train[:600])
  p = run_script("scripts/evaluate.py", f"--samples={tmp_path / 's.npz'}", "--metric=pixel_fd", "--json")
  assert p.returncode == 0, p.stderr
  out = json.loads(p.stdout)
  assert out["metric"] == "pixel_fd" and out["n"] == 200 and out["n_reference"] == 600 and out["fd"] > 0
  np.savez(tmp_path / "t.npz", images=unseen[:200])
  p = run_script("scripts/evaluate.py", f"--samples={tmp_path / 't.npz'}", "--metric=pixel_fd")
  assert p.returncode == 2 and p.stderr.count("\n") == 1 and "reference" in p.stderr

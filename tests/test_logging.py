"""Run outputs: metrics.jsonl across resumes, TensorBoard event files, PNG grids, loss plots, progress lines."""
import glob
import io
import json
import os
import re
import struct

import chex
import numpy as np
import pytest
from PIL import Image
from tensorboardX.proto.event_pb2 import Event, SessionLog

from jaxgan import logging as jlog


def _rows(path):
  with open(path) as f:
    return [json.loads(line) for line in f]  # every line must parse


def test_metrics_resume_drops_lines_after_the_checkpoint_and_torn_tails(tmp_path):
  with jlog.MetricWriter(tmp_path, tensorboard=False) as w:
    for step in range(1, 11):
      w.write(step, {"d_loss": np.float32(1.0 / step), "g_loss": 0.1 * step})
  with open(tmp_path / "metrics.jsonl", "a") as f:
    f.write('{"step": 11, "d_lo')  # the interrupted run died mid-line
  before = [r for r in _read_complete(tmp_path / "metrics.jsonl") if r["step"] <= 5]
  with jlog.MetricWriter(tmp_path, resume_step=5, tensorboard=False) as w:
    w.write(6, {"d_loss": 7.0, "g_loss": 8.0})
    w.write_many([7, 8], {"d_loss": np.array([9.0, 10.0]), "g_loss": np.array([11.0, 12.0])})
  rows = _rows(tmp_path / "metrics.jsonl")
  assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6, 7, 8]
  assert rows[:5] == before
  assert rows[0]["d_loss"] == 1.0 and rows[4]["d_loss"] == float(np.float32(0.2))
  assert rows[5]["d_loss"] == 7.0 and rows[7]["g_loss"] == 12.0


def _read_complete(path):
  with open(path) as f:
    return [json.loads(line) for line in f if line.endswith("\n")]


def test_metrics_reopen_without_resume_step_keeps_every_complete_line(tmp_path):
  with jlog.MetricWriter(tmp_path, tensorboard=False) as w:
    w.write(1, {"d_loss": float("nan")})
    w.write(2, {"d_loss": 0.5})
  with open(tmp_path / "metrics.jsonl", "a") as f:
    f.write('{"step": 3, ')
  with jlog.MetricWriter(tmp_path, tensorboard=False) as w:
    w.write(3, {"d_loss": 0.25})
  rows = _rows(tmp_path / "metrics.jsonl")
  assert [r["step"] for r in rows] == [1, 2, 3]
  assert np.isnan(rows[0]["d_loss"]) and rows[2]["d_loss"] == 0.25


# --- TensorBoard: decode the event files with tensorboardX's Event proto; framing and CRCs checked here --------


def _crc32c_bitwise(data: bytes) -> int:
  crc = 0xFFFFFFFF
  for byte in data:
    crc ^= byte
    for _ in range(8):
      crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
  return crc ^ 0xFFFFFFFF


def _unmasked(masked: int) -> int:
  rot = (masked - 0xA282EAD8) & 0xFFFFFFFF
  return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF


def _read_events(path):
  events = []
  data = open(path, "rb").read()
  pos = 0
  while pos < len(data):
    header = data[pos:pos + 8]
    (length,) = struct.unpack("<Q", header)
    (header_crc,) = struct.unpack("<I", data[pos + 8:pos + 12])
    payload = data[pos + 12:pos + 12 + length]
    (payload_crc,) = struct.unpack("<I", data[pos + 12 + length:pos + 16 + length])
    assert _unmasked(header_crc) == _crc32c_bitwise(header)
    assert _unmasked(payload_crc) == _crc32c_bitwise(payload)
    events.append(Event.FromString(payload))
    pos += 16 + length
  return events


def _event_files(logdir):
  return sorted(glob.glob(str(logdir / "events.out.tfevents.*")), key=os.path.getmtime)


def test_crc32c_reference_matches_the_published_check_value():
  assert _crc32c_bitwise(b"123456789") == 0xE3069283  # the test's own reader must be right for the CRC asserts


def test_tensorboard_event_files_hold_the_scalars(tmp_path):
  with jlog.MetricWriter(tmp_path) as w:
    for step in (1, 2, 3):
      w.write(step, {"d_loss": 0.5 * step, "g_loss": -1.0 * step})
  with jlog.MetricWriter(tmp_path, resume_step=2) as w:
    w.write(3, {"d_loss": 30.0})
  files = _event_files(tmp_path / "tb")
  assert len(files) == 2 and files[0] != files[1]
  first, second = (_read_events(f) for f in files)
  assert first[0].file_version.startswith("brain.Event:")
  scalars = [(e.step, v.tag, v.simple_value) for e in first[1:] for v in e.summary.value]
  assert scalars == [(1, "d_loss", 0.5), (1, "g_loss", -1.0), (2, "d_loss", 1.0), (2, "g_loss", -2.0),
                     (3, "d_loss", 1.5), (3, "g_loss", -3.0)]
  # The resumed run tells TensorBoard to purge steps > 2 of the earlier file, then logs step 3 anew.
  assert second[1].HasField("session_log") and second[1].session_log.status == SessionLog.START
  assert second[1].step == 3
  assert [(e.step, v.tag, v.simple_value) for e in second[2:] for v in e.summary.value] == [(3, "d_loss", 30.0)]


def test_tensorboard_image_summary_next_to_the_scalars(tmp_path):
  grid = np.zeros((6, 10, 1), np.uint8)
  grid[1:3, 2:8] = 200
  rgba = np.random.default_rng(0).integers(0, 256, (5, 4, 4), dtype=np.uint8)
  with jlog.MetricWriter(tmp_path) as w:
    w.write(10, {"d_loss": 0.25})
    w.write_image(10, "samples/g", grid)
    w.write_image(20, "samples/ema_g", rgba)
    with pytest.raises(ValueError, match=r"expected an HxW or HxWxC image with C in 1, 3, 4, got shape \(2, 2, 2\)"):
      w.write_image(20, "bad", np.zeros((2, 2, 2), np.uint8))
  (path,) = _event_files(tmp_path / "tb")
  values = [(e.step, v) for e in _read_events(path)[1:] for v in e.summary.value]
  assert [(s, v.tag, v.WhichOneof("value")) for s, v in values] == [
      (10, "d_loss", "simple_value"), (10, "samples/g", "image"), (20, "samples/ema_g", "image")]
  img = values[1][1].image
  assert (img.height, img.width) == (6, 10)
  decoded = np.asarray(Image.open(io.BytesIO(img.encoded_image_string)))
  assert decoded.shape == (6, 10, 3)  # grayscale is stored as RGB
  chex.assert_trees_all_equal(decoded, np.repeat(grid, 3, axis=-1))
  img = values[2][1].image
  assert img.colorspace == 4
  chex.assert_trees_all_equal(np.asarray(Image.open(io.BytesIO(img.encoded_image_string))), rgba)
  assert "samples/g" not in open(tmp_path / "metrics.jsonl").read()  # images go to TensorBoard only


# --- images -------------------------------------------------------------------------------------------------


def test_image_grid_layout_and_pixels(tmp_path):
  values = [0, 50, 100, 150, 200]
  images = np.stack([np.full((3, 4, 1), v, np.uint8) for v in values])
  path = tmp_path / "grid.png"
  jlog.save_image_grid(images, path, padding=2, pad_value=255)
  png = np.asarray(Image.open(path))
  assert Image.open(path).mode == "L"
  # ceil(sqrt(5)) = 3 columns, 2 rows; 2-pixel padding around every tile.
  assert png.shape == (2 * (3 + 2) + 2, 3 * (4 + 2) + 2)
  expected = np.full(png.shape, 255, np.uint8)
  for i, v in enumerate(values):
    r, c = divmod(i, 3)
    expected[2 + 5 * r:2 + 5 * r + 3, 2 + 6 * c:2 + 6 * c + 4] = v
  np.testing.assert_array_equal(png, expected)


def test_image_grid_float_rgb_and_nrow(tmp_path):
  images = np.zeros((4, 2, 2, 3), np.float32)
  images[0] = -1.0
  images[1] = 1.0
  images[2, ..., 0] = 0.0
  images[3] = 3.0  # out of range: clipped
  path = tmp_path / "rgb.png"
  jlog.save_image_grid(images, path, nrow=4, padding=1, pad_value=0)
  png = np.asarray(Image.open(path))
  assert png.shape == (1 * (2 + 1) + 1, 4 * (2 + 1) + 1, 3)
  np.testing.assert_array_equal(png[1, 1], [0, 0, 0])
  np.testing.assert_array_equal(png[1, 4], [255, 255, 255])
  np.testing.assert_array_equal(png[1, 7], [128, 128, 128])  # round(127.5) = 128
  np.testing.assert_array_equal(png[1, 10], [255, 255, 255])
  np.testing.assert_array_equal(png[0], 0)


def test_images_to_uint8():
  x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0, -7.0, np.nan], np.float32)
  np.testing.assert_array_equal(jlog.images_to_uint8(x), [0, 64, 128, 191, 255, 0, 0])
  u = np.array([3, 250], np.uint8)
  assert jlog.images_to_uint8(u) is u


def test_plot_losses_writes_a_png(tmp_path):
  with jlog.MetricWriter(tmp_path, tensorboard=False) as w:
    for step in range(0, 500, 5):
      w.write(step, {"d_loss": 1.0 + np.sin(step / 50), "g_loss": 2.0 - step / 500, "d_real": 0.7, "d_fake": 0.3})
  png = tmp_path / "losses.png"
  plotted = jlog.plot_losses(tmp_path / "metrics.jsonl", png)
  assert plotted == ["d_loss", "g_loss", "d_real", "d_fake"]
  with open(png, "rb") as f:
    assert f.read(8) == b"\x89PNG\r\n\x1a\n"
  with Image.open(png) as im:
    im.verify()
  pixels = np.asarray(Image.open(png).convert("L"))
  assert pixels.std() > 10  # not a blank canvas
  with open(tmp_path / "other.jsonl", "w") as f:
    f.write('{"step": 1, "fid": 3.0}\n')
  with pytest.raises(ValueError, match="none of the keys"):
    jlog.plot_losses(tmp_path / "other.jsonl", tmp_path / "x.png")


# --- progress -----------------------------------------------------------------------------------------------


def test_progress_bar_prints_plain_lines_when_not_a_tty():
  out = io.StringIO()
  bar = jlog.ProgressBar(total=100, initial=40, batch_size=64, print_every=2, file=out)
  assert bar.disabled
  for _ in range(6):
    bar.update(10, d_loss=np.float32(1.2345678), g_loss=0.5)
  bar.close()
  lines = out.getvalue().splitlines()
  assert len(lines) == 3  # updates 2, 4, 6 (the last also reaches total)
  assert re.fullmatch(r"step 60/100 \(60\.0%\) d_loss=1\.235 g_loss=0\.5 \| \d+ img/s \| ETA \d+:\d\d:\d\d", lines[0])
  assert lines[-1].startswith("step 100/100 (100.0%)") and "ETA 0:00:00" in lines[-1]


class _FakeTTY(io.StringIO):

  def isatty(self):
    return True


def test_progress_bar_draws_tqdm_on_a_tty():
  out = _FakeTTY()
  with jlog.ProgressBar(total=10, initial=0, batch_size=8, file=out) as bar:
    assert not bar.disabled
    for _ in range(10):
      bar.update(1, d_loss=0.25)
  text = out.getvalue()
  assert "10/10" in text and "d_loss=0.25" in text and "img/s=" in text

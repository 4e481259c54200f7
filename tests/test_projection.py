"""Projection into a StyleGAN2's W space (jaxgan/projection.py, scripts/project.py): an image G drew is found again,
the run is deterministic for a seed, pictures are read as the data was, and bad input is one line."""
import os

import chex
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from jaxgan import projection as proj
from jaxgan import style_figures as sf

from _scripts import run_script
from _tiny_stylegan2 import config, run_from


@pytest.fixture(scope="module")
def run():
  return run_from(config())


def test_an_image_g_drew_is_found_again_from_w_avg(run):
  ws = sf.mapping(run, sf.latents(run, [42]))
  target = sf.synthesis(run, ws)[0]
  w_avg, w_std = proj.w_statistics(run)
  assert w_std > 0
  start = sf.synthesis(run, jnp.broadcast_to(w_avg, ws.shape))[0]
  res = proj.project(run, target, proj.Settings(steps=100))
  chex.assert_shape(res["ws"], (run.gan.num_ws, 8))
  assert (res["ws"] == res["ws"][:1]).all()                   # one w for every style input
  assert proj.psnr(target, res["image"]) > proj.psnr(target, start) + 15
  assert res["loss"][-10:].mean() < 0.05 * res["loss"][:10].mean()
  assert res["dfeat"][-1] > 0 and res["pixel"][-1] > 0
  again = proj.project(run, target, proj.Settings(steps=100))
  np.testing.assert_array_equal(again["ws"], res["ws"])      # deterministic for a seed
  plus = proj.project(run, target, proj.Settings(steps=20, w_plus=True, seed=1))
  assert not (plus["ws"] == plus["ws"][:1]).all()             # W+: one w per style input


def test_edits_truncate_and_mix_the_projected_styles(run):
  ws = np.asarray(sf.mapping(run, sf.latents(run, [3]))[0])
  trunc, mixed = proj.edits(run, ws, seeds=(1,), psis=(1.0, 0.0), layers=("coarse",))
  one = sf.images_to_uint8(sf.synthesis(run, ws[None]))
  assert np.abs(trunc[0].astype(int) - one[0].astype(int)).max() <= 1        # ψ = 1: the projection itself
  mean = sf.images_to_uint8(sf.synthesis(run, sf.mapping(run, sf.latents(run, [9]), psi=0.0)))
  assert np.abs(trunc[1].astype(int) - mean[0].astype(int)).max() <= 1       # ψ = 0: the mean image
  other = np.asarray(sf.mapping(run, sf.latents(run, [1]))[0])
  by_hand = sf.images_to_uint8(sf.synthesis(run, np.concatenate([other[:4], ws[4:]])[None]))
  assert np.abs(mixed[0].astype(int) - by_hand[0].astype(int)).max() <= 1


def test_pictures_are_read_as_the_data_was(run, tmp_path):
  c = config()
  c.data.pad = 2
  padded = run_from(c)
  digit = np.full((12, 12), 255, np.uint8)
  Image.fromarray(digit).save(tmp_path / "d.png")
  x = proj.target_from_image(str(tmp_path / "d.png"), padded)        # 12 px + 2·2 pad = G's 16 px
  assert x.shape == (16, 16, 1) and (x[2:14, 2:14] == 1).all() and (x[:2] == -1).all()
  Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(tmp_path / "big.png")
  assert proj.target_from_image(str(tmp_path / "big.png"), run).shape == (16, 16, 1)  # resized, made grey
  c3 = config()
  c3.model.image_shape = (16, 16, 3)
  rgba = np.zeros((16, 16, 4), np.uint8)                             # transparent: composited on white
  Image.fromarray(rgba).save(tmp_path / "clear.png")
  assert (proj.target_from_image(str(tmp_path / "clear.png"), run_from(c3)) == 1).all()
  Image.fromarray(np.zeros((16, 20), np.uint8)).save(tmp_path / "wide.png")
  with pytest.raises(ValueError, match="square"):
    proj.target_from_image(str(tmp_path / "wide.png"), run)
  (tmp_path / "junk.png").write_text("not a picture")
  with pytest.raises(ValueError, match="not an image"):
    proj.target_from_image(str(tmp_path / "junk.png"), run)
  with pytest.raises(FileNotFoundError):
    proj.target_from_image(str(tmp_path / "missing.png"), run)
  with pytest.raises(ValueError, match="steps"):
    proj.Settings(steps=0).check()


def _project(*args):
  return run_script("scripts/project.py", *args)


def test_project_script_writes_the_reconstruction_the_styles_and_the_edits(run, tmp_path):
  work = tmp_path / "run"
  run_from(config(), work)
  target = sf.images_to_uint8(sf.synthesis(run, sf.mapping(run, sf.latents(run, [5]))))[0]
  Image.fromarray(target[..., 0]).save(tmp_path / "t.png")
  p = _project(f"--workdir={work}", f"--image={tmp_path / 't.png'}", "--steps=100")
  assert p.returncode == 0, p.stderr
  out = work / "projection" / "t"
  with np.load(out / "projected_w.npz", allow_pickle=False) as z:
    assert z["ws"].shape == (run.gan.num_ws, 8) and z["loss"].shape == (100,)
    np.testing.assert_array_equal(z["target"], target)
    assert proj.psnr(z["target"] / 127.5 - 1, z["reconstruction"] / 127.5 - 1) > 25
  with Image.open(out / "projection.png") as im:
    assert im.size == (2 * 128 + 3 * 16, 128 + 2 * 16)     # two 16-px tiles with 2-px padding, enlarged 8x
  assert (out / "edits.png").stat().st_size > 0
  assert "PSNR" in p.stdout

  before = sorted(os.listdir(work))
  for args, message in [([f"--image={tmp_path / 'none.png'}"], "does not exist"),
                        ([f"--image={tmp_path / 't.png'}", "--steps=0"], "--steps"),
                        ([f"--image={tmp_path / 't.png'}", "--d_weight=-1"], "--d_weight")]:
    p = _project(f"--workdir={work}", *args)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and message in p.stderr, (args, p.stderr)
  assert sorted(os.listdir(work)) == before

"""StyleGAN2's pictures (jaxgan/style_figures.py, `sample.py --truncation/--figures`): truncation pulls w to G's
w_avg by ψ, the style-mixing figure takes exactly the chosen layers from its columns, the interpolation loop starts
and passes through its seeds, and runs that cannot truncate say so in one line."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from jaxgan import objective as objective_lib
from jaxgan import sampling
from jaxgan import style_figures as sf
from jaxgan import stylegan2 as sg_lib
from jaxgan.checkpoint import Checkpointer
from jaxgan.configs import mlp_mnist

from _scripts import run_script
from _tiny_stylegan2 import config as _config, run_from as _run_from


@pytest.fixture(scope="module")
def run():
  return _run_from(_config())


def test_truncation_moves_w_towards_w_avg_by_psi(run):
  z = sf.latents(run, [0, 1, 2])
  w1, w_half, w0 = (sf.mapping(run, z, psi) for psi in (1.0, 0.5, 0.0))
  w_avg = sg_lib.get_w_avg(run.state.players["g"].vars)
  chex.assert_trees_all_close(w_half, w_avg + 0.5 * (w1 - w_avg), atol=1e-5)
  chex.assert_trees_all_close(w0, jnp.broadcast_to(w_avg, w0.shape), atol=1e-6)
  assert float(jnp.max(jnp.abs(w1 - w_avg))) > 0.1


def test_generate_truncates_as_the_figures_do(run):
  """sampling.generate with ψ = the synthesis of mapping(z, ψ) for the same latents; ψ = 0 makes every sample
  the mean image."""
  z = run.gan.sample_latents(jax.random.key(3), 4)
  for psi in (0.7, 0.0):
    want = sampling.images_to_uint8(sf.synthesis(run, sf.mapping(run, z, psi)))
    got = sampling.generate(run, 4, seed=3, truncation=psi)
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1
  mean = sampling.generate(run, 4, seed=3, truncation=0.0)
  assert (mean == mean[:1]).all()
  assert not (sampling.generate(run, 4, seed=3) == mean).all()


def test_truncation_sweep_rows_are_seeds_and_columns_psi(run):
  sweep = sf.truncation_sweep(run, [0, 1], psis=(1.0, 0.0)).reshape(2, 2, 16, 16, 1)
  assert (sweep[0, 1] == sweep[1, 1]).all()      # ψ = 0: both seeds give the mean image
  assert not (sweep[0, 0] == sweep[1, 0]).all()  # ψ = 1: they differ
  one = sampling.images_to_uint8(sf.synthesis(run, sf.mapping(run, sf.latents(run, [1]))))
  assert np.abs(sweep[1, 0].astype(int) - one[0].astype(int)).max() <= 1


def test_style_mixing_takes_exactly_the_chosen_layers_from_the_columns(run):
  rows, cols = [0, 1], [5, 6, 7]
  fig = sf.style_mixing(run, rows, cols, layers="1-2")
  assert fig.shape == (3 * 4, 16, 16, 1)
  assert (fig[0] == 255).all()                                       # the blank corner
  w_r, w_c = sf.mapping(run, sf.latents(run, rows)), sf.mapping(run, sf.latents(run, cols))
  to_u8 = lambda ws: sampling.images_to_uint8(sf.synthesis(run, ws))
  np.testing.assert_array_equal(fig[1:4], to_u8(w_c))                 # top row: the column sources
  np.testing.assert_array_equal(fig[[4, 8]], to_u8(w_r))              # left column: the row sources
  by_hand = w_r[1].at[1:3].set(w_c[2, 1:3])
  np.testing.assert_array_equal(fig[8 + 3], to_u8(by_hand[None])[0])  # row 1 (seed 1) with column 2's styles 1-2
  everything = sf.style_mixing(run, rows, cols, layers="0-5")
  np.testing.assert_array_equal(everything[5:8], everything[1:4])      # all styles from the column: its image
  assert sf.layer_range(run, "coarse") == (0, 4) and sf.layer_range(run, "middle") == (4, 6)
  for bad in ("fine", "4-9", "x", "3-1"):
    with pytest.raises(ValueError, match="mixing layers"):
      sf.layer_range(run, bad)


def test_interpolation_is_a_loop_through_the_seeds(run, tmp_path):
  frames = sf.interpolation(run, [0, 1, 2], steps=4)
  assert frames.shape == (12, 16, 16, 1) and frames.dtype == np.uint8
  ends = sampling.images_to_uint8(sf.synthesis(run, sf.mapping(run, sf.latents(run, [0, 1, 2]))))
  for i, f in enumerate((0, 4, 8)):
    assert np.abs(frames[f].astype(int) - ends[i].astype(int)).max() <= 1
  assert not (frames[1] == frames[0]).all()
  path = str(tmp_path / "loop.gif")
  sf.save_gif(frames, path, scale=2)
  with Image.open(path) as gif:
    assert gif.n_frames == 12 and gif.size == (32, 32) and gif.info.get("loop") == 0
  assert sf.strip(frames, 5).shape[0] == 5
  with pytest.raises(ValueError, match="at least 2 seeds"):
    sf.interpolation(run, [0], steps=4)


def test_a_gan_without_w_avg_cannot_truncate():
  c = mlp_mnist.get_config()
  gan = objective_lib.build(c)
  run = sampling.Run(c, gan, gan.init_state(0), 0)
  with pytest.raises(ValueError, match="needs a StyleGAN2 run"):
    sampling.generate(run, 2, truncation=0.5)
  with pytest.raises(ValueError, match="StyleGAN2 run"):
    sf.truncation_sweep(run, [0])
  assert sampling.generate(run, 2, truncation=1.0).shape == (2, 28, 28, 1)


def _sample(*args):
  return run_script("scripts/sample.py", *args)


def test_sample_script_writes_truncated_samples_and_the_figures(run, tmp_path):
  work = tmp_path / "run"
  _run_from(_config(), work)
  out = tmp_path / "s.npz"
  p = _sample(f"--workdir={work}", "--num=6", f"--out={out}", "--truncation=0.5", "--figures",
              "--mixing_layers=middle")
  assert p.returncode == 0, p.stderr
  with np.load(out) as z:
    np.testing.assert_array_equal(z["images"], sampling.generate(run, 6, truncation=0.5))
  for name in ("s_truncation.png", "s_mixing.png", "s_interp.png", "s_interp.gif"):
    assert (tmp_path / name).stat().st_size > 0, name
  with Image.open(tmp_path / "s_interp.gif") as gif:
    assert gif.n_frames == 5 * 16 and gif.size == (128, 128)
  with Image.open(tmp_path / "s_mixing.png") as im:  # 5 rows of 6 tiles of 16 px + 2 px padding, a caption strip
    assert im.size == (6 * 18 + 2, 5 * 18 + 2 + 14)

  p = _sample(f"--workdir={work}", f"--out={tmp_path / 't.npz'}", "--figures", "--mixing_layers=fine")
  assert p.returncode == 2 and p.stderr.count("\n") == 1 and "mixing layers" in p.stderr
  assert not (tmp_path / "t.npz").exists()


def test_sample_script_refuses_truncation_for_other_models(tmp_path):
  c = mlp_mnist.get_config()
  gan = objective_lib.build(c)
  with Checkpointer(str(tmp_path / "mlp")) as ck:
    ck.save(0, gan.init_state(0), {"config": c.to_dict()})
  p = _sample(f"--workdir={tmp_path / 'mlp'}", f"--out={tmp_path / 'x.npz'}", "--truncation=0.5")
  assert p.returncode == 2 and p.stderr.count("\n") == 1 and "StyleGAN2" in p.stderr, p.stderr
  assert not (tmp_path / "x.npz").exists()

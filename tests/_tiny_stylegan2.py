"""A tiny StyleGAN2 run for the tests of its pictures and projection: freshly initialised networks (no training
compiles) whose w_avg is not zero, as after training."""
import jax

from jaxgan import objective as objective_lib
from jaxgan import sampling
from jaxgan import stylegan2 as sg_lib
from jaxgan.checkpoint import Checkpointer
from jaxgan.configs import stylegan2_bench32


def config():
  """16 px grey (num_ws 6: styles 0-3 coarse, 4-5 middle), tiny widths, no EMA of G."""
  c = stylegan2_bench32.get_config()
  c.model.image_shape = (16, 16, 1)
  c.model.latent_dim = c.model.w_dim = 8
  c.model.channel_base, c.model.channel_max, c.model.map_layers, c.model.mbstd_group = 64, 8, 2, 2
  c.batch_size = 8
  c.data.name = "unused"
  return c


def run_from(cfg, workdir=None) -> sampling.Run:
  """A Run of `cfg`'s networks at initialisation with a random w_avg; with `workdir`, also saved there as the
  checkpoint of step 0 (what `sampling.load_run` reads)."""
  gan = objective_lib.build(cfg)
  state = gan.init_state(0)
  w_avg = jax.random.normal(jax.random.key(7), sg_lib.get_w_avg(state.vars("g")).shape)
  state = state.with_player("g", vars=sg_lib._with_w_avg(state.vars("g"), w_avg))
  if workdir is not None:
    with Checkpointer(str(workdir)) as ck:
      ck.save(0, state, {"config": cfg.to_dict()})
  return sampling.Run(cfg, gan, state, 0)

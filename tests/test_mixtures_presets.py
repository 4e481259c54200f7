"""The 2-D mixture presets (ring8, grid25) and the protocol script benchmarks/mixtures.py (tiny runs)."""
import json
import os

import chex
import numpy as np
import pytest

from _scripts import ROOT, load_script

PRESETS = [os.path.join(ROOT, "jaxgan", "configs", f"{n}.py") for n in ("ring8", "grid25", "grid25_clusters")]


def _bench():
  return load_script("benchmarks/mixtures.py")


@pytest.mark.parametrize("path", PRESETS)
def test_preset_schedule_fits_the_run(path):
  bench = _bench()
  c = bench.load_config(path)
  # The cosine decay must end at the last step: a longer decay leaves the rate high at the end (modes unsettled).
  assert c.optim.g.lr_decay_steps == c.optim.d.lr_decay_steps == c.steps
  assert c.batch_size % c.pack == 0
  assert c.steps % c.steps_per_call == 0 and c.checkpoint_every % c.steps_per_call == 0
  assert c.data.name.startswith("mixture:")


def test_benchmark_json_of_a_tiny_run(tmp_path):
  bench = _bench()
  out = tmp_path / "r.json"
  rows = bench.main(["--config", PRESETS[1], "--seeds", "1", "--first_seed", "3", "--set", "steps=4",
                     "--set", "steps_per_call=2", "--set", "batch_size=16", "--json", str(out)])
  rep = json.loads(out.read_text())
  assert rep["seeds"] == [3] and len(rep["runs"]) == 1 and rep["num_eval"] == 2_500
  assert "--config" in rep["command"] and rep["overrides"] == ["steps=4", "steps_per_call=2", "batch_size=16"]
  assert rep["summary"]["modes"]["mean"] == rows[0]["modes"] and rep["summary"]["modes"]["se"] is None
  r = rep["runs"][0]
  hist = np.array(r["mode_histogram"])
  assert hist.shape == (25,) and (hist > 0).sum() == r["modes"]
  np.testing.assert_allclose(hist.sum() / 2_500, r["high_quality_fraction"], rtol=1e-12)
  assert r["cpu_s"] > 0 and r["wall_s"] > 0


def test_report_summary_is_mean_and_standard_error():
  bench = _bench()
  rng = np.random.default_rng(0)
  rows = [dict(seed=s, modes=int(rng.integers(20, 26)), high_quality_fraction=float(rng.random()),
               reverse_kl=None if s == 2 else float(rng.random()), cpu_s=float(rng.random()),
               wall_s=float(rng.random())) for s in range(5)]
  args = type("A", (), dict(config="c.py", set=["pack=4"]))()
  rep = bench.report(args, rows, "python benchmarks/mixtures.py --config=c.py")
  for key in ("modes", "high_quality_fraction", "cpu_s"):
    vals = np.array([r[key] for r in rows], np.float64)
    np.testing.assert_allclose(rep["summary"][key]["mean"], vals.mean(), rtol=1e-12)
    np.testing.assert_allclose(rep["summary"][key]["se"], vals.std(ddof=1) / np.sqrt(5), rtol=1e-12)
  # A run with no high-quality sample has no KL: the mean is over the others.
  kl = [r["reverse_kl"] for r in rows if r["reverse_kl"] is not None]
  np.testing.assert_allclose(rep["summary"]["reverse_kl"]["mean"], np.mean(kl), rtol=1e-12)
  json.dumps(rep)  # serialisable as written



def test_gated_generator_gate_limits_and_gradients():
  import jax
  import jax.numpy as jnp
  from jaxgan.models.mixture_mlp import GatedMixtureGenerator

  def gen(temperature, offset_scale=0.0):
    return GatedMixtureGenerator(width=16, depth=2, components=6, temperature=temperature,
                                 offset_scale=offset_scale, learn_sharpness=True, scale=3.0)

  z_BxZ = jax.random.normal(jax.random.key(0), (512, 2))
  params = jax.jit(gen(1.0).init)(jax.random.key(1), z_BxZ)
  mu_KxD = 3.0 * np.asarray(params["params"]["centres"])
  # The temperature only scales the logits: one jitted apply per limit, with the same parameters.
  cold, hot = (np.asarray(jax.jit(gen(t).apply)(params, z_BxZ)) for t in (1e-4, 1e6))
  chex.assert_shape(cold, (512, 2))
  # A near-hard gate puts (all but the rare point on a gate boundary) on one of scale·μ_k, several in use.
  d_BxK = np.linalg.norm(cold[:, None] - mu_KxD[None], axis=-1)
  assert (d_BxK.min(axis=1) < 1e-3).mean() > 0.98
  assert len(np.unique(d_BxK.argmin(axis=1))) > 1
  # An infinitely soft gate weighs all centres equally: every point is their mean.
  np.testing.assert_allclose(hot, np.broadcast_to(mu_KxD.mean(0), hot.shape), atol=1e-4)
  warm = gen(0.3, offset_scale=1.0)
  grads = jax.jit(jax.grad(lambda p: jnp.sum(warm.apply(p, z_BxZ)[:, 0] ** 2)))(params)
  chex.assert_tree_all_finite(grads)
  assert float(jnp.abs(grads["params"]["log_sharpness"])) > 0
  assert float(jnp.abs(grads["params"]["Dense_2"]["kernel"]).sum()) > 0  # the gate logits layer


def test_mixture_mlp_builds_the_gated_generator_from_the_config():
  import ml_collections
  from jaxgan.models import get_model
  from jaxgan.models.mixture_mlp import GatedMixtureGenerator, MixtureGenerator
  cfg = ml_collections.ConfigDict(dict(latent_dim=2, image_shape=(2,), width=8, g_components=7, g_temperature=0.5))
  g, _ = get_model("mixture_mlp")(cfg)
  assert isinstance(g, GatedMixtureGenerator) and g.components == 7 and g.temperature == 0.5
  cfg.g_components = 0
  assert isinstance(get_model("mixture_mlp")(cfg)[0], MixtureGenerator)

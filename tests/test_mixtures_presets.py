"""The 2-D mixture presets (ring8, grid25) and the protocol script benchmarks/mixtures.py (tiny runs)."""
import importlib.util
import json
import os

import numpy as np
import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..")
PRESETS = [os.path.join(ROOT, "jaxgan", "configs", f"{n}.py") for n in ("ring8", "grid25")]


def _bench():
  spec = importlib.util.spec_from_file_location("mixtures_bench", os.path.join(ROOT, "benchmarks", "mixtures.py"))
  mod = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(mod)
  return mod


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

"""benchmarks/results.py: the README results table, rendered from per-row JSON (seed rows and their mean)."""
import json
import os

import numpy as np
import pytest

from _scripts import load_script


@pytest.fixture
def results(tmp_path, monkeypatch):
  mod = load_script("benchmarks/results.py")
  monkeypatch.setattr(mod, "RESULTS", str(tmp_path))
  return mod, tmp_path


def _write(path, name, **row):
  base = dict(preset=name, steps=100, train_wall_min=1.0, train_cpu_min=2.0, machine={"backend": "cpu"})
  with open(os.path.join(path, f"{name}.json"), "w") as f:
    json.dump({**base, **row}, f)


def _cells(line):
  return [c.strip() for c in line.strip("|").split("|")]


def _line(table, start):
  hits = [l for l in table.splitlines() if l.startswith(start)]
  assert len(hits) == 1, (start, hits)
  return _cells(hits[0])


def test_stacked_seed_rows_get_their_mean_and_standard_error(results):
  mod, path = results
  _write(path, "stacked_mnist", modes=1000, kl=0.08, kl_marginals=0.06, kl_dependence=0.02)
  table = mod.render()
  assert "stacked_mnist, mean of" not in table  # one seed: no mean row
  _write(path, "stacked_mnist_seed1", modes=999, kl=0.10, kl_marginals=0.08, kl_dependence=0.04)
  table = mod.render()
  cells = _line(table, "| **jaxgan** stacked_mnist, seed 1 |")
  assert cells[1:3] == ["999", "0.100"]
  mean = _line(table, "| **jaxgan stacked_mnist, mean of 2 seeds** |")
  se = np.std([0.08, 0.10], ddof=1) / np.sqrt(2)
  assert mean[1] == "999.5"
  assert mean[2] == f"**0.090 ± {se:.3f}**"
  assert mean[3:5] == ["0.070", "0.030"]
  _write(path, "stacked_mnist_seed1", modes=1000, kl=0.10, kl_marginals=0.08, kl_dependence=0.04)
  assert _line(mod.render(), "| **jaxgan stacked_mnist, mean of 2 seeds** |")[1] == "1000"  # a count, not 1000.0


def test_mnist_seed_mean_comes_after_the_last_measured_seed(results):
  mod, path = results
  for name, fd in (("mnist_best", 10.0), ("mnist_best_seed1", 14.0)):
    _write(path, name, ema_fd=fd, floor=5.0, ema_class_ratio=1.1, ema_classes=10)
  lines = mod.render().splitlines()
  i = next(i for i, l in enumerate(lines) if l.startswith("| mnist_best, seed 1"))
  mean = _cells(lines[i + 1])
  assert mean[0] == "**mnist_best, mean of 2 seeds**"
  assert mean[2] == "**12.00 ± 2.00**" and mean[3] == "**2.40**"
  assert mean[5] == "≤ 1.10"

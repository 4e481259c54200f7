"""scripts/evaluate.py end to end, in a subprocess, on tiny npz files."""
import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from conftest import ONE_DEVICE_FLAGS
from jaxgan.data.mixtures import sample_mixture

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "scripts", "evaluate.py")


def _run(*args):
  env = dict(os.environ, XLA_FLAGS=ONE_DEVICE_FLAGS)
  return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture(scope="module")
def points_file(tmp_path_factory):
  path = tmp_path_factory.mktemp("cli") / "points.npz"
  np.savez(path, points=np.asarray(sample_mixture(jax.random.PRNGKey(0), 400, "grid25")))
  return str(path)


def test_json_line(points_file):
  proc = _run(f"--samples={points_file}", "--metric=mixture", "--dataset=grid25", "--json")
  assert proc.returncode == 0, proc.stderr
  lines = proc.stdout.strip().splitlines()
  assert len(lines) == 1
  out = json.loads(lines[0])
  assert out["metric"] == "mixture" and out["modes"] == 25 and out["dataset"] == "grid25"


@pytest.mark.parametrize("case", ["missing_file", "unknown_metric", "wrong_key", "wrong_shape"])
def test_bad_input_is_one_line_and_exit_2(tmp_path, points_file, case):
  if case == "missing_file":
    args = [f"--samples={tmp_path / 'nope.npz'}", "--metric=mixture"]
  elif case == "unknown_metric":
    args = [f"--samples={points_file}", "--metric=fidd"]
  elif case == "wrong_key":
    np.savez(tmp_path / "x.npz", samples=np.zeros((4, 2)))
    args = [f"--samples={tmp_path / 'x.npz'}", "--metric=mixture"]
  else:
    np.savez(tmp_path / "x.npz", images=np.zeros((4, 28, 28), np.uint8))
    args = [f"--samples={tmp_path / 'x.npz'}", "--metric=mnist_fd"]
  proc = _run(*args)
  assert proc.returncode == 2
  assert "Traceback" not in proc.stderr
  errors = [l for l in proc.stderr.splitlines() if l.startswith("evaluate.py: error:")]
  assert len(errors) == 1, proc.stderr

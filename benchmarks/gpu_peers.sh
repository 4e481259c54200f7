#!/usr/bin/env bash
# The GPU peer comparison of issue 27, prepared for a lent device (one call of the device tool, <= 5 minutes; not
# yet run: no device was lent when it was written). jaxgan against the PyTorch peers run eager, torch.compile
# default and max-autotune, float32 and bfloat16 autocast, for mlp_mnist (batch 64 and 256) and dcgan28 (batch
# 64), one pair per row, written to $OUT/gpu_peers.json with the card named (nvidia-smi).
#
# The device's python3 has torch and jax (CUDA) but not jaxgan's pure-Python dependencies, and it cannot fetch.
# Once, here (see the device tool's README): echo /.whl/ >> .git/info/exclude, then download (--no-deps, the
# device's Python 3.12 manylinux flags) ml-collections, mlxtend, tensorboardX into .whl/. Then, with carry [".whl"]:
#   bash benchmarks/gpu_peers.sh
set -euo pipefail
OUT="${OUT:-/tmp}"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH="/tmp/site:$PWD" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/card.txt"
ROWS=""
for m in mlp64 mlp256 dcgan28_64; do
  for mode in eager default max-autotune; do
    for dtype in float32 bfloat16; do ROWS="$ROWS,${m}_${mode}_${dtype}"; done
  done
done
python3 benchmarks/peer_speed.py --peer_python=python3 --bench_dir=../shared/bench \
  --data=../shared/data/mnist/t10k-images-idx3-ubyte.gz --json="$OUT/gpu_peers.json" --rows="${ROWS#,}" \
  --pairs=1 --mlp_steps=2000 --conv_steps=1000 --timeout=120

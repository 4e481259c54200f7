"""Trains the MNIST judge and writes jaxgan/metrics/weights/mnist_judge.npz (deterministic: fixed seeds, fixed data).

  python scripts/train_judge.py [--mnist_dir=../shared/data/mnist] [--out=jaxgan/metrics/weights/mnist_judge.npz]

Data: trains on MNIST test digits 0–7,999 with random ±2 px shifts; test digits 8,000–9,999 are held out, give the
accuracy and the reference statistics stored beside the weights; the 5,000 embedded training digits (never trained
on) give a second held-out accuracy. See jaxgan/metrics/mnist_judge.py for why.
"""
import gzip
import os
import time

from absl import app
from absl import flags
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgan.data.embedded import load_mnist_5k
from jaxgan.metrics import frechet
from jaxgan.metrics import mnist_judge

_MNIST_DIR = flags.DEFINE_string(
    "mnist_dir", os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist"),
    "folder with t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz")
_OUT = flags.DEFINE_string("out", mnist_judge.DEFAULT_PATH, "where to write the npz")
_EPOCHS = flags.DEFINE_integer("epochs", 15, "passes over the 8,000 training digits")
_SEED = flags.DEFINE_integer("seed", 0, "init, shuffle, shift and dropout seed")

N_TRAIN = 8000
BATCH = 100
SHIFT = 2


def read_idx(path: str) -> np.ndarray:
  """Reads a gzipped idx file (MNIST's format: big-endian dims after a magic word)."""
  with gzip.open(path, "rb") as f:
    data = f.read()
  ndim = data[3]
  dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
  return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_test_set(mnist_dir: str):
  images = read_idx(os.path.join(mnist_dir, "t10k-images-idx3-ubyte.gz"))[..., None]
  labels = read_idx(os.path.join(mnist_dir, "t10k-labels-idx1-ubyte.gz")).astype(np.int32)
  return images, labels


def random_shift(key: jax.Array, x_BxHxWx1: jax.Array) -> jax.Array:
  """Shifts each image by an independent integer offset in [−SHIFT, SHIFT]² (zero fill)."""
  b, h, w, _ = x_BxHxWx1.shape
  padded = jnp.pad(x_BxHxWx1, ((0, 0), (SHIFT, SHIFT), (SHIFT, SHIFT), (0, 0)))
  offsets = jax.random.randint(key, (b, 2), 0, 2 * SHIFT + 1)
  crop = lambda img, o: jax.lax.dynamic_slice(img, (o[0], o[1], 0), (h, w, 1))
  return jax.vmap(crop)(padded, offsets)


def main(argv):
  del argv
  t0 = time.time()
  images, labels = load_test_set(_MNIST_DIR.value)
  x_train = jnp.asarray(mnist_judge.preprocess(images[:N_TRAIN]))
  y_train = jnp.asarray(labels[:N_TRAIN])
  x_held, y_held = images[N_TRAIN:], labels[N_TRAIN:]

  model = mnist_judge.Judge()
  key = jax.random.PRNGKey(_SEED.value)
  key, init_key = jax.random.split(key)
  params = model.init(init_key, jnp.zeros((1, 28, 28, 1)))["params"]
  steps_per_epoch = N_TRAIN // BATCH
  total = steps_per_epoch * _EPOCHS.value
  tx = optax.adamw(optax.warmup_cosine_decay_schedule(0.0, 2e-3, steps_per_epoch // 2, total), weight_decay=1e-4)
  opt_state = tx.init(params)

  # Plain jit per step, not a scanned loop: conv weight gradients inside a rolled scan are slow on XLA:CPU.
  @jax.jit
  def step(params, opt_state, key, idx_B):
    shift_key, drop_key = jax.random.split(key)
    x = random_shift(shift_key, x_train[idx_B])

    def loss_fn(p):
      _, logits = model.apply({"params": p}, x, train=True, rngs={"dropout": drop_key})
      return optax.softmax_cross_entropy_with_integer_labels(logits, y_train[idx_B]).mean()

    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss

  for epoch in range(_EPOCHS.value):
    key, perm_key = jax.random.split(key)
    perm = jax.random.permutation(perm_key, N_TRAIN)
    for i in range(steps_per_epoch):
      key, step_key = jax.random.split(key)
      params, opt_state, loss = step(params, opt_state, step_key, perm[i * BATCH:(i + 1) * BATCH])
    print(f"epoch {epoch + 1}/{_EPOCHS.value} loss {float(loss):.4f} ({time.time() - t0:.0f} s)", flush=True)

  judge = mnist_judge.MnistJudge(params, {})
  feats, logits = judge(x_held)
  test_acc = float((logits.argmax(1) == y_held).mean())
  emb_images, emb_labels = load_mnist_5k()
  emb_acc = float((judge(emb_images)[1].argmax(1) == emb_labels).mean())
  f_mu, f_sigma = frechet.feature_stats(feats)
  l_mu, l_sigma = frechet.feature_stats(logits)
  meta = {
      "ref_features_mu": f_mu, "ref_features_sigma": f_sigma, "ref_logits_mu": l_mu, "ref_logits_sigma": l_sigma,
      "ref_n": np.int32(len(y_held)),
      "ref_description": np.str_(f"MNIST test digits {N_TRAIN}-9999 ({len(y_held)}), held out from the judge"),
      "version": np.str_(mnist_judge.JUDGE_VERSION),
      "train_description": np.str_(f"MNIST test digits 0-{N_TRAIN - 1}, +-{SHIFT}px shifts, {_EPOCHS.value} epochs, "
                                   f"batch {BATCH}, AdamW 2e-3 cosine, seed {_SEED.value}"),
      "test_accuracy": np.float32(test_acc), "embedded_accuracy": np.float32(emb_acc),
  }
  mnist_judge.save_judge(_OUT.value, jax.device_get(params), meta)
  n_params = sum(int(np.prod(p.shape)) for p in jax.tree_util.tree_leaves(params))
  print(f"held-out accuracy: test {N_TRAIN}-9999 {test_acc:.4f}, embedded 5k {emb_acc:.4f}; {n_params} params; "
        f"wrote {_OUT.value} ({os.path.getsize(_OUT.value) / 1e6:.2f} MB) in {time.time() - t0:.0f} s")


if __name__ == "__main__":
  app.run(main)

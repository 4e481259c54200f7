"""Checkpointer: bit-exact round trips, retention, crash safety, and one-line errors for bad checkpoints."""
import glob
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import chex
import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest
from jax.sharding import NamedSharding, PartitionSpec

from jaxgan.checkpoint import Checkpointer, CheckpointError, config_fingerprint


@flax.struct.dataclass
class _State:
  step: jax.Array
  rng: jax.Array
  g_params: dict
  d_params: dict
  d_state: dict
  g_opt: optax.OptState
  d_opt: optax.OptState
  ema: dict | None


def _make_state(seed: int, width: int = 8) -> _State:
  """A GAN-like state with random values (numpy-drawn: no per-shape XLA compiles, so the tests stay fast)."""
  rng = np.random.default_rng(seed)
  normal = lambda shape, dtype=np.float32: jnp.asarray(rng.normal(size=shape).astype(dtype))
  g = {"Dense_0": {"kernel": normal((4, width)), "bias": jnp.full((width,), -0.0)}}
  d = {"Dense_0": {"kernel": normal((width, 1), jnp.bfloat16)}}
  # optax's own state types (named tuples), filled with non-zero moments.
  g_opt = jax.tree.map(lambda x: normal(x.shape, x.dtype) if x.ndim else jnp.int32(seed + 1),
                       optax.adam(2e-4, b1=0.5).init(g))
  d_opt = optax.adam(1e-3).init(d)
  d_state = {"batch_stats": {"mean": jnp.array([np.nan, np.inf, -1.5], jnp.float32)}}
  key = jax.random.wrap_key_data(jnp.asarray(rng.integers(0, 2**32, size=2, dtype=np.uint32)))
  return _State(step=jnp.int32(1000 + seed), rng=key, g_params=g, d_params=d, d_state=d_state, g_opt=g_opt,
                d_opt=d_opt, ema=None)


def _leaf_bytes(tree):
  return [np.asarray(jax.random.key_data(x) if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key) else x).tobytes()
          for x in jax.tree.leaves(tree)]


def test_save_restore_is_bit_exact(tmp_path):
  state, template = _make_state(0), _make_state(1)
  meta = {"fingerprint": "abc123", "config": {"batch_size": 64, "lr": 2e-4}, "jaxgan_version": "0.1.0"}
  ckpt = Checkpointer(tmp_path)
  assert ckpt.latest_step() is None
  assert ckpt.save(7, state, meta)
  restored, restored_meta = ckpt.restore(template)  # template values differ: they must not leak through
  chex.assert_trees_all_equal(restored, state)
  assert _leaf_bytes(restored) == _leaf_bytes(state)  # NaN, inf and -0.0 included
  assert restored.ema is None
  assert jax.random.key_impl(restored.rng) == jax.random.key_impl(state.rng)
  np.testing.assert_array_equal(jax.random.uniform(restored.rng, (3,)), jax.random.uniform(state.rng, (3,)))
  assert type(restored.g_opt[0]) is type(state.g_opt[0])  # optax named tuples, not lists
  assert restored_meta == meta
  assert ckpt.read_meta(7) == meta
  assert not ckpt.save(7, state, meta)  # an existing step is left alone
  ckpt.close()


def test_restore_onto_replicated_mesh_sharding(tmp_path):
  mesh = jax.make_mesh((4,), ("data",))
  replicated = NamedSharding(mesh, PartitionSpec())
  state = jax.device_put(_make_state(0), replicated)
  template = jax.device_put(_make_state(1), replicated)
  jax.tree.map(lambda x: x.delete(), template)  # a donated template: only shape/dtype/sharding may be used
  ckpt = Checkpointer(tmp_path)
  ckpt.save(1, state, {})
  restored, _ = ckpt.restore(template)
  for leaf in jax.tree.leaves(restored):
    assert leaf.committed
    assert leaf.sharding.is_equivalent_to(replicated, leaf.ndim)
  chex.assert_trees_all_equal(restored, state)


def test_keeps_the_newest_n(tmp_path):
  ckpt = Checkpointer(tmp_path, keep=2)
  state = _make_state(0)
  for step in (10, 20, 30, 40):
    ckpt.save(step, state.replace(step=jnp.int32(step)), {"step": step})
  assert ckpt.all_steps() == [30, 40]
  assert sorted(os.listdir(ckpt.directory)) == ["30", "40"]
  restored, meta = ckpt.restore(state, step=30)
  assert int(restored.step) == 30 and meta["step"] == 30
  with pytest.raises(CheckpointError, match="no checkpoint for step 10"):
    ckpt.restore(state, step=10)


def test_half_written_step_is_ignored_and_cleaned(tmp_path):
  ckpt = Checkpointer(tmp_path)
  ckpt.save(5, _make_state(0), {})
  # What orbax leaves when killed mid-save or mid-removal: a step directory under a tmp name.
  for name in ("6.orbax-checkpoint-tmp-1712345678", "4.orbax-checkpoint-tmp-deleting"):
    os.makedirs(os.path.join(ckpt.directory, name, "state"))
    with open(os.path.join(ckpt.directory, name, "state", "_METADATA"), "w") as f:
      f.write('{"tree_metadata": {')
  assert ckpt.all_steps() == [5]
  reopened = Checkpointer(tmp_path)
  assert reopened.latest_step() == 5
  assert os.listdir(reopened.directory) == ["5"]
  reopened.save(6, _make_state(0), {})
  assert reopened.all_steps() == [5, 6]


_SAVE_FOREVER = textwrap.dedent("""
  import sys, jax, jax.numpy as jnp
  from jaxgan.checkpoint import Checkpointer
  ckpt = Checkpointer(sys.argv[1], keep=2)
  step = 0
  while True:
    step += 1
    # ~16 MB per save, so a save takes long enough to be caught midway.
    state = {"w": jnp.arange(4_000_000, dtype=jnp.float32) + step, "rng": jax.random.key(step), "step": step}
    ckpt.save(step, state, {"step": step})
    print(step, flush=True)
""")


def test_sigkill_mid_save_leaves_a_restorable_latest_step(tmp_path):
  env = dict(os.environ, XLA_FLAGS="", JAX_PLATFORMS="cpu")
  proc = subprocess.Popen([sys.executable, "-c", _SAVE_FOREVER, str(tmp_path)], stdout=subprocess.PIPE, text=True,
                          env=env)
  try:
    assert proc.stdout.readline().strip() == "1"
    deadline, caught = time.time() + 30, False
    while time.time() < deadline and not caught:
      caught = bool(glob.glob(os.path.join(tmp_path, "checkpoints", "*.orbax-checkpoint-tmp*")))
      if not caught:
        time.sleep(0.001)
    proc.send_signal(signal.SIGKILL)
  finally:
    proc.kill()
    proc.wait()
  assert caught, "never saw a save in progress"
  ckpt = Checkpointer(tmp_path, keep=2)
  step = ckpt.latest_step()
  template = {"w": jnp.zeros(4_000_000, jnp.float32), "rng": jax.random.key(0), "step": 0}
  restored, meta = ckpt.restore(template)
  assert meta["step"] == step == restored["step"]
  np.testing.assert_array_equal(np.asarray(restored["w"])[[0, -1]], [step, 3_999_999 + step])
  np.testing.assert_array_equal(jax.random.key_data(restored["rng"]), jax.random.key_data(jax.random.key(step)))
  assert not glob.glob(os.path.join(ckpt.directory, "*tmp*"))  # leftovers removed on reopen


def _biggest_data_file(step_dir):
  return max(glob.glob(os.path.join(step_dir, "state", "**", "d", "*"), recursive=True), key=os.path.getsize)


def _truncate(path):
  with open(path, "r+b") as f:
    f.truncate(os.path.getsize(path) // 2)


def _flip_middle_byte(path):
  with open(path, "r+b") as f:
    f.seek(os.path.getsize(path) // 2)
    b = f.read(1)
    f.seek(-1, os.SEEK_CUR)
    f.write(bytes([b[0] ^ 0xFF]))


# After a failed tensorstore read, orbax's asyncio loop gets a late callback ("Event loop is closed"): harmless.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("damage", [
    lambda d: [os.remove(p) for p in glob.glob(os.path.join(d, "state", "**", "d", "*"), recursive=True)],
    lambda d: _truncate(_biggest_data_file(d)),
    lambda d: _flip_middle_byte(_biggest_data_file(d)),
    lambda d: _truncate(os.path.join(d, "state", "_METADATA")),
    lambda d: _truncate(os.path.join(d, "index", "metadata")),
    lambda d: os.remove(os.path.join(d, "meta", "metadata")),
], ids=["data-deleted", "data-truncated", "data-bitflip", "metadata-truncated", "index-truncated", "meta-deleted"])
def test_damaged_checkpoint_raises_one_line_error(tmp_path, damage):
  # A large, incompressible leaf so the biggest data file is that leaf's chunk.
  noise = np.random.default_rng(5).normal(size=(64, 256)).astype(np.float32)
  state = _make_state(0).replace(g_params={"Dense_0": {"kernel": jnp.asarray(noise), "bias": jnp.zeros(256)}})
  ckpt = Checkpointer(tmp_path)
  ckpt.save(3, state, {"m": 1})
  damage(os.path.join(ckpt.directory, "3"))
  with pytest.raises(CheckpointError, match="is corrupt") as err, Checkpointer(tmp_path) as reader:
    reader.restore(state)
  assert "\n" not in str(err.value) and len(str(err.value)) < 500


def test_incompatible_template_names_the_leaf(tmp_path):
  ckpt = Checkpointer(tmp_path)
  ckpt.save(1, _make_state(0), {"fingerprint": config_fingerprint({"width": 8})})
  with pytest.raises(CheckpointError, match=r"incompatible config: leaf 'g_params/Dense_0/bias' is "
                                            r"float32\[8\] in the checkpoint, float32\[16\] in the template"):
    ckpt.restore(_make_state(0, width=16))
  bf16_g = _make_state(0)
  bf16_g = bf16_g.replace(g_params=jax.tree.map(lambda x: x.astype(jnp.bfloat16), bf16_g.g_params))
  with pytest.raises(CheckpointError, match=r"leaf 'g_params/Dense_0/bias' is float32\[8\] .* bfloat16\[8\]"):
    ckpt.restore(bf16_g)
  with_ema = _make_state(0).replace(ema={"kernel": jnp.zeros(3)})
  with pytest.raises(CheckpointError, match="leaf 'ema/kernel' of the template is not in the checkpoint"):
    ckpt.restore(with_ema)
  no_opt = _make_state(0).replace(d_opt=None)
  with pytest.raises(CheckpointError, match="leaf 'd_opt/0/count' of the checkpoint is not in the template"):
    ckpt.restore(no_opt)
  with pytest.raises(CheckpointError, match="incompatible config: config fingerprint .* expected"):
    ckpt.restore(_make_state(0), fingerprint=config_fingerprint({"width": 16}))
  restored, _ = ckpt.restore(_make_state(1), fingerprint=config_fingerprint({"width": 8}))
  chex.assert_trees_all_equal(restored, _make_state(0))


def test_unwritable_workdir(tmp_path):
  blocker = tmp_path / "a_file"
  blocker.write_text("not a directory")
  with pytest.raises(CheckpointError, match="not writable"):
    Checkpointer(blocker / "run")
  if os.geteuid() != 0:  # root ignores permission bits
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(CheckpointError, match="not writable"):
      Checkpointer(locked)


def test_missing_checkpoint_and_read_only(tmp_path):
  with pytest.raises(CheckpointError, match="no checkpoint in"):
    Checkpointer(tmp_path).restore(_make_state(0))
  Checkpointer(tmp_path).save(2, _make_state(0), {"a": 1})
  reader = Checkpointer(tmp_path, read_only=True)
  assert reader.latest_step() == 2
  chex.assert_trees_all_equal(reader.restore(_make_state(1))[0], _make_state(0))
  with pytest.raises(CheckpointError, match="read-only"):
    reader.save(3, _make_state(0), {})
  with pytest.raises(CheckpointError, match="JSON"):
    Checkpointer(tmp_path).save(4, _make_state(0), {"bad": object()})


def test_config_fingerprint_covers_exactly_the_chosen_keys():
  config = {"model": {"g_width": 256, "d_width": 1024}, "lr": 2e-4, "batch_size": 64}
  keys = ["model.g_width", "model.d_width", "batch_size"]
  fp = config_fingerprint(config, keys)
  reordered = {"batch_size": 64, "lr": 2e-4, "model": {"d_width": 1024, "g_width": 256}}
  assert config_fingerprint(reordered, list(reversed(keys))) == fp
  assert config_fingerprint({**config, "lr": 1e-3}, keys) == fp  # not a structural key
  assert config_fingerprint({**config, "model": {"g_width": 512, "d_width": 1024}}, keys) != fp
  assert config_fingerprint(ml_collections.ConfigDict(config), keys) == fp
  assert config_fingerprint(config) != config_fingerprint({**config, "lr": 1e-3})  # None: every key counts


def test_failed_save_is_one_error_line_without_orbax_noise(tmp_path, monkeypatch, capfd, caplog):
  # The workdir is removed (and its name taken by a file) under the running process while orbax writes the step's
  # items: orbax's save thread logs an ERROR with a traceback before the save raises; the user gets one line.
  import logging
  caplog.set_level(logging.INFO)
  workdir = tmp_path / "run"
  ckpt = Checkpointer(workdir)
  ckpt.save(1, _make_state(0), {})
  real_makedirs, lock, removed = os.makedirs, threading.Lock(), []

  def makedirs(path, *a, **kw):
    with lock:  # orbax creates the step's items in parallel threads: remove the workdir once
      if f".orbax-checkpoint-tmp{os.sep}" in os.fspath(path) and not removed:  # an item of the new step
        os.rename(workdir, tmp_path / "gone")
        workdir.write_text("not a directory any more")
        removed.append(path)
    return real_makedirs(path, *a, **kw)
  monkeypatch.setattr(os, "makedirs", makedirs)
  capfd.readouterr()
  with pytest.raises(CheckpointError) as err:
    ckpt.save(2, _make_state(0), {})
  message = str(err.value)
  assert removed and message.startswith(f"cannot write checkpoint 2 to {workdir}") and "Error: " in message, message
  assert "\n" not in message and len(message) < 500
  out, errs = capfd.readouterr()
  assert errs == "" and out == "", errs[-2000:]
  orbax = [r for r in caplog.records if f"{os.sep}orbax{os.sep}" in r.pathname and r.levelno >= logging.WARNING]
  assert not orbax, [r.getMessage()[:200] for r in orbax]

"""The persistent compilation cache (jaxgan/compile_cache.py): where it lives, who may use it, a second process
hits it (JAX's own cache-hit events, not wall time), and a broken cache never stops a run."""
import os
import stat
import subprocess
import sys

import pytest

from jaxgan import compile_cache

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


@pytest.mark.parametrize("setting", ["off", "OFF", "0", "false", "none"])
def test_a_setting_turns_it_off(setting):
  assert compile_cache.resolve(setting) is None


def test_it_is_per_user_and_keyed_by_jax_and_the_cpu(tmp_path, monkeypatch):
  import jax
  monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
  monkeypatch.delenv(compile_cache.ENV, raising=False)
  path = compile_cache.resolve()
  assert path.startswith(str(tmp_path / "jaxgan" / "xla")) and f"jax-{jax.__version__}" in path
  assert compile_cache.resolve(str(tmp_path / "mine")).startswith(str(tmp_path / "mine") + os.sep)
  monkeypatch.setattr(compile_cache.platform, "processor", lambda: "another cpu")
  assert compile_cache.resolve() != path  # another CPU: another directory


def _enable_in_child(setting):
  code = f"from jaxgan import compile_cache; print(compile_cache.enable({setting!r}))"
  return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_the_directory_is_owner_only_and_a_shared_one_is_refused_with_one_warning(tmp_path):
  r = _enable_in_child(str(tmp_path / "c"))
  path = r.stdout.strip()
  assert r.returncode == 0 and os.path.isdir(path) and stat.S_IMODE(os.stat(path).st_mode) == 0o700
  os.chmod(path, 0o777)
  r = _enable_in_child(str(tmp_path / "c"))
  assert r.stdout.strip() == "None"
  assert r.stderr.count("warning: compile cache:") == 1 and "writable by group or others" in r.stderr
  (tmp_path / "f").write_text("not a directory")
  r = _enable_in_child(str(tmp_path / "f"))
  assert r.returncode == 0 and r.stdout.strip() == "None" and "cannot create" in r.stderr


TRAIN = """
import sys
from jax import monitoring
events = []
monitoring.register_event_listener(lambda name, **kw: events.append(name))
from jaxgan import compile_cache
from jaxgan.configs import mlp_mnist
from jaxgan.trainer import Trainer
print("cache", compile_cache.enable())
c = mlp_mnist.get_config()
c.model.width, c.batch_size, c.steps, c.steps_per_call, c.sample_every, c.checkpoint_every = 0.0625, 16, 10, 5, 10, 10
print("summary", Trainer(c, sys.argv[1], quiet=True).train()["stopped"])
print("hits", events.count("/jax/compilation_cache/cache_hits"), "misses", events.count("/jax/compilation_cache/cache_misses"))
"""


def _train(cache, workdir):
  env = {**os.environ, compile_cache.ENV: str(cache), "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0"}
  r = subprocess.run([sys.executable, "-c", TRAIN, str(workdir)], capture_output=True, text=True, cwd=ROOT,
                     env=env, timeout=300)
  assert r.returncode == 0, r.stderr
  lines = dict(line.split(" ", 1) for line in r.stdout.splitlines() if " " in line)
  hits, misses = (int(x) for x in lines["hits"].split()[::2])
  return hits, misses, lines["summary"], r.stderr


def test_a_second_process_hits_the_cache_and_a_corrupt_one_only_warns(tmp_path):
  hits, misses, done, _ = _train(tmp_path / "cache", tmp_path / "a")
  assert hits == 0 and misses > 0 and done == "done"
  hits, misses2, done, _ = _train(tmp_path / "cache", tmp_path / "b")  # a new run, same programs
  assert hits == misses and misses2 == 0 and done == "done"
  for d, _, files in os.walk(tmp_path / "cache"):
    for f in files:
      with open(os.path.join(d, f), "wb") as fh:
        fh.write(b"not an executable")
  hits, _, done, err = _train(tmp_path / "cache", tmp_path / "c")
  assert hits == 0 and done == "done"
  assert err.count("warning: compile cache:") == 1 and "Traceback" not in err

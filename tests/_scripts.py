"""The repository root (`ROOT`) for tests, and `load_script`: a repository script (benchmarks/, scripts/) loaded as a
module, for tests of its functions."""
import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


_SCRIPT_FLAGS = set()  # absl flags defined by scripts loaded so far


def load_script(relpath: str):
  """The module at ROOT/relpath (e.g. "benchmarks/results.py"), executed afresh on each call. Scripts define absl
  flags in one global registry, and two scripts may both define e.g. --workdir: the flags of scripts loaded before
  are removed first (tests call a loaded script's functions, never its flags)."""
  from absl import flags
  for flag in _SCRIPT_FLAGS & set(flags.FLAGS):
    delattr(flags.FLAGS, flag)
  before = set(flags.FLAGS)
  name = os.path.splitext(os.path.basename(relpath))[0] + "_under_test"
  spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, relpath))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  _SCRIPT_FLAGS.update(f for f in set(flags.FLAGS) - before  # not absl's own, first defined on an import here
                       if not (flags.FLAGS.find_module_defining_flag(f) or "").startswith("absl."))
  return module


def run_script(relpath: str, *args: str, timeout: int = 600, **kwargs):
  """`python ROOT/relpath args...` in a subprocess: the CompletedProcess with text stdout and stderr; `kwargs` (cwd,
  env) go to subprocess.run."""
  import subprocess
  import sys
  return subprocess.run([sys.executable, os.path.join(ROOT, relpath), *args], capture_output=True, text=True,
                        timeout=timeout, **kwargs)


def execute_notebook(name: str, tmp_path, monkeypatch, **env: str):
  """Runs notebooks/<name> top to bottom on one CPU device with fast compiles, `tmp_path` as its working directory
  and `env` set; returns (the executed notebook, every code cell's outputs)."""
  import nbformat
  from nbclient import NotebookClient
  import jax
  from conftest import ONE_DEVICE_FLAGS
  # The kernel gets one device through XLA_FLAGS below; this process must not. Its backend starts on first use,
  # reading XLA_FLAGS then: a test touching jax before the monkeypatch is undone (orbax does) would otherwise give
  # every later test in this worker one device instead of conftest's four. Start it now, with four.
  jax.devices()
  nb = nbformat.read(os.path.join(ROOT, "notebooks", name), as_version=4)
  for key, value in env.items():
    monkeypatch.setenv(key, value)
  monkeypatch.setenv("JAX_PLATFORMS", "cpu")
  monkeypatch.setenv("XLA_FLAGS", ONE_DEVICE_FLAGS)  # one device, fast compiles
  NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
  return nb, [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]

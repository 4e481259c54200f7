"""The repository root (`ROOT`) for tests, and `load_script`: a repository script (benchmarks/, scripts/) loaded as a
module, for tests of its functions."""
import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_script(relpath: str):
  """The module at ROOT/relpath (e.g. "benchmarks/results.py"), executed afresh on each call."""
  name = os.path.splitext(os.path.basename(relpath))[0] + "_under_test"
  spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, relpath))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module

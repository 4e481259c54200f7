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

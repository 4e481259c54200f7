"""Stand-ins for two modules that NVIDIA's stylegan2-ada-pytorch imports at module level (dnnlib/util.py) but
never uses on the paths jaxgan's golden scripts and benchmarks run: `requests` (not installed in the torch venv)
and `distutils.util.strtobool` (distutils left the standard library in Python 3.12). Run by those scripts only,
never by jaxgan; NVIDIA's files stay unmodified."""
import sys
import types


def stub_unused_imports() -> None:
  try:
    import requests  # noqa: F401
  except ImportError:
    sys.modules["requests"] = types.ModuleType("requests")
  try:
    import distutils.util  # noqa: F401
  except ImportError:
    d, u = types.ModuleType("distutils"), types.ModuleType("distutils.util")
    u.strtobool = lambda v: 1 if str(v).lower() in ("y", "yes", "t", "true", "on", "1") else 0
    d.util = u
    sys.modules["distutils"], sys.modules["distutils.util"] = d, u

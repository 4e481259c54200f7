"""Four fake CPU devices for every test, so data-parallel code runs as it would on a 4-chip host."""
import os

os.environ.setdefault("XLA_FLAGS", "")
if "xla_force_host_platform_device_count" not in os.environ["XLA_FLAGS"]:
  os.environ["XLA_FLAGS"] += " --xla_force_host_platform_device_count=4"
# Tests are compile-bound (hundreds of small programs): skipping XLA's backend optimisations halves compile time
# and changes no semantics. Benchmarks and real runs compile at the default level.
FAST_COMPILE = "--xla_backend_optimization_level=0"
if "xla_backend_optimization_level" not in os.environ["XLA_FLAGS"]:
  os.environ["XLA_FLAGS"] += " " + FAST_COMPILE
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# Scripts run by the tests compile from scratch (no persistent cache shared with the user's runs);
# tests/test_compile_cache.py turns it on where it is the subject.
os.environ.setdefault("JAXGAN_COMPILE_CACHE", "off")

import jax  # noqa: E402  (must come after XLA_FLAGS)

SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist")

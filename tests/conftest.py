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
# XLA:CPU's legacy elemental fusion emitters compile the same fusions in about 0.6x the time of its MLIR ones
# (tests/test_golden.py on one AVX2 core: 658 s -> 410 s; the tiny StyleGAN2 trainer of test_stylegan2.py: XLA
# compile 132 s -> 72 s), with the same HLO semantics; they round some ops differently, as another ISA does
# (tests/golden_cases.py measures both into its spreads). Real runs and benchmarks keep the default. XLA aborts on
# a flag it does not know, so the controller probes it once (its workers inherit the result).
LEGACY_EMITTERS = "--xla_cpu_use_fusion_emitters=false"
PROBED = "JAXGAN_TEST_XLA_FLAGS_PROBED"


def _xla_accepts(flag: str) -> bool:
  import subprocess
  import sys
  env = {**os.environ, "XLA_FLAGS": flag, "JAX_PLATFORMS": "cpu"}
  try:
    return subprocess.run([sys.executable, "-c", "import jax; jax.devices()"], env=env, capture_output=True,
                          timeout=120).returncode == 0
  except (OSError, subprocess.SubprocessError):
    return False


if not os.environ.get(PROBED) and "xla_cpu_use_fusion_emitters" not in os.environ["XLA_FLAGS"]:
  if _xla_accepts(LEGACY_EMITTERS):
    os.environ["XLA_FLAGS"] += " " + LEGACY_EMITTERS
  os.environ[PROBED] = "1"
# What a script or notebook the tests start on one device gets as XLA_FLAGS: the same fast compiles
ONE_DEVICE_FLAGS = FAST_COMPILE + (" " + LEGACY_EMITTERS if LEGACY_EMITTERS in os.environ["XLA_FLAGS"] else "")
# Scripts and notebooks run by the tests never touch the user's cache: they share the test run's (below), or none
# when that is off; tests/test_compile_cache.py points them elsewhere where the cache is the subject.
SCRIPTS_CACHE_IS_OURS = "JAXGAN_COMPILE_CACHE" not in os.environ
os.environ.setdefault("JAXGAN_COMPILE_CACHE", "off")

import jax  # noqa: E402  (must come after XLA_FLAGS)

SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist")

# One XLA compilation cache per test run, shared by its xdist workers and by the scripts and notebooks the tests
# start (through $JAXGAN_COMPILE_CACHE, in jaxgan.compile_cache's layout), removed at the end: a program compiled
# again (a resumed Trainer, a script re-run, the same tiny config in two tests) is read back instead (JAX keys it
# by the program, the XLA flags and the devices, so results are the same executables). Never the user's cache.
CACHE_ENV = "JAXGAN_TEST_XLA_CACHE"


def pytest_configure(config):
  import tempfile
  from jaxgan import compile_cache
  if os.environ.get(CACHE_ENV) == "off":
    return
  if not os.environ.get(CACHE_ENV):  # the controller (or a run without xdist): workers inherit the variable
    os.environ[CACHE_ENV] = tempfile.mkdtemp(prefix="jaxgan-test-xla-")
    config._jaxgan_cache_owner = True
    if SCRIPTS_CACHE_IS_OURS:
      os.environ["JAXGAN_COMPILE_CACHE"] = os.environ[CACHE_ENV]
  compile_cache.enable(os.environ[CACHE_ENV])  # the directory (and its checks) the scripts' own enable() takes
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.3)


def pytest_unconfigure(config):
  if getattr(config, "_jaxgan_cache_owner", False):
    import shutil
    shutil.rmtree(os.environ.pop(CACHE_ENV), ignore_errors=True)

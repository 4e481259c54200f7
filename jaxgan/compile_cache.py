"""A persistent XLA compilation cache, so a resumed run, `sample.py`, `evaluate.py` and a re-run notebook do not
compile again what an earlier process compiled.

  JAXGAN_COMPILE_CACHE unset    ~/.cache/jaxgan/xla/<key>  (or $XDG_CACHE_HOME/jaxgan/xla/<key>)
  JAXGAN_COMPILE_CACHE=DIR      DIR/<key>
  JAXGAN_COMPILE_CACHE=off      no cache (also "0", "false", "none")

JAX runs cached executables as trusted code, so the cache is per user: directories are created owner-only (0700)
and a directory owned by someone else, or writable by group or others, is refused. <key> names the jax and jaxlib
releases and a hash of this host's CPU model and features, so a machine with other CPU features or another jax
never reads a stale entry (JAX's own key adds the program, the compile options and the devices). Several processes
may share one cache: JAX writes each entry whole. A cache that cannot be used, or an entry that cannot be read,
never stops a run: one warning, and compilation goes on as without a cache. Every program is cached, however
quickly it compiled (JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS overrides this); entries are never evicted, so
delete the directory to reclaim its space.

`enable()` is called by every script (`cli.run`) and by the notebook; the library does not change JAX's global
configuration on import.
"""
import hashlib
import os
import platform
import stat
import sys
import warnings
from typing import Optional

ENV = "JAXGAN_COMPILE_CACHE"
OFF = ("off", "0", "false", "none", "no")
_warned = False
_showwarning_wrapped = False


def _warn(message: str) -> None:
  """One warning line per process, on stderr."""
  global _warned
  if not _warned:
    _warned = True
    print(f"warning: compile cache: {message}; compiling without it", file=sys.stderr, flush=True)


def host_key() -> str:
  """jax-<version>_jaxlib-<version>_<machine>-<hash of the CPU model and feature flags>."""
  import jax
  import jaxlib
  cpu = platform.processor() or ""
  try:
    with open("/proc/cpuinfo") as f:
      lines = [ln for ln in f if ln.startswith(("model name", "flags", "Features", "CPU part"))]
    cpu += "".join(sorted(set(lines)))
  except OSError:
    pass
  digest = hashlib.sha256(cpu.encode()).hexdigest()[:12]
  return f"jax-{jax.__version__}_jaxlib-{jaxlib.__version__}_{platform.machine()}-{digest}"


def default_root() -> str:
  base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
  return os.path.join(base, "jaxgan", "xla")


def resolve(setting: Optional[str] = None) -> Optional[str]:
  """The cache directory a setting (default: $JAXGAN_COMPILE_CACHE) names, None when it turns the cache off."""
  setting = os.environ.get(ENV, "") if setting is None else setting
  if setting.strip().lower() in OFF:
    return None
  root = os.path.expanduser(setting) if setting.strip() else default_root()
  return os.path.join(root, host_key())


def _private_dir(path: str) -> Optional[str]:
  """Creates `path` owner-only; the reason it cannot be used, or None when it can."""
  try:
    os.makedirs(path, mode=0o700, exist_ok=True)
    st = os.stat(path)
  except OSError as e:
    return f"cannot create {path} ({e.strerror or e})"
  if not stat.S_ISDIR(st.st_mode):
    return f"{path} is not a directory"
  if hasattr(os, "getuid") and st.st_uid != os.getuid():
    return f"{path} belongs to another user"
  if st.st_mode & 0o022:
    return f"{path} is writable by group or others (chmod 700 it)"
  if not os.access(path, os.W_OK | os.X_OK):
    return f"{path} is not writable"
  return None


def _quiet_entry_errors(path: str) -> None:
  """JAX warns once per unreadable or unwritable entry; show one line for the cache, then none. Installed once per
  process, however often `enable` runs (a re-run notebook cell)."""
  global _showwarning_wrapped
  if _showwarning_wrapped:
    return
  _showwarning_wrapped = True
  previous = warnings.showwarning

  def show(message, category, filename, lineno, file=None, line=None):
    text = str(message)
    if "persistent compilation cache" in text:
      _warn(f"{path}: {text.split(':', 1)[-1].strip()[:160]}")
      return
    previous(message, category, filename, lineno, file, line)

  warnings.showwarning = show


def enable(setting: Optional[str] = None) -> Optional[str]:
  """Points JAX's persistent compilation cache at the resolved directory; returns it, or None when the cache is
  off or unusable (after one warning). Call before the first compilation."""
  path = resolve(setting)
  if path is None:
    return None
  problem = _private_dir(path)
  if problem:
    _warn(problem)
    return None
  import jax
  jax.config.update("jax_compilation_cache_dir", path)
  if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in os.environ:
    # Every program, not only those over JAX's 1 s default: an eager parameter init compiles ~100 small ops
    # (mnist_fast: 5.6 s of op-by-op compiles; 0.9 s from the cache), and their entries are small (~0.8 MB).
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
  _quiet_entry_errors(path)
  return path

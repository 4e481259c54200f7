"""Shared plumbing of the scripts: absl flag parsing whose failures are one clear line, and error → exit code.

Bad input (a flag, a config value, a dataset, a workdir) prints `<script>: error: <what to do>` on stderr and exits
with status 2; nothing on disk is touched before the input has been checked.
"""
import os
import re
import sys
from typing import Callable, NoReturn

from absl import app, flags


def fail(message: str, code: int = 2) -> NoReturn:
  prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "jaxgan"
  first = " ".join(str(message).strip().split("\n")[0].split())
  sys.stdout.flush()
  sys.stderr.flush()
  # Silence fd 2 first, then write the one line to a saved copy of it and exit at once: orbax/tensorstore
  # background threads otherwise print "Event loop is closed" tracebacks after a failed checkpoint read.
  # Nothing is pending: bad input is detected before anything is written.
  original = os.dup(2)
  devnull = os.open(os.devnull, os.O_WRONLY)
  os.dup2(devnull, 2)
  os.write(original, f"{prog}: error: {first}\n".encode())
  os._exit(code)


def _flag_error(e: BaseException, argv) -> str:
  text = str(e)
  m = re.search(r"""AttributeError: ["']?'?([A-Za-z0-9_]+)'?["']?""", text) or (
      re.search(r"""^["']?'([A-Za-z0-9_]+)'["']?$""", text.strip()) if isinstance(e, AttributeError) else None)
  if isinstance(e, AttributeError) or m and "Attribute" in text:
    key = m.group(1) if m else text
    flag = next((a for a in argv if a.startswith("--config.") and key in a), f"--config.{key}")
    return f"unknown config key {key!r} in {flag.split('=')[0]}; see the preset file for the keys it has"
  m = re.search(r"No such file or directory: '([^']+)'", text)
  if m or "Failed loading config file" in text:
    given = [a.split("=", 1)[1] for a in argv if a.startswith("--config=")]
    path = m.group(1) if m else (given[-1] if given else "?")
    return f"config file not found: {path} (presets live in jaxgan/configs/)"
  text = re.sub(r"^FATAL Flags parsing error:\s*", "", text)
  return text.split("\n")[0]


def define_config(default_path: str, help_text: str, name: str = "config"):
  """config_flags.DEFINE_config_file(name, default_path, help_text, lock_config=True) whose errors are one line.

  ml_collections resolves a nested override's type (`--config.model.foo=1`) when the flag is defined, at import
  time, before `run` can catch anything; an unknown nested key would otherwise end in a traceback."""
  from ml_collections import config_flags
  try:
    return config_flags.DEFINE_config_file(name, default_path, help_text, lock_config=True)
  except (flags.Error, AttributeError, KeyError, OSError, ValueError, TypeError, SyntaxError) as e:
    fail(_flag_error(e, sys.argv))


def run(main: Callable, config_flag: str = "config") -> None:
  """app.run(main) with flag errors (unknown config key, missing preset, bad value) reported in one line."""
  def parser(argv):
    try:
      rest = flags.FLAGS(argv)
      if config_flag and config_flag in flags.FLAGS:
        config = getattr(flags.FLAGS, config_flag)  # loads the file and applies --config.x overrides now
        config.keys()  # a file that failed to load is a placeholder that raises on first use: now, not later
    except (flags.Error, AttributeError, OSError, ValueError, TypeError, KeyError, SyntaxError) as e:
      fail(_flag_error(e, argv))
    return rest

  def wrapped(argv):
    from absl import logging
    logging.set_verbosity(logging.ERROR)  # JAX backend probing and orbax chatter
    from jaxgan import compile_cache
    compile_cache.enable()  # $JAXGAN_COMPILE_CACHE; a cache that cannot be used warns once and is skipped
    from jaxgan.checkpoint import CheckpointError
    from jaxgan.data import DataError
    if len(argv) > 1:
      fail(f"unexpected arguments {' '.join(argv[1:])!r}; flags look like --name=value")
    try:
      return main(argv)
    except (ValueError, CheckpointError, DataError, FileNotFoundError, PermissionError) as e:
      fail(str(e))

  app.run(wrapped, flags_parser=parser)

"""The command line of the playground: `python scripts/playground.py` or, from an installed wheel,
`python -m jaxgan.playground` (same flags)."""
from absl import flags

from jaxgan import cli

_HOST = flags.DEFINE_string("host", "127.0.0.1", "Address to listen on; 127.0.0.1 keeps the page on this machine "
                            "(0.0.0.0 opens it to the network: anyone reaching it can train and save runs here).")
_PORT = flags.DEFINE_integer("port", 8000, "Port to listen on (0: any free port).")
_PRESET = flags.DEFINE_enum("preset", "ring8", ["ring8", "grid25"], "Settings to start from.")
_PLAY = flags.DEFINE_bool("play", False, "Start training at once (the page starts paused otherwise).")
_FPS = flags.DEFINE_float("max_fps", 30.0, "At most this many snapshots a second.")


def main(argv):
  del argv
  if not 0 <= _PORT.value <= 65535:
    raise ValueError(f"--port must be in 0..65535, got {_PORT.value}")
  if not _FPS.value > 0:
    raise ValueError(f"--max_fps must be positive, got {_FPS.value}")
  from jaxgan.playground.server import main as serve
  try:
    serve(_HOST.value, _PORT.value, _PRESET.value, _PLAY.value, _FPS.value)
  except KeyboardInterrupt:  # Ctrl-C, while compiling or serving (uvicorn re-raises it after its shutdown)
    print("jaxgan playground: stopped", flush=True)


def run():
  cli.run(main, config_flag=None)

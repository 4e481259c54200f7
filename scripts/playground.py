"""GAN Playground: watch and steer a 2-D GAN learn, live, in the browser.

  python scripts/playground.py [--port=8000] [--host=127.0.0.1] [--preset=ring8|grid25] [--play]

Serves a local page (every script and style ships in the package; no network) that trains with the library's own
objective and compiled K-step loop in a background thread. Ctrl-C stops the server.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # run from a checkout too

from absl import flags  # noqa: E402

from jaxgan import cli  # noqa: E402

_HOST = flags.DEFINE_string("host", "127.0.0.1", "Address to listen on; 127.0.0.1 keeps the page on this machine "
                            "(0.0.0.0 opens it to the network: anyone reaching it can train and save runs here).")
_PORT = flags.DEFINE_integer("port", 8000, "Port to listen on.")
_PRESET = flags.DEFINE_enum("preset", "ring8", ["ring8", "grid25"], "Settings to start from.")
_PLAY = flags.DEFINE_bool("play", False, "Start training at once (the page starts paused otherwise).")
_FPS = flags.DEFINE_float("max_fps", 30.0, "At most this many snapshots a second.")


def main(argv):
  if not 0 <= _PORT.value <= 65535:
    raise ValueError(f"--port must be in 0..65535, got {_PORT.value}")
  if not _FPS.value > 0:
    raise ValueError(f"--max_fps must be positive, got {_FPS.value}")
  from jaxgan.playground.server import main as serve
  serve(_HOST.value, _PORT.value, _PRESET.value, _PLAY.value, _FPS.value)


if __name__ == "__main__":
  cli.run(main, config_flag=None)

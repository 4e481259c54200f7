"""GAN Playground: watch and steer a 2-D GAN learn, live, in the browser.

  python scripts/playground.py [--port=8000] [--host=127.0.0.1] [--preset=ring8|grid25] [--play]

Serves a local page (every script and style ships in the package; no network) that trains with the library's own
objective and compiled K-step loop in a background thread. Ctrl-C stops the server. From an installed wheel:
`python -m jaxgan.playground` (same flags).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # run from a checkout too

from jaxgan.playground.command import run  # noqa: E402

if __name__ == "__main__":
  run()

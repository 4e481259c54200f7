"""GAN Playground: train a 2-D GAN in the browser, live, with the library's own objective and compiled loop.

  python scripts/playground.py [--port=8000] [--host=127.0.0.1]

`session.Session` trains in a background thread (a `jaxgan.trainer.Runner`) and publishes snapshots;
`server` serves the page (static/, no build step, nothing from a CDN) and a JSON + server-sent-events API.
"""

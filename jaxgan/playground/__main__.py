"""python -m jaxgan.playground [--port=8000] [--host=127.0.0.1] [--preset=ring8|grid25] [--play]"""
from jaxgan.playground.command import run

run()

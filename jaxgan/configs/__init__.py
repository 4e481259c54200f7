"""Presets: one ml_collections config file per recipe; `path(name)` finds one by name."""
import os

DIR = os.path.dirname(os.path.abspath(__file__))
DEFAULT = "mnist_fast"


def path(name: str) -> str:
  return os.path.join(DIR, f"{name}.py")

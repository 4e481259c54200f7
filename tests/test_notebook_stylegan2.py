"""The StyleGAN2 notebook runs top to bottom on CPU in its test mode (JAXGAN_NOTEBOOK_TINY=1: 16 px emoji, tiny
widths, a few steps) and shows its pictures; it installs jaxgan the quickstart's way and fetches nothing from a
URL."""
import os
import re

import nbformat

from jaxgan.checkpoint import Checkpointer

from _scripts import ROOT, execute_notebook

NOTEBOOK = os.path.join(ROOT, "notebooks", "stylegan2.ipynb")


def _read():
  return nbformat.read(NOTEBOOK, as_version=4)


def test_stylegan2_notebook_executes_in_tiny_mode(tmp_path, monkeypatch):
  nb, outputs = execute_notebook("stylegan2.ipynb", tmp_path, monkeypatch, JAXGAN_NOTEBOOK_TINY="1",
                                 JAXGAN_NOTEBOOK_STEPS="4")
  assert not [o for o in outputs if o.get("output_type") == "error"]
  images = [o for o in outputs if "image/png" in o.get("data", {})]
  assert len(images) >= 3  # sample grid, truncation sweep, style mixing (and losses, ADA p, mixing, interpolation)
  workdir = tmp_path / "runs" / "stylegan2_emoji"
  assert Checkpointer(str(workdir), read_only=True).latest_step() == 4  # the last step's checkpoint
  assert (workdir / "interpolation.gif").exists()
  text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
  assert "1 device(s) x 8 images = global batch 8; 4 steps, 16 px" in text


def test_the_notebook_fetches_nothing_from_a_url():
  for cell in _read().cells:
    if cell.cell_type == "code":
      assert not re.search(r"https?://|git\+|github\.com", cell.source), cell.source


def test_the_install_cell_is_the_quickstarts():
  install = lambda nb: [c.source for c in nb.cells if "install" in c.metadata.get("tags", [])]
  quickstart = nbformat.read(os.path.join(ROOT, "notebooks", "quickstart.ipynb"), as_version=4)
  assert install(_read()) == install(quickstart) and len(install(quickstart)) == 1


def test_the_notebook_is_saved_clean():
  nb = _read()
  nbformat.validate(nb)
  assert nb.metadata.kernelspec.name == "python3"
  for cell in nb.cells:
    if cell.cell_type == "code":
      assert cell.outputs == [] and cell.execution_count is None

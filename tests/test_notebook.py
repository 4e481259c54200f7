"""The quickstart notebook runs top to bottom on CPU with a tiny step count, so it cannot rot."""
import os

import nbformat
from nbclient import NotebookClient

from _scripts import ROOT


def test_quickstart_executes(tmp_path, monkeypatch):
  nb = nbformat.read(os.path.join(ROOT, "notebooks", "quickstart.ipynb"), as_version=4)
  monkeypatch.setenv("JAXGAN_NOTEBOOK_STEPS", "20")
  monkeypatch.setenv("JAX_PLATFORMS", "cpu")
  monkeypatch.setenv("XLA_FLAGS", "--xla_backend_optimization_level=0")  # one device, fast compiles
  NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
  outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
  assert not [o for o in outputs if o.get("output_type") == "error"]
  images = [o for o in outputs if "image/png" in o.get("data", {})]
  assert len(images) >= 3  # sample grid, loss curve, samples from the checkpoint
  assert os.path.exists(tmp_path / "runs" / "quickstart" / "notebook_samples.png")

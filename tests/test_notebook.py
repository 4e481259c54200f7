"""The quickstart notebook runs top to bottom on CPU with a tiny step count, so it cannot rot; its install cell
finds a checkout or an uploaded wheel and never a URL."""
import os
import re
import sys

import nbformat
import pytest

from _scripts import ROOT, execute_notebook


def test_quickstart_executes(tmp_path, monkeypatch):
  _, outputs = execute_notebook("quickstart.ipynb", tmp_path, monkeypatch, JAXGAN_NOTEBOOK_STEPS="20")
  assert not [o for o in outputs if o.get("output_type") == "error"]
  images = [o for o in outputs if "image/png" in o.get("data", {})]
  assert len(images) >= 3  # sample grid, loss curve, samples from the checkpoint
  assert os.path.exists(tmp_path / "runs" / "quickstart" / "notebook_samples.png")


def _install_cell(nb):
  cells = [c for c in nb.cells if "install" in c.metadata.get("tags", [])]
  assert len(cells) == 1 and cells[0].cell_type == "code"
  return cells[0].source


def _install_functions(monkeypatch):
  """The install cell's functions, from executing the cell as the notebook does (jaxgan is importable in the
  tests, so the cell itself installs nothing)."""
  nb = nbformat.read(os.path.join(ROOT, "notebooks", "quickstart.ipynb"), as_version=4)
  monkeypatch.setattr(sys, "path", list(sys.path))  # an editable install adds the checkout to sys.path
  ns = {}
  exec(_install_cell(nb), ns)
  calls = []
  return ns, calls, lambda args: calls.append(list(args))


def _project(path, name):
  path.mkdir(parents=True, exist_ok=True)
  (path / "pyproject.toml").write_text(f'[build-system]\nrequires = ["setuptools"]\n\n[project]\nname = "{name}"\n'
                                       f'version = "0.1.0"\n')
  return path


def test_the_notebook_fetches_nothing_from_a_url():
  nb = nbformat.read(os.path.join(ROOT, "notebooks", "quickstart.ipynb"), as_version=4)
  for cell in nb.cells:
    if cell.cell_type == "code":
      assert not re.search(r"https?://|git\+|github\.com", cell.source), cell.source
  assert "pip wheel . --no-deps -w dist" in nb.cells[0].source  # the first cell says how to get jaxgan there


def test_install_cell_uses_the_checkout_the_notebook_sits_in(tmp_path, monkeypatch):
  ns, calls, fake_pip = _install_functions(monkeypatch)
  repo = _project(tmp_path / "repo", "jaxgan")
  _project(tmp_path / "repo" / "notebooks" / "other", "not-jaxgan")  # another project's pyproject is skipped
  (tmp_path / "uploads").mkdir()
  (tmp_path / "uploads" / "jaxgan-0.1.0-py3-none-any.whl").write_bytes(b"")  # a checkout wins over a wheel
  source = ns["install_jaxgan"](start=str(repo / "notebooks" / "other"), wheel_dirs=[str(tmp_path / "uploads")],
                                pip=fake_pip)
  assert source == str(repo)
  assert calls == [["install", "-q", "-e", str(repo)]]
  assert sys.path[0] == str(repo)


def test_install_cell_finds_a_clone_in_the_working_directory(tmp_path, monkeypatch):
  ns, calls, fake_pip = _install_functions(monkeypatch)
  clone = _project(tmp_path / "content" / "jaxgan", "jaxgan")
  ns["install_jaxgan"](start=str(tmp_path / "elsewhere"), wheel_dirs=[str(tmp_path / "content")], pip=fake_pip)
  assert calls == [["install", "-q", "-e", str(clone)]]


def test_install_cell_installs_the_newest_uploaded_wheel(tmp_path, monkeypatch):
  ns, calls, fake_pip = _install_functions(monkeypatch)
  _project(tmp_path / "work", "not-jaxgan")
  here, content = tmp_path / "work", tmp_path / "content"
  content.mkdir()
  old, new = here / "jaxgan-0.1.0-py3-none-any.whl", content / "jaxgan-0.2.0-py3-none-any.whl"
  (here / "other-1.0-py3-none-any.whl").write_bytes(b"")
  for i, wheel in enumerate((old, new)):
    wheel.write_bytes(b"")
    os.utime(wheel, (1_000_000 + i, 1_000_000 + i))
  path_before = list(sys.path)
  source = ns["install_jaxgan"](start=str(here), wheel_dirs=[str(here), str(content)], pip=fake_pip)
  assert source == str(new) and calls == [["install", "-q", str(new)]]
  assert sys.path == path_before
  os.utime(old, (2_000_000, 2_000_000))  # the last upload, whatever its version
  assert ns["find_jaxgan"](str(here), [str(here), str(content)]) == str(old)


def test_install_cell_says_how_to_get_jaxgan_when_there_is_nothing_to_install(tmp_path, monkeypatch):
  ns, calls, fake_pip = _install_functions(monkeypatch)
  (tmp_path / "jaxgan-notes.txt").write_text("not a wheel")
  with pytest.raises(RuntimeError, match=r"pip wheel \. --no-deps -w dist.*clone"):
    ns["install_jaxgan"](start=str(tmp_path), wheel_dirs=[str(tmp_path)], pip=fake_pip)
  assert calls == []

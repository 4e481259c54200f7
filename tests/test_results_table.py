"""benchmarks/results.py: the full results tables (docs/experiments.md) and the README's headline table, both
rendered from per-row JSON (seed rows and their mean)."""
import json
import os

import sys

import numpy as np
import pytest

from _scripts import load_script


@pytest.fixture
def results(tmp_path, monkeypatch):
  mod = load_script("benchmarks/results.py")
  monkeypatch.setattr(mod, "RESULTS", str(tmp_path))
  return mod, tmp_path


def _write(path, name, **row):
  base = dict(preset=name, steps=100, train_wall_min=1.0, train_cpu_min=2.0, machine={"backend": "cpu"})
  with open(os.path.join(path, f"{name}.json"), "w") as f:
    json.dump({**base, **row}, f)


def _cells(line):
  return [c.strip() for c in line.strip("|").split("|")]


def _line(table, start):
  hits = [l for l in table.splitlines() if l.startswith(start)]
  assert len(hits) == 1, (start, hits)
  return _cells(hits[0])


def test_stacked_seed_rows_get_their_mean_and_standard_error(results):
  mod, path = results
  _write(path, "stacked_mnist", modes=1000, kl=0.08, kl_marginals=0.06, kl_dependence=0.02)
  table = mod.render()
  assert "stacked_mnist, mean of" not in table  # one seed: no mean row
  _write(path, "stacked_mnist_seed1", modes=999, kl=0.10, kl_marginals=0.08, kl_dependence=0.04)
  table = mod.render()
  cells = _line(table, "| **jaxgan** stacked_mnist, seed 1 |")
  assert cells[1:4] == ["v1", "999", "0.100"]  # rows from before judge versions were recorded are v1
  mean = _line(table, "| **jaxgan stacked_mnist, mean of 2 seeds** |")
  se = np.std([0.08, 0.10], ddof=1) / np.sqrt(2)
  assert mean[1:3] == ["v1", "999.5"]
  assert mean[3] == f"**0.090 ± {se:.3f}**"
  assert mean[4:6] == ["0.070", "0.030"]
  _write(path, "stacked_mnist_seed1", modes=1000, kl=0.10, kl_marginals=0.08, kl_dependence=0.04)
  assert _line(mod.render(), "| **jaxgan stacked_mnist, mean of 2 seeds** |")[2] == "1000"  # a count, not 1000.0


def test_mnist_seed_mean_comes_after_the_last_measured_seed(results):
  mod, path = results
  for name, fd in (("mnist_best", 10.0), ("mnist_best_seed1", 14.0)):
    _write(path, name, ema_fd=fd, floor=5.0, ema_class_ratio=1.1, ema_classes=10)
  lines = mod.render().splitlines()
  i = next(i for i, l in enumerate(lines) if l.startswith("| mnist_best, seed 1"))
  mean = _cells(lines[i + 1])
  assert mean[0] == "**mnist_best, mean of 2 seeds**" and mean[1] == "v1"
  assert mean[3] == "**12.00 ± 2.00**" and mean[4] == "5.00" and mean[5] == "**2.40**"
  assert mean[7] == "≤ 1.10"


def test_rows_name_their_judge_and_judges_are_never_averaged(results):
  mod, path = results
  _write(path, "mnist_best", ema_fd=8.0, floor=2.0, ema_class_ratio=1.1, ema_classes=10, judge="mnist_judge_v2",
         judge_version=2)
  _write(path, "mnist_best_seed1", ema_fd=14.0, floor=7.2, ema_class_ratio=1.3, ema_classes=10)  # a v1 row
  _write(path, "stacked_mnist", modes=1000, kl=0.04, kl_marginals=0.02, kl_dependence=0.02, judge="mnist_judge_v2")
  table = mod.render()
  assert _line(table, "| mnist_best (EMA G) |")[1:6] == ["v2", "100", "8.00", "2.00", "4.00"]
  assert _line(table, "| mnist_best, seed 1 (EMA G) |")[1:6] == ["v1", "100", "14.00", "7.20", "1.94"]
  assert "mean of" not in table  # one seed per judge: no mean across judges
  assert _line(table, "| **jaxgan** stacked_mnist |")[1] == "v2"  # read off the `judge` name
  best = _line(mod.render_headline(), "| `mnist_best` ")  # the headline takes the newest judge's rows only
  assert best[1] == "MNIST judge v2 FD, 5,000 samples (floor 2.00)"
  assert best[2] == "**8.00** = 4.00× floor, classes within 1.10"
  _write(path, "mnist_best_seed2", ema_fd=10.0, floor=2.0, ema_class_ratio=1.2, ema_classes=10, judge_version=2)
  mean = _line(mod.render(), "| **mnist_best, mean of 2 seeds** |")  # seeds 0 and 2: the v2 rows
  assert mean[1] == "v2" and mean[3] == "**9.00 ± 1.00**" and mean[5] == "**4.50**"


def _mixture(path, name, modes, hq, kl, cpu_s):
  summary = {"modes": {"mean": modes, "se": 0.0}, "high_quality_fraction": {"mean": hq, "se": 0.0},
             "reverse_kl": {"mean": kl, "se": 0.0}, "cpu_s": {"mean": cpu_s}}
  with open(os.path.join(path, f"{name}.json"), "w") as f:
    json.dump({"summary": summary, "machine": {"backend": "cpu"}}, f)


def test_headline_rows_agree_with_the_full_table(results):
  mod, path = results
  for name, fd, cpu in (("mnist_best", 10.0, 28.0), ("mnist_best_seed1", 14.0, 30.0)):
    _write(path, name, ema_fd=fd, floor=5.0, ema_class_ratio=1.1 if fd < 12 else 1.3, ema_classes=10,
           train_cpu_min=cpu)
  _write(path, "stacked_mnist", modes=1000, kl=0.04, kl_marginals=0.02, kl_dependence=0.02)
  _write(path, "stacked_mnist_seed1", modes=998, kl=0.06, kl_marginals=0.03, kl_dependence=0.03)
  _mixture(path, "ring8", 8.0, 0.975, 0.0025, 43.0)
  head = mod.render_headline()
  assert "mnist_fast" not in head and "grid25" not in head  # rows without JSON are left out
  best = _line(head, "| `mnist_best` ")
  full_mean = _line(mod.render(), "| **mnist_best, mean of 2 seeds** |")
  assert full_mean[3] == "**12.00 ± 2.00**"
  assert best[2] == "**12.00 ± 2.00** = 2.40× floor (mean of 2 seeds), classes within 1.30"
  assert best[4] == "28.0–30.0 CPU-min each"
  assert _line(head, "| `ring8` ")[2:5] == ["8.00 / 97.5 % / 0.0025", "PacGAN4: 7.8 / 95.9 % / 0.07",
                                             "43 CPU-s a run"]
  stacked = _line(head, "| `stacked_mnist` ")
  assert stacked[2] == f"999 / **0.050 ± {np.std([0.04, 0.06], ddof=1) / np.sqrt(2):.3f}** (mean of 2 seeds)"
  assert stacked[3] == "PacDCGAN2: 1000 / 0.06"


def _page(path, begin, end, inside="old"):
  path.write_text(f"# title\n\nbefore\n{begin}\n{inside}\n{end}\nafter\n")
  return path


def _run_main(mod, monkeypatch, *argv):
  monkeypatch.setattr(sys, "argv", ["results.py", *argv])
  mod.main()


def test_main_fills_the_full_tables_into_experiments_and_the_headline_into_the_readme(results, monkeypatch):
  mod, path = results
  _write(path, "mnist_fast", ema_fd=21.0, floor=7.0, ema_class_ratio=1.09, ema_classes=10)
  docs = _page(path / "experiments.md", mod.BEGIN, mod.END)
  readme = _page(path / "README.md", mod.HEAD_BEGIN, mod.HEAD_END)
  monkeypatch.setattr(mod, "EXPERIMENTS", str(docs))
  monkeypatch.setattr(mod, "README", str(readme))
  _run_main(mod, monkeypatch)
  assert docs.read_text() == f"# title\n\nbefore\n{mod.BEGIN}\n{mod.render()}\n{mod.END}\nafter\n"
  assert readme.read_text() == f"# title\n\nbefore\n{mod.HEAD_BEGIN}\n{mod.render_headline()}\n{mod.HEAD_END}\nafter\n"
  assert "| mnist_fast (EMA G) | v1 | 100 | 21.00 | 7.00 | 3.00 |" in docs.read_text()
  assert "**21.00** = 3.00× floor, classes within 1.09" in readme.read_text()
  _run_main(mod, monkeypatch)  # re-rendering is idempotent
  assert docs.read_text().count(mod.BEGIN) == 1 and readme.read_text().count(mod.HEAD_BEGIN) == 1


def test_a_missing_marker_is_an_error_and_writes_neither_file(results, monkeypatch):
  mod, path = results
  docs = _page(path / "experiments.md", mod.BEGIN, mod.END)
  readme = _page(path / "README.md", mod.BEGIN, mod.END)  # the README needs the headline markers
  monkeypatch.setattr(mod, "EXPERIMENTS", str(docs))
  monkeypatch.setattr(mod, "README", str(readme))
  before = docs.read_text(), readme.read_text()
  with pytest.raises(SystemExit, match="headline:begin"):
    _run_main(mod, monkeypatch)
  assert (docs.read_text(), readme.read_text()) == before


def test_the_repository_pages_hold_the_rendered_tables():
  """docs/experiments.md and README.md are what `python benchmarks/results.py` writes from docs/results/."""
  mod = load_script("benchmarks/results.py")
  for path, begin, end, render in ((mod.EXPERIMENTS, mod.BEGIN, mod.END, mod.render),
                                   (mod.README, mod.HEAD_BEGIN, mod.HEAD_END, mod.render_headline)):
    with open(path) as f:
      text = f.read()
    assert text.count(begin) == 1 and text.count(end) == 1, path
    assert text.split(begin, 1)[1].split(end, 1)[0] == "\n" + render() + "\n", path

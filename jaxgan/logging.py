"""Run outputs: metrics as JSON lines + TensorBoard events, PNG sample grids, loss-curve plots, a progress bar.

TensorBoard event files are written with tensorboardX (no TensorFlow, no torch): its synchronous `EventsWriter`
(record framing, CRC32C) and its summary protos for scalars and images. Every event is flushed as it is written,
so a killed run keeps everything it logged.
"""
from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

import numpy as np

METRICS_FILE = "metrics.jsonl"
TB_DIR = "tb"

# ---------------------------------------------------------------------------------------------------------------
# TensorBoard event files.


class _EventFileWriter:
  """Appends scalar and image events to a fresh `events.out.tfevents.<time>.<host>.<pid>.<usec>.jaxgan` file."""

  def __init__(self, logdir: str, purge_after_step: int | None = None):
    from tensorboardX.event_file_writer import EventsWriter  # noqa: PLC0415  (only where TensorBoard is written)
    from tensorboardX.proto.event_pb2 import Event, SessionLog  # noqa: PLC0415

    os.makedirs(logdir, exist_ok=True)
    # TensorBoard reads a run's files in name order: tensorboardX names them by the second; pid and microsecond
    # keep two writers of one second apart (a resume right after a kill) and resumed runs in sequence.
    suffix = f".{os.getpid()}.{int(time.time() * 1e6) % 1_000_000:06d}.jaxgan"
    self._w = EventsWriter(os.path.join(logdir, "events"), suffix)  # writes the file_version event
    self.path = self._w._file_name  # noqa: SLF001
    self._Event = Event
    if purge_after_step is not None:
      # A SessionLog START at step s makes TensorBoard drop events with step >= s from older files of this run.
      self._w.write_event(Event(wall_time=time.time(), step=purge_after_step + 1,
                                session_log=SessionLog(status=SessionLog.START)))
    self._w.flush()

  def _write(self, step: int, summary: Any) -> None:
    self._w.write_event(self._Event(wall_time=time.time(), step=int(step), summary=summary))
    self._w.flush()

  def scalars(self, step: int, scalars: Mapping[str, float]) -> None:
    from tensorboardX.proto.summary_pb2 import Summary  # noqa: PLC0415

    # One event per step holding every scalar (tags as given: TensorBoard accepts '/', '(' and the like).
    self._write(step, Summary(value=[Summary.Value(tag=k, simple_value=v) for k, v in scalars.items()]))

  def image(self, step: int, tag: str, image: np.ndarray) -> None:
    from tensorboardX import summary  # noqa: PLC0415

    self._write(step, summary.image(tag, image, dataformats="HWC"))

  def close(self) -> None:
    self._w.close()


# ---------------------------------------------------------------------------------------------------------------
# Metrics.


def _to_float(x: Any) -> float:
  return float(np.asarray(x).reshape(()))


def _read_jsonl(path: str) -> tuple[list[dict[str, Any]], bool]:
  """Complete, parseable lines of `path` as dicts, and whether anything (a torn tail) was dropped."""
  rows, dropped = [], False
  with open(path, "rb") as f:
    data = f.read()
  for raw in data.split(b"\n"):
    if not raw.strip():
      continue
    try:
      row = json.loads(raw)
    except ValueError:  # a line cut short by a killed process
      dropped = True
      continue
    if isinstance(row, dict) and isinstance(row.get("step"), int):
      rows.append(row)
    else:
      dropped = True
  return rows, dropped


def read_metrics(path: str) -> list[dict[str, Any]]:
  """Rows of a metrics.jsonl file (torn or malformed lines skipped)."""
  return _read_jsonl(path)[0]


class MetricWriter:
  """Writes scalars to `<workdir>/metrics.jsonl` (one JSON object per line) and `<workdir>/tb/` event files, and
  images (`write_image`) to the event files only.

  `resume_step`: on a resumed run, the step the state was restored from. Lines with step > resume_step (written
  after that checkpoint by the interrupted run) and torn lines are dropped from metrics.jsonl before appending,
  and TensorBoard is told to purge the same steps from older event files. None keeps every complete line.
  Non-finite values are written as JSON's NaN/Infinity extension (Python's json reads them).
  """

  def __init__(self, workdir: str | os.PathLike, resume_step: int | None = None, *, tensorboard: bool = True):
    workdir = os.fspath(workdir)
    os.makedirs(workdir, exist_ok=True)
    self.path = os.path.join(workdir, METRICS_FILE)
    if os.path.exists(self.path):
      rows, dropped = _read_jsonl(self.path)
      keep = [r for r in rows if resume_step is None or r["step"] <= resume_step]
      if dropped or len(keep) != len(rows) or not _ends_with_newline(self.path):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
          f.writelines(json.dumps(r) + "\n" for r in keep)
        os.replace(tmp, self.path)  # atomic: a kill here leaves either the old or the repaired file
    self._f: TextIO = open(self.path, "a")
    self._tb = _EventFileWriter(os.path.join(workdir, TB_DIR), resume_step) if tensorboard else None

  def write(self, step: int, scalars: Mapping[str, Any]) -> None:
    """Appends one line `{"step": step, "time": unix_seconds, **scalars}`; values may be jax/numpy scalars."""
    values = {k: _to_float(v) for k, v in scalars.items()}
    row = {"step": int(step), "time": round(time.time(), 3), **values}
    self._f.write(json.dumps(row) + "\n")
    self._f.flush()
    if self._tb is not None:
      self._tb.scalars(int(step), values)

  def write_many(self, steps: Sequence[int], scalars: Mapping[str, Any]) -> None:
    """One line per step from stacked metrics (e.g. a scanned loop's `[K]`-shaped outputs)."""
    arrays = {k: np.asarray(v).reshape(len(steps)) for k, v in scalars.items()}
    for i, step in enumerate(steps):
      self.write(step, {k: a[i] for k, a in arrays.items()})

  def write_image(self, step: int, tag: str, image: Any) -> None:
    """Logs an HxW or HxWxC (C = 1, 3 or 4) image to TensorBoard at `step` (e.g. a sample grid); uint8 as is,
    floats in [-1, 1] as `images_to_uint8`. Not written to metrics.jsonl."""
    x = images_to_uint8(image)
    if x.ndim == 2:
      x = x[..., None]
    if x.ndim != 3 or x.shape[-1] not in (1, 3, 4) or 0 in x.shape:
      raise ValueError(f"write_image({tag!r}): expected an HxW or HxWxC image with C in 1, 3, 4, got shape "
                       f"{np.shape(image)}")
    if self._tb is not None:
      self._tb.image(int(step), tag, x)

  def close(self) -> None:
    self._f.close()
    if self._tb is not None:
      self._tb.close()

  def __enter__(self) -> MetricWriter:
    return self

  def __exit__(self, *exc: object) -> None:
    self.close()


class NullWriter:
  """MetricWriter's interface, writing nothing: the non-primary processes of a multi-host run."""

  def write(self, step: int, scalars: Mapping[str, Any]) -> None:
    del step, scalars

  def write_many(self, steps: Sequence[int], scalars: Mapping[str, Any]) -> None:
    del steps, scalars

  def write_image(self, step: int, tag: str, image: Any) -> None:
    del step, tag, image

  def close(self) -> None:
    pass


def _ends_with_newline(path: str) -> bool:
  with open(path, "rb") as f:
    f.seek(0, os.SEEK_END)
    if f.tell() == 0:
      return True
    f.seek(-1, os.SEEK_END)
    return f.read(1) == b"\n"


# ---------------------------------------------------------------------------------------------------------------
# Images.


def images_to_uint8(images: Any) -> np.ndarray:
  """uint8 passes through; floats in [-1, 1] map to round((x + 1) * 127.5), clipped (NaN -> 0)."""
  x = np.asarray(images)
  if x.dtype == np.uint8:
    return x
  x = np.nan_to_num(x.astype(np.float32), nan=-1.0)
  return np.clip(np.round((x + 1.0) * 127.5), 0, 255).astype(np.uint8)


def image_grid(images: Any, nrow: int | None = None, padding: int = 2, pad_value: int = 255) -> np.ndarray:
  """Tiles N images (NxHxWxC or NxHxW) into one uint8 HxWxC array, `nrow` images per row.

  Layout as torchvision's make_grid: `padding` pixels around every tile, so the grid is
  rows*(H+p)+p by nrow*(W+p)+p; nrow defaults to ceil(sqrt(N)).
  """
  x = images_to_uint8(images)
  if x.ndim == 3:
    x = x[..., None]
  if x.ndim != 4 or x.shape[0] == 0:
    raise ValueError(f"expected N>0 images as NxHxWxC or NxHxW, got shape {x.shape}")
  n, h, w, c = x.shape
  ncol = nrow or math.ceil(math.sqrt(n))
  rows = math.ceil(n / ncol)
  grid = np.full((rows * (h + padding) + padding, ncol * (w + padding) + padding, c), pad_value, np.uint8)
  for i in range(n):
    r, col = divmod(i, ncol)
    y0, x0 = padding + r * (h + padding), padding + col * (w + padding)
    grid[y0:y0 + h, x0:x0 + w] = x[i]
  return grid


def add_caption(grid: np.ndarray, caption: str) -> np.ndarray:
  """A uint8 HxWxC image with a white strip above it holding `caption` in black (Pillow's built-in font)."""
  from PIL import Image, ImageDraw  # noqa: PLC0415

  h, w, c = grid.shape
  strip = Image.new("L" if c == 1 else "RGB", (w, 14), 255 if c == 1 else (255, 255, 255))
  ImageDraw.Draw(strip).text((2, 1), caption, fill=0 if c == 1 else (0, 0, 0))
  top = np.asarray(strip)
  top = top[..., None] if top.ndim == 2 else top
  return np.concatenate([top.astype(np.uint8), grid[..., :top.shape[-1]]], axis=0)


def save_image_grid(images: Any, path: str | os.PathLike, nrow: int | None = None, padding: int = 2,
                    pad_value: int = 255, caption: str = "") -> np.ndarray:
  """Writes `image_grid(images, ...)` (with `caption` above it, when given) as a PNG (grayscale for C=1, RGB for
  C=3) and returns the grid."""
  from PIL import Image  # noqa: PLC0415  (PIL only where images are written)

  grid = image_grid(images, nrow, padding, pad_value)
  if grid.shape[-1] not in (1, 3, 4):
    raise ValueError(f"cannot write {grid.shape[-1]}-channel images as PNG")
  if caption and grid.shape[-1] in (1, 3):
    grid = add_caption(grid, caption)
  pil = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)
  os.makedirs(os.path.dirname(os.path.abspath(os.fspath(path))), exist_ok=True)
  pil.save(os.fspath(path), format="PNG")
  return grid


def read_png(path: str | os.PathLike) -> np.ndarray:
  """A PNG as a uint8 HxWxC array (C = 1 for grayscale, 3 or 4 as stored; palettes become RGB(A))."""
  from PIL import Image  # noqa: PLC0415

  with Image.open(os.fspath(path)) as im:
    if im.mode not in ("L", "RGB", "RGBA"):
      im = im.convert("RGBA" if "A" in im.getbands() or "transparency" in im.info else "RGB")
    x = np.asarray(im)
  return x[..., None] if x.ndim == 2 else x


# ---------------------------------------------------------------------------------------------------------------
# Loss curves.

LOSS_KEYS = ("d_loss", "g_loss")
# Names under which a step may report the mean discriminator output on real and generated samples.
D_REAL_KEYS = ("d_real", "D(x)", "d_x", "d_real_prob")
D_FAKE_KEYS = ("d_fake", "D(G(z))", "d_g_z", "d_fake_prob")


def _series(rows: Iterable[Mapping[str, Any]], key: str) -> tuple[np.ndarray, np.ndarray]:
  pts = [(r["step"], r[key]) for r in rows if isinstance(r.get(key), (int, float))]
  if not pts:
    return np.zeros(0), np.zeros(0)
  steps, values = zip(*sorted(pts))
  return np.asarray(steps, np.float64), np.asarray(values, np.float64)


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
  """Trailing mean over `window` points (shorter at the start), NaNs ignored."""
  finite = np.isfinite(values)
  csum = np.concatenate([[0.0], np.cumsum(np.where(finite, values, 0.0))])
  ccnt = np.concatenate([[0], np.cumsum(finite)])
  hi = np.arange(1, len(values) + 1)
  lo = np.maximum(hi - window, 0)
  cnt = ccnt[hi] - ccnt[lo]
  return np.where(cnt > 0, (csum[hi] - csum[lo]) / np.maximum(cnt, 1), np.nan)


def plot_losses(jsonl_path: str | os.PathLike, png_path: str | os.PathLike,
                loss_keys: Sequence[str] = LOSS_KEYS, title: str | None = None) -> list[str]:
  """Plots loss curves (and D(x), D(G(z)) if logged) from metrics.jsonl vs step into a PNG.

  Raw values are drawn faintly, with a trailing mean over ~1% of the points on top. Returns the keys plotted.
  """
  from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415  (no pyplot: no global backend)
  from matplotlib.figure import Figure  # noqa: PLC0415

  rows = read_metrics(os.fspath(jsonl_path))
  present = {k for r in rows for k in r}
  prob_keys = [k for k in (next((k for k in D_REAL_KEYS if k in present), None),
                           next((k for k in D_FAKE_KEYS if k in present), None)) if k]
  panels = [[k for k in loss_keys if k in present], prob_keys]
  panels = [p for p in panels if p]
  if not panels:
    raise ValueError(f"{jsonl_path} has none of the keys {list(loss_keys) + list(D_REAL_KEYS + D_FAKE_KEYS)}")

  fig = Figure(figsize=(8, 3.2 * len(panels)), dpi=100)
  FigureCanvasAgg(fig)
  plotted = []
  for i, keys in enumerate(panels):
    ax = fig.add_subplot(len(panels), 1, i + 1)
    for j, key in enumerate(keys):
      steps, values = _series(rows, key)
      color = f"C{j}"
      window = max(1, len(values) // 100)
      if window > 1:
        ax.plot(steps, values, color=color, alpha=0.25, linewidth=0.6)
        ax.plot(steps, _smooth(values, window), color=color, linewidth=1.4, label=f"{key} (mean of {window})")
      else:
        ax.plot(steps, values, color=color, linewidth=1.2, label=key)
      plotted.append(key)
    ax.set_ylabel("loss" if i == 0 and keys[0] in loss_keys else "D output")
    if keys == prob_keys and all(np.nanmin(_series(rows, k)[1]) >= 0 and np.nanmax(_series(rows, k)[1]) <= 1
                                 for k in keys):
      ax.set_ylim(-0.02, 1.02)  # probabilities: keep the full range so 0.5 reads as "D is guessing"
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize="small")
  fig.axes[-1].set_xlabel("step")
  if title:
    fig.axes[0].set_title(title)
  fig.tight_layout()
  fig.savefig(os.fspath(png_path), format="png")
  return plotted


# ---------------------------------------------------------------------------------------------------------------
# Progress.


def _fmt_duration(seconds: float) -> str:
  if not math.isfinite(seconds):
    return "?"
  seconds = int(round(seconds))
  h, rem = divmod(seconds, 3600)
  m, s = divmod(rem, 60)
  return f"{h}:{m:02d}:{s:02d}"


def _fmt_value(v: Any) -> str:
  if isinstance(v, str):
    return v
  try:
    f = _to_float(v)
  except (TypeError, ValueError):
    return str(v)
  return f"{f:.4g}"


class ProgressBar:
  """A tqdm bar over training steps showing losses, img/s and ETA; `update(n, d_loss=..., g_loss=...)`.

  When its stream is not a TTY (a log file, a pipe) and this is not a notebook, the bar is disabled and every
  `print_every`-th update (and the last) prints one plain line instead:
  `step 1200/10000 (12.0%) d_loss=1.23 g_loss=0.88 | 3100 img/s | ETA 0:04:12`.
  """

  def __init__(self, total: int, initial: int = 0, *, batch_size: int | None = None, print_every: int = 10,
               file: TextIO | None = None, disable: bool | None = None, desc: str = "train"):
    from tqdm.auto import tqdm  # noqa: PLC0415

    self.total, self.step = int(total), int(initial)
    self.batch_size = batch_size
    self.print_every = max(1, int(print_every))
    self.file = file if file is not None else sys.stderr
    if disable is None:
      disable = not (_isatty(self.file) or _in_notebook())
    self.disabled = disable
    self._start_time, self._start_step = time.perf_counter(), self.step
    self._updates = 0
    self._postfix: dict[str, str] = {}
    self._bar = tqdm(total=self.total, initial=self.step, desc=desc, unit="step", file=self.file,
                     disable=disable, dynamic_ncols=True, smoothing=0.1)

  def rates(self) -> tuple[float, float]:
    """(steps/s, seconds left) averaged since this bar was created."""
    elapsed = time.perf_counter() - self._start_time
    done = self.step - self._start_step
    rate = done / elapsed if elapsed > 0 and done > 0 else 0.0
    eta = (self.total - self.step) / rate if rate > 0 else math.inf
    return rate, eta

  def update(self, n: int = 1, **postfix: Any) -> None:
    self.step += int(n)
    self._updates += 1
    self._postfix = {k: _fmt_value(v) for k, v in postfix.items()}
    rate, eta = self.rates()
    if self.batch_size:
      self._postfix["img/s"] = f"{rate * self.batch_size:.0f}"
    if not self.disabled:
      self._bar.set_postfix(self._postfix, refresh=False)
      self._bar.update(n)
    elif self._updates % self.print_every == 0 or self.step >= self.total:
      self.file.write(self.status_line(rate, eta) + "\n")
      self.file.flush()

  def status_line(self, rate: float | None = None, eta: float | None = None) -> str:
    if rate is None or eta is None:
      rate, eta = self.rates()
    pct = 100.0 * self.step / self.total if self.total else 100.0
    parts = [f"step {self.step}/{self.total} ({pct:.1f}%)"]
    losses = " ".join(f"{k}={v}" for k, v in self._postfix.items() if k != "img/s")
    if losses:
      parts[0] += " " + losses
    if self.batch_size:
      parts.append(f"{rate * self.batch_size:.0f} img/s")
    else:
      parts.append(f"{rate:.2f} step/s")
    parts.append(f"ETA {_fmt_duration(eta)}")
    return " | ".join(parts)

  def close(self) -> None:
    self._bar.close()

  def __enter__(self) -> ProgressBar:
    return self

  def __exit__(self, *exc: object) -> None:
    self.close()


def _in_notebook() -> bool:
  """True inside Jupyter/Colab, whose output streams are not TTYs but render tqdm's widget."""
  shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
  return type(shell).__name__ in ("ZMQInteractiveShell", "Shell")  # Shell: Colab's kernel


def _isatty(stream: Any) -> bool:
  try:
    return bool(stream.isatty())
  except (AttributeError, ValueError):
    return False


def save_points_plot(points: Any, path: str | os.PathLike, title: str | None = None) -> None:
  """Scatter plot PNG of 2-D samples (the picture of a 2-D mixture run)."""
  from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
  from matplotlib.figure import Figure  # noqa: PLC0415
  pts = np.asarray(points, np.float32).reshape(-1, 2)
  fig = Figure(figsize=(4, 4), dpi=100)
  FigureCanvasAgg(fig)
  ax = fig.add_subplot(1, 1, 1)
  ax.scatter(pts[:, 0], pts[:, 1], s=2, alpha=0.5)
  ax.set_aspect("equal")
  if title:
    ax.set_title(title)
  fig.tight_layout()
  fig.savefig(os.fspath(path))

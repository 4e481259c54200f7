"""Writes tests/data/ada_golden.npz from NVIDIA's own ADA pipeline (training/augment.py of stylegan2-ada-pytorch).

Usage (torch venv, NVIDIA's unmodified files beside it):
  python scripts/make_ada_golden.py [--nvidia=../shared/bench/stylegan2_ada_pytorch] [tests/data/ada_golden.npz]

Method: NVIDIA's AugmentPipe is run unmodified; only the name `torch` inside its module is replaced by a proxy whose
`rand` and `randn` return numbers from a seeded NumPy generator (every other attribute is torch's own) and record
them in call order with their shapes. The file stores, per case, the input images (NHWC), p, the recorded draws
(`draw_0`, `draw_1`, … with `kinds` "u"/"n"), NVIDIA's output (NHWC) and, for some cases, NVIDIA's gradient of
Σ output·w for a fixed random w. Each case's seed is the first (from a fixed list) for which every sample of
the batch is visibly changed, so no case is trivially the identity. tests/test_ada.py feeds the same draws to
jaxgan.ada.matrices/apply — after checking that jaxgan's own draw order (`ada.draw_calls`) asks for the same
kinds and shapes — so both sides run on identical random numbers and need no torch at test time.
"""
import argparse
import os
import sys
import warnings

import numpy as np

from _nvidia_stubs import stub_unused_imports

SINGLE = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac",
          "brightness", "contrast", "lumaflip", "hue", "saturation")
PIPES = {
    "blit": dict(xflip=1, rotate90=1, xint=1),
    "geom": dict(scale=1, rotate=1, aniso=1, xfrac=1),
    "color": dict(brightness=1, contrast=1, lumaflip=1, hue=1, saturation=1),
}
PIPES["bgc"] = {**PIPES["blit"], **PIPES["geom"], **PIPES["color"]}


class RecordingTorch:
  """`torch` with rand/randn drawn from a NumPy generator and recorded."""

  def __init__(self, torch, rng):
    self._torch, self._rng, self.calls = torch, rng, []

  def __getattr__(self, name):
    return getattr(self._torch, name)

  def _draw(self, kind, shape, device=None):
    shape = tuple(int(s) for s in shape)
    v = (self._rng.random(shape) if kind == "u" else self._rng.standard_normal(shape)).astype(np.float32)
    self.calls.append((kind, v))
    return self._torch.from_numpy(v.copy()).to(device or "cpu")

  def rand(self, shape, device=None):
    return self._draw("u", shape, device)

  def randn(self, shape, device=None):
    return self._draw("n", shape, device)


def main():
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  here = os.path.dirname(os.path.abspath(__file__))
  ap.add_argument("--nvidia", default=os.path.join(here, "..", "..", "shared", "bench", "stylegan2_ada_pytorch"))
  ap.add_argument("out", nargs="?", default=os.path.join(here, "..", "tests", "data", "ada_golden.npz"))
  a = ap.parse_args()
  if not os.path.isfile(os.path.join(a.nvidia, "training", "augment.py")):
    sys.exit(f"error: NVIDIA's training/augment.py not found under {a.nvidia}")
  sys.path.insert(0, os.path.abspath(a.nvidia))
  stub_unused_imports()
  import torch
  warnings.filterwarnings("ignore")
  from training import augment as nv

  torch.set_default_dtype(torch.float32)
  out = {}
  rng = np.random.default_rng(0)

  def case(name, images_nhwc, pipe_kw, p, grad=False):
    # Draw seeds until at least one sample is visibly transformed (x-flip, luma flip, … apply to about half).
    for seed in range(1000 + 100 * len(names), 1000 + 100 * len(names) + 100):
      rec = RecordingTorch(torch, np.random.default_rng(seed))
      nv.torch = rec
      try:
        pipe = nv.AugmentPipe(**pipe_kw)
        pipe.p.copy_(torch.as_tensor(p))
        x = torch.from_numpy(np.ascontiguousarray(images_nhwc.transpose(0, 3, 1, 2))).requires_grad_(grad)
        y = pipe(x)
      finally:
        nv.torch = torch
      if (y.detach() - x.detach()).abs().amax(dim=(1, 2, 3)).min() > 1e-2:
        break
    out[f"{name}/x"] = images_nhwc
    out[f"{name}/p"] = np.float32(p)
    out[f"{name}/pipe"] = np.asarray(",".join(f"{k}={float(v)!r}" for k, v in sorted(pipe_kw.items())))
    out[f"{name}/kinds"] = np.asarray("".join(k for k, _ in rec.calls))
    for i, (_, v) in enumerate(rec.calls):
      out[f"{name}/draw_{i}"] = v
    out[f"{name}/y"] = y.detach().numpy().transpose(0, 2, 3, 1).astype(np.float32)
    if grad:
      w = rng.standard_normal(tuple(y.shape)).astype(np.float32)
      (y * torch.from_numpy(w)).sum().backward()
      out[f"{name}/w"] = w.transpose(0, 2, 3, 1)
      out[f"{name}/dx"] = x.grad.numpy().transpose(0, 2, 3, 1).astype(np.float32)
    names.append(name)

  names = []
  rgb = rng.uniform(-1, 1, (4, 16, 16, 3)).astype(np.float32)
  gray = rng.uniform(-1, 1, (4, 16, 16, 1)).astype(np.float32)
  wide = rng.uniform(-1, 1, (3, 12, 20, 3)).astype(np.float32)
  for t in SINGLE:
    case(f"rgb_{t}", rgb, {t: 1}, 1.0)
  case("rgb_bgc", rgb, PIPES["bgc"], 1.0, grad=True)
  case("rgb_bgc_p0.5", rgb, PIPES["bgc"], 0.5)
  case("rgb_blit_p0.3", rgb, PIPES["blit"], 0.3)
  case("rgb_geom", rgb, PIPES["geom"], 1.0, grad=True)
  for t in ("brightness", "contrast", "lumaflip"):
    case(f"gray_{t}", gray, {t: 1}, 1.0)
  case("gray_bgc", gray, PIPES["bgc"], 1.0, grad=True)
  case("wide_bgc", wide, PIPES["bgc"], 1.0)
  # Strong zoom-out and rotation: the batch margin clamps at size − 1 and samples fall outside (zeros).
  case("rgb_zoomout", rgb, dict(scale=1, rotate=1, scale_std=1.5), 1.0, grad=True)
  out["cases"] = np.asarray(",".join(names))
  out["torch_version"] = np.asarray(torch.__version__)
  os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
  np.savez_compressed(a.out, **out)
  print(f"wrote {a.out}: {len(names)} cases, {os.path.getsize(a.out) / 1024:.0f} KiB (torch {torch.__version__})")


if __name__ == "__main__":
  main()

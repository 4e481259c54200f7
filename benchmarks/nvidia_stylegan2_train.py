"""Train NVIDIA's own StyleGAN2-ADA for N steps with a jaxgan preset's hyperparameters, to tell a jaxgan bug from a
recipe that fails: one process, NVIDIA's unmodified networks and loss (`--peer`, e.g. ../shared/bench/
stylegan2_ada_pytorch), the phases of its training loop as that folder's driver runs them (Gmain, Greg every 4,
Dmain, Dreg every 16, the lazy-interval Adam correction, nan_to_num, G_ema with its ramp), no augmentation.

Run it with the torch venv (torch, numpy and Pillow; never jaxgan's):

  python benchmarks/nvidia_stylegan2_train.py --peer=../shared/bench/stylegan2_ada_pytorch \\
      --images=mnist32.npz --steps=2000 --out=/tmp/nv_mnist [--cbase=512 --cmax=64 --z_dim=64 --lr=0.0025]

--images: an .npz with `images` uint8 N×H×W×C (square, a power of two); the digits of `stylegan2_mnist`, padded to
32 px, with jaxgan's venv:

  python -c "import numpy as np; from jaxgan.data.embedded import load_mnist_5k; \\
      np.savez('mnist32.npz', images=np.pad(load_mnist_5k()[0], ((0, 0), (2, 2), (2, 2), (0, 0))))"

Every --every steps it writes the EMA G's grid of 64 fixed latents (ema_<step>.png) and prints the pixel std
across those latents (a collapsed G draws one picture: std near 0; MNIST padded to 32 px has 0.30); at the end
`samples.npz` (5,000 EMA samples, uint8, cropped by --crop pixels per side) for
`scripts/evaluate.py --samples=... --metric=mnist_fd`.
"""
import argparse
import copy
import os
import sys
import time
import types

import numpy as np


def main():
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--peer", required=True, help="folder holding NVIDIA's dnnlib/, torch_utils/ and training/")
  p.add_argument("--images", required=True)
  p.add_argument("--out", required=True)
  p.add_argument("--steps", type=int, default=1000)
  p.add_argument("--every", type=int, default=250)
  p.add_argument("--batch", type=int, default=32)
  p.add_argument("--cbase", type=int, default=512)
  p.add_argument("--cmax", type=int, default=64)
  p.add_argument("--z_dim", type=int, default=64, help="z and w dimension")
  p.add_argument("--map", type=int, default=2)
  p.add_argument("--mbstd", type=int, default=4)
  p.add_argument("--lr", type=float, default=0.0025)
  p.add_argument("--gamma", type=float, default=None, help="R1 γ (default NVIDIA's auto 0.0002·res²/batch)")
  p.add_argument("--pl_weight", type=float, default=2.0)
  p.add_argument("--style_mixing", type=float, default=0.9)
  p.add_argument("--crop", type=int, default=2, help="pixels cut from each side of the saved samples (MNIST: 2)")
  p.add_argument("--threads", type=int, default=1)
  p.add_argument("--seed", type=int, default=0)
  a = p.parse_args()

  sys.path.insert(0, os.path.abspath(a.peer))
  sys.modules.setdefault("requests", types.ModuleType("requests"))  # imported by dnnlib, unused here
  import torch
  from PIL import Image
  from torch_utils import misc
  from training import loss as loss_lib, networks

  torch.set_num_threads(a.threads)
  torch.manual_seed(a.seed)
  images = np.load(a.images)["images"]
  if images.ndim == 3:
    images = images[..., None]
  n, res, _, ch = images.shape
  reals = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
  os.makedirs(a.out, exist_ok=True)
  B = a.batch
  common = dict(channel_base=a.cbase, channel_max=a.cmax, num_fp16_res=0, conv_clamp=None)
  G = networks.Generator(z_dim=a.z_dim, c_dim=0, w_dim=a.z_dim, img_resolution=res, img_channels=ch,
                         mapping_kwargs=dict(num_layers=a.map), synthesis_kwargs=common).train().requires_grad_(False)
  D = networks.Discriminator(c_dim=0, img_resolution=res, img_channels=ch,
                             epilogue_kwargs=dict(mbstd_group_size=a.mbstd), **common).train().requires_grad_(False)
  G_ema = copy.deepcopy(G).eval()
  gamma = a.gamma if a.gamma is not None else 0.0002 * res ** 2 / B
  loss = loss_lib.StyleGAN2Loss(device="cpu", G_mapping=G.mapping, G_synthesis=G.synthesis, D=D, augment_pipe=None,
                                style_mixing_prob=a.style_mixing, r1_gamma=gamma, pl_weight=a.pl_weight)
  phases = []
  for name, module, interval in [("G", G, 4), ("D", D, 16)]:
    mb = interval / (interval + 1)
    opt = torch.optim.Adam(module.parameters(), lr=a.lr * mb, betas=[0 ** mb, 0.99 ** mb], eps=1e-8)
    phases += [dict(name=name + "main", module=module, opt=opt, interval=1),
               dict(name=name + "reg", module=module, opt=opt, interval=interval)]
  c0 = torch.zeros([B, 0])
  z_grid = torch.randn([64, a.z_dim])

  def to_uint8(x):
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()

  def grid(step):
    with torch.no_grad():
      x = G_ema(z_grid, torch.zeros([64, 0]), noise_mode="const")
    u = to_uint8(x)
    g = u.reshape(8, 8, res, res, ch).transpose(0, 2, 1, 3, 4).reshape(8 * res, 8 * res, ch)
    Image.fromarray(g[..., 0] if ch == 1 else g).save(os.path.join(a.out, f"ema_{step:06d}.png"))
    std = float((u.astype(np.float32) / 127.5 - 1).std(0).mean())
    print(f"step {step}: pixel std across latents {std:.3f}  ({time.time() - t0:.0f} s)", flush=True)

  t0 = time.time()
  for idx in range(a.steps + 1):
    if idx % a.every == 0 or idx == a.steps:
      grid(idx)
    if idx == a.steps:
      break
    real = reals[torch.randint(n, [B])].float() / 127.5 - 1
    for ph, z in zip(phases, torch.randn([len(phases) * B, a.z_dim]).split(B)):
      if idx % ph["interval"]:
        continue
      ph["opt"].zero_grad(set_to_none=True)
      ph["module"].requires_grad_(True)
      loss.accumulate_gradients(phase=ph["name"], real_img=real, real_c=c0, gen_z=z, gen_c=c0, sync=True,
                                gain=ph["interval"])
      ph["module"].requires_grad_(False)
      for q in ph["module"].parameters():
        if q.grad is not None:
          misc.nan_to_num(q.grad, nan=0, posinf=1e5, neginf=-1e5, out=q.grad)
      ph["opt"].step()
    ema_nimg = min(B * 10 / 32 * 1000, idx * B * 0.05)
    beta = 0.5 ** (B / max(ema_nimg, 1e-8))
    with torch.no_grad():
      for pe, pg in zip(G_ema.parameters(), G.parameters()):
        pe.copy_(pg.lerp(pe, beta))
      for be, bg in zip(G_ema.buffers(), G.buffers()):
        be.copy_(bg)
  with torch.no_grad():
    xs = [to_uint8(G_ema(torch.randn([500, a.z_dim]), torch.zeros([500, 0]), noise_mode="const")) for _ in range(10)]
  x = np.concatenate(xs)
  if a.crop:
    x = x[:, a.crop:-a.crop, a.crop:-a.crop]
  np.savez(os.path.join(a.out, "samples.npz"), images=x)
  print(f"wrote {os.path.join(a.out, 'samples.npz')} ({len(x)} samples)", flush=True)


if __name__ == "__main__":
  main()

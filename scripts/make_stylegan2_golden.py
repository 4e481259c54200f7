"""Writes tests/data/stylegan2_golden.npz from NVIDIA's own StyleGAN2-ADA code (needs torch, not jaxgan).

Usage (a venv with torch and numpy; NVIDIA's files in ../shared/bench/stylegan2_ada_pytorch):

  /work/torchvenv/bin/python scripts/make_stylegan2_golden.py [--nvidia=DIR] [--out=tests/data/stylegan2_golden.npz]

NVIDIA's modules are imported unmodified and run on the CPU (their reference ops). Networks are tiny (res 32,
channel_base 128, channel_max 16, z = w = 16, 2 mapping layers), built by NVIDIA's constructors under a fixed torch
seed; then every parameter is perturbed (biases, noise strengths and w_avg would otherwise be 0 and test nothing).
The file holds, all in jaxgan's layout (NHWC images, HWIO kernels) except the state dicts, which keep NVIDIA's
names and layouts so that the test also checks `jaxgan.models.stylegan2.from_nvidia`:

  upf/<i>/{x, f, y, args}         upfirdn2d cases; args = (up_x, up_y, down_x, down_y, x0, x1, y0, y1, flip, gain)
  modconv/<i>/{x, w, styles, noise, y, args}   modulated_conv2d, args = (demodulate, up, has_noise)
  G/sd/<name>, Gc/sd/<name>       state dicts of an unconditional RGB G and a class-conditional (3 classes)
                                  greyscale G with conv_clamp = 1; G/config, Gc/config = (res, channels, z, w,
                                  map layers, channel base, channel max, classes, conv clamp or −1)
  <G>/mapping/{z, c, ws, ws_trunc, psi, cutoff, w_avg_after}   mapping: plain; truncated (ψ, cutoff); w_avg after
                                  one training-mode call on z
  <G>/synthesis/{ws, img_const, noise_<k>, img_random}   ws with different rows per layer; const noise; the
                                  per-sample noise NVIDIA drew (recorded) and the image with it
  D/sd, Do/sd, Dc/sd              resnet RGB D, orig RGB D, resnet conditional greyscale D (conv_clamp 1)
  <D>/{x, labels, logits, config} (Do reads D/x) x in jaxgan's order: NVIDIA's strided minibatch-stddev groups are matched by
                                  feeding NVIDIA the batch permuted (`mbstd_permutation`) and un-permuting its output
  r1/{gamma, penalty, img_grad, grad/<name>}   R1 on D at D/x: per-sample ‖∇x D‖², ∇x, and the gradient of
                                  mean(penalty)·γ/2 with respect to D's parameters (NVIDIA names and layouts)
  pl/{z, noise, pl_mean_before, decay, weight, lengths, pl_mean, penalty, grad/<name>}   path length on G (const
                                  noise): lengths, the updated mean, penalties, and ∇ of mean(penalty)·weight
"""
import argparse
import contextlib
import os
import sys

import numpy as np

from _nvidia_stubs import stub_unused_imports

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_NVIDIA = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "bench", "stylegan2_ada_pytorch"))
SEED = 1234


def _import_nvidia(path):
  if not os.path.isfile(os.path.join(path, "training", "networks.py")):
    sys.exit(f"error: NVIDIA's stylegan2-ada-pytorch files not found in {path} (--nvidia=DIR)")
  sys.path.insert(0, path)
  stub_unused_imports()
  from training import networks
  from torch_utils.ops import upfirdn2d
  return networks, upfirdn2d


def nhwc(t):
  return np.ascontiguousarray(t.detach().cpu().numpy().transpose(0, 2, 3, 1)).astype(np.float32)


def nchw(a):
  import torch
  return torch.from_numpy(np.ascontiguousarray(np.asarray(a, np.float32).transpose(0, 3, 1, 2)))


def mbstd_permutation(batch, group):
  """perm with NVIDIA's batch = jaxgan's batch[perm]: NVIDIA's group j holds samples j, j + n, … (n = B/G);
  jaxgan's group j holds samples j·G … j·G + G − 1."""
  g = min(group, batch)
  n = batch // g
  return np.array([(p % n) * g + p // n for p in range(batch)])


def perturb(module, torch, scale=0.2):
  with torch.no_grad():
    for _, p in module.named_parameters():
      p.add_(torch.randn_like(p) * scale)


def state_dict(module):
  return {k: v.detach().cpu().numpy().astype(np.float32) for k, v in module.state_dict().items()}


@contextlib.contextmanager
def recording_randn(torch, record):
  """torch.randn, its results appended to `record` (NVIDIA's synthesis draws its per-sample noise with it)."""
  orig = torch.randn

  def randn(*args, **kw):
    out = orig(*args, **kw)
    record.append(out.detach().clone())
    return out
  torch.randn = randn
  try:
    yield
  finally:
    torch.randn = orig


def main():
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("--nvidia", default=DEFAULT_NVIDIA)
  ap.add_argument("--out", default=os.path.join(HERE, "..", "tests", "data", "stylegan2_golden.npz"))
  a = ap.parse_args()
  import torch
  networks, upf = _import_nvidia(a.nvidia)
  torch.manual_seed(SEED)
  rng = np.random.default_rng(SEED)
  out = {}

  # -- upfirdn2d ---------------------------------------------------------------------------------------------
  f4 = [1, 3, 3, 1]
  cases = [  # (x shape NHWC, filter taps, up, down, padding (x0, x1, y0, y1), flip, gain)
      ((2, 8, 8, 3), np.outer(f4, f4) / 64.0, (2, 2), (1, 1), (2, 1, 2, 1), 0, 4.0),      # upsample2d
      ((2, 8, 8, 3), np.outer(f4, f4) / 64.0, (1, 1), (2, 2), (1, 1, 1, 1), 0, 1.0),      # downsample2d
      ((2, 9, 9, 4), np.outer(f4, f4) / 64.0, (1, 1), (1, 1), (1, 1, 1, 1), 0, 4.0),      # FIR after up-conv
      ((1, 7, 6, 2), np.array([1.0, 2.0, 4.0, 1.0, 0.5]), (2, 3), (1, 2), (3, 1, -1, 2), 1, 1.5),  # separable
      ((2, 6, 7, 2), rng.normal(size=(3, 4)), (1, 2), (2, 1), (0, 2, 1, -1), 0, 1.0),      # non-separable 2-D
      ((1, 5, 5, 1), rng.normal(size=(2, 2)), (3, 3), (2, 2), (1, 0, 0, 1), 1, 2.0),
  ]
  for i, (shape, f, up, down, pad, flip, gain) in enumerate(cases):
    x = rng.normal(size=shape).astype(np.float32)
    ft = torch.as_tensor(np.asarray(f, np.float32))
    y = upf.upfirdn2d(nchw(x), ft, up=list(up), down=list(down), padding=list(pad), flip_filter=bool(flip),
                      gain=gain, impl="ref")
    out[f"upf/{i}/x"], out[f"upf/{i}/f"], out[f"upf/{i}/y"] = x, np.asarray(f, np.float32), nhwc(y)
    out[f"upf/{i}/args"] = np.array(up + down + pad + (flip, gain), np.float32)

  # -- modulated conv ------------------------------------------------------------------------------------------
  fir = upf.setup_filter(f4)
  for i, (demod, up, noise) in enumerate([(1, 1, 0), (0, 1, 0), (1, 2, 1), (0, 2, 0), (1, 1, 1)]):
    b, h, cin, cout = 3, 6, 5, 4
    x = rng.normal(size=(b, h, h, cin)).astype(np.float32)
    w = rng.normal(size=(cout, cin, 3, 3)).astype(np.float32)
    s = (rng.normal(size=(b, cin)) * 0.5 + 1).astype(np.float32)
    n = rng.normal(size=(b, h * up, h * up, 1)).astype(np.float32) * 0.3 if noise else None
    y = networks.modulated_conv2d(x=nchw(x), weight=torch.from_numpy(w), styles=torch.from_numpy(s),
                                  noise=None if n is None else nchw(n), up=up, padding=1, resample_filter=fir,
                                  demodulate=bool(demod), flip_weight=(up == 1), fused_modconv=False)
    out[f"modconv/{i}/x"], out[f"modconv/{i}/w"], out[f"modconv/{i}/styles"] = x, w.transpose(2, 3, 1, 0), s
    out[f"modconv/{i}/noise"] = n if n is not None else np.zeros((0,), np.float32)
    out[f"modconv/{i}/y"], out[f"modconv/{i}/args"] = nhwc(y), np.array([demod, up, noise], np.float32)

  # -- generators ---------------------------------------------------------------------------------------------
  res, z_dim, w_dim, layers, base, cmax = 32, 16, 16, 2, 128, 16
  for tag, channels, c_dim, clamp in (("G", 3, 0, None), ("Gc", 1, 3, 1.0)):
    G = networks.Generator(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, img_resolution=res, img_channels=channels,
                           mapping_kwargs=dict(num_layers=layers),
                           synthesis_kwargs=dict(channel_base=base, channel_max=cmax, conv_clamp=clamp))
    G.train()
    perturb(G, torch)
    with torch.no_grad():
      G.mapping.w_avg.copy_(torch.randn([w_dim]) * 0.5)
    out[f"{tag}/config"] = np.array([res, channels, z_dim, w_dim, layers, base, cmax, c_dim,
                                     -1 if clamp is None else clamp], np.float32)
    for k, v in state_dict(G).items():
      out[f"{tag}/sd/{k}"] = v
    b = 2
    z = torch.randn([b, z_dim])
    labels = np.array([2, 1])[:b] % max(c_dim, 1)
    c = torch.from_numpy(np.eye(max(c_dim, 1), dtype=np.float32)[labels][:, :c_dim])
    with torch.no_grad():
      ws = G.mapping(z, c, skip_w_avg_update=True)
      psi, cutoff = 0.7, 5
      ws_t = G.mapping(z, c, truncation_psi=psi, truncation_cutoff=cutoff, skip_w_avg_update=True)
      M = G.mapping
      M.train()
      M(z, c)  # one training-mode call: w_avg moves towards the batch mean
      w_avg_after = M.w_avg.detach().numpy().copy()
    out[f"{tag}/mapping/z"], out[f"{tag}/mapping/labels"] = z.numpy(), labels.astype(np.int32)
    out[f"{tag}/mapping/ws"], out[f"{tag}/mapping/ws_trunc"] = ws.numpy(), ws_t.numpy()
    out[f"{tag}/mapping/psi"], out[f"{tag}/mapping/cutoff"] = np.float32(psi), np.int32(cutoff)
    out[f"{tag}/mapping/w_avg_after"] = w_avg_after
    ws_mix = torch.randn([b, G.num_ws, w_dim]) * 0.7 + ws
    with torch.no_grad():
      img_c = G.synthesis(ws_mix, noise_mode="const")
      record = []
      with recording_randn(torch, record):
        img_r = G.synthesis(ws_mix, noise_mode="random")
    out[f"{tag}/synthesis/ws"], out[f"{tag}/synthesis/img_const"] = ws_mix.numpy(), nhwc(img_c)
    out[f"{tag}/synthesis/img_random"] = nhwc(img_r)
    out[f"{tag}/synthesis/num_noise"] = np.int32(len(record))
    for k, n in enumerate(record):
      out[f"{tag}/synthesis/noise_{k}"] = nhwc(n)

  # -- discriminators -----------------------------------------------------------------------------------------
  x_rgb = rng.normal(size=(4, res, res, 3)).astype(np.float32)  # D's and Do's input (stored once, as D/x)
  for tag, channels, c_dim, arch, clamp, group in (("D", 3, 0, "resnet", None, 2), ("Do", 3, 0, "orig", None, 4),
                                                  ("Dc", 1, 3, "resnet", 1.0, 2)):
    D = networks.Discriminator(c_dim=c_dim, img_resolution=res, img_channels=channels, architecture=arch,
                               channel_base=base, channel_max=cmax, conv_clamp=clamp,
                               mapping_kwargs=dict(num_layers=layers), epilogue_kwargs=dict(mbstd_group_size=group))
    perturb(D, torch)
    b = 4
    x = x_rgb if channels == 3 else rng.normal(size=(b, res, res, channels)).astype(np.float32)
    labels = rng.integers(0, max(c_dim, 1), size=b).astype(np.int32)
    c = np.eye(max(c_dim, 1), dtype=np.float32)[labels][:, :c_dim]
    perm = mbstd_permutation(b, group)
    inv = np.argsort(perm)
    with torch.no_grad():
      logits = D(nchw(x[perm]), torch.from_numpy(c[perm]))[:, 0].numpy()[inv]
    out[f"{tag}/config"] = np.array([res, channels, c_dim, base, cmax, group, layers, -1 if clamp is None else clamp,
                                     arch == "resnet"], np.float32)
    for k, v in state_dict(D).items():
      out[f"{tag}/sd/{k}"] = v
    if tag != "Do":
      out[f"{tag}/x"] = x
    out[f"{tag}/labels"], out[f"{tag}/logits"] = labels, logits.astype(np.float32)
    if tag == "D":
      gamma = 0.5
      xt = nchw(x[perm]).requires_grad_(True)
      lo = D(xt, torch.from_numpy(c[perm]))
      g, = torch.autograd.grad(lo.sum(), [xt], create_graph=True)
      pen = g.square().sum([1, 2, 3])
      D.zero_grad(set_to_none=True)
      (pen * (gamma / 2)).mean().backward()
      out["r1/gamma"] = np.float32(gamma)  # on D/x
      out["r1/penalty"] = pen.detach().numpy()[inv].astype(np.float32)
      out["r1/img_grad"] = nhwc(g)[inv]
      for k, p in D.named_parameters():
        out[f"r1/grad/{k}"] = (np.zeros(p.shape, np.float32) if p.grad is None  # e.g. the output bias
                               else p.grad.numpy().astype(np.float32))

  # -- path length on G ---------------------------------------------------------------------------------------
  G = networks.Generator(z_dim=z_dim, c_dim=0, w_dim=w_dim, img_resolution=res, img_channels=3,
                         mapping_kwargs=dict(num_layers=layers), synthesis_kwargs=dict(channel_base=base,
                                                                                       channel_max=cmax))
  G.load_state_dict({k: torch.from_numpy(v[...]) for k, v in
                     ((k[len("G/sd/"):], out[k]) for k in out if k.startswith("G/sd/"))})
  G.train()
  b, decay, weight, pl_mean_before = 2, 0.01, 2.0, 0.6
  z = torch.randn([b, z_dim])
  ws = G.mapping(z, None, skip_w_avg_update=True)
  img = G.synthesis(ws, noise_mode="const")
  noise = torch.randn_like(img) / np.sqrt(img.shape[2] * img.shape[3])
  g, = torch.autograd.grad((img * noise).sum(), [ws], create_graph=True)
  lengths = g.square().sum(2).mean(1).sqrt()
  pl_mean = torch.as_tensor(pl_mean_before).lerp(lengths.mean(), decay)
  penalty = (lengths - pl_mean).square()  # as NVIDIA: the new mean is not detached here
  G.zero_grad(set_to_none=True)
  (penalty * weight).mean().backward()
  out.update({"pl/z": z.numpy(), "pl/noise": nhwc(noise), "pl/pl_mean_before": np.float32(pl_mean_before),
              "pl/decay": np.float32(decay), "pl/weight": np.float32(weight),
              "pl/lengths": lengths.detach().numpy(), "pl/pl_mean": np.float32(pl_mean.detach()),
              "pl/penalty": penalty.detach().numpy()})
  for k, p in G.named_parameters():
    out[f"pl/grad/{k}"] = np.zeros(p.shape, np.float32) if p.grad is None else p.grad.numpy().astype(np.float32)

  out = {k: np.asarray(v) for k, v in out.items()}
  os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
  np.savez_compressed(a.out, **out)
  size = os.path.getsize(a.out)
  print(f"wrote {a.out}: {len(out)} arrays, {size / 1024:.0f} KiB")
  if size > 1 << 20:
    sys.exit(f"error: {a.out} is {size} bytes, over the 1 MB limit for test data")


if __name__ == "__main__":
  main()

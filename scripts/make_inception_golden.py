"""Writes tests/data/inception_golden.npz from an independent PyTorch FID InceptionV3 (needs torch, not jaxgan).

Usage (torch venv):  python scripts/make_inception_golden.py [tests/data/inception_golden.npz]

The torch network below follows pytorch-fid's `fid_inception_v3()` (torchvision `Inception3` with FIDInceptionA/C/
E_1/E_2, 1008 classes, no aux head) module for module, so a real `pt_inception-2015-12-05-6726825d.pth` loads into
it with `strict=True`. It is filled with the same seeded stand-in weights as `jaxgan.metrics.inception.
random_torch_state` (the filler is re-implemented here so this script needs no JAX), run on fixed uint8 images
through pytorch-fid's preprocessing, and the file stores the images, the outputs and the state-dict key list.
"""
import json
import sys
import zlib

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

SEED = 0
IMAGE_SEED = 1


class BasicConv2d(nn.Module):

  def __init__(self, c_in, c_out, **kwargs):
    super().__init__()
    self.conv = nn.Conv2d(c_in, c_out, bias=False, **kwargs)
    self.bn = nn.BatchNorm2d(c_out, eps=0.001)

  def forward(self, x):
    return F.relu(self.bn(self.conv(x)))


def _tf_avg_pool(x):
  return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class FIDInceptionA(nn.Module):

  def __init__(self, c_in, pool_features):
    super().__init__()
    self.branch1x1 = BasicConv2d(c_in, 64, kernel_size=1)
    self.branch5x5_1 = BasicConv2d(c_in, 48, kernel_size=1)
    self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
    self.branch3x3dbl_1 = BasicConv2d(c_in, 64, kernel_size=1)
    self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
    self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
    self.branch_pool = BasicConv2d(c_in, pool_features, kernel_size=1)

  def forward(self, x):
    b1 = self.branch1x1(x)
    b5 = self.branch5x5_2(self.branch5x5_1(x))
    b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
    bp = self.branch_pool(_tf_avg_pool(x))
    return torch.cat([b1, b5, b3, bp], 1)


class InceptionB(nn.Module):

  def __init__(self, c_in):
    super().__init__()
    self.branch3x3 = BasicConv2d(c_in, 384, kernel_size=3, stride=2)
    self.branch3x3dbl_1 = BasicConv2d(c_in, 64, kernel_size=1)
    self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
    self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

  def forward(self, x):
    b3 = self.branch3x3(x)
    bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
    return torch.cat([b3, bd, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class FIDInceptionC(nn.Module):

  def __init__(self, c_in, channels_7x7):
    super().__init__()
    c7 = channels_7x7
    self.branch1x1 = BasicConv2d(c_in, 192, kernel_size=1)
    self.branch7x7_1 = BasicConv2d(c_in, c7, kernel_size=1)
    self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
    self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
    self.branch7x7dbl_1 = BasicConv2d(c_in, c7, kernel_size=1)
    self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
    self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
    self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
    self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
    self.branch_pool = BasicConv2d(c_in, 192, kernel_size=1)

  def forward(self, x):
    b1 = self.branch1x1(x)
    b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
    bd = self.branch7x7dbl_1(x)
    for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
      bd = layer(bd)
    bp = self.branch_pool(_tf_avg_pool(x))
    return torch.cat([b1, b7, bd, bp], 1)


class InceptionD(nn.Module):

  def __init__(self, c_in):
    super().__init__()
    self.branch3x3_1 = BasicConv2d(c_in, 192, kernel_size=1)
    self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
    self.branch7x7x3_1 = BasicConv2d(c_in, 192, kernel_size=1)
    self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
    self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
    self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

  def forward(self, x):
    b3 = self.branch3x3_2(self.branch3x3_1(x))
    b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
    return torch.cat([b3, b7, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class FIDInceptionE(nn.Module):
  """pool='avg': FIDInceptionE_1 (Mixed_7b); pool='max': FIDInceptionE_2 (Mixed_7c)."""

  def __init__(self, c_in, pool):
    super().__init__()
    self.pool = pool
    self.branch1x1 = BasicConv2d(c_in, 320, kernel_size=1)
    self.branch3x3_1 = BasicConv2d(c_in, 384, kernel_size=1)
    self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
    self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
    self.branch3x3dbl_1 = BasicConv2d(c_in, 448, kernel_size=1)
    self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
    self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
    self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
    self.branch_pool = BasicConv2d(c_in, 192, kernel_size=1)

  def forward(self, x):
    b1 = self.branch1x1(x)
    b3 = self.branch3x3_1(x)
    b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
    bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
    bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
    if self.pool == "max":
      pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
    else:
      pooled = _tf_avg_pool(x)
    bp = self.branch_pool(pooled)
    return torch.cat([b1, b3, bd, bp], 1)


class FIDInception3(nn.Module):
  """torchvision Inception3(num_classes=1008, aux_logits=False) with pytorch-fid's patched blocks."""

  def __init__(self):
    super().__init__()
    self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
    self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
    self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
    self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
    self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
    self.Mixed_5b = FIDInceptionA(192, pool_features=32)
    self.Mixed_5c = FIDInceptionA(256, pool_features=64)
    self.Mixed_5d = FIDInceptionA(288, pool_features=64)
    self.Mixed_6a = InceptionB(288)
    self.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
    self.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
    self.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
    self.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
    self.Mixed_7a = InceptionD(768)
    self.Mixed_7b = FIDInceptionE(1280, "avg")
    self.Mixed_7c = FIDInceptionE(2048, "max")
    self.fc = nn.Linear(2048, 1008)

  def forward(self, x):
    """x: Bx3xHxW in [0, 1] -> (pool3 Bx2048, logits Bx1008), pytorch-fid's preprocessing included."""
    x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
    x = 2 * x - 1
    x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
    x = F.max_pool2d(x, kernel_size=3, stride=2)
    x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
    x = F.max_pool2d(x, kernel_size=3, stride=2)
    for name in ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"):
      x = getattr(self, f"Mixed_{name}")(x)
    pool3 = F.adaptive_avg_pool2d(x, (1, 1)).flatten(1)
    return pool3, self.fc(pool3)


def random_state(names_shapes, seed):
  """Same filler as jaxgan.metrics.inception.random_torch_state (one RNG stream per tensor name)."""
  out = {}
  for name, shape in names_shapes:
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    if name.endswith("conv.weight"):
      v = rng.standard_normal(shape) * np.sqrt(2.0 / int(np.prod(shape[1:])))
    elif name == "fc.weight":
      v = rng.standard_normal(shape) / np.sqrt(shape[1])
    elif name.endswith("bn.weight"):
      v = rng.uniform(0.5, 1.5, shape)
    elif name.endswith("running_var"):
      v = rng.uniform(0.5, 2.0, shape)
    else:
      v = 0.1 * rng.standard_normal(shape)
    out[name] = torch.from_numpy(v.astype(np.float32))
  return out


def golden_images(seed):
  """Two 28x28x1 and one 32x32x3 uint8 images: smooth blobs plus noise, so the resize matters."""
  rng = np.random.default_rng(seed)
  yy, xx = np.mgrid[0:28, 0:28]
  blob = 255 * np.exp(-((yy - 14) ** 2 + (xx - 10) ** 2) / 40.0)
  gray = np.stack([blob, blob[::-1, ::-1]])[..., None] + rng.normal(0, 20, (2, 28, 28, 1))
  rgb = rng.integers(0, 256, (1, 32, 32, 3))
  return np.clip(gray, 0, 255).astype(np.uint8), rgb.astype(np.uint8)


def to_torch(images_NxHxWxC):
  x = torch.from_numpy(images_NxHxWxC).permute(0, 3, 1, 2).float() / 255.0
  return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


def main(out_path):
  torch.manual_seed(0)
  net = FIDInception3().eval()
  names_shapes = [(k, tuple(v.shape)) for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")]
  state = random_state(names_shapes, SEED)
  missing, unexpected = net.load_state_dict(state, strict=False)
  assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), (missing, unexpected)
  gray, rgb = golden_images(IMAGE_SEED)
  with torch.no_grad():
    pool_g, logits_g = net(to_torch(gray))
    pool_c, logits_c = net(to_torch(rgb))
  # Bare resizes, shrinking and growing, checking the interpolation formula beyond the 299 upsampling above.
  rng = np.random.default_rng(IMAGE_SEED)
  resize_in = rng.uniform(0, 1, (13, 11)).astype(np.float32)
  resize = {}
  for h, w in ((5, 7), (20, 30)):
    resize[f"resize_{h}x{w}"] = F.interpolate(torch.from_numpy(resize_in)[None, None], size=(h, w),
                                              mode="bilinear", align_corners=False)[0, 0].numpy()
  np.savez_compressed(
      out_path, seed=np.int64(SEED), images_gray=gray, images_rgb=rgb, resize_in=resize_in, **resize,
      pool3_gray=pool_g.numpy(), logits_gray=logits_g.numpy(),
      pool3_rgb=pool_c.numpy(), logits_rgb=logits_c.numpy(),
      torch_param_shapes=np.asarray(json.dumps(names_shapes)),
      torch_version=np.asarray(torch.__version__))
  print(f"wrote {out_path}: {len(names_shapes)} tensors, "
        f"{sum(int(np.prod(s)) for _, s in names_shapes)} numbers; "
        f"pool3 mean {pool_g.mean():.4f} max {pool_g.max():.4f}, logits std {logits_g.std():.4f}")


if __name__ == "__main__":
  main(sys.argv[1] if len(sys.argv) > 1 else "tests/data/inception_golden.npz")

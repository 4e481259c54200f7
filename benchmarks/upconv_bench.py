"""The stride-2 3x3 transposed conv of StyleGAN2's G on XLA:CPU, fwd+bwd: lhs-dilated conv vs four phase convs vs
nearest-up + conv. Self-contained (the phase code here is what became layers.conv_transpose_phases).

  nice -n 10 python benchmarks/upconv_bench.py
"""
import time, jax, jax.numpy as jnp, numpy as np
from jax import lax
DN=("NHWC","HWIO","NHWC")
x = jnp.asarray(np.random.default_rng(0).normal(size=(16,16,16,256)), jnp.float32)
w = jnp.asarray(np.random.default_rng(1).normal(size=(3,3,256,128)), jnp.float32)
def dil(x, w): return lax.conv_general_dilated(x, w, (1,1), ((2,2),(2,2)), lhs_dilation=(2,2), dimension_numbers=DN)
def plain(x, w):  # same-size conv at the output resolution (4x the MACs)
  xu = jnp.repeat(jnp.repeat(x, 2, 1), 2, 2)
  return lax.conv_general_dilated(xu, w, (1,1), ((1,1),(1,1)), dimension_numbers=DN)
def phase(x, w):
  # y[n] = sum_m x[m] w'[n-2m] with w' = w flipped (as dil computes); output (2H+1)
  wf = w[::-1, ::-1]
  B,H,W,C = x.shape
  xp = jnp.pad(x, ((0,0),(1,1),(1,1),(0,0)))
  ee = lax.conv_general_dilated(xp, wf[2::-2, 2::-2], (1,1), "VALID", dimension_numbers=DN)  # (H+1,W+1)
  eo = lax.conv_general_dilated(xp[:, :, 1:-1], wf[2::-2, 1:2], (1,1), "VALID", dimension_numbers=DN)  # (H+1, W)
  oe = lax.conv_general_dilated(xp[:, 1:-1], wf[1:2, 2::-2], (1,1), "VALID", dimension_numbers=DN)  # (H, W+1)
  oo = lax.conv_general_dilated(x, wf[1:2, 1:2], (1,1), "VALID", dimension_numbers=DN)
  eo = jnp.pad(eo, ((0,0),(0,0),(0,1),(0,0))); oe = jnp.pad(oe, ((0,0),(0,1),(0,0),(0,0))); oo = jnp.pad(oo, ((0,0),(0,1),(0,1),(0,0)))
  r0 = jnp.stack([ee, eo], 3); r1 = jnp.stack([oe, oo], 3)
  y = jnp.stack([r0, r1], 2).reshape(B, 2*H+2, 2*W+2, -1)
  return y[:, :2*H+1, :2*W+1]
print('phase err', float(jnp.abs(phase(x,w)-dil(x,w)).max()), float(jnp.abs(dil(x,w)).max()))
for name, f in (('lhs_dilation', dil), ('phase', phase), ('nearest-up + conv (4x MACs)', plain)):
  r = jnp.ones(jax.eval_shape(f, x, w).shape)
  fn = jax.jit(jax.value_and_grad(lambda x, w, r: jnp.sum(f(x, w) * r), argnums=(0, 1)))
  jax.block_until_ready(fn(x, w, r)); ts=[]
  for _ in range(8):
    t=time.perf_counter(); jax.block_until_ready(fn(x, w, r)); ts.append(time.perf_counter()-t)
  print(name, 'fwd+bwd ms', round(1e3*float(np.median(ts)),1), flush=True)

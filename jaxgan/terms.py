"""Loss terms: small pure functions `fn(inp, out) -> (float32 scalar, metrics)` that phases sum (objective.py).

`out` is what the phase's forward computed. The GAN objective's forwards (gan.py) give D's outputs as dicts:
  out["real"], out["fake"]  {"logits": [B], "classes": [B, C] (auxiliary classifier), "q": [B, ΣKᵢ] (InfoGAN)}
  out["z"]                  G's latents (the fakes' codes), out["labels"] the classes given to G and D
  out["d_of"]               x ↦ D's logits of samples x (through D's view), for gradient penalties
  out["real_x"], out["fake_x"]  the samples before D's view
Each factory takes its settings and returns the term's function.
"""
from typing import Callable

import jax
import jax.numpy as jnp
import optax

from jaxgan import losses


def class_xent(logits, labels):
  """Mean cross-entropy of class logits [B, C] against int labels [B] (float32)."""
  return optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), labels).mean()


def adversarial_d(loss: losses.GANLoss) -> Callable:
  """D's adversarial loss on real and fake logits; metrics d_loss, d_real = E σ(D(x)), d_fake = E σ(D(G(z)))."""
  def fn(inp, out):
    real, fake = out["real"]["logits"], out["fake"]["logits"]
    value = loss.d(real, fake)
    return value, {"d_loss": value, "d_real": jnp.mean(jax.nn.sigmoid(real.astype(jnp.float32))),
                   "d_fake": jnp.mean(jax.nn.sigmoid(fake.astype(jnp.float32)))}
  return fn


def adversarial_g(loss: losses.GANLoss) -> Callable:
  """G's adversarial loss on the fakes' logits."""
  return lambda inp, out: (loss.g(out["fake"]["logits"]), {})


def classify_d(inp, out):
  """AC-GAN (Odena et al. 2017): D's auxiliary classifier learns the classes of real and generated samples."""
  value = class_xent(out["real"]["classes"], out["labels"]) + class_xent(out["fake"]["classes"], out["labels"])
  return value, {"d_class_xent": value}


def classify_g(inp, out):
  """AC-GAN: G makes samples D's classifier assigns to their class."""
  return class_xent(out["fake"]["classes"], out["labels"]), {}


def info_xent(q, codes, sizes):
  """InfoGAN: the summed cross-entropy of Q's logits [B, ΣKᵢ] for the codes [B, n] of sizes Kᵢ (float32)."""
  total, start = jnp.zeros((), jnp.float32), 0
  for i, k in enumerate(sizes):
    total = total + class_xent(q[:, start:start + k], codes[:, i])
    start += k
  return total


def info(sizes, codes_of: Callable, metric: bool) -> Callable:
  """InfoGAN (Chen et al. 2016): Q (a head of D) reads G's categorical codes back from its samples; minimising
  the cross-entropy maximises a lower bound on the mutual information between codes and images. `codes_of(z)`
  reads the codes from G's latents; `metric` logs the value as info_xent."""
  def fn(inp, out):
    q = out["fake"]["q"]  # [B/pack, pack·ΣKᵢ] → one row per sample, in sample order
    value = info_xent(q.reshape(-1, sum(sizes)), codes_of(out["z"]), sizes)
    return value, ({"info_xent": value} if metric else {})
  return fn


def penalty(fn: Callable, pack: int) -> Callable:
  """A gradient penalty of regularizers.py on D (unweighted; the phase applies weight and lazy interval)."""
  def term(inp, out):
    value = fn(out["d_of"], out["d_params"], out["real_x"], out["fake_x"], out["penalty_key"], pack=pack,
               axis_name=inp.obj.axis_name).astype(jnp.float32)
    return value, {"d_penalty": value}
  return term

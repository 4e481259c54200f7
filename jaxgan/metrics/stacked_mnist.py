"""Stacked-MNIST mode count: the MNIST judge classifies each channel; a sample's mode is its digit triple.

  modes = #distinct predicted triples (of 1,000);  kl = KL(p_gen ‖ Uniform(1000)) over the triple histogram.
The KL splits exactly into two parts (the uniform target is a product of the three channels' uniforms):
  kl = kl_marginals + kl_dependence,  kl_marginals = Σ_c KL(p_c ‖ Uniform(10)) (each channel's digit balance),
  kl_dependence = KL(p_gen ‖ p_0 p_1 p_2) (how far the channels are from independent: triples missed or repeated).
`channel_class_ratio` is the largest / smallest digit count in the worst channel (∞ → None when a digit is missing);
`channel_counts` the three channels' digit counts ([3][10] ints), which say which digits a generator over- or
under-draws.
Protocol (PacGAN/VEEGAN): 26,000 samples. Reports carry `floor`: the same numbers for as many real stacked digits
(embedded training digits, `jaxgan.data.stacked`, seed 0), which shows what a perfect generator scores at this n.
"""
from typing import Any, Dict, Optional

import numpy as np

from jaxgan.data import stacked
from jaxgan.metrics import mixtures
from jaxgan.metrics import mnist_judge

PROTOCOL_N = 26000


def predicted_triples(images_Nx28x28x3: np.ndarray, judge: Optional[mnist_judge.MnistJudge] = None) -> np.ndarray:
  """Triple ids (100·d0 + 10·d1 + d2) of the judge's per-channel predictions."""
  images = np.asarray(images_Nx28x28x3)
  if images.ndim != 4 or images.shape[1:] != (28, 28, 3):
    raise ValueError(f"stacked MNIST needs images of shape (N, 28, 28, 3), got {images.shape}")
  judge = judge or mnist_judge.load_judge()
  n = images.shape[0]
  # Channels go through the judge as one batch of 3N single digits.
  _, logits = judge(np.moveaxis(images, -1, 1).reshape(n * 3, 28, 28, 1))
  return stacked.triple_ids(logits.argmax(axis=1).reshape(n, 3))


def triple_metrics(ids_N: np.ndarray) -> Dict[str, Any]:
  ids = np.asarray(ids_N)
  counts = np.bincount(ids, minlength=1000)
  digits_Nx3 = np.stack([ids // 100, ids // 10 % 10, ids % 10], axis=1)
  per_channel = [np.bincount(digits_Nx3[:, c], minlength=10) for c in range(3)]
  kl = mixtures.kl_to_uniform(counts)
  kl_marginals = float(sum(mixtures.kl_to_uniform(m) for m in per_channel))
  ratio = None if min(m.min() for m in per_channel) == 0 else float(max(m.max() / m.min() for m in per_channel))
  return {"modes": int((counts > 0).sum()), "kl": kl, "kl_marginals": kl_marginals,
          "kl_dependence": kl - kl_marginals, "channel_class_ratio": ratio,
          "channel_counts": [[int(v) for v in m] for m in per_channel]}


def stacked_mnist_metrics(images_Nx28x28x3: np.ndarray, judge: Optional[mnist_judge.MnistJudge] = None,
                          with_floor: bool = True) -> Dict[str, Any]:
  """Returns modes, kl, n (and floor_modes, floor_kl for n real stacks)."""
  judge = judge or mnist_judge.load_judge()
  out = triple_metrics(predicted_triples(images_Nx28x28x3, judge))
  n = int(np.asarray(images_Nx28x28x3).shape[0])
  if with_floor:
    # Real stacks index the embedded digits, whose predictions the judge caches: the floor costs no extra pass.
    index_nx3 = stacked.stack_indices(n, seed=0, pool_size=5000)
    digit_pred = judge.embedded_outputs()[1].argmax(axis=1)
    floor = triple_metrics(stacked.triple_ids(digit_pred[index_nx3]))
    out["floor_modes"], out["floor_kl"] = floor["modes"], floor["kl"]
  out.update({"n": n, "protocol_n": PROTOCOL_N, "judge": mnist_judge.JUDGE_NAME,
              "judge_version": mnist_judge.JUDGE_VERSION})
  return out

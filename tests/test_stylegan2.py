"""The StyleGAN2-ADA objective (jaxgan/stylegan2.py): 1 vs 4 devices with ADA, path length, R1 and mixing on;
bit-exact resume across an R1 and a path-length step; the path-length mean's arithmetic; ADA's p controller; lazy
phases masked equal lazy phases under lax.cond; NVIDIA's EMA schedule and nan_to_num; bad configs."""
import json
import math
import os

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import objective as objective_lib
from jaxgan import step as step_lib
from jaxgan import stylegan2 as sg_lib
from jaxgan.configs import stylegan2_bench32
from jaxgan.trainer import ConfigError, Trainer


@pytest.fixture(scope="module")
def data8(tmp_path_factory):
  """64 random 8×8 RGB images: the objective's arithmetic needs data, not pictures."""
  path = str(tmp_path_factory.mktemp("data") / "x8.npz")
  rng = np.random.default_rng(0)
  np.savez(path, images=(rng.random((64, 8, 8, 3)) * 255).astype(np.uint8),
           labels=rng.integers(0, 3, 64).astype(np.int32))
  return path


def tiny(data_path=None, steps=6, augment="ada", **sg):
  """8 px RGB, tiny widths, batch 8; path length every 2nd step, R1 every 3rd, ADA adjusted every 2nd step
  (fast: kimg 0.01, so each adjustment moves p by 8·2/10 = 1.6 before the floor at 0)."""
  c = stylegan2_bench32.get_config()
  c.model.image_shape = (8, 8, 3)
  c.model.latent_dim = 8
  c.model.w_dim = 8
  c.model.channel_base = 32
  c.model.channel_max = 8
  c.model.map_layers = 2
  c.model.mbstd_group = 2
  c.batch_size = 8
  c.augment = augment
  c.ada = dict(p=0.3, target=0.6, interval=2, kimg=0.01)
  c.stylegan2.update(dict(pl_interval=2, r1_interval=3, r1_gamma=1.0, style_mixing=0.9), **sg)
  c.data.name = data_path or "unused"
  c.steps = steps
  c.steps_per_call = 2
  c.checkpoint_every = c.sample_every = 2
  c.first_sample = 0
  c.eval.metrics = ()
  return c


def _batch(n=8, labels=False):
  b = {"real": jax.random.uniform(jax.random.key(1), (n, 8, 8, 3), minval=-1, maxval=1)}
  if labels:
    b["labels"] = jnp.arange(n, dtype=jnp.int32) % 3
  return b


def test_phases_intervals_and_state_metrics():
  obj = objective_lib.build(tiny())
  assert [p.name for p in obj.phases] == ["Gmain", "Greg", "Dmain", "Dreg"]
  assert [p.interval for p in obj.phases] == [1, 2, 1, 3]
  # NVIDIA's gains: the lazy phases' losses × their interval; R1's γ/2
  assert obj.phases[1].terms[0].weight == 2.0 * 2 and obj.phases[3].terms[0].weight == 1.0 / 2 * 3
  state = obj.init_state(0)
  step = jax.jit(lambda s: step_lib.train_step(obj, s, _batch()))
  seen = []
  for _ in range(4):
    state, m = step(state)
    seen.append({k: float(v) for k, v in m.items()})
  assert [s["pl_penalty"] > 0 for s in seen] == [True, False, True, False]
  assert [s["r1_penalty"] > 0 for s in seen] == [True, False, False, True]
  for s in seen:
    assert {"g_loss", "d_loss", "ada_p", "pl_mean", "w_avg_norm"} <= set(s)
  assert seen[0]["w_avg_norm"] > 0 and seen[0]["pl_mean"] > 0
  assert int(state.step) == 4 and "g" in state.ema


def test_path_length_mean_update_and_penalty_by_hand():
  """The lengths recomputed from the Jacobian of one sample's image with respect to its own ws."""
  c = tiny(augment="none", style_mixing=0.0)
  obj = objective_lib.build(c)
  state = obj.init_state(0)
  state = state.replace(aux={**state.aux, "pl_mean": jnp.float32(0.25)})
  greg = obj.phases[1]
  key = jax.random.key(5)
  inp = objective_lib.PhaseInput(obj, state, _batch(), key, jnp.int32(0))
  g_params = state.params("g")
  out, new_vars = greg.forward(inp, g_params)
  lengths = np.asarray(out["pl_lengths"])
  assert lengths.shape == (4,)  # batch 8 / shrink 2
  # by hand: the same styles, noise and y as the phase draws
  k_g, k_y = jax.random.split(key)
  ws, _, k_noise = sg_lib._styles(obj, g_params, state.vars("g"), k_g, None, 4)
  synth = lambda w: sg_lib._synthesis(obj, g_params, state.vars("g"), w, k_noise)
  img = synth(ws)
  y = jax.random.normal(k_y, img.shape) / math.sqrt(8 * 8)
  for i in range(4):
    jac = jax.jacrev(lambda w_i: synth(ws.at[i].set(w_i))[i])(ws[i])    # [H, W, C, num_ws, w_dim]
    g = jnp.tensordot(y[i], jac, axes=3)                                  # [num_ws, w_dim]
    np.testing.assert_allclose(lengths[i], np.sqrt(np.mean(np.sum(np.square(g), axis=1))), rtol=1e-4)
  want_mean = 0.25 + 0.01 * (lengths.mean() - 0.25)
  np.testing.assert_allclose(float(new_vars[objective_lib.AUX]["pl_mean"]), want_mean, rtol=1e-6)
  np.testing.assert_allclose(float(out["pl_target"]), want_mean, rtol=1e-6)
  value, metrics = sg_lib.path_length(inp, out)
  np.testing.assert_allclose(float(value), np.mean((lengths - want_mean) ** 2), rtol=1e-5)
  # and the step stores it: after a Greg step the state's mean is the phase's
  new, _ = jax.jit(lambda s: step_lib.run_phase(obj, greg, s, _batch(), key, jnp.int32(0)))(state)
  np.testing.assert_allclose(float(new.aux["pl_mean"]), want_mean, rtol=1e-6)


def test_ada_p_moves_by_nvidia_step_every_interval_and_counts_every_real_logit():
  """target −2: the rate of positive signs is always above, p grows by B·interval/(kimg·1000) = 1.6 per interval;
  target 2: p falls and stops at 0. The gathered signs count Dmain's reals every step and Dreg's on its steps."""
  for target, want in ((-2.0, [0.3, 0.3, 1.9, 1.9, 3.5]), (2.0, [0.3, 0.3, 0.0, 0.0, 0.0])):
    c = tiny()
    c.ada.target = target
    obj = objective_lib.build(c)
    state = obj.init_state(0)
    step = jax.jit(lambda s: step_lib.train_step(obj, s, _batch()))
    ps, counts = [], []
    for _ in range(5):
      state, m = step(state)
      ps.append(float(m["ada_p"]))
      counts.append(float(state.aux["ada_count"]))
    np.testing.assert_allclose(ps, want, rtol=1e-6)
    # steps 0..4: Dreg at 0 and 3; resets at the start of steps 2 and 4
    assert counts == [16.0, 24.0, 8.0, 24.0, 8.0]
  fixed = objective_lib.build(tiny(augment="fixed"))
  state = fixed.init_state(0)
  for _ in range(3):
    state, m = jax.jit(lambda s: step_lib.train_step(fixed, s, _batch()))(state)
  assert float(m["ada_p"]) == np.float32(0.3) and float(state.aux["ada_count"]) == 0.0
  assert float(objective_lib.build(tiny(augment="none")).init_state(0).aux["ada_p"]) == 0.0


def test_lazy_phases_masked_or_decided_by_the_step_residue_equal_lazy_phases_under_cond():
  """Three forms of the lazy phases (Greg every 2nd step, Dreg every 3rd): under lax.cond, computed and masked
  (XLA:CPU's default for conv models), and with the step's residue mod 2 known to the program (the loop's unrolled
  calls: Greg decided statically, Dreg still masked): the same states and metrics."""
  results = []
  for mode, residue in (("cond", False), ("mask", False), ("mask", True)):
    c = tiny()
    c.lazy = mode
    obj = objective_lib.build(c)
    assert obj.lazy_cond is (mode == "cond")
    state, seen = obj.init_state(0), []
    steps = [jax.jit(lambda s, j=j: step_lib.train_step(obj, s, _batch(), (j, 2) if residue else None))
             for j in range(2)]
    for i in range(4):
      state, m = steps[i % 2](state)
      seen.append(jax.device_get(m))
    results.append((jax.device_get(state), seen))
  for other in results[1:]:
    chex.assert_trees_all_close(results[0][0], other[0], rtol=1e-6, atol=1e-7)
    for a, b in zip(results[0][1], other[1]):
      chex.assert_trees_all_close(a, b, rtol=1e-6, atol=1e-7)
  assert [m["pl_penalty"] > 0 for m in results[2][1]] == [True, False, True, False]


def test_known_run_decides_what_a_residue_decides():
  assert step_lib.known_run(1, None) is True and step_lib.known_run(4, None) is None
  assert [step_lib.known_run(4, (j, 4)) for j in range(4)] == [True, False, False, False]
  assert [step_lib.known_run(16, (j, 4)) for j in range(4)] == [None, False, False, False]
  assert [step_lib.known_run(3, (j, 4)) for j in range(4)] == [None] * 4
  assert [step_lib.known_run(2, (j, 6)) for j in range(3)] == [True, False, True]


def test_four_devices_equal_one_with_ada_path_length_r1_and_mixing(data8, tmp_path):
  """Batch 8, minibatch-stddev groups of 2: every device's share divides into whole groups. SGD with momentum in
  place of Adam with β₁ = 0, which turns rounding in near-zero gradient entries into ±lr steps."""
  states = []
  for n in (1, 4):
    c = tiny(data8, steps=4)
    c.model.num_classes = 3  # class-conditional: the labels travel with the images and the PL batch's share
    c.ada.kimg = 100.0
    c.optim.g = c.optim.d = dict(name="sgd", lr=1e-2, momentum=0.9)
    t = Trainer(c, str(tmp_path / f"dev{n}"), devices=jax.devices()[:n], quiet=True)
    t.train()
    states.append(jax.device_get(t.state))
  assert float(states[0].aux["ada_p"]) != 0.3  # p moved
  chex.assert_trees_all_close(states[0], states[1], rtol=1e-5, atol=1e-5)


def test_resume_across_r1_and_path_length_steps_is_bit_exact(data8, tmp_path):
  straight = Trainer(tiny(data8, steps=8), str(tmp_path / "straight"), quiet=True)
  straight.train()
  final = jax.device_get(straight.state)
  work = str(tmp_path / "resumed")
  Trainer(tiny(data8, steps=2), work, quiet=True).train()   # steps 2..7 hold PL (2, 4, 6), R1 (3, 6), ADA updates
  resumed = Trainer(tiny(data8, steps=8), work, quiet=True)
  assert resumed.start_step == 2
  resumed.train()
  chex.assert_trees_all_equal(jax.device_get(resumed.state), final)
  rows = [json.loads(line) for line in open(os.path.join(tmp_path / "straight", "metrics.jsonl"))]
  logged = {r["step"]: r for r in rows if "ada_p" in r}
  assert {"ada_p", "pl_mean", "w_avg_norm", "pl_penalty", "r1_penalty"} <= set(logged[8])
  assert os.listdir(tmp_path / "straight" / "tb")


def test_ema_half_life_and_ramp_are_nvidias():
  ema = sg_lib.EmaImages(half_life=16 * 10 / 32 * 1000, rampup=0.05)
  for step in (0, 1, 100, 10_000):
    nimg = step * 16
    want = 0.5 ** (16 / max(min(5000.0, nimg * 0.05), 1e-8))
    np.testing.assert_allclose(float(ema.beta(jnp.int32(step), 16)), want, rtol=1e-6)


def test_gradients_are_cleaned_as_nvidias_nan_to_num():
  g = {"a": jnp.array([jnp.nan, jnp.inf, -jnp.inf, 2e5, -3.0])}
  np.testing.assert_array_equal(step_lib.sanitize(g, 1e5)["a"], [0.0, 1e5, -1e5, 2e5, -3.0])
  np.testing.assert_array_equal(step_lib.sanitize(g)["a"], [0.0, 0.0, 0.0, 2e5, -3.0])  # the default: all → 0
  obj = objective_lib.build(tiny())
  assert obj.sanitize_grads and obj.sanitize_inf == 1e5


def test_nvidia_auto_gamma_and_ema_in_the_bench_preset():
  s = sg_lib.settings(stylegan2_bench32.get_config())
  assert s.r1_gamma == pytest.approx(0.0002 * 32 ** 2 / 16) and s.ema_images == pytest.approx(16 * 10 / 32 * 1000)
  assert (s.style_mixing, s.pl_weight, s.pl_interval, s.r1_interval, s.augment) == (0.9, 2.0, 4, 16, "none")


@pytest.mark.parametrize("change, message", [
    (dict(augment="sometimes"), "config.augment must be one of none, ada, fixed"),
    (dict(style_mixing=1.5), "style_mixing is a probability"),
    (dict(r1_interval=0), "r1_interval must be >= 1"),
    (dict(pl_batch_shrink=3), "does not divide by pl_batch_shrink 3"),
    (dict(model="dcgan"), "set model.name = 'stylegan2'"),
    (dict(optim="nesterov"), "unknown optimizer 'nesterov'"),
])
def test_bad_configs_are_one_line_errors(data8, tmp_path, change, message):
  c = tiny(data8)
  if "augment" in change:
    c.augment = change["augment"]
  elif "model" in change:
    c.model.name = change["model"]
  elif "optim" in change:
    c.optim.g.name = change["optim"]
  else:
    c.stylegan2.update(change)
  with pytest.raises((ConfigError, ValueError), match=message) as e:
    Trainer(c, str(tmp_path / "w"), quiet=True)
  assert "\n" not in str(e.value)
  assert not os.path.exists(tmp_path / "w" / "checkpoints")

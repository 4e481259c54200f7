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


@pytest.fixture(scope="module")
def five_steps():
  """Five steps of one compiled train step (ADA on, target −2: the rate of positive signs is always above it);
  the metrics and the gathered ADA counts after each step."""
  c = tiny()
  c.ada.target = -2.0
  obj = objective_lib.build(c)
  state = obj.init_state(0)
  step = jax.jit(lambda s: step_lib.train_step(obj, s, _batch()))
  seen, counts = [], []
  for _ in range(5):
    state, m = step(state)
    seen.append({k: float(v) for k, v in m.items()})
    counts.append(float(state.aux["ada_count"]))
  return obj, state, seen, counts


def test_phases_intervals_and_state_metrics(five_steps):
  obj, state, seen, _ = five_steps
  assert [p.name for p in obj.phases] == ["Gmain", "Greg", "Dmain", "Dreg"]
  assert [p.interval for p in obj.phases] == [1, 2, 1, 3]
  # NVIDIA's gains: the lazy phases' losses × their interval; R1's γ/2
  assert obj.phases[1].terms[0].weight == 2.0 * 2 and obj.phases[3].terms[0].weight == 1.0 / 2 * 3
  assert [s["pl_penalty"] > 0 for s in seen] == [True, False, True, False, True]
  assert [s["r1_penalty"] > 0 for s in seen] == [True, False, False, True, False]
  for s in seen:
    assert {"g_loss", "d_loss", "ada_p", "pl_mean", "w_avg_norm"} <= set(s)
  assert seen[0]["w_avg_norm"] > 0 and seen[0]["pl_mean"] > 0 and float(state.aux["pl_mean"]) > 0
  assert int(state.step) == 5 and "g" in state.ema


def test_ada_p_moves_by_nvidia_step_every_interval_and_counts_every_real_logit(five_steps):
  """p grows by B·interval/(kimg·1000) = 8·2/10 = 1.6 at the start of steps 2 and 4 (NVIDIA: after steps 1 and 3).
  The gathered signs count Dmain's 8 reals every step and Dreg's on its steps (0 and 3)."""
  _, _, seen, counts = five_steps
  np.testing.assert_allclose([s["ada_p"] for s in seen], [0.3, 0.3, 1.9, 1.9, 3.5], rtol=1e-6)
  assert counts == [16.0, 24.0, 8.0, 24.0, 8.0]


def test_ada_modes_by_hand():
  """The controller as the objective calls it: target 2 (always above the rate) floors p at 0; `fixed` holds p;
  `none` starts at 0 and gathers nothing."""
  c = tiny()
  c.ada.target = 2.0
  obj = objective_lib.build(c)
  aux = {**obj.init_aux(), "ada_signs": jnp.float32(3.0), "ada_count": jnp.float32(8.0)}
  aux = sg_lib._ada_adjusted(obj, aux, jnp.int32(2), 8)
  assert float(aux["ada_p"]) == 0.0 and float(aux["ada_count"]) == 0.0
  aux = sg_lib._gather_signs(obj, aux, jnp.array([1.0, -2.0, 3.0]))
  assert (float(aux["ada_signs"]), float(aux["ada_count"])) == (1.0, 3.0)
  not_due = sg_lib._ada_adjusted(obj, {**aux, "ada_p": jnp.float32(0.5)}, jnp.int32(3), 8)
  assert float(not_due["ada_p"]) == 0.5 and float(not_due["ada_count"]) == 3.0
  fixed = objective_lib.build(tiny(augment="fixed"))
  aux = {**fixed.init_aux(), "ada_signs": jnp.float32(8.0), "ada_count": jnp.float32(8.0)}
  assert float(sg_lib._ada_adjusted(fixed, aux, jnp.int32(2), 8)["ada_p"]) == np.float32(0.3)
  assert float(sg_lib._gather_signs(fixed, aux, jnp.ones(3))["ada_count"]) == 8.0
  assert float(objective_lib.build(tiny(augment="none")).init_state(0).aux["ada_p"]) == 0.0


def test_path_length_mean_update_and_penalty_by_hand():
  """The lengths recomputed from the Jacobian of each sample's image with respect to its own ws."""
  c = tiny(augment="none", style_mixing=0.0)
  obj = objective_lib.build(c)
  state = obj.init_state(0)
  state = state.replace(aux={**state.aux, "pl_mean": jnp.float32(0.25)})
  greg = obj.phases[1]
  key = jax.random.key(5)
  inp = objective_lib.PhaseInput(obj, state, _batch(), key, jnp.int32(0))
  out, new_vars = jax.jit(lambda p: greg.forward(inp, p))(state.params("g"))
  lengths = np.asarray(out["pl_lengths"])
  assert lengths.shape == (4,)  # batch 8 / shrink 2

  @jax.jit
  def by_hand(g_params):  # the same styles, noise and y as the phase draws
    k_g, k_y = jax.random.split(key)
    ws, _, k_noise = sg_lib._styles(obj, g_params, state.vars("g"), k_g, None, 4)
    synth = lambda w: sg_lib._synthesis(obj, g_params, state.vars("g"), w, k_noise)
    y = jax.random.normal(k_y, (4, 8, 8, 3)) / math.sqrt(8 * 8)
    out = []
    for i in range(4):
      jac = jax.jacrev(lambda w_i: synth(ws.at[i].set(w_i))[i])(ws[i])    # [H, W, C, num_ws, w_dim]
      g = jnp.tensordot(y[i], jac, axes=3)                                  # [num_ws, w_dim]
      out.append(jnp.sqrt(jnp.mean(jnp.sum(jnp.square(g), axis=1))))
    return jnp.stack(out)

  np.testing.assert_allclose(lengths, by_hand(state.params("g")), rtol=1e-4)
  want_mean = 0.25 + 0.01 * (lengths.mean() - 0.25)
  np.testing.assert_allclose(float(new_vars[objective_lib.AUX]["pl_mean"]), want_mean, rtol=1e-6)
  np.testing.assert_allclose(float(out["pl_target"]), want_mean, rtol=1e-6)
  value, _ = sg_lib.path_length(inp, out)
  np.testing.assert_allclose(float(value), np.mean((lengths - want_mean) ** 2), rtol=1e-5)


def test_lazy_phase_masked_or_known_equals_lazy_phase_under_cond():
  """Greg (every 2nd step) under lax.cond, computed and masked (XLA:CPU's default for conv models), and decided by
  a residue the program knows (the loop's unrolled calls): the same state and metrics (to float rounding: three
  programs) when it runs (count 0), and exactly the state it was given when it does not (count 1)."""
  results = {}
  for mode in ("cond", "mask"):
    c = tiny(augment="none")  # ADA's pipeline is not the subject (and doubles the compile)
    c.optim.g = dict(name="sgd", lr=1e-2, momentum=0.9)  # Adam with β₁ = 0 turns rounding into ±lr steps
    c.lazy = mode
    obj = objective_lib.build(c)
    assert obj.lazy_cond is (mode == "cond")
    state = obj.init_state(0)
    run = jax.jit(lambda s, n, obj=obj: step_lib.run_phase(obj, obj.phases[1], s, _batch(), jax.random.key(3), n))
    results[mode] = [jax.device_get(run(state, jnp.int32(n))) for n in (0, 1)]
  known = jax.jit(lambda s: step_lib.run_phase(obj, obj.phases[1], s, _batch(), jax.random.key(3), jnp.int32(0),
                                               known=True))
  results["known"] = [jax.device_get(known(state)), jax.device_get(
      step_lib.run_phase(obj, obj.phases[1], state, _batch(), jax.random.key(3), jnp.int32(1), known=False))]
  for mode in ("mask", "known"):  # different programs: equal up to float rounding
    for n in (0, 1):
      chex.assert_trees_all_close(results["cond"][n], results[mode][n], rtol=1e-5, atol=1e-6)
  assert float(results["cond"][0][1]["pl_penalty"]) > 0 and float(results["cond"][1][1]["pl_penalty"]) == 0
  chex.assert_trees_all_equal(results["cond"][1][0], jax.device_get(state))


def test_known_run_decides_what_a_residue_decides():
  assert step_lib.known_run(1, None) is True and step_lib.known_run(4, None) is None
  assert [step_lib.known_run(4, (j, 4)) for j in range(4)] == [True, False, False, False]
  assert [step_lib.known_run(16, (j, 4)) for j in range(4)] == [None, False, False, False]
  assert [step_lib.known_run(3, (j, 4)) for j in range(4)] == [None] * 4
  assert [step_lib.known_run(2, (j, 6)) for j in range(3)] == [True, False, True]


def _trainer_config(data8, steps):
  """Class-conditional (the labels travel with the images, and into the path-length batch's share), batch 8,
  minibatch-stddev groups of 2 (every device's share is whole groups). SGD with momentum in place of Adam with
  β₁ = 0, which turns rounding in near-zero gradient entries into ±lr steps. R1 every 4th step: with calls of 2
  steps the lazy phases' schedule repeats every 4 steps (two programs, were the calls unrolled: loop.schedule)."""
  c = tiny(data8, steps=steps)
  c.stylegan2.r1_interval = 4
  c.model.num_classes = 3
  c.ada.kimg = 100.0
  c.optim.g = c.optim.d = dict(name="sgd", lr=1e-2, momentum=0.9)
  c.sample_every = 100
  return c


def test_four_devices_equal_one_and_resume_is_bit_exact(data8, tmp_path):
  """6 steps with ADA, path length (steps 0, 2, 4), R1 (0, 4) and mixing on, in the default rolled scan (lazy
  phases under lax.cond), on 1 device and on 4; and on one device resumed at step 2 (after which come path-length,
  R1 and ADA steps): bit for bit the straight run. (The unrolled calls, one program per schedule of lazy phases,
  are covered at the Trainer level by test_trainer.py and for StyleGAN2's phases by the test above.)"""
  straight = Trainer(_trainer_config(data8, 6), str(tmp_path / "straight"), devices=jax.devices()[:1], quiet=True)
  straight.train()
  assert len([k for k in straight._fns if isinstance(k, tuple)]) == 1 and straight.unroll == 1
  final = jax.device_get(straight.state)
  four = Trainer(_trainer_config(data8, 6), str(tmp_path / "four"), devices=jax.devices()[:4], quiet=True)
  four.train()
  assert float(final.aux["ada_p"]) != np.float32(0.3)  # p moved
  chex.assert_trees_all_close(final, jax.device_get(four.state), rtol=1e-5, atol=1e-5)
  work = str(tmp_path / "resumed")
  Trainer(_trainer_config(data8, 2), work, devices=jax.devices()[:1], quiet=True).train()
  resumed = Trainer(_trainer_config(data8, 6), work, devices=jax.devices()[:1], quiet=True)
  assert resumed.start_step == 2
  resumed.train()
  chex.assert_trees_all_equal(jax.device_get(resumed.state), final)
  rows = [json.loads(line) for line in open(os.path.join(tmp_path / "straight", "metrics.jsonl"))]
  logged = {r["step"]: r for r in rows if "ada_p" in r}
  assert {"ada_p", "pl_mean", "w_avg_norm", "pl_penalty", "r1_penalty"} <= set(logged[6])
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


def test_unrolled_calls_compute_each_lazy_phase_only_where_it_runs():
  """NVIDIA's intervals (Greg every 4, Dreg every 16) in calls of K = 4: the calls' starts are known mod 16, which
  gives two programs — Greg and Dreg at the call's first step, or Greg alone — and one Dreg per 16 steps, as
  NVIDIA's loop runs it (none computed and masked away)."""
  from jaxgan.loop import call_start, schedule
  obj = objective_lib.build(stylegan2_bench32.get_config())
  assert [(p.name, p.interval) for p in obj.phases] == [("Gmain", 1), ("Greg", 4), ("Dmain", 1), ("Dreg", 16)]
  starts = [call_start(obj, step, 4, 4) for step in range(0, 64, 4)]
  assert starts[:5] == [(0, 16), (4, 16), (8, 16), (12, 16), (0, 16)]
  plans = [schedule(obj, 4, st) for st in starts]
  assert len(set(plans)) == 2
  steps = [step for plan in plans for step in plan]                       # 64 steps: (Greg runs, Dreg runs)
  assert [i for i, (g, _) in enumerate(steps) if g] == list(range(0, 64, 4))
  assert [i for i, (_, d) in enumerate(steps) if d] == [0, 16, 32, 48]
  assert all(v is not None for step in steps for v in step)               # nothing left to decide in the program
  assert call_start(obj, 0, 4, 1) is None and schedule(obj, 4, None) is None  # rolled scans: one program


@pytest.mark.parametrize("resident", [True, False])
def test_unrolled_calls_that_know_their_start_equal_the_scan(resident):
  """loop.make_train_fn(start=(r, m)) (each step knows its residue; the lazy phase of the toy objective, every 2nd
  step, is then decided statically) gives the scan's results, on 4 devices, from an aligned and an unaligned start
  (steps 0..5 with m = 6; steps 3..8 with m = 6 and r = 3)."""
  from jaxgan.loop import make_train_fn
  from jaxgan.parallel import make_mesh, replicate
  from test_objective import toy
  mesh = make_mesh(jax.devices()[:4])
  obj = toy("data", reg_interval=2, term_interval=3)
  data = {"real": jnp.linspace(-1.0, 1.0, 16)[:, None]}
  if resident:
    data = replicate(data, mesh)
  else:
    data = {"real": jnp.broadcast_to(data["real"][:8], (6, 8, 1))}
    data = jax.device_put(data, jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(None, "data")))
  for first in (0, 3):
    state = lambda: replicate(obj.init_state(0).replace(step=jnp.int32(first)), mesh)  # the calls donate it
    want = jax.device_get(make_train_fn(obj, mesh, 8, 6, resident=resident)(state(), data))
    got = jax.device_get(make_train_fn(obj, mesh, 8, 6, resident=resident, start=(first % 6, 6))(state(), data))
    chex.assert_trees_all_close(want, got, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(got[1]["shrink"] > 0, [(first + j) % 2 == 0 for j in range(6)])

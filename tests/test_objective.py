"""Objectives and phases (objective.py, step.py): lazy phases and terms, NVIDIA's Adam correction, stages through
the Trainer with exact resume at and across a boundary, the registry, old checkpoints, and the worked example of
docs/architecture.md."""
import dataclasses
import os
import re

import chex
import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgan import objective as objective_lib
from jaxgan import parallel
from jaxgan import step as step_lib
from jaxgan.checkpoint import CheckpointError, Checkpointer
from jaxgan.configs import mlp_mnist
from jaxgan.gan import GAN, build_gan
from jaxgan.loop import make_train_fn
from jaxgan.objective import Objective, Phase, Player, Term
from jaxgan.parallel import make_mesh, replicate
from jaxgan.trainer import Trainer

ROOT = os.path.join(os.path.dirname(__file__), "..")


# -- a toy objective: one scalar player pulled towards 3 by a main phase and towards 0 by a lazy phase -------------


class Scale(nn.Module):
  @nn.compact
  def __call__(self, x, train=False):
    return x * self.param("w", nn.initializers.ones, (1,))


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class Toy(Objective):
  def example_input(self, player):
    return (jnp.zeros((2, 1)),), {}


def _forward(inp, params):
  return {"y": inp.obj.players["a"].module.apply({"params": params}, inp.batch["real"])}, {}


def _towards(target, metric):
  def fn(inp, out):
    value = jnp.mean(jnp.square(out["y"] - target))
    return value, {metric: value}
  return fn


def toy(axis_name=None, reg_interval=3, term_interval=1):
  return Toy(players={"a": Player(Scale(), optax.sgd(0.1))}, axis_name=axis_name, phases=(
      Phase("main", "a", _forward, (Term("pull", _towards(3.0, "pull")),
                                    Term("lazy", _towards(-1.0, "lazy"), 0.5, term_interval))),
      Phase("reg", "a", _forward, (Term("shrink", _towards(0.0, "shrink")),), interval=reg_interval)))


BATCH = {"real": jnp.linspace(-1.0, 1.0, 8)[:, None]}


def test_a_lazy_phase_runs_on_its_interval_only():
  obj = toy()
  reg = obj.phases[1]
  state = obj.init_state(0)
  for count, runs in ((0, True), (1, False), (2, False), (3, True), (7, False), (9, True)):
    new, m = jax.jit(lambda s, c: step_lib.run_phase(obj, reg, s, BATCH, jax.random.key(0), c))(
        state, jnp.int32(count))
    w0, w1 = float(state.params("a")["w"][0]), float(new.params("a")["w"][0])
    if runs:  # one SGD step on mean((w·x)²): w ← w − 0.1·2w·mean(x²)
      np.testing.assert_allclose(w1, w0 - 0.1 * 2 * w0 * float(jnp.mean(BATCH["real"] ** 2)), rtol=1e-6)
      assert float(m["shrink"]) > 0
    else:
      assert w1 == w0 and float(m["shrink"]) == 0.0 and float(m["nonfinite"]) == 0.0


def test_a_lazy_term_counts_on_its_interval_with_weight_times_interval():
  obj = toy(reg_interval=1000, term_interval=2)
  main = obj.phases[0]
  state = obj.init_state(0)
  run = jax.jit(lambda s, c: step_lib.run_phase(obj, main, s, BATCH, jax.random.key(0), c))
  plain = dataclasses.replace(obj, phases=(main._replace(terms=main.terms[:1]),) + obj.phases[1:])
  without, _ = step_lib.run_phase(plain, plain.phases[0], state, BATCH, jax.random.key(0), jnp.int32(1))
  skipped, m1 = run(state, jnp.int32(1))
  chex.assert_trees_all_close(skipped.params("a"), without.params("a"))
  assert float(m1["lazy"]) == 0.0
  taken, m2 = run(state, jnp.int32(2))
  x2 = float(jnp.mean(BATCH["real"] ** 2))
  w = float(state.params("a")["w"][0])
  # d/dw [mean((wx − 3)²) + 0.5·2·mean((wx + 1)²)] = 2w·x² (x has mean 0) + 2w·x²
  np.testing.assert_allclose(float(taken.params("a")["w"][0]), w - 0.1 * (2 * w * x2 + 2 * w * x2), rtol=1e-5)
  assert float(m2["lazy"]) > 0


@pytest.mark.parametrize("resident", [True, False])
def test_lazy_phases_and_terms_on_four_devices_match_one(resident):
  """The skipped branch of a lazy cond must carry the computed branch's device-varying types (a checked
  shard_map on four devices); the result equals one device's."""
  results = []
  for n in (1, 4):
    mesh = make_mesh(jax.devices()[:n])
    obj = toy("data", reg_interval=2, term_interval=3)
    fn = make_train_fn(obj, mesh, 8, 6, resident=resident)
    data = {"real": jnp.linspace(-1.0, 1.0, 16)[:, None]}
    if not resident:
      data = {"real": jnp.broadcast_to(data["real"][:8], (6, 8, 1))}
      data = jax.device_put(data, jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(None, "data")))
    else:
      data = replicate(data, mesh)
    state, metrics = fn(replicate(obj.init_state(0), mesh), data)
    results.append(jax.device_get((state, metrics)))
  chex.assert_trees_all_close(results[0], results[1], rtol=1e-6, atol=1e-7)
  metrics = results[0][1]
  np.testing.assert_array_equal(metrics["shrink"] > 0, [True, False, True, False, True, False])
  np.testing.assert_array_equal(metrics["lazy"] > 0, [True, False, False, True, False, False])


def test_lazy_adam_is_nvidia_correction():
  grads = [{"w": jnp.array([0.3, -1.2])}, {"w": jnp.array([2.0, 0.1])}, {"w": jnp.array([-0.5, 0.7])}]
  r = 16 / 17
  for lr, want_lr in ((2e-3, 2e-3 * r), (optax.linear_schedule(1e-3, 0.0, 10), lambda t: (1e-3 - 1e-4 * t) * r)):
    got, want = objective_lib.lazy_adam(lr, 0.0, 0.99, 16), optax.adam(want_lr, b1=0.0, b2=0.99 ** r)
    params = {"w": jnp.array([1.0, 1.0])}
    s_got, s_want = got.init(params), want.init(params)
    for g in grads:
      u_got, s_got = got.update(g, s_got, params)
      u_want, s_want = want.update(g, s_want, params)
      chex.assert_trees_all_close(u_got, u_want, rtol=1e-6)
  b1 = objective_lib.lazy_adam(1e-3, 0.5, 0.99, 4)
  u = b1.update({"w": jnp.ones(2)}, b1.init({"w": jnp.zeros(2)}))[0]
  chex.assert_trees_all_close(u, optax.adam(1e-3 * 0.8, b1=0.5 ** 0.8, b2=0.99 ** 0.8).update(
      {"w": jnp.ones(2)}, optax.adam(1.0).init({"w": jnp.zeros(2)}))[0])


def test_unknown_objective_is_a_clear_error():
  config = mlp_mnist.get_config()
  config.objective = "nope"
  with pytest.raises(ValueError, match="unknown objective 'nope'; known objectives: .*gan"):
    objective_lib.build(config)


def test_the_fingerprint_names_an_objective_other_than_the_gan():
  from jaxgan.trainer import fingerprint
  c = mlp_mnist.get_config()
  gan = fingerprint(c)
  del c["objective"]  # a config from before objectives existed: its checkpoints keep their fingerprint
  assert fingerprint(c) == gan
  c.objective = "lsgan_fm"
  assert fingerprint(c) != gan


# -- stages ------------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class FrozenGAfter(GAN):
  """A two-stage GAN: both players train in stage 0, only D in stage 1 (as f-AnoGAN's second stage trains a new
  player against a frozen G). Its aux state counts D updates and keeps a running mean of D's loss."""

  def init_aux(self):
    return {"d_updates": jnp.zeros((), jnp.int32), "d_loss_avg": jnp.zeros((), jnp.float32)}

  def for_stage(self, stage):
    return self if stage == 0 else dataclasses.replace(self, phases=self.phases[:1])


def _count_d(inp, state):
  """An after-function of the D phase: aux updated in-graph from the phase's batch, averaged over devices (aux is
  replicated state: a device-varying value is a trace-time error on several devices)."""
  batch_mean = parallel.pmean(inp.obj.axis_name, jnp.mean(jnp.abs(inp.batch["real"].astype(jnp.float32))))
  aux = state.aux
  mean = 0.9 * aux["d_loss_avg"] + 0.1 * batch_mean
  return state.replace(aux={"d_updates": aux["d_updates"] + 1, "d_loss_avg": mean})


@objective_lib.register("test_frozen_g_after")
def _build_two_stage(config, axis_name=None):
  gan = build_gan(config, axis_name)
  fields = {f.name: getattr(gan, f.name) for f in dataclasses.fields(gan)}
  d_phase = gan.phases[0]._replace(after=gan.phases[0].after + (_count_d,))
  return FrozenGAfter(**{**fields, "stage_starts": (int(config.stage_step),), "phases": (d_phase,) + gan.phases[1:]})


def stage_config(steps):
  c = mlp_mnist.get_config()
  c.objective = "test_frozen_g_after"
  c.stage_step = 6
  c.model.width = 0.0625
  c.batch_size = 16
  c.steps_per_call = 4
  c.checkpoint_every = c.sample_every = 4
  c.ema_decay = 0.9
  c.steps = steps
  return c


def test_stages_compile_once_each_and_resume_exactly_at_and_across_the_boundary(tmp_path):
  straight = Trainer(stage_config(10), str(tmp_path / "straight"), quiet=True)
  straight.train()
  # (K, stage, start): the call before the boundary stops at it; no lazy phases, so no per-residue programs
  assert sorted(k for k in straight._fns if isinstance(k, tuple)) == [(2, 0, None), (4, 0, None), (4, 1, None)]
  final = jax.device_get(straight.state)
  assert int(final.stage) == 1
  assert int(final.aux["d_updates"]) == 10 and float(final.aux["d_loss_avg"]) > 0  # aux is state: resumed below
  for first in (6, 8):  # a checkpoint at the boundary (stage still 0 in it), and one past it
    work = str(tmp_path / f"resumed_{first}")
    Trainer(stage_config(first), work, quiet=True).train()
    resumed = Trainer(stage_config(10), work, quiet=True)
    assert resumed.start_step == first and resumed.stage == (0 if first == 6 else 1)
    resumed.train()
    chex.assert_trees_all_equal(jax.device_get(resumed.state), final)
  at_six = Trainer(stage_config(6), str(tmp_path / "resumed_6"), quiet=True)  # restores step 10; reads step 6:
  six, _ = at_six.ckpt.restore_state(at_six.state, 6)
  chex.assert_trees_all_equal(final.players["g"], jax.device_get(six.players["g"]))  # G frozen in stage 1
  assert not np.array_equal(final.params("d")["TorchDense_0"]["kernel"], six.params("d")["TorchDense_0"]["kernel"])
  rows = open(tmp_path / "straight" / "metrics.jsonl").read().splitlines()
  assert len(rows) == 10 and "g_loss" in rows[5] and "g_loss" not in rows[6]


# -- checkpoints of jaxgan 0.1.0 ----------------------------------------------------------------------------------


@flax.struct.dataclass
class GANStateV1:  # jaxgan 0.1.0's state, field for field
  step: jax.Array
  rng: jax.Array
  g_params: object
  d_params: object
  g_vars: object
  d_vars: object
  g_opt_state: object
  d_opt_state: object
  ema_params: object = None


def _tiny_gan():
  c = mlp_mnist.get_config()
  c.model.width, c.ema_decay = 0.0625, 0.9
  return build_gan(c)


def test_a_format_1_checkpoint_restores_into_the_new_state(tmp_path):
  gan = _tiny_gan()
  state = gan.init_state(1)
  state = jax.tree.map(lambda x: x + 1 if jnp.issubdtype(x.dtype, jnp.floating) else x, state)  # not init values
  g, d = state.players["g"], state.players["d"]
  old = GANStateV1(step=jnp.int32(7), rng=state.rng, g_params=g.params, d_params=d.params, g_vars=g.vars,
                   d_vars=d.vars, g_opt_state=g.opt_state, d_opt_state=d.opt_state, ema_params=state.ema["g"])
  Checkpointer(str(tmp_path)).save(7, old, {"jaxgan_version": "0.1.0"})
  got, _ = Checkpointer(str(tmp_path), read_only=True).restore_state(gan.init_state(0), 7)
  chex.assert_trees_all_equal(got, state.replace(step=jnp.int32(7)))


def test_a_newer_state_format_is_one_clear_error(tmp_path):
  gan = _tiny_gan()
  Checkpointer(str(tmp_path)).save(3, gan.init_state(0), {"state_format": 99, "jaxgan_version": "9.0"})
  with pytest.raises(CheckpointError, match=r"state format 99 \(written by jaxgan 9.0\); this jaxgan reads "
                                            r"formats 1 to 2"):
    Checkpointer(str(tmp_path), read_only=True).restore_state(gan.init_state(0), 3)


def test_a_format_1_checkpoint_of_another_config_names_the_leaf(tmp_path):
  gan = _tiny_gan()
  s = gan.init_state(0)
  g, d = s.players["g"], s.players["d"]
  old = GANStateV1(step=s.step, rng=s.rng, g_params=g.params, d_params=d.params, g_vars=g.vars, d_vars=d.vars,
                   g_opt_state=g.opt_state, d_opt_state=d.opt_state)  # trained without an EMA
  Checkpointer(str(tmp_path)).save(1, old)
  with pytest.raises(CheckpointError, match=r"leaf 'ema/g/TorchDense_0/bias' of the template is not in the "
                                            r"checkpoint"):
    Checkpointer(str(tmp_path), read_only=True).restore_state(gan.init_state(0), 1)


# -- the worked example of docs/architecture.md -------------------------------------------------------------------


def _doc_example():
  text = open(os.path.join(ROOT, "docs", "architecture.md")).read()
  section = text.split("## A new objective in under 40 lines", 1)[1]
  return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def _grad_of_squared_batch_mean(n, reduce):
  """d/dθ (mean over the global batch of θ·x)², computed as the step does: θ marked per-device, each device
  differentiating its own loss, gradients pmean'ed."""
  from jax.sharding import PartitionSpec as P
  axis = "data" if n > 1 else None
  x = jnp.arange(1.0, 9.0).reshape(8, 1)

  def per_device(theta, x_local):
    loss = lambda t: jnp.square(reduce(axis, jnp.mean(x_local * t)))
    return parallel.pmean(axis, jax.grad(loss)(parallel.varying(axis, theta)))

  fn = jax.shard_map(per_device, mesh=make_mesh(jax.devices()[:n]), in_specs=(P(), P("data")), out_specs=P())
  return float(jax.jit(fn)(jnp.float32(1.0), x))


def test_global_mean_in_a_loss_has_the_global_gradient_on_any_device_count():
  true = 2 * 4.5 * 4.5  # d/dθ (4.5 θ)² at θ = 1
  assert _grad_of_squared_batch_mean(1, parallel.global_mean) == pytest.approx(true)
  assert _grad_of_squared_batch_mean(4, parallel.global_mean) == pytest.approx(true)
  # The trap global_mean exists for: a pmean inside the loss has the right value but 1/N of the gradient.
  assert _grad_of_squared_batch_mean(4, parallel.pmean) == pytest.approx(true / 4)


def test_the_documented_objective_is_short_and_trains_the_same_on_one_and_four_devices():
  code = _doc_example()
  assert len(code.strip().splitlines()) < 40
  exec(compile(code, "docs/architecture.md", "exec"), {})
  c = mlp_mnist.get_config()
  c.objective, c.loss.name = "lsgan_fm", "least_squares"
  c.model.width, c.batch_size, c.fm_weight = 0.0625, 16, 2.0
  data = {"real": jnp.asarray(np.random.default_rng(0).integers(0, 256, (64, 28, 28, 1), dtype=np.uint8))}
  runs = []
  for n in (1, 4):
    mesh = make_mesh(jax.devices()[:n])
    obj = objective_lib.build(c, "data")
    fn = make_train_fn(obj, mesh, 16, 3, resident=True)
    runs.append(jax.device_get(fn(replicate(obj.init_state(0), mesh), replicate(data, mesh))))
  chex.assert_trees_all_close(runs[0], runs[1], rtol=2e-5, atol=2e-6)
  metrics = runs[0][1]
  assert np.all(metrics["g_feature_matching"] > 0) and np.all(np.isfinite(metrics["g_loss"]))
  # With weight 0 the G update is the plain least-squares GAN's.
  c.fm_weight = 0.0
  fm0 = objective_lib.build(c)
  c.objective = "gan"
  plain = objective_lib.build(c)
  batch = {"real": data["real"][:16].astype(jnp.float32) / 127.5 - 1}
  a = jax.jit(lambda s: step_lib.train_step(fm0, s, batch))(fm0.init_state(0))
  b = jax.jit(lambda s: step_lib.train_step(plain, s, batch))(plain.init_state(0))
  chex.assert_trees_all_close(a[0].params("g"), b[0].params("g"), rtol=1e-6, atol=1e-7)


def test_masked_lazy_terms_equal_lazy_terms_under_cond():
  """`lazy_cond=False` (conv models on XLA:CPU) computes a lazy term every run and counts it every N-th: the same
  updates and metrics as skipping it under lax.cond."""
  import dataclasses
  results = []
  for cond in (True, False):
    obj = dataclasses.replace(toy(term_interval=3), lazy_cond=cond)
    state, seen = obj.init_state(0), []
    step = jax.jit(lambda s: step_lib.train_step(obj, s, BATCH))
    for _ in range(6):
      state, m = step(state)
      seen.append(float(m["lazy"]))
    results.append((jax.device_get(state), seen))
  chex.assert_trees_all_close(results[0][0], results[1][0], rtol=1e-6)
  assert results[0][1] == results[1][1] and [v > 0 for v in results[1][1]] == [True, False, False] * 2


def test_lazy_mode_defaults_to_cond_and_mask_is_kept():
  from jaxgan.configs import mlp_mnist, mnist_fast
  from jaxgan.objective import lazy_cond_default
  conv, mlp = mnist_fast.get_config(), mlp_mnist.get_config()
  assert lazy_cond_default(conv) is True and lazy_cond_default(mlp) is True
  conv.lazy = "mask"
  assert lazy_cond_default(conv) is False
  conv.lazy = "sometimes"
  with pytest.raises(ValueError, match="config.lazy must be"):
    lazy_cond_default(conv)


def test_every_listed_family_registers_its_objective_when_imported():
  import importlib
  for name, module in objective_lib.MODULES.items():
    importlib.import_module(module)
    assert name in objective_lib._REGISTRY, f"{module} does not register {name!r}"

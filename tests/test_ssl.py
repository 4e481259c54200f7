"""Semi-supervised GAN (jaxgan/ssl.py, models/ssl_mlp.py, scripts/semi_supervised.py): the K+1-class losses against hand-computed
values, feature matching, label selection (deterministic, N per class, disjoint from the test digits), 1 vs 4
devices, a bit-exact resume of a seed sweep, the supervised baseline, and the script's one-line errors."""
import json
import os

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from _scripts import load_script
from jaxgan import objective as objective_lib
from jaxgan import ssl as ssl_lib
from jaxgan.configs import ssl_mnist
from jaxgan.data.mnist_full import load_mnist_full
from jaxgan.trainer import Trainer

ssl_script = load_script("scripts/semi_supervised.py")


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
  """train.npz: 8 MNIST training digits per class (80); test.npz: the first 40 MNIST test digits."""
  folder = tmp_path_factory.mktemp("ssl_data")
  x, y = load_mnist_full("train")
  idx = np.concatenate([np.flatnonzero(y == c)[:8] for c in range(10)])
  np.savez(folder / "train.npz", images=x[idx], labels=y[idx])
  xt, yt = load_mnist_full("test")
  np.savez(folder / "test.npz", images=xt[:40], labels=yt[:40])
  return str(folder / "train.npz"), str(folder / "test.npz")


def tiny(data, steps=4, **ssl):
  train, test = data
  c = ssl_mnist.get_config()
  c.data.name = train
  c.steps = steps
  c.batch_size = 8
  c.steps_per_call = 2
  c.checkpoint_every = 2
  c.sample_every = 1000
  c.model.latent_dim = 4
  c.model.ssl_d_hidden = (16, 8)
  c.model.ssl_g_hidden = (8,)
  c.ssl.labels_per_class = 2
  c.ssl.labelled_batch = 8
  c.ssl.test_data = test
  c.ssl.eval_every = 2
  c.ssl.update(ssl)
  return c


# -- the losses ---------------------------------------------------------------------------------------------------


def test_unsupervised_loss_is_the_k_plus_1_formula_by_hand():
  """K = 2. Real logits (0, 0): Z = 2, D(x) = Z/(Z+1) = 2/3, −log D(x) = log 3/2. Fake logits (log ½, log ½): Z = 1,
  D(G(z)) = 1/2, −log(1 − D) = log 2. Loss = ½ log 3/2 + ½ log 2 = ½ log 3."""
  real = jnp.array([[0.0, 0.0]])
  fake = jnp.log(jnp.array([[0.5, 0.5]]))
  np.testing.assert_allclose(float(ssl_lib.unsupervised_loss(real, fake)), 0.5 * np.log(3.0), rtol=1e-6)
  # the same through an explicit (K+1)-way softmax with the fake class's logit appended as 0
  rng = np.random.default_rng(0)
  lr, lf = rng.normal(size=(5, 3)).astype(np.float32), rng.normal(size=(7, 3)).astype(np.float32)
  p_fake = lambda l: np.exp(0) / (np.exp(l).sum(1) + 1.0)
  expected = 0.5 * np.mean(-np.log(1 - p_fake(lr))) + 0.5 * np.mean(-np.log(p_fake(lf)))
  np.testing.assert_allclose(float(ssl_lib.unsupervised_loss(lr, lf)), expected, rtol=1e-5)


def test_supervised_loss_is_cross_entropy_over_the_k_classes_by_hand():
  """Logits (log 3, 0): p = (3/4, 1/4). Labels 0 and 1: (log 4/3 + log 4)/2."""
  logits = jnp.log(jnp.array([[3.0, 1.0], [3.0, 1.0]]))
  value = ssl_lib.supervised_loss(logits, jnp.array([0, 1]))
  np.testing.assert_allclose(float(value), 0.5 * (np.log(4 / 3) + np.log(4.0)), rtol=1e-6)


def test_losses_are_float32_and_finite_at_extreme_logits():
  big = jnp.full((2, 10), 200.0, jnp.bfloat16)
  values = [ssl_lib.unsupervised_loss(big, -big), ssl_lib.unsupervised_loss(-big, big),
            ssl_lib.supervised_loss(big.at[:, 0].set(-200.0), jnp.array([0, 1]))]
  for v in values:
    assert v.dtype == jnp.float32 and np.isfinite(float(v))
  np.testing.assert_allclose(float(values[0]), 0.0, atol=1e-6)   # real certain, fake certain: no loss
  np.testing.assert_allclose(float(values[1]), 0.5 * (200 - np.log(10)) + 0.5 * (200 + np.log(10)), rtol=1e-2)


def test_feature_matching_is_the_mean_squared_difference_of_feature_means():
  out = {"real_f": jnp.array([[1.0, 2.0], [3.0, 4.0]]), "fake_f": jnp.array([[0.0, 0.0], [0.0, 2.0]]),
         "fake": jnp.zeros((2, 3))}
  inp = objective_lib.PhaseInput(type("O", (), {"axis_name": None})(), None, {}, None, 0)
  value, metrics = ssl_lib.feature_matching_term(inp, out)
  np.testing.assert_allclose(float(value), 4.0)  # means (2, 3) and (0, 1): ((2)² + (2)²)/2


# -- labels ----------------------------------------------------------------------------------------------------------


def test_label_selection_is_deterministic_n_per_class_and_disjoint_from_test():
  x, y = load_mnist_full("train")
  a = ssl_lib.select_labelled(y, 10, seed=3, num_classes=10)
  b = ssl_lib.select_labelled(y, 10, seed=3, num_classes=10)
  c = ssl_lib.select_labelled(y, 10, seed=4, num_classes=10)
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, c)
  assert len(np.unique(a)) == 100
  np.testing.assert_array_equal(np.bincount(y[a], minlength=10), np.full(10, 10))
  np.testing.assert_array_equal(y[a], np.repeat(np.arange(10), 10))
  xt, _ = load_mnist_full("test")
  test_rows = {r.tobytes() for r in xt.reshape(len(xt), -1)}
  assert not any(r.tobytes() in test_rows for r in x[a].reshape(100, -1))


def test_more_labels_than_a_class_has_is_a_one_line_error():
  y = np.array([0, 0, 0, 1, 1])
  with pytest.raises(ValueError, match="class 1 has only 2") as e:
    ssl_lib.select_labelled(y, 3, seed=0, num_classes=2)
  assert "\n" not in str(e.value)
  with pytest.raises(ValueError, match="positive integer"):
    ssl_lib.select_labelled(y, 0, seed=0, num_classes=2)


def test_objective_holds_the_seeds_labelled_digits_and_draws_them_per_global_batch(tiny_data):
  c = tiny(tiny_data)
  obj = objective_lib.build(c)
  pool = np.load(tiny_data[0])
  idx = ssl_lib.select_labelled(pool["labels"], 2, 0, 10)
  np.testing.assert_array_equal(obj.labelled_x, pool["images"][idx])
  np.testing.assert_array_equal(obj.labelled_y, np.repeat(np.arange(10), 2))
  x, lab = obj.labelled(jax.random.key(1), 8)
  assert x.shape == (8, 28, 28, 1) and x.dtype == jnp.float32 and len(np.unique(np.asarray(lab))) >= 4
  # every drawn pair is one of the held (image, label) pairs
  held = np.asarray(obj.labelled_x, np.float32).reshape(20, -1) / 127.5 - 1
  nearest = np.argmin(np.abs(np.asarray(x).reshape(8, 1, -1) - held[None]).max(-1), axis=1)
  np.testing.assert_allclose(np.asarray(x).reshape(8, -1), held[nearest], atol=1e-6)
  np.testing.assert_array_equal(np.asarray(lab), obj.labelled_y[nearest])


# -- training ------------------------------------------------------------------------------------------------------


def test_four_devices_equal_one(tiny_data, tmp_path):
  states = []
  for n in (1, 4):
    c = tiny(tiny_data, steps=2)
    # SGD: Adam with few steps turns rounding in near-zero gradients into ±lr steps; device invariance is the subject
    c.optim.g = c.optim.d = dict(name="sgd", lr=1e-2, momentum=0.9)
    t = Trainer(c, str(tmp_path / f"dev{n}"), devices=jax.devices()[:n], quiet=True)
    t.train()
    states.append(jax.device_get(t.state))
  chex.assert_trees_all_close(states[0], states[1], rtol=1e-5, atol=1e-6)
  fresh = objective_lib.build(tiny(tiny_data)).init_state(0)
  assert not np.allclose(states[0].players["g"].params["Dense_0"]["kernel"],  # G trained (feature matching)
                         fresh.players["g"].params["Dense_0"]["kernel"])


def test_sweep_resumes_bit_exactly_and_skips_finished_seeds(tiny_data, tmp_path):
  test = ssl_script.load_test(tiny(tiny_data))
  assert test[0].shape == (40, 28, 28, 1)
  straight = ssl_script.run_seed(tiny(tiny_data, steps=4), 0, str(tmp_path / "a"), test, log=lambda m: None)
  ssl_script.run_seed(tiny(tiny_data, steps=2), 0, str(tmp_path / "b"), test, log=lambda m: None)
  resumed = ssl_script.run_seed(tiny(tiny_data, steps=4), 0, str(tmp_path / "b"), test, log=lambda m: None)
  assert [r["step"] for r in resumed["curve"]] == [2, 4]
  assert [r["test_error"] for r in resumed["curve"]] == [r["test_error"] for r in straight["curve"]]
  final = [jax.device_get(Trainer(tiny(tiny_data, steps=4), str(tmp_path / w / "seed_0"), quiet=True).state)
           for w in ("a", "b")]
  assert int(final[0].step) == 4
  chex.assert_trees_all_equal(final[0], final[1])
  on_disk = json.load(open(tmp_path / "b" / "seed_0" / "result.json"))
  assert on_disk["steps"] == 4 and on_disk["labelled"] == 20 and 0.0 <= on_disk["test_error"] <= 1.0
  # a finished seed is read back, not retrained
  again = ssl_script.run_seed(tiny(tiny_data, steps=4), 0, str(tmp_path / "b"), test, log=lambda m: None)
  assert again == on_disk


def test_with_an_average_d_the_results_report_d_itself_beside_it(tiny_data, tmp_path):
  # The average lags by ~1 / (1 - d_ema) steps: a short run (the 3,000-step baseline at 0.9999) must say what D
  # itself scores, or its figure is the barely-moved average's
  test = ssl_script.load_test(tiny(tiny_data))
  c = tiny(tiny_data, steps=2, d_ema=0.5)
  result = ssl_script.run_seed(c, 0, str(tmp_path / "w"), test, log=lambda m: None)
  last = result["curve"][-1]
  assert result["test_error_raw_d_pct"] == round(100 * last["test_error_raw_d"], 3)
  summary = ssl_script.summarise([result, {**result, "seed": 1}], [0, 1], c, supervised=False)
  assert summary["raw_d_test_error_pct"] == [result["test_error_raw_d_pct"]] * 2
  assert summary["mean_raw_d_test_error_pct"] == result["test_error_raw_d_pct"]
  plain = ssl_script.run_seed(tiny(tiny_data, steps=2), 0, str(tmp_path / "p"), test, log=lambda m: None)
  assert "test_error_raw_d_pct" not in plain  # no average: test_error is D's own
  assert "mean_raw_d_test_error_pct" not in ssl_script.summarise([plain], [0], c, supervised=False)


def test_supervised_baseline_trains_d_alone(tiny_data, tmp_path):
  c = ssl_script.prepare(tiny(tiny_data), supervised=True, eval_every=0)
  c.steps = 2
  obj = objective_lib.build(c)
  assert obj.supervised_only and [p.name for p in obj.phases] == ["d"] and obj.batch_repeats == 1
  t = Trainer(c, str(tmp_path / "sup"), quiet=True)
  before = jax.device_get(t.state)
  t.train()
  after = jax.device_get(t.state)
  chex.assert_trees_all_equal(before.players["g"], after.players["g"])
  assert not np.allclose(before.players["d"].params["WNDense_0"]["v"], after.players["d"].params["WNDense_0"]["v"])


def test_script_errors_are_one_line(tiny_data, tmp_path):
  from test_cli import run
  base = ["--config=jaxgan/configs/ssl_mnist.py", f"--workdir={tmp_path / 'w'}", f"--config.data.name={tiny_data[0]}",
          f"--config.ssl.test_data={tiny_data[1]}"]
  out = run("semi_supervised.py", *base, "--config.ssl.labels_per_class=9")
  assert out.returncode == 2 and "Traceback" not in out.stderr
  assert out.stderr.strip().splitlines() == ["semi_supervised.py: error: ssl.labels_per_class=9 but class 0 has only 8 training "
                                             "examples; request at most 8"]
  assert not os.path.exists(tmp_path / "w")
  out = run("semi_supervised.py", *base, "--seeds=0,x")
  assert out.returncode == 2 and out.stderr.strip().splitlines() == [
      "semi_supervised.py: error: --seeds must be comma-separated non-negative integers, got '0,x'"]


# -- the paper's D recipe: data-dependent init, fixed hidden scales, an averaged D that classifies ----------------


def test_data_init_gives_every_layer_zero_mean_unit_variance_preactivations_on_its_batch(tiny_data):
  c = tiny(tiny_data, data_init=40)
  c.model.input_noise = c.model.hidden_noise = 0.0  # noise off: the check below replays the init pass exactly
  obj = objective_lib.build(c)
  chex.assert_shape(obj.init_x, (40, 28, 28, 1))
  params = obj.init_state(0).players["d"].params
  _, cols = obj.discriminator.apply({"params": params}, ssl_lib.to_float(jnp.asarray(obj.init_x)), train=True,
                                    mutable=["intermediates"])
  layers = sorted((k for k in cols["intermediates"] if k != "features"), key=lambda k: int(k.split("_")[1]))
  assert layers == ["WNDense_0", "WNDense_1", "WNDense_2"]  # two hidden layers and the output
  for name in layers:
    y = np.asarray(cols["intermediates"][name]["preact"][0]) + np.asarray(params[name]["b"])
    np.testing.assert_allclose(y.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(y.std(axis=0), 1.0, rtol=1e-3)
  plain = objective_lib.build(tiny(tiny_data)).init_state(0).players["d"].params
  np.testing.assert_array_equal(params["WNDense_0"]["v"], plain["WNDense_0"]["v"])  # directions untouched
  assert not np.allclose(params["WNDense_0"]["g"], plain["WNDense_0"]["g"])


def test_fixed_hidden_scales_do_not_train_and_the_average_d_follows_d(tiny_data, tmp_path):
  c = tiny(tiny_data, steps=2, data_init=40, d_ema=0.5)
  c.model.ssl_train_hidden_scale = False
  t = Trainer(c, str(tmp_path / "run"), devices=jax.devices()[:1], quiet=True)
  start = jax.device_get(t.state)
  assert t.gan.ema_players == ("d",)
  chex.assert_trees_all_equal(start.ema["d"], start.players["d"].params)  # the average starts at the initialised D
  t.train()
  end = jax.device_get(t.state)
  d0, d1 = start.players["d"].params, end.players["d"].params
  for name in ("WNDense_0", "WNDense_1"):  # hidden: g keeps its data-init value, v and b train
    np.testing.assert_array_equal(d1[name]["g"], d0[name]["g"])
    assert not np.array_equal(d1[name]["v"], d0[name]["v"])
  assert not np.array_equal(d1["WNDense_2"]["g"], d0["WNDense_2"]["g"])  # the output layer's g trains
  # after two D updates with β = 0.5 the average lies strictly between the initial and the final D
  ema = end.ema["d"]["WNDense_2"]["b"]
  assert not np.allclose(ema, d1["WNDense_2"]["b"]) and not np.allclose(ema, d0["WNDense_2"]["b"])
  chex.assert_trees_all_equal(t.gan.classifier_params(end), end.ema["d"])


@pytest.mark.parametrize("change, message", [
    (dict(d_ema=1.0), "ssl.d_ema is the decay of D's average"),
    (dict(data_init=10_000), "ssl.data_init is how many training digits"),
])
def test_bad_recipe_values_are_one_line_errors(tiny_data, change, message):
  with pytest.raises(ValueError, match=message):
    objective_lib.build(tiny(tiny_data, **change))

"""The GAN Playground (jaxgan/playground): its API served by a real uvicorn server, and the page in a real browser.

One server (one session, port 0) serves every test of this file; each test sets the state it needs. The browser
test drives Debian's headless Chromium through Selenium and /usr/bin/chromedriver (never a download); it skips when
they are missing, unless JAXGAN_REQUIRE_BROWSER=1 (CI), where it fails. JAXGAN_PLAYGROUND_SCREENSHOT=PATH also
writes its screenshot there (`python tests/test_playground.py --screenshot` refreshes docs/playground.png).
"""
import base64
import http.client
import json
import os
import shutil
import socket
import time
import urllib.error
import urllib.request

import chex
import jax
import numpy as np
import pytest

from jaxgan.playground import session as session_lib
from jaxgan.playground.server import Server

K = 10  # steps per compiled call in these tests


@pytest.fixture(scope="module")
def server():
  session = session_lib.Session({"steps_per_update": K}, max_fps=50)
  session.reset()
  srv = Server(session, port=0).start()
  yield srv
  srv.stop()
  session.close()


def call(srv, path, body=None, timeout=120):
  """(status, JSON) of GET `path`, or of POST `body` (a dict, or raw bytes) to it."""
  data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
  req = urllib.request.Request(srv.url.rstrip("/") + path, data=data, method="GET" if body is None else "POST",
                               headers={"Content-Type": "application/json"})
  try:
    with urllib.request.urlopen(req, timeout=timeout) as r:
      return r.status, json.loads(r.read())
  except urllib.error.HTTPError as e:
    return e.code, json.loads(e.read())


def arrays(snap):
  get = lambda f, dtype: np.frombuffer(base64.b64decode(snap[f]["b64"]), dtype).reshape(snap[f]["shape"])
  return get("samples", "<f4"), get("arrows", "<f4"), get("surface", "u1")


def fresh(srv, **settings):
  """Paused, the test settings (ring-8 preset, K steps a call) plus `settings`, seed 0, step 0."""
  call(srv, "/api/pause", {})
  status, out = call(srv, "/api/settings", {**session_lib.preset("ring8"), "steps_per_update": K, **settings})
  assert status == 200, out
  assert call(srv, "/api/reset", {"seed": 0})[0] == 200


def test_the_page_ships_everything_it_needs(server):
  with urllib.request.urlopen(server.url, timeout=30) as r:
    page = r.read().decode()
  assert "GAN Playground" in page
  for asset in ("/static/app.js", "/static/style.css"):
    assert asset in page
    with urllib.request.urlopen(server.url.rstrip("/") + asset, timeout=30) as r:
      text = r.read().decode()
    assert r.status == 200 and "http://" not in text and "https://" not in text  # no CDN, nothing remote
  assert "http://" not in page and "https://" not in page
  status, out = call(server, "/api/nope")
  assert status == 404 and "no such page" in out["error"]


def test_snapshot_contents_and_one_step(server):
  fresh(server)
  status, snap = call(server, "/api/snapshot")
  assert status == 200 and snap["step"] == 0 and not snap["playing"]
  status, out = call(server, "/api/step", {})
  assert status == 200 and out["step"] == K
  snap = call(server, "/api/snapshot")[1]
  samples, arrows, surface = arrays(snap)
  chex.assert_shape(samples, (session_lib.N_SHOW, 2))
  chex.assert_shape(arrows, (session_lib.N_ARROWS, 2))
  chex.assert_shape(surface, (session_lib.RES, session_lib.RES))
  chex.assert_tree_all_finite((samples, arrows))
  assert snap["step"] == K and snap["finite"] and snap["extent"] > 0
  assert len(snap["curves"]) == 1 and snap["curves"][0]["step"] == K
  assert all(np.isfinite(snap["curves"][0][k]) for k in ("d_loss", "g_loss", "d_real", "d_fake"))
  modes = snap["modes"]
  assert modes["num_modes"] == 8 and 0 <= modes["modes"] <= 8 and 0 <= modes["high_quality_fraction"] <= 1
  assert modes["n"] == 2500 and modes["ema"]  # PacGAN's protocol, on the EMA generator as evaluate.py scores
  status, real = call(server, "/api/real")
  assert status == 200 and real["data_key"] == "ring8" and real["shape"] == [1000, 2]


def test_reset_with_a_seed_reproduces_the_run(server):
  fresh(server)
  runs = {}
  for name, seed in (("a", 3), ("b", 3), ("c", 4)):
    assert call(server, "/api/reset", {"seed": seed})[0] == 200
    for _ in range(2):
      assert call(server, "/api/step", {})[0] == 200
    snap = call(server, "/api/snapshot")[1]
    runs[name] = (arrays(snap), [c for c in snap["curves"]])
    assert snap["step"] == 2 * K and snap["settings"]["seed"] == seed
  chex.assert_trees_all_equal(runs["a"][0], runs["b"][0])
  assert [r["d_loss"] for r in runs["a"][1]] == [r["d_loss"] for r in runs["b"][1]]
  assert not np.array_equal(runs["a"][0][0], runs["c"][0][0])


@pytest.mark.parametrize("body, says", [
    ({"lr_g": -0.001}, "lr_g must be a number > 0"),
    ({"loss": "nonsense"}, "unknown loss 'nonsense'"),
    ({"pack": 3}, "batch_size 128 does not divide by pack"),
    ({"n_critic": 2.5}, "n_critic must be an integer"),
    ({"batch_size": "many"}, "batch_size must be an integer"),
    ({"colour": "red"}, "unknown setting 'colour'"),
    (b"{not json", "not valid JSON"),
    ([1, 2], "must be a JSON object"),
])
def test_bad_settings_are_a_400_with_one_clear_line_and_change_nothing(server, body, says):
  before = call(server, "/api/snapshot")[1]["settings"]
  status, out = call(server, "/api/settings", body)
  assert status == 400 and says in out["error"] and "\n" not in out["error"], out
  status, snap = call(server, "/api/snapshot")
  assert status == 200 and snap["settings"] == before  # still serving, settings untouched


def test_bad_requests_of_the_other_endpoints(server):
  for path, body, says in (("/api/reset", {"seed": -1}, "seed must be an integer"),
                           ("/api/preset", {"name": "ring9"}, "unknown preset"),
                           ("/api/points", {"points": [[0, "x"]]}, "points must be"),
                           ("/api/points", {"points": []}, "points must be 1 to 2,000"),
                           ("/api/save", {}, "give the directory")):
    status, out = call(server, path, body)
    assert status == 400 and says in out["error"], (path, out)
  call(server, "/api/play", {})
  try:
    status, out = call(server, "/api/step", {})
    assert status == 400 and "while paused" in out["error"]
  finally:
    call(server, "/api/pause", {})


def test_a_change_takes_effect_at_the_next_call_and_keeps_training(server):
  fresh(server)
  call(server, "/api/step", {})
  status, out = call(server, "/api/settings", {"loss": "hinge", "lr_d": 0.001})
  assert status == 200 and out["settings"]["loss"] == "hinge" and out["step"] == K  # the state carried over
  assert call(server, "/api/step", {})[1]["step"] == 2 * K
  snap = call(server, "/api/snapshot")[1]
  assert snap["settings"]["loss"] == "hinge" and snap["finite"]


def test_a_new_latent_size_restarts_g_only():
  session = session_lib.Session({"steps_per_update": K})
  try:
    session.step()
    d_before = jax.tree.map(np.asarray, session.engine.trainer.state.players["d"].params)
    session.update({"latent_dim": 3})
    assert "G started afresh" in session.message
    state = session.engine.trainer.state
    chex.assert_trees_all_equal(jax.tree.map(np.asarray, state.players["d"].params), d_before)
    assert int(state.step) == K and session.engine.runner.step == K
    session.step()
    assert session.latest["step"] == 2 * K and session.latest["finite"]
  finally:
    session.close()


def read_events(srv, n, timeout=60):
  """The first `n` snapshot events of a fresh /api/stream subscription."""
  host, port = srv.server.servers[0].sockets[0].getsockname()[:2]
  conn = http.client.HTTPConnection(host, port, timeout=timeout)
  conn.request("GET", "/api/stream")
  r = conn.getresponse()
  assert r.status == 200 and r.getheader("Content-Type").startswith("text/event-stream")
  events = []
  while len(events) < n:
    line = r.fp.readline().decode()
    if line.startswith("data: "):
      events.append(json.loads(line[6:]))
  conn.close()
  return events


def test_the_stream_sends_snapshots_while_playing(server):
  fresh(server)
  call(server, "/api/play", {})
  try:
    events = read_events(server, 4)
  finally:
    call(server, "/api/pause", {})
  steps = [e["step"] for e in events]
  assert steps == sorted(steps) and steps[-1] > steps[0] and all(e["finite"] for e in events)
  assert all(e["playing"] for e in events[1:])
  # A pause publishes its own snapshot: one taken while playing, still on its way to a page, is never the last word
  # (CI once saw the browser's button flip back to "playing" for good after the pause's own answer)
  last = read_events(server, 1)[0]
  assert not last["playing"] and last["message"] == "paused" and last["seq"] > events[-1]["seq"]
  assert call(server, "/api/snapshot")[1]["seq"] == last["seq"]


def test_a_client_that_never_reads_does_not_hold_training_up(server):
  fresh(server)
  host, port = server.server.servers[0].sockets[0].getsockname()[:2]
  stalled = socket.create_connection((host, port))
  stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
  stalled.sendall(b"GET /api/stream HTTP/1.1\r\nHost: x\r\n\r\n")  # subscribes, then never reads
  try:
    # Compiled first: under xdist this worker may not have run these settings yet, and a compile on a busy
    # 2-core machine can outlast the window below (CI saw step 0 -> 0 in 3 s)
    call(server, "/api/step", {})
    call(server, "/api/play", {})
    start_step, start = call(server, "/api/snapshot")[1]["step"], time.time()
    time.sleep(3.0)  # ~25 KB a snapshot: the stalled socket's buffers fill within the first second
    snap = call(server, "/api/snapshot")[1]
    deadline = time.time() + 60  # then training must go on past the full buffers (polled: the machine may be busy)
    while snap["step"] - start_step < 20 * K and time.time() < deadline:
      time.sleep(0.2)
      snap = call(server, "/api/snapshot")[1]
    published = server.app.state.hub.published
  finally:
    call(server, "/api/pause", {})
    stalled.close()
  steps_per_s = (snap["step"] - start_step) / (time.time() - start)
  assert snap["step"] - start_step >= 20 * K, (start_step, snap["step"])  # training went on
  assert published >= 20 and steps_per_s > 0
  assert read_events(server, 1)[0]["seq"] >= snap["seq"]  # and the server still streams to others


def test_save_run_writes_a_workdir_that_sample_and_evaluate_read(server, tmp_path):
  from jaxgan import metrics
  from jaxgan.sampling import generate, load_run
  fresh(server)
  assert call(server, "/api/save", {"dir": str(tmp_path / "early")})[0] == 400  # step 0: nothing to save
  for _ in range(3):
    call(server, "/api/step", {})
  status, out = call(server, "/api/save", {"dir": str(tmp_path / "run")})
  assert status == 200 and out["step"] == 3 * K, out
  for f in ("config.json", "metrics.jsonl", "checkpoints", "losses.png", f"samples/step_{3 * K:07d}.png"):
    assert (tmp_path / "run" / f).exists(), f
  assert len((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()) == 3
  run = load_run(str(tmp_path / "run"))
  assert run.step == 3 * K and run.config.loss.name == "non_saturating"
  points = generate(run, 500, seed=0)  # what sample.py writes
  chex.assert_shape(points, (500, 2))
  result = metrics.evaluate("mixture", points=points, dataset="ring8")  # what evaluate.py scores
  assert 0 <= result["modes"] <= 8
  status, out = call(server, "/api/save", {"dir": str(tmp_path / "run")})
  assert status == 400 and "not empty" in out["error"]


def test_drawn_points_become_the_data_and_a_saved_run_keeps_them(server, tmp_path):
  fresh(server)
  pts = [[0.0, 0.0], [1.0, 1.0], [-1.0, 0.5]]
  status, out = call(server, "/api/points", {"points": pts})
  assert status == 200 and out["settings"]["dataset"] == "drawn"
  call(server, "/api/step", {})
  snap = call(server, "/api/snapshot")[1]
  assert snap["data_key"].startswith("drawn-") and snap["modes"] is None and snap["finite"]
  real = call(server, "/api/real")[1]
  xy = np.frombuffer(base64.b64decode(real["b64"]), "<f4").reshape(real["shape"])
  assert np.abs(xy).max() < 1.3 and real["extent"] >= 1.25  # near the drawn points
  assert call(server, "/api/save", {"dir": str(tmp_path / "drawn")})[0] == 200
  config = json.loads((tmp_path / "drawn" / "config.json").read_text())
  assert config["data"]["name"] == str(tmp_path / "drawn" / "data.npy")
  from jaxgan import data as data_lib
  import ml_collections
  loaded = data_lib.load(ml_collections.ConfigDict(config["data"]))
  assert loaded.shape == (2,) and loaded.num == len(pts) * session_lib.DRAWN_COPIES
  fresh(server)  # back to ring-8 for the tests after this one


# -- the command line -----------------------------------------------------------------------------------------


def test_the_command_serves_as_soon_as_it_prints_its_url_and_a_port_in_use_is_one_line():
  """`python -m jaxgan.playground --port=0`: the page answers the moment the URL is printed (once, the URL was
  printed before uvicorn bound the port, and a fast client was refused); Ctrl-C ends it cleanly, without a
  traceback; a port already in use is one error line and a non-zero exit."""
  import re
  import signal
  import subprocess
  import sys
  env = {**os.environ, "JAX_PLATFORMS": "cpu"}
  proc = subprocess.Popen([sys.executable, "-m", "jaxgan.playground", "--port=0"], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, env=env)
  try:
    line = proc.stdout.readline()  # blocks until the first line: the URL
    m = re.match(r"jaxgan playground: (http://127\.0\.0\.1:(\d+)/) ", line)
    assert m, line
    with urllib.request.urlopen(m.group(1), timeout=30) as r:  # no retry: it must already be listening
      assert "GAN Playground" in r.read().decode()
    # the port it serves on is taken: a second playground there fails in one line
    taken = subprocess.run([sys.executable, "-m", "jaxgan.playground", f"--port={m.group(2)}"], capture_output=True,
                           text=True, env=env, timeout=120)
    assert taken.returncode != 0
    err = taken.stderr.strip().splitlines()
    assert len(err) == 1 and f"cannot listen on 127.0.0.1:{m.group(2)}" in err[0], taken.stderr
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0
    rest = proc.stdout.read()
    assert "Traceback" not in rest and rest.strip().endswith("stopped"), rest
  finally:
    proc.kill()
    proc.wait()


# -- the data the playground adds to the library --------------------------------------------------------------


@pytest.mark.parametrize("name, bound", [("spiral", 1.8), ("moons", 1.8)])
def test_the_spiral_and_moons_point_sets(name, bound):
  from jaxgan.data.mixtures import sample_mixture
  x = np.asarray(sample_mixture(jax.random.key(0), 4000, name))
  chex.assert_shape(x, (4000, 2))
  chex.assert_tree_all_finite(x)
  assert np.abs(x).max() < bound and x.std(axis=0).min() > 0.3  # spread over the view, inside it
  np.testing.assert_array_equal(x, np.asarray(sample_mixture(jax.random.key(0), 4000, name)))
  with pytest.raises(ValueError, match="unknown mixture 'spirals'.*spiral"):
    sample_mixture(jax.random.key(0), 10, "spirals")


def test_float_arrays_in_npy_files_are_points(tmp_path):
  import ml_collections
  from jaxgan import data as data_lib
  points = np.random.default_rng(0).normal(size=(300, 2))
  np.save(tmp_path / "p.npy", points)
  data = data_lib.load(ml_collections.ConfigDict({"name": str(tmp_path / "p.npy")}))
  assert data.shape == (2,) and data.num == 300 and data.images.dtype == np.float32
  np.testing.assert_allclose(data.images, points.astype(np.float32))
  np.save(tmp_path / "bad.npy", np.array([[0.0, np.nan]]))
  with pytest.raises(data_lib.DataError, match="NaN or Inf"):
    data_lib.load(ml_collections.ConfigDict({"name": str(tmp_path / "bad.npy")}))


# -- the browser ---------------------------------------------------------------------------------------------

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def _browser():
  missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(p)]
  if missing:
    msg = f"{' and '.join(missing)} missing: apt-get install -y chromium chromium-driver"
    if os.environ.get("JAXGAN_REQUIRE_BROWSER") == "1":
      pytest.fail(msg)
    pytest.skip(msg)
  from selenium import webdriver
  from selenium.webdriver.chrome.service import Service
  options = webdriver.ChromeOptions()
  options.binary_location = CHROMIUM
  for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1300,1000", "--hide-scrollbars"):
    options.add_argument(arg)
  return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def test_a_real_browser_plays_changes_the_loss_and_shows_errors(server, tmp_path):
  from PIL import Image
  from selenium.webdriver.common.by import By
  from selenium.webdriver.support.ui import Select, WebDriverWait
  fresh(server)
  driver = _browser()
  try:
    driver.get(server.url)
    waiter = WebDriverWait(driver, 90, poll_frequency=0.1)
    body = driver.find_element(By.TAG_NAME, "body")

    class wait:  # WebDriverWait.until, saying what it waited for and what the page showed when it gave up
      def until(cond, what="a change"):
        try:
          return waiter.until(cond)
        except Exception:
          state = {k: body.get_attribute(f"data-{k}") for k in ("connected", "seq", "step", "loss")}
          pytest.fail(f"waited 90 s for {what}; page: {state}, message: {driver.find_element(By.ID, 'message').text!r}")
    wait.until(lambda d: body.get_attribute("data-connected") == "1" and int(body.get_attribute("data-seq")) > 0,
               "the stream's first snapshot")
    pixels = lambda cid: driver.execute_script(f"return document.getElementById('{cid}').toDataURL()")
    plot0, curves0 = pixels("plot"), pixels("losses")
    driver.find_element(By.ID, "play").click()
    wait.until(lambda d: int(body.get_attribute("data-step")) >= 30 * K, "training to start")
    wait.until(lambda d: pixels("plot") != plot0 and pixels("losses") != curves0, "the plot and curves to change")
    Select(driver.find_element(By.CSS_SELECTOR, "select[data-setting=loss]")).select_by_value("hinge")
    wait.until(lambda d: body.get_attribute("data-loss") == "hinge", "the hinge loss")
    step = int(body.get_attribute("data-step"))
    wait.until(lambda d: int(body.get_attribute("data-step")) >= step + 30 * K, "training with hinge")
    shot = str(tmp_path / "playground.png")
    driver.save_screenshot(shot)
    lr = driver.find_element(By.CSS_SELECTOR, "input[data-setting=lr_g]")  # a bad value: the page says why
    lr.clear()
    lr.send_keys("-1")
    driver.execute_script("arguments[0].dispatchEvent(new Event('change'))", lr)
    message = driver.find_element(By.ID, "message")
    wait.until(lambda d: "error" in message.get_attribute("class") and "lr_g must be" in message.text,
               "the error message")
    assert lr.get_attribute("value") == "0.002"  # the page shows the value still in force
    driver.find_element(By.ID, "play").click()  # pause
    wait.until(lambda d: driver.find_element(By.ID, "play").get_attribute("data-playing") == "0", "pause")
  finally:
    driver.quit()
    call(server, "/api/pause", {})
  image = np.asarray(Image.open(shot).convert("RGB"), np.float32)
  assert image.shape[0] >= 700 and image.shape[1] >= 1200
  plot = image[80:620, 20:580]  # the plot's area: coloured points and a surface, not a blank canvas
  assert plot.std() > 8 and len(np.unique(plot.reshape(-1, 3), axis=0)) > 100
  if os.environ.get("JAXGAN_PLAYGROUND_SCREENSHOT"):
    shutil.copyfile(shot, os.environ["JAXGAN_PLAYGROUND_SCREENSHOT"])


if __name__ == "__main__":
  import sys
  if sys.argv[1:] == ["--screenshot"]:  # refresh the README's screenshot
    here = os.path.dirname(os.path.abspath(__file__))
    os.environ["JAXGAN_PLAYGROUND_SCREENSHOT"] = os.path.join(here, "..", "docs", "playground.png")
    sys.exit(pytest.main([__file__, "-p", "no:xdist", "-k", "real_browser"]))
  sys.exit(f"usage: python {sys.argv[0]} --screenshot")

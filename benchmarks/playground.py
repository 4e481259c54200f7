"""The GAN Playground's targets, measured (docs/playground.md has the figures and the command lines).

  python benchmarks/playground.py startup [--cache=off|warm]   server start → first snapshot served
  python benchmarks/playground.py load [--clients=10 --seconds=30] step rate with 0 vs N stream clients, snapshot
                                                                  latency, API response time under load
  python benchmarks/playground.py modes [--seconds=60]            grid-25 preset: modes while playing

`load` runs the real server (uvicorn, in this process) and N browser-like clients: each holds a /api/stream
subscription in its own thread, parses every event and records its latency (arrival − the snapshot's time stamp);
a probe GETs /api/snapshot twice a second. First N = 0 for `seconds` (training alone), then N clients for
`seconds`, on the same session, playing throughout. Prints one JSON object.
"""
import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def startup(cache: str) -> dict:
  """Seconds from launching scripts/playground.py to the first snapshot (untrained G's samples, D's surface) served,
  and to the page; `cache=off` compiles everything (a first run), `warm` reuses a compile cache from a run before."""
  env = dict(os.environ)
  tmp = tempfile.mkdtemp(prefix="pg-cache-")
  env["JAXGAN_COMPILE_CACHE"] = "off" if cache == "off" else tmp
  runs = 2 if cache == "warm" else 1  # warm: the first run fills the cache, the second is timed
  for i in range(runs):
    port = 8700 + i
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "scripts", "playground.py"), f"--port={port}"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    first = page = None
    try:
      while time.perf_counter() - start < 120:
        try:
          with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/snapshot", timeout=5) as r:
            snap = json.loads(r.read())
          first = time.perf_counter() - start
          with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
            r.read()
          page = time.perf_counter() - start
          assert snap["samples"]["shape"] == [1000, 2]
          break
        except OSError:
          time.sleep(0.05)
    finally:
      proc.terminate()
      proc.wait(timeout=30)
  return {"cache": cache, "first_snapshot_s": round(first, 2), "page_s": round(page, 2)}


class Client(threading.Thread):
  """A browser-like subscriber: reads every event of /api/stream, records each one's latency."""

  def __init__(self, host, port):
    super().__init__(daemon=True)
    self.host, self.port = host, port
    self.latencies, self.seqs, self.stop = [], [], threading.Event()

  def run(self):
    conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
    conn.request("GET", "/api/stream")
    r = conn.getresponse()
    while not self.stop.is_set():
      line = r.fp.readline()
      if not line:
        break
      if line.startswith(b"data: "):
        snap = json.loads(line[6:])
        self.latencies.append(time.time() - snap["time"])
        self.seqs.append(snap["seq"])
    conn.close()


def load(clients: int, seconds: float, preset: str) -> dict:
  from jaxgan import compile_cache
  compile_cache.enable()
  from jaxgan.playground import session as session_lib
  from jaxgan.playground.server import Server
  session = session_lib.Session(session_lib.preset(preset))
  session.reset()
  srv = Server(session, port=0).start()
  host, port = srv.server.servers[0].sockets[0].getsockname()[:2]
  session.step()  # compiled before timing
  session.play()

  def phase(n):
    time.sleep(2.0)  # settle
    cs = [Client(host, port) for _ in range(n)]
    for c in cs:
      c.start()
    time.sleep(1.0)
    probes = []
    step0, seq0, t0 = session.engine.runner.step, session.seq, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
      a = time.perf_counter()
      with urllib.request.urlopen(srv.url + "api/snapshot", timeout=30) as r:
        r.read()
      probes.append(time.perf_counter() - a)
      time.sleep(0.5)
    elapsed = time.perf_counter() - t0
    steps, seqs = session.engine.runner.step - step0, session.seq - seq0
    for c in cs:
      c.stop.set()
    lat = sorted(x for c in cs for x in c.latencies)
    out = {"clients": n, "steps_per_s": round(steps / elapsed, 1), "snapshots_per_s": round(seqs / elapsed, 1),
           "api_ms_median": round(1e3 * statistics.median(probes), 1), "api_ms_max": round(1e3 * max(probes), 1)}
    if n:
      per_client = [len(c.seqs) / elapsed for c in cs]
      out.update({"events_per_s_per_client_min": round(min(per_client), 1),
                  "latency_ms_median": round(1e3 * lat[len(lat) // 2], 1),
                  "latency_ms_p95": round(1e3 * lat[int(len(lat) * 0.95)], 1)})
    return out

  try:
    alone, loaded = phase(0), phase(clients)
  finally:
    session.pause()
    srv.stop()
    session.close()
  return {"preset": preset, "k": session.settings["steps_per_update"], "seconds": seconds, "no_clients": alone,
          "with_clients": loaded, "step_rate_ratio": round(loaded["steps_per_s"] / alone["steps_per_s"], 3),
          "load_average": os.getloadavg()[0]}


def modes(seconds: float) -> dict:
  """The grid-25 preset's settings, playing with one listener (snapshots as a page gets them): the first time
  ≥ 24 and 25 of 25 modes are seen, and the metrics at the end."""
  from jaxgan import compile_cache
  compile_cache.enable()
  from jaxgan.playground import session as session_lib
  session = session_lib.Session(session_lib.preset("grid25"))
  session.listeners.append(lambda snap: None)
  session.step()  # compiled before timing (pressing play on an open page: the program compiled at the start)
  session.reset()
  first, t0 = {}, time.perf_counter()
  session.play()
  trace = []
  while time.perf_counter() - t0 < seconds:
    time.sleep(0.25)
    m, el = session.latest["modes"], time.perf_counter() - t0
    if m:
      trace.append((round(el, 1), m["step"], m["modes"]))
      for n in (24, 25):
        if m["modes"] >= n and n not in first:
          first[n] = {"seconds": round(el, 1), "step": m["step"]}
  session.pause()
  m = session.latest["modes"]
  session.close()
  return {"first_24_modes": first.get(24), "first_25_modes": first.get(25), "seconds": seconds,
          "end": {"step": m["step"], "modes": m["modes"], "high_quality": m["high_quality_fraction"],
                  "reverse_kl": m["reverse_kl"]}, "trace_every_10s": trace[::40], "load_average": os.getloadavg()[0]}


def main():
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("what", choices=["startup", "load", "modes"])
  p.add_argument("--cache", choices=["off", "warm"], default="off")
  p.add_argument("--clients", type=int, default=10)
  p.add_argument("--seconds", type=float, default=30.0)
  p.add_argument("--preset", default="ring8", choices=["ring8", "grid25"])
  a = p.parse_args()
  if a.what == "startup":
    out = startup(a.cache)
  elif a.what == "load":
    out = load(a.clients, a.seconds, a.preset)
  else:
    out = modes(a.seconds if a.seconds != 30.0 else 60.0)
  print(json.dumps(out), flush=True)


if __name__ == "__main__":
  main()

"""The playground's web server: the page (static/, shipped in the package) and a JSON + server-sent-events API.

  GET  /                  the page
  GET  /api/state         settings, choices, presets, history (curves so far), the latest snapshot
  GET  /api/snapshot      the latest snapshot (JSON)
  GET  /api/real          points of the current dataset ({"shape", "b64": float32 little-endian})
  GET  /api/stream        server-sent events: one `snapshot` event per snapshot the client can take
  POST /api/settings      {name: value, ...}  → the settings (a change takes effect at the next compiled call)
  POST /api/preset        {"name": "ring8" | "grid25"}
  POST /api/play, /api/pause, /api/step, /api/reset {"seed": n}, /api/points {"points": [[x, y], ...]},
       /api/save {"dir": path}
Bad input is a 4xx with {"error": "<one line>"}; the server goes on serving.

Snapshots never wait for a browser: the training thread stores the latest one and wakes the event loop
(`call_soon_threadsafe`); each client's stream sends the latest when it can, so a slow or closed client misses
snapshots, never holds training up.
"""
import asyncio
import json
import os
import threading
import time
from typing import Optional, Set

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from jaxgan.playground import session as session_lib
from jaxgan.playground.session import SettingsError

STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
KEEPALIVE_S = 10.0


class Hub:
  """Hands the latest snapshot to every subscribed stream without ever blocking the publisher."""

  def __init__(self):
    self.loop: Optional[asyncio.AbstractEventLoop] = None
    self.clients: Set[asyncio.Event] = set()
    self.latest: Optional[bytes] = None
    self.published = 0
    self.closing = False

  def publish(self, snap: dict) -> None:  # the training thread
    self.latest = snap["data"]
    self.published += 1
    loop = self.loop
    if loop is not None and self.clients:
      try:
        loop.call_soon_threadsafe(self._wake)
      except RuntimeError:  # the loop is closing
        pass

  def _wake(self) -> None:
    for event in self.clients:
      event.set()

  def close(self) -> None:
    """Ends every stream (a server shutting down need not cancel them)."""
    self.closing = True
    if self.loop is not None:
      try:
        self.loop.call_soon_threadsafe(self._wake)
      except RuntimeError:
        pass

  def has_clients(self) -> bool:
    return bool(self.clients)


def _error(message: str, status: int = 400) -> JSONResponse:
  return JSONResponse({"error": " ".join(str(message).split())}, status_code=status)


def create_app(session: session_lib.Session) -> Starlette:
  hub = Hub()
  session.listeners.append(hub.publish)
  session.want_snapshots = hub.has_clients
  if session.latest is not None:
    hub.latest = session.latest["data"]

  async def body(request: Request) -> dict:
    raw = await request.body()
    if not raw:
      return {}
    try:
      data = json.loads(raw)
    except ValueError:
      raise SettingsError("the request body is not valid JSON") from None
    if not isinstance(data, dict):
      raise SettingsError("the request body must be a JSON object")
    return data

  def control(fn):
    """An API endpoint: runs `fn(session, data)` off the event loop; SettingsError → 400 with its message."""
    async def endpoint(request: Request):
      try:
        data = await body(request)
        result = await asyncio.get_running_loop().run_in_executor(None, fn, data)
      except SettingsError as e:
        return _error(e)
      return JSONResponse(result)
    return endpoint

  def status(extra=None):
    out = {"playing": session.playing, "step": int(session.engine.runner.step), "settings": session.settings,
           "message": session.message, "message_kind": session.message_kind}
    out.update(extra or {})
    return out

  def do_settings(data):
    session.update(data)
    return status()

  def do_preset(data):
    name = data.get("name")
    settings = session_lib.preset(str(name)) if isinstance(name, str) else None
    if settings is None:
      raise SettingsError("give the preset as {\"name\": \"ring8\"} or {\"name\": \"grid25\"}")
    settings["seed"] = session.settings["seed"]
    session.update(settings)
    return status()

  def do_play(data):
    session.play()
    return status()

  def do_pause(data):
    session.pause()
    return status()

  def do_step(data):
    snap = session.step()
    return status({"seq": snap["seq"]})

  def do_reset(data):
    session.reset(data.get("seed"))
    return status()

  def do_points(data):
    if "points" not in data:
      raise SettingsError("give the points as {\"points\": [[x, y], ...]}")
    session.set_points(data["points"])
    return status()

  def do_save(data):
    dest = data.get("dir")
    if not isinstance(dest, str) or not dest.strip():
      raise SettingsError("give the directory as {\"dir\": \"runs/my_run\"}")
    return {**session.save(dest.strip()), **status()}

  async def index(request):
    return FileResponse(os.path.join(STATIC, "index.html"), headers={"Cache-Control": "no-cache"})

  def read_state():
    with session._locked():
      return status({"choices": {"dataset": list(session_lib.DATASETS), "loss": sorted(session_lib.losses_lib.LOSSES),
                                 "penalty": list(session_lib.PENALTIES)},
                     "presets": {n: session_lib.preset(n) for n in ("ring8", "grid25")},
                     "history": list(session.history), "modes_history": list(session.modes_history)})

  def read_real():
    with session._locked():
      return session.real_points(), session.data_key(), session.engine.extent

  async def state(request):
    out = await asyncio.get_running_loop().run_in_executor(None, read_state)  # the lock waits off the loop
    latest = session.latest
    return Response(json.dumps(out).encode()[:-1] + b',"snapshot":' + (latest["data"] if latest else b"null") + b"}",
                    media_type="application/json")

  async def snapshot(request):
    latest = session.latest
    if latest is None:
      return _error("no snapshot yet", 503)
    return Response(latest["data"], media_type="application/json", headers={"Cache-Control": "no-cache"})

  async def real(request):
    points, key, extent = await asyncio.get_running_loop().run_in_executor(None, read_real)
    return JSONResponse({"data_key": key, "shape": list(points.shape), "b64": session_lib._b64(points, "<f4"),
                         "extent": extent})

  async def stream(request: Request):
    hub.loop = asyncio.get_running_loop()
    event = asyncio.Event()
    event.set()  # the latest snapshot at once
    hub.clients.add(event)

    async def events():
      try:
        yield b"retry: 1000\n\n"
        while True:
          try:
            await asyncio.wait_for(event.wait(), KEEPALIVE_S)
          except asyncio.TimeoutError:
            yield b": keep-alive\n\n"  # finds closed connections while nothing is published
            continue
          event.clear()
          if hub.closing:
            return
          data = hub.latest
          if data is not None:
            yield b"event: snapshot\ndata: " + data + b"\n\n"
      finally:
        hub.clients.discard(event)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

  async def not_found(request, exc: HTTPException):
    return _error(exc.detail if exc.status_code != 404 else f"no such page: {request.url.path}", exc.status_code)

  async def failed(request, exc: Exception):
    return _error(f"internal error: {type(exc).__name__}: {exc}", 500)

  routes = [Route("/", index), Route("/api/state", state), Route("/api/snapshot", snapshot),
            Route("/api/real", real), Route("/api/stream", stream)]
  for name, fn in (("settings", do_settings), ("preset", do_preset), ("play", do_play), ("pause", do_pause),
                   ("step", do_step), ("reset", do_reset), ("points", do_points), ("save", do_save)):
    routes.append(Route(f"/api/{name}", control(fn), methods=["POST"]))
  routes.append(Mount("/static", StaticFiles(directory=STATIC), name="static"))
  app = Starlette(routes=routes, exception_handlers={HTTPException: not_found, Exception: failed})
  app.state.hub = hub
  app.state.session = session
  return app


class Server:
  """uvicorn serving `create_app(session)` on host:port (port 0: a free one) in a background thread."""

  def __init__(self, session: session_lib.Session, host: str = "127.0.0.1", port: int = 8000):
    import uvicorn
    self.session = session
    self.app = create_app(session)
    self.config = uvicorn.Config(self.app, host=host, port=port, log_level="warning", access_log=False,
                                 timeout_graceful_shutdown=1)
    self.server = uvicorn.Server(self.config)
    self.thread: Optional[threading.Thread] = None

  @property
  def url(self) -> str:
    sock = self.server.servers[0].sockets[0]
    host, port = sock.getsockname()[:2]
    return f"http://{host if ':' not in host else f'[{host}]'}:{port}/"

  def start(self, timeout: float = 30.0) -> "Server":
    self.thread = threading.Thread(target=self.server.run, name="playground-server", daemon=True)
    self.thread.start()
    end = time.time() + timeout
    while not self.server.started:
      if not self.thread.is_alive() or time.time() > end:
        raise RuntimeError(f"the playground server did not start on {self.config.host}:{self.config.port}")
      time.sleep(0.02)
    return self

  def stop(self) -> None:
    self.app.state.hub.close()
    self.server.should_exit = True
    if self.thread is not None:
      self.thread.join(timeout=10)


def main(host: str = "127.0.0.1", port: int = 8000, preset: str = "ring8", play: bool = False,
         max_fps: float = 30.0) -> None:
  """Serves the playground until Ctrl-C / SIGTERM (uvicorn's handlers; the training thread is a daemon)."""
  import socket
  import uvicorn
  start = time.perf_counter()
  sock = None
  try:  # a clear error now, not after the session has compiled; the socket is the one uvicorn serves on
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    port = sock.getsockname()[1]
  except OSError as e:
    if sock is not None:
      sock.close()
    raise ValueError(f"cannot listen on {host}:{port} ({e.strerror or e}); choose another --port or --host") from None
  session = session_lib.Session(session_lib.preset(preset), max_fps=max_fps)
  session.reset()  # the first snapshot: untrained G's samples and D's surface
  if play:
    session.play()
  app = create_app(session)
  config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                          timeout_graceful_shutdown=1)
  shown = f"[{host}]" if ":" in host else host

  class _Server(uvicorn.Server):
    async def startup(self, sockets=None):  # the URL is printed once uvicorn accepts on it, never before
      await super().startup(sockets)
      if self.started:
        print(f"jaxgan playground: http://{shown}:{port}/  (ready in {time.perf_counter() - start:.1f} s; "
              "Ctrl-C stops)", flush=True)
        if host not in ("127.0.0.1", "localhost", "::1"):
          print(f"warning: listening on {host}: anyone who can reach this address can drive the playground and "
                "write runs on this machine", flush=True)

    def handle_exit(self, sig, frame):  # Ctrl-C / SIGTERM: end the streams, then uvicorn's own shutdown
      signalled.append(sig)
      app.state.hub.close()
      super().handle_exit(sig, frame)

  signalled = []
  server = _Server(config)
  try:
    server.run(sockets=[sock])
  finally:
    app.state.hub.close()
    session.close()
  if signalled:  # uvicorn re-raises the signal after its shutdown, but not always (seen under load: a clean return)
    raise KeyboardInterrupt

"""Checkpoints of the train state: orbax-checkpoint behind a small, checked API.

A checkpoint of step `s` lives in `<workdir>/checkpoints/<s>/` and holds three orbax items:

  state/  the state's leaves as a flat dict `{"l00000": array, ...}` (typed PRNG keys as their uint32 key data)
  index/  JSON: for every leaf its tree path, shape, dtype and the CRC-32 of its bytes
  meta/   the caller's JSON metadata (config fingerprint, config, jaxgan version, ...)

Flattening the tree ourselves keeps the on-disk format independent of how orbax serialises flax dataclasses,
optax named tuples or None nodes, lets `restore` name the first leaf whose path/shape/dtype differs from the
template before reading any array, and the checksums catch silent corruption that the storage layer would accept.

Atomicity (measured with orbax 0.12.8 on a local filesystem): orbax writes a step into
`<s>.orbax-checkpoint-tmp-<timestamp>/` and renames it to `<s>/` only when every item is complete, so a process
killed mid-save leaves only a tmp directory, which `all_steps`/`latest_step` never return and which the next
writable `Checkpointer` deletes. Restoring never unpickles anything.
"""
from __future__ import annotations

import hashlib
import json
import logging
import contextlib
import sys
import tempfile
import time
import os
import shutil
import socket
import zlib
from collections.abc import Mapping, Sequence
from typing import Any, Callable

import jax
import numpy as np
import orbax.checkpoint as ocp

from jaxgan import state as state_lib

_FORMAT = 1
_SUBDIR = "checkpoints"
_TMP_MARK = ".orbax-checkpoint-tmp"  # orbax's suffix for unfinished steps; never listed as a checkpoint
_STAGED = ".staged-"  # <workdir>/checkpoints.staged-<step>/checkpoints/<step>: a replacement being saved


class CheckpointError(Exception):
  """A checkpoint cannot be written, is corrupt, or does not fit the template."""


class _QuietOrbax(logging.Filter):
  """Drops orbax's INFO chatter (~80 lines per save+restore under absl.app); its warnings still show."""

  def filter(self, record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING or f"{os.sep}orbax{os.sep}" not in record.pathname


def _quiet_orbax() -> None:
  absl_logger = logging.getLogger("absl")
  if not any(isinstance(f, _QuietOrbax) for f in absl_logger.filters):
    absl_logger.addFilter(_QuietOrbax())


# ---------------------------------------------------------------------------------------------------------------
# Config fingerprint.


def _select(config: Mapping[str, Any], dotted_key: str) -> Any:
  node: Any = config
  for part in dotted_key.split("."):
    if not isinstance(node, Mapping) or part not in node:
      return None  # an absent optional key fingerprints like an explicit None
    node = node[part]
  return node


def _jsonable(x: Any) -> Any:
  """Nested mappings/sequences/numpy scalars -> plain JSON types."""
  if hasattr(x, "to_dict"):
    x = x.to_dict()
  if isinstance(x, Mapping):
    return {str(k): _jsonable(v) for k, v in x.items()}
  if isinstance(x, (list, tuple)):
    return [_jsonable(v) for v in x]
  if isinstance(x, np.generic):
    return x.item()
  if x is None or isinstance(x, (bool, int, float, str)):
    return x
  return repr(x)


def config_fingerprint(config: Any, keys: Sequence[str] | None = None) -> str:
  """sha256 (16 hex digits) of the canonical JSON of `config` restricted to `keys`.

  `keys` are dotted paths (`"model.g_width"`) naming the entries that determine the state's tree structure,
  shapes and dtypes; None hashes the whole config. Key order in `config` does not matter.
  """
  if hasattr(config, "to_dict"):  # ml_collections.ConfigDict is not a Mapping
    config = config.to_dict()
  if keys is not None:
    config = {k: _select(config, k) for k in sorted(keys)}
  canonical = json.dumps(_jsonable(config), sort_keys=True, separators=(",", ":"), allow_nan=True)
  return hashlib.sha256(canonical.encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------------------------
# Leaves.


def _is_key(x: Any) -> bool:
  return isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _flatten(state: Any) -> tuple[list[str], list[Any], Any]:
  """Leaves of `state` with their '/'-joined tree paths; None nodes are empty subtrees, kept in the treedef."""
  path_leaves, treedef = jax.tree_util.tree_flatten_with_path(state)
  paths = [jax.tree_util.keystr(p, simple=True, separator="/") for p, _ in path_leaves]
  return paths, [x for _, x in path_leaves], treedef


def _describe(leaf: Any) -> tuple[list[int], str]:
  if isinstance(leaf, (jax.Array, np.ndarray, np.generic)):
    return [int(d) for d in leaf.shape], str(leaf.dtype)
  if isinstance(leaf, (bool, int, float)):  # Python scalars are stored as 0-d arrays of their numpy type
    return [], f"py{type(leaf).__name__}"
  raise CheckpointError(f"cannot checkpoint leaf of type {type(leaf).__name__}")


def _host_value(x: Any) -> np.ndarray | None:
  """The full value on this host, or None where this host holds only part of it (multi-host sharded)."""
  if isinstance(x, jax.Array):
    if x.is_fully_replicated:
      return np.asarray(x.addressable_data(0))
    if x.is_fully_addressable:
      return np.asarray(x)
    return None
  return np.asarray(x)


def _crc32(x: np.ndarray) -> int:
  return zlib.crc32(np.ascontiguousarray(x).reshape(-1).view(np.uint8))


def _key_data_shape(key: jax.Array) -> tuple[int, ...]:
  # From shape and dtype alone: the template may be donated (deleted).
  return jax.eval_shape(jax.random.key_data, jax.ShapeDtypeStruct(key.shape, key.dtype)).shape


def _savable(leaf: Any) -> Any:
  if _is_key(leaf):
    return jax.random.key_data(leaf)
  if isinstance(leaf, jax.Array):
    return leaf
  return np.asarray(leaf)


def _leaf_name(i: int) -> str:
  return f"l{i:05d}"


def _place(host: np.ndarray, template: Any) -> Any:
  """`host` as the template leaf's kind: a jax Array committed to the template's sharding, numpy, or scalar."""
  if _is_key(template):
    impl = jax.random.key_impl(template)
    sharding = template.sharding
    # A NamedSharding's spec leaves the key-data trailing dim unsharded, so key data and key share a sharding.
    if isinstance(sharding, (jax.sharding.NamedSharding, jax.sharding.SingleDeviceSharding)):
      return jax.random.wrap_key_data(_to_sharded(host, sharding), impl=impl)
    return jax.device_put(jax.random.wrap_key_data(host, impl=impl), sharding)
  if isinstance(template, jax.Array):
    return _to_sharded(host, template.sharding)
  if isinstance(template, np.ndarray):
    return host
  if isinstance(template, np.generic):
    return host[()]
  return type(template)(host.item())


def _to_sharded(host: np.ndarray, sharding: jax.sharding.Sharding) -> jax.Array:
  # Works for multi-host meshes too: each process fills only its addressable shards.
  return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


# ---------------------------------------------------------------------------------------------------------------
# Checkpointer.


class Checkpointer:
  """Saves/restores the train state under `<workdir>/checkpoints/`, keeping the newest `keep` steps.

  Saves are synchronous by default: `save` returns once the step is on disk and visible to `latest_step`.
  Old steps are removed by renaming them to a tmp name first, so a kill mid-removal cannot leave a
  half-deleted step that `all_steps` would list (orbax's own `max_to_keep` deletes in place).
  """

  def __init__(self, workdir: str | os.PathLike, keep: int | None = 3, *, async_save: bool = False,
               read_only: bool = False, quiet: bool = True):
    if quiet:
      _quiet_orbax()
    self.directory = os.path.abspath(os.path.join(os.fspath(workdir), _SUBDIR))
    self.read_only = read_only
    self.keep = keep
    self.async_save = async_save
    if not read_only:
      _check_writable(self.directory)
      if jax.process_index() == 0:
        _finish_staged(self.directory)
        _remove_tmp_dirs(self.directory)
    options = ocp.CheckpointManagerOptions(
        max_to_keep=None,
        enable_async_checkpointing=async_save,
        create=not read_only,
        read_only=read_only,
        cleanup_tmp_directories=not read_only,  # leftovers of saves killed midway
    )
    try:
      self._mngr = ocp.CheckpointManager(self.directory, options=options,
                                         item_names=("state", "index", "meta"))
    except Exception as e:  # noqa: BLE001  (orbax raises assorted types; the caller needs one)
      raise CheckpointError(f"cannot open checkpoint directory {self.directory}: {_one_line(e)}") from e

  # -- queries ----------------------------------------------------------------------------------------------------

  def all_steps(self) -> list[int]:
    """Steps of finalized checkpoints, ascending (interrupted saves are never listed)."""
    self._mngr.reload()
    return sorted(int(s) for s in self._mngr.all_steps())

  def latest_step(self) -> int | None:
    steps = self.all_steps()
    return steps[-1] if steps else None

  def read_meta(self, step: int | None = None) -> dict[str, Any]:
    """The caller's metadata of `step` (default: latest) without reading any array."""
    step = self._resolve_step(step)
    return self._restore_json(step, "meta")

  # -- save -------------------------------------------------------------------------------------------------------

  def save(self, step: int, state: Any, meta: Mapping[str, Any] | None = None) -> bool:
    """Writes `state` as checkpoint `step`; returns False (writing nothing) if that step already exists.

    `meta` must be JSON-serialisable; by convention it holds `fingerprint` (see `config_fingerprint`),
    `config` and `jaxgan_version`.
    """
    if self.read_only:
      raise CheckpointError(f"checkpoint directory {self.directory} was opened read-only")
    step = int(step)
    meta = dict(meta or {})
    try:
      json.dumps(meta, allow_nan=True)
    except (TypeError, ValueError) as e:
      raise CheckpointError(f"checkpoint meta is not JSON-serialisable: {_one_line(e)}") from e
    if self.async_save:
      self.wait()  # the previous async save must land before retention counts steps
    if step in self.all_steps():
      return False
    paths, leaves, _ = _flatten(state)
    index_leaves = []
    for path, leaf in zip(paths, leaves):
      shape, dtype = _describe(leaf)
      host = _host_value(jax.random.key_data(leaf) if _is_key(leaf) else leaf)
      index_leaves.append({"path": path, "shape": shape, "dtype": dtype,
                           "crc32": None if host is None else _crc32(host)})
    index = {"format": _FORMAT, "step": step, "leaves": index_leaves}
    arrays = {_leaf_name(i): _savable(x) for i, x in enumerate(leaves)}
    args = ocp.args.Composite(state=ocp.args.PyTreeSave(arrays), index=ocp.args.JsonSave(index),
                              meta=ocp.args.JsonSave(meta))
    try:
      with _quiet_failure():  # one CheckpointError line, not orbax's logged traceback before it
        # force: save even below the latest step (orbax would otherwise skip it silently).
        saved = bool(self._mngr.save(step, args=args, force=True))
    except Exception as e:  # noqa: BLE001
      raise CheckpointError(f"cannot write checkpoint {step} to {self.directory}: {_one_line(e)}") from e
    if not self.async_save:
      self._apply_retention()  # async: runs in wait(), once the step is final
    return saved

  def replace(self, step: int, state: Any, meta: Mapping[str, Any] | None = None) -> None:
    """Saves `state` as checkpoint `step`, replacing the one already there, such that a kill at any point leaves
    one complete checkpoint of `step` (the old or the new): the new one is saved whole under a staging directory
    beside this one, then swapped in by two renames; a kill between those renames is finished by the next writable
    Checkpointer of this directory (see `_finish_staged`)."""
    step = int(step)
    if step not in self.all_steps():
      self.save(step, state, meta)
      return
    staging = Checkpointer(f"{self.directory}{_STAGED}{step}", keep=None, quiet=False)
    if staging.all_steps():
      staging.delete(staging.all_steps())
    staging.save(step, state, meta)
    staging.close()
    if jax.process_index() == 0:
      final = os.path.join(self.directory, str(step))
      doomed = f"{final}{_TMP_MARK}-replaced"
      try:
        os.rename(final, doomed)  # the old step leaves the listing; the new one is complete in staging
        os.rename(os.path.join(f"{self.directory}{_STAGED}{step}", _SUBDIR, str(step)), final)
      except OSError as e:
        raise CheckpointError(f"cannot replace checkpoint {final}: {_one_line(e)}") from e
      shutil.rmtree(doomed, ignore_errors=True)
      shutil.rmtree(f"{self.directory}{_STAGED}{step}", ignore_errors=True)
    self._mngr.reload()

  def delete(self, steps) -> None:
    """Removes the given steps (each atomically: renamed out of the listing, then deleted)."""
    if jax.process_index() != 0:
      return
    for step in steps:
      final = os.path.join(self.directory, str(step))
      doomed = f"{final}{_TMP_MARK}-deleting"
      try:
        os.rename(final, doomed)  # atomic: the step leaves the listing in one go
      except OSError as e:
        raise CheckpointError(f"cannot remove old checkpoint {final}: {_one_line(e)}") from e
      shutil.rmtree(doomed, ignore_errors=True)
    self._mngr.reload()

  def _apply_retention(self) -> None:
    steps = self.all_steps()
    if self.keep is None or len(steps) <= self.keep:
      return
    self.delete(steps[:len(steps) - self.keep])

  # -- restore ----------------------------------------------------------------------------------------------------

  def restore(self, template: Any, step: int | None = None, *, fingerprint: str | None = None,
              rename: Callable[[str], str] | None = None,
              missing_ok: Sequence[str] = ()) -> tuple[Any, dict[str, Any]]:
    """(state, meta) of checkpoint `step` (default: latest), bit-identical to what was saved.

    `template` supplies the tree structure and, per leaf, shape, dtype, PRNG impl and sharding (its values are
    never read, so a donated state works). jax Array leaves come back committed to the template leaf's sharding.
    If `fingerprint` is given it must equal `meta["fingerprint"]` of the checkpoint. `rename` maps the
    checkpoint's leaf paths to the template's (an older state layout); template leaves named in `missing_ok`
    that the checkpoint lacks come back as zeros.
    """
    step = self._resolve_step(step)
    where = os.path.join(self.directory, str(step))
    index = self._restore_json(step, "index")
    meta = self._restore_json(step, "meta")
    try:
      saved = [(r["path"], tuple(r["shape"]), r["dtype"], r["crc32"]) for r in index["leaves"]]
    except (KeyError, TypeError) as e:
      raise CheckpointError(f"checkpoint {where} is corrupt: malformed index ({_one_line(e)})") from e

    paths, leaves, treedef = _flatten(template)
    problems = []
    if rename is not None:
      saved, source = _renamed(saved, rename, paths, leaves, missing_ok)
    else:
      source = list(range(len(saved)))
    mismatch = _first_mismatch(saved, paths, leaves)
    if mismatch:
      problems.append(mismatch)
    if fingerprint is not None and meta.get("fingerprint") != fingerprint:
      problems.append(f"config fingerprint {meta.get('fingerprint')} in checkpoint, {fingerprint} expected")
    if problems:
      raise CheckpointError(f"checkpoint {where} belongs to an incompatible config: {'; '.join(problems)}")

    restore_args = {_leaf_name(j): ocp.RestoreArgs(restore_type=np.ndarray) for j in source if j is not None}
    try:
      with _quiet_failure():
        restored = self._mngr.restore(step, args=ocp.args.Composite(
            state=ocp.args.PyTreeRestore(restore_args=restore_args)))["state"]
    except Exception as e:  # noqa: BLE001
      raise CheckpointError(f"checkpoint {where} is corrupt or truncated: {_one_line(e)}") from e

    out = []
    for j, (path, shape, dtype, crc), leaf in zip(source, saved, leaves):
      if j is None:  # absent from an older layout (`missing_ok`)
        out.append(_place(np.zeros(shape, dtype), leaf))
        continue
      host = restored.get(_leaf_name(j)) if isinstance(restored, Mapping) else None
      if host is None:
        raise CheckpointError(f"checkpoint {where} is corrupt or truncated: leaf '{path}' is missing")
      host = np.asarray(host)
      want_shape = _key_data_shape(leaf) if _is_key(leaf) else shape
      if host.shape != want_shape or (crc is not None and _crc32(host) != crc):
        raise CheckpointError(f"checkpoint {where} is corrupt: leaf '{path}' fails its checksum")
      out.append(_place(host, leaf))
    return jax.tree_util.tree_unflatten(treedef, out), meta

  def restore_state(self, template: Any, step: int, *, fingerprint: str | None = None) -> tuple[Any, dict[str, Any]]:
    """`restore` of a TrainState (state.py), also from a checkpoint of jaxgan 0.1.0 (state format 1: GANState's
    flat g_/d_ fields, mapped onto players; stage 0). A newer format than this jaxgan reads is a clear error."""
    meta = self.read_meta(step)
    fmt = meta.get("state_format", 1)
    if not isinstance(fmt, int) or not 1 <= fmt <= state_lib.STATE_FORMAT:
      raise CheckpointError(f"checkpoint {os.path.join(self.directory, str(step))} has state format {fmt!r} "
                            f"(written by jaxgan {meta.get('jaxgan_version', '?')}); this jaxgan reads formats 1 "
                            f"to {state_lib.STATE_FORMAT}: install the jaxgan that wrote it, or a newer one")
    if fmt == 1:
      return self.restore(template, step, fingerprint=fingerprint, rename=state_lib.migrate_path,
                          missing_ok=("stage",))
    return self.restore(template, step, fingerprint=fingerprint)

  # -- lifecycle --------------------------------------------------------------------------------------------------

  def wait(self) -> None:
    """Blocks until an async save (if any) is on disk, then drops steps beyond the newest `keep`."""
    self._mngr.wait_until_finished()
    if not self.read_only:
      self._apply_retention()

  def close(self) -> None:
    self.wait()
    self._mngr.close()

  def __enter__(self) -> Checkpointer:
    return self

  def __exit__(self, *exc: object) -> None:
    self.close()

  # -- internals --------------------------------------------------------------------------------------------------

  def _resolve_step(self, step: int | None) -> int:
    steps = self.all_steps()
    if step is None:
      if not steps:
        raise CheckpointError(f"no checkpoint in {self.directory}")
      return steps[-1]
    if int(step) not in steps:
      raise CheckpointError(f"no checkpoint for step {step} in {self.directory} (have {steps})")
    return int(step)

  def _restore_json(self, step: int, item: str) -> dict[str, Any]:
    where = os.path.join(self.directory, str(step))
    try:
      value = self._mngr.restore(step, args=ocp.args.Composite(**{item: ocp.args.JsonRestore()}))[item]
    except Exception as e:  # noqa: BLE001
      raise CheckpointError(f"checkpoint {where} is corrupt or truncated: cannot read {item} "
                            f"({_one_line(e)})") from e
    if not isinstance(value, dict):
      raise CheckpointError(f"checkpoint {where} is corrupt or truncated: {item} is missing")
    return value


def _renamed(saved, rename, paths, leaves, missing_ok):
  """The checkpoint's leaves renamed and put in the template's order, and for each its index in the checkpoint
  (None: absent and allowed to be, described by the template's path with no checksum). Leaves that match no
  template path keep their place at the end, so `_first_mismatch` names them."""
  by_path = {rename(p): (i, (rename(p),) + tuple(rest)) for i, (p, *rest) in enumerate(saved)}
  ordered, source = [], []
  for p, leaf in zip(paths, leaves):
    if p in by_path:
      i, row = by_path.pop(p)
      ordered.append(row)
      source.append(i)
    elif p in missing_ok:
      shape, dtype = _describe(leaf)
      ordered.append((p, tuple(shape), dtype, None))
      source.append(None)
    else:  # `_first_mismatch` then names the first such leaf
      ordered.append((None, (), "", None))
      source.append(None)
  return ordered + [row for _, row in by_path.values()], source


def _first_mismatch(saved: list[tuple[str, tuple[int, ...], str, Any]], paths: list[str],
                    leaves: list[Any]) -> str | None:
  """Description of the first leaf whose path, shape or dtype differs between checkpoint and template."""
  for i, (path, leaf) in enumerate(zip(paths, leaves)):
    if i >= len(saved):
      return f"leaf '{path}' of the template is not in the checkpoint"
    s_path, s_shape, s_dtype, _ = saved[i]
    shape, dtype = _describe(leaf)
    if s_path is None:
      return f"leaf '{path}' of the template is not in the checkpoint"
    if s_path != path:
      if s_path not in paths:
        return f"leaf '{s_path}' of the checkpoint is not in the template"
      return f"leaf '{path}' of the template is not in the checkpoint"
    if tuple(shape) != s_shape or dtype != s_dtype:
      return (f"leaf '{path}' is {s_dtype}{list(s_shape)} in the checkpoint, {dtype}{list(shape)} in the "
              "template")
  if len(saved) > len(leaves):
    return f"leaf '{saved[len(leaves)][0]}' of the checkpoint is not in the template"
  return None


class _HoldOrbaxRecords(logging.Filter):
  """Holds back orbax's log records (e.g. the ERROR + traceback its save thread logs before the save raises)."""

  def __init__(self):
    super().__init__()
    self.held: list[logging.LogRecord] = []

  def filter(self, record: logging.LogRecord) -> bool:
    if f"{os.sep}orbax{os.sep}" in record.pathname:
      self.held.append(record)
      return False
    return True


@contextlib.contextmanager
def _quiet_failure(grace_s: float = 1.0):
  """Runs an orbax read or write whose failure the caller reports as one CheckpointError line.

  A failed orbax operation is noisy: a failed save logs an ERROR with a traceback from orbax's signalling thread
  (through absl logging) before the exception reaches us, and after a failed read tensorstore's I/O threads call
  back into an asyncio loop orbax has already closed, each printing a "RuntimeError: Event loop is closed"
  traceback straight to fd 2, during the operation and for a while after it. So both are held back during the
  block: on success they are replayed unchanged; on failure they are dropped, after a short grace period that
  catches the late echoes too."""
  absl_logger = logging.getLogger("absl")
  hold = _HoldOrbaxRecords()
  absl_logger.addFilter(hold)
  sys.stderr.flush()
  saved = os.dup(2)
  capture = tempfile.TemporaryFile()
  os.dup2(capture.fileno(), 2)
  failed = False
  try:
    yield
  except Exception:
    failed = True
    time.sleep(grace_s)
    raise
  finally:
    sys.stderr.flush()
    os.dup2(saved, 2)
    os.close(saved)
    absl_logger.removeFilter(hold)
    if not failed:
      capture.seek(0)
      text = capture.read()
      if text:
        os.write(2, text)
      for record in hold.held:
        absl_logger.handle(record)
    capture.close()


def _finish_staged(directory: str) -> None:
  """Completes `replace`s killed midway: a staged step whose final directory is missing (the kill fell between the
  two renames) is moved into place; other staging leftovers (the old step is still there) are deleted."""
  parent, base = os.path.split(directory)
  for name in os.listdir(parent):
    if not name.startswith(base + _STAGED):
      continue
    staged_root, step = os.path.join(parent, name), name[len(base + _STAGED):]
    staged, final = os.path.join(staged_root, _SUBDIR, step), os.path.join(directory, step)
    if step.isdigit() and os.path.isdir(staged) and not os.path.exists(final):
      os.rename(staged, final)
    shutil.rmtree(staged_root, ignore_errors=True)


def _remove_tmp_dirs(directory: str) -> None:
  """Deletes leftovers of saves/removals killed midway (orbax names them `<step>.orbax-checkpoint-tmp...`)."""
  for name in os.listdir(directory):
    if _TMP_MARK in name:
      shutil.rmtree(os.path.join(directory, name), ignore_errors=True)


def _check_writable(directory: str) -> None:
  probe = os.path.join(directory, f".write-probe-{socket.gethostname()}-{os.getpid()}")
  try:
    os.makedirs(directory, exist_ok=True)
    with open(probe, "w") as f:
      f.write("ok")
    os.remove(probe)
  except OSError as e:
    raise CheckpointError(f"checkpoint directory {directory} is not writable: {_one_line(e)}") from e


def _one_line(e: BaseException, limit: int = 240) -> str:
  """`Type: first line` of an exception, without tensorstore's spec dump and capped at `limit` chars."""
  lines = str(e).strip().splitlines()
  text = lines[0].split(" [tensorstore_spec=")[0] if lines else ""
  if len(text) > limit:
    text = text[:limit - 3] + "..."
  return f"{type(e).__name__}: {text}"

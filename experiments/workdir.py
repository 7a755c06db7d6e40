"""The thin I/O layer of every entry point: workdir, config, metrics, checkpoints.

A workdir holds one run:

    config.json      the resolved config (a rerun with a different one is refused)
    metrics.jsonl    one JSON object per line (per epoch, per evaluation)
    checkpoints/     orbax checkpoints, one per saved epoch; reruns resume
    figures/         PNG figures
    .lock            while a run is in progress: the process that owns the
                     workdir (:func:`lock`; a second run there is refused)

Entry points parse their flags with :func:`parse_flags` and wrap their
``main`` with :func:`clean_errors`, so that invalid input (a flag, a config
file or field, :class:`ncg.errors.InputError`, an unwritable or full disk)
ends as one ``error:`` line on stderr and exit 2, and a diverged run
(:class:`ncg.errors.Diverged`) as one line and exit 3 (see ncg/errors.py).

Crash safety: every file that is rewritten (config.json, metrics.jsonl when
truncated on resume, summary.json, eval.json) is written to a temporary file
in the same directory and renamed over the old one; orbax writes each
checkpoint to a temporary directory and renames it when complete. A process
killed at any moment (SIGKILL included) therefore leaves either the old or
the new file, never half of one; the one exception, a metrics line cut short
by a kill during its append, is past the last checkpoint and is dropped on
resume (:func:`read_metrics`).

Several hosts (``jax.process_count() > 1``): only process 0
(:func:`ncg.distributed.is_writer`) writes config.json, metrics.jsonl, the
JSON records and the figures; the other processes read what it wrote (a
shared file system) and resume from the same checkpoints. Orbax checkpoints
are saved by every process together (:func:`save_checkpoint`: orbax
coordinates them, the primary process writes the metadata and commits, and
each array shard is written once, by the process holding its replica 0).
"""

from __future__ import annotations

import atexit
import errno
import fcntl
import functools
import json
import logging
import math
import os
import re
import socket
import sys
import time
import warnings
from typing import Any, Callable

from absl import flags
import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp

from experiments import atomic
from experiments import sinks
from ncg import checkpoint
from ncg import distributed
from ncg.errors import EXIT_DIVERGED, EXIT_INPUT, Diverged, InputError, check

CONFIG_FILE = 'config.json'
METRICS_FILE = 'metrics.jsonl'
CHECKPOINT_DIR = 'checkpoints'
FIGURE_DIR = 'figures'
LOCK_FILE = '.lock'  # held (flock) by the process that runs in the workdir
# Config fields a resumed run may change (how often it saves, not what it
# computes); any other difference makes prepare() refuse the workdir.
RESUMABLE_CHANGES = frozenset({'train.checkpoint_every',
                               'train.checkpoint_minutes',
                               'train.baseline'})  # what is trained beside


# Errors of the file system that are the user's to fix (permissions, space).
DISK_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC,
                         errno.EDQUOT, errno.ENOTDIR, errno.EISDIR,
                         errno.ENAMETOOLONG})


def fail(message: str, code: int = EXIT_INPUT) -> None:
  """Prints ``error: <message>`` (one line) on stderr and exits with ``code``."""
  print('error: ' + ' '.join(str(message).split()), file=sys.stderr, flush=True)
  sys.exit(code)


def clean_errors(main: Callable[..., Any]) -> Callable[..., Any]:
  """Wraps an absl ``main``: InputError → exit 2, Diverged → exit 3, one line each.

  An OSError of the file system that the user must fix (permission denied,
  read-only or full disk: :data:`DISK_ERRNOS`) is input too: exit 2.
  """
  @functools.wraps(main)
  def wrapped(*args, **kwargs):
    quiet_teardown()
    try:
      return main(*args, **kwargs)
    except InputError as e:
      fail(e)
    except Diverged as e:
      fail(e, EXIT_DIVERGED)
    except OSError as e:
      if e.errno in DISK_ERRNOS:
        fail(f'cannot write {e.filename or "the workdir"}: {e.strerror}')
      if disk_failure(e) is None:
        raise
      fail(f'cannot write the workdir: {disk_failure(e)} ({_one_line(e)})')
    except Exception as e:  # pylint: disable=broad-except
      # orbax/tensorstore report a full or read-only disk as ValueError etc.
      if disk_failure(e) is None:
        raise
      logging.getLogger('absl').setLevel(logging.CRITICAL)  # see save_checkpoint
      fail(f'cannot write the workdir: {disk_failure(e)} ({_one_line(e)}); '
           'free space (or fix the permissions) and rerun to resume')
    finally:
      release_locks()
  return wrapped


def _drop_teardown_noise(unraisable, default=sys.unraisablehook) -> None:
  error = unraisable.exc_value
  if isinstance(error, RuntimeError) and 'Event loop is closed' in str(error):
    return  # tensorstore's callbacks after orbax's failed restore ended its loop
  default(unraisable)


def quiet_teardown() -> None:
  """Keeps a failed orbax read or write to the one ``error:`` line.

  When a restore or save fails, tensorstore's pending callbacks later find
  orbax's event loop closed and print "Event loop is closed" tracebacks
  (unraisable exceptions), "coroutine ... was never awaited" warnings and
  asyncio's "Task exception was never retrieved" records, after the line
  that explains the failure; these are dropped, nothing else.
  """
  sys.unraisablehook = _drop_teardown_noise
  warnings.filterwarnings('ignore', message='coroutine .* was never awaited',
                          category=RuntimeWarning)
  logging.getLogger('asyncio').addFilter(_drop_unretrieved)


def _drop_unretrieved(record: logging.LogRecord) -> bool:
  """asyncio's "Task exception was never retrieved" of orbax's failed
  writes (its other tasks' copies of the error that was raised)."""
  return 'exception was never retrieved' not in str(record.msg)


def parse_flags(argv: list[str],
                flag_values: flags.FlagValues = flags.FLAGS) -> list[str]:
  """An absl ``flags_parser``: bad flags and config files end as ``error:``, exit 2.

  Covers a flag of the wrong type or out of an enum, a missing or broken
  config file (``--config=``) and an unknown config field
  (``--config.train.nope=1``); the config file is loaded here, so every such
  mistake is reported before anything runs.
  """
  config_files = [a.split('=', 1)[1] for a in argv[1:]
                  if a.startswith('--config=')]
  wanted = [a.split('=')[0] for a in argv[1:] if a.split('=')[0] in HELP_FLAGS
            and a.split('=', 1)[-1].lower() not in ('false', '0')]
  if wanted:
    print_help(argv, flag_values, full=wanted[0] == '--helpfull')
    sys.exit(0)

  def broken_config(e: BaseException) -> None:
    from experiments import configs  # pylint: disable=g-import-not-at-top
    detail = str(e).strip().splitlines()[-1].strip() if str(e).strip() else ''
    name = config_files[-1] if config_files else '(the default)'
    if config_files and not os.path.exists(name.partition(':')[0]):
      detail = configs.describe_missing(name.partition(':')[0])
    fail(f'cannot load the config file {name} ({type(e).__name__}: {detail})')

  try:
    args = flag_values(argv)
    for name in list(flag_values):
      value = getattr(flag_values, name)
      # A config file that failed to load is a stand-in that raises on use.
      getattr(value, 'to_dict', None)
      if type(flag_values[name]).__name__ == '_ConfigFlag':  # ml_collections
        check(isinstance(value, ml_collections.ConfigDict),
              f'the config file {config_files[-1] if config_files else ""} '
              f'must return a ConfigDict from get_config(), got '
              f'{type(value).__name__}')
  except flags.Error as e:
    fail(e)
  except InputError as e:
    fail(e)
  except (AttributeError, KeyError) as e:
    from experiments import configs  # pylint: disable=g-import-not-at-top
    key, hint = configs.unknown_field(e)
    culprit = [a for a in argv[1:] if a.startswith('--') and
               f'.{key}' in a.split('=')[0]]
    if not culprit:
      broken_config(e)
    fail(f'unknown config field {key!r} in {culprit[0]}'
         + (f' (did you mean {hint!r}?)' if hint else '')
         + '; --help lists the fields that exist')
  except (OSError, SyntaxError, ImportError, NameError, TypeError,
          ValueError) as e:
    broken_config(e)
  if flag_values is not flags.FLAGS:
    flags.FLAGS.mark_as_parsed()  # absl's own flags keep their defaults
  return args


HELP_FLAGS = ('--help', '-h', '-?', '--helpshort', '--helpfull')
_FIELD_COMMENT = re.compile(r'^\s*config\.([\w.]+)\s*=.*?#\s*(.+)$')
_CONFIG_IMPORT = re.compile(r'^\s*from experiments\.configs import ([\w, ]+)')


def _field_comments(path: str, seen: set[str] | None = None) -> dict[str, str]:
  """``config.a.b = ...  # comment`` lines of a config file and the config
  files it builds on (``from experiments.configs import default``); the
  file's own comments win over those of its bases."""
  seen = set() if seen is None else seen
  path = os.path.abspath(path)
  if path in seen or not os.path.isfile(path):
    return {}
  seen.add(path)
  with open(path, encoding='utf-8', errors='replace') as f:
    lines = f.read().splitlines()
  comments: dict[str, str] = {}
  for line in lines:
    match = _CONFIG_IMPORT.match(line)
    if match:
      for name in match.group(1).split(','):
        comments.update(_field_comments(
            os.path.join(os.path.dirname(path), name.strip() + '.py'), seen))
  for line in lines:
    match = _FIELD_COMMENT.match(line)
    if match:
      comments[match.group(1)] = match.group(2).strip()
  return comments


def _config_fields(config: Any, prefix: str = '') -> list[tuple[str, Any]]:
  out = []
  for key, value in config.items():
    if isinstance(value, ml_collections.ConfigDict):
      out += _config_fields(value, f'{prefix}{key}.')
    else:
      out.append((prefix + key, value))
  return out


def config_help(flag_name: str, config: Any, path: str | None) -> str:
  """The ``--<flag>.<field>=<value>  # comment`` lines of a loaded config."""
  comments = _field_comments(path) if path else {}
  lines = []
  for field, value in _config_fields(config):
    text = (f'({", ".join(map(str, value))}{"," if len(value) == 1 else ""})'
            if isinstance(value, (tuple, list)) else value)
    comment = comments.get(field)
    lines.append(f'  --{flag_name}.{field}={text}' +
                 (f'    # {comment}' if comment else ''))
  return (f'Config fields (--{flag_name}={path or "?"}; any of them may be '
          f'overridden on the command line):\n' + '\n'.join(lines))


def print_help(argv: list[str], flag_values: flags.FlagValues,
               full: bool = False) -> None:
  """--help: the entry point's docstring, its flags and its config fields.

  ``--helpfull`` adds absl's own flags (logging...). The config fields are
  those of the config file given (``--config=``) or the default one, with
  the overrides on the command line applied and the comments of the file.
  """
  rest = [argv[0]] + [a for a in argv[1:] if a.split('=')[0] not in HELP_FLAGS]
  try:
    flag_values(rest)
  except Exception:  # pylint: disable=broad-except
    try:  # a mistake elsewhere on the line: show the defaults
      flag_values.unparse_flags()
      flag_values([argv[0]])
    except Exception:  # pylint: disable=broad-except
      pass
  main = sys.modules.get('__main__')
  own = os.path.abspath(getattr(main, '__file__', '') or '')
  modules = [m for m in flag_values.flags_by_module_dict()
             if full or m == own or m.startswith('experiments')]
  # The entry module is the one defining --workdir: under python -m it is
  # __main__ (keyed by its file), under a console script its import name.
  entry = flag_values.find_module_defining_flag('workdir', None)
  doc = getattr(sys.modules.get(entry or ''), '__doc__', None)
  parts = [(doc or getattr(main, '__doc__', None) or '').strip()]
  parts.append('Flags:\n' + '\n'.join(
      flag_values.module_help(m).strip() for m in modules))
  for name in list(flag_values):
    flag = flag_values[name]
    if type(flag).__name__ == '_ConfigFlag':
      try:
        config = flag.value
        config.to_dict()
      except Exception as e:  # pylint: disable=broad-except
        parts.append(f'Config fields: the config file cannot be loaded ({e})')
        continue
      parts.append(config_help(name, config,
                               getattr(flag, 'config_filename', None)))
  if not full:
    parts.append('--helpfull lists absl\'s own flags as well.')
  try:
    print('\n\n'.join(p for p in parts if p), flush=True)
  except BrokenPipeError:  # `--help | head`: the reader left; not an error
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _write_atomic(path: str, text: str) -> None:
  """Writes ``text`` to ``path`` through a temporary file renamed over it, synced
  (:func:`experiments.atomic.write`; only on the writing process)."""
  atomic.write(path, lambda f: f.write(text), sync=True)


def config_to_dict(config: ml_collections.ConfigDict) -> dict[str, Any]:
  """A JSON-safe plain dict of a config (tuples become lists)."""
  return json.loads(config.to_json_best_effort(sort_keys=True))


_LOCKS: dict[str, int] = {}  # realpath of a workdir → the fd holding its lock


def owner_text() -> str:
  """'process PID on HOST (since TIME)': what a lock file says of its owner."""
  return (f'process {os.getpid()} on {socket.gethostname()} (since '
          f'{time.strftime("%Y-%m-%d %H:%M:%S %Z")})')


def try_lock(path: str) -> tuple[int | None, str]:
  """(fd holding an exclusive flock of ``path``, or None; the file's text).

  Creates ``path`` if absent. None when another live process holds it (the
  text then names that process). A file removed by its owner while we
  opened it is opened again, so a lock is always that of the file at
  ``path``. OSError where the file system has no locks.
  """
  while True:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)  # the umask applies
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
      text = os.pread(fd, 4096, 0).decode('utf-8', 'replace').strip()
      os.close(fd)
      if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
        return None, text
      raise
    try:
      same = os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
      same = False
    if same:
      return fd, os.pread(fd, 4096, 0).decode('utf-8', 'replace').strip()
    os.close(fd)


def unlock(path: str, fd: int) -> None:
  """Removes ``path`` (whose lock ``fd`` holds: no one else can be using it)
  and releases the lock."""
  try:
    os.unlink(path)
  except OSError:
    pass
  os.close(fd)


def lock(workdir: str) -> None:
  """Makes the calling process the owner of ``workdir`` until it ends.

  The owner holds an exclusive ``flock`` of workdir/.lock, which names it
  (pid, host, start); the kernel releases the lock when the process dies,
  however it dies, and NFS carries it to the other hosts. A second live
  process on the workdir is refused (InputError: two runs would mix their
  metrics, checkpoints and summaries); a lock file left by a process that
  was killed (SIGKILL, a lost node) is taken over, with one line saying
  whose it was. Entry points release their locks as they exit
  (:func:`clean_errors`; the file is removed). Reentrant within a process;
  only the writing process locks (:func:`ncg.distributed.is_writer`).
  """
  if not distributed.is_writer():
    return
  key = os.path.realpath(workdir)
  if key in _LOCKS:
    return
  path = os.path.join(workdir, LOCK_FILE)
  try:
    fd, owner = try_lock(path)
  except OSError as e:  # ENOLCK, EOPNOTSUPP...
    print(f'{workdir}: cannot lock {path} ({e.strerror}: the file system '
          'has no locks); make sure no other run uses this workdir', flush=True)
    return
  if fd is None:
    raise InputError(
        f'{workdir} is in use by {owner or "another process"}: two runs '
        'in one workdir would mix their metrics and checkpoints; wait for '
        'it to end (or stop it), or use another --workdir')
  if owner:  # the file of an owner that died without removing it
    print(f'{workdir}: taking over the lock of {owner}, which is no longer '
          'running (killed, or its machine went down)', flush=True)
  os.ftruncate(fd, 0)
  os.pwrite(fd, (owner_text() + '\n').encode(), 0)
  os.fsync(fd)
  _LOCKS[key] = fd


def release(workdir: str) -> None:
  """Releases this process's lock of ``workdir``, if it holds one (a run
  ends: rbm_run, sweep_run and prune_run release theirs on every exit)."""
  fd = _LOCKS.pop(os.path.realpath(workdir), None)
  if fd is not None:
    unlock(os.path.join(workdir, LOCK_FILE), fd)


def release_locks() -> None:
  """Releases every workdir lock this process holds (removing their files)."""
  for key in list(_LOCKS):
    release(key)


atexit.register(release_locks)


def prepare(workdir: str, config: ml_collections.ConfigDict,
            growable: tuple[str, ...] = ()) -> bool:
  """Creates ``workdir``, locks it and writes the config; True if it resumes.

  A workdir whose config.json differs from ``config`` is refused (InputError)
  rather than overwritten: choose another workdir or delete that one. Only
  the checkpoint interval (:data:`RESUMABLE_CHANGES`) may change on resume,
  and the integer fields named in ``growable`` (e.g. ``'train.epochs'``: a
  finished run extended) may grow; config.json then records the new values.
  The calling process then owns the workdir (:func:`lock`): a second run in
  it is refused while this one lives.
  """
  check(bool(workdir), '--workdir is required')
  check(not os.path.isfile(workdir), f'--workdir {workdir} is a file')
  path = os.path.join(workdir, CONFIG_FILE)
  checkpoints = os.path.join(workdir, CHECKPOINT_DIR)
  check(os.path.exists(path) or not (os.path.isdir(checkpoints) and
                                     os.listdir(checkpoints)),
        f'{workdir} has checkpoints but no {CONFIG_FILE}, so they cannot be '
        'matched to this config: restore its config.json or use another --workdir')
  if distributed.is_writer():  # the other hosts read what process 0 writes
    try:
      os.makedirs(os.path.join(workdir, FIGURE_DIR), exist_ok=True)
    except OSError as e:
      raise InputError(f'cannot create --workdir {workdir}: {e.strerror}') from None
    check(os.access(workdir, os.W_OK), f'--workdir {workdir} is not writable')
  wanted = config_to_dict(config)
  if os.path.exists(path):
    existing = _read_config(path)
    changed = sorted(_differing_keys(existing, wanted))
    added = [key for key in changed if _lookup(existing, key) is None and
             not _has(existing, key)]
    if added:  # fields the code gained since the run began: their values
      print(f'{workdir}: config.json gains fields added since the run began: '
            f'{", ".join(added)}', flush=True)
      changed = [key for key in changed if key not in added]
    grown = {key for key in changed if key in growable and
             _grows(_lookup(existing, key), _lookup(wanted, key))}
    shrunk = [key for key in changed if key in growable and key not in grown]
    if shrunk and set(changed) <= RESUMABLE_CHANGES | set(growable):
      raise InputError(
          f'{workdir} holds a run with {shrunk[0]}={_lookup(existing, shrunk[0])}; '
          f'{shrunk[0]} may only grow when resuming (got '
          f'{_lookup(wanted, shrunk[0])}); use another --workdir')
    if changed and not set(changed) <= RESUMABLE_CHANGES | grown:
      raise InputError(
          f'{workdir} holds a run with a different config (differs in: '
          f'{", ".join(changed)}); use another --workdir or delete it')
    lock(workdir)  # every check passed: this process owns the workdir
    if changed or added:
      _write_atomic(path, json.dumps(wanted, indent=2, sort_keys=True))
    return True
  lock(workdir)
  _write_atomic(path, json.dumps(wanted, indent=2, sort_keys=True))
  return False


# Fields that meant "the default" by -1 before they became typed placeholders
# (unset = None): a config.json written then reads as if they were unset.
LEGACY_UNSET = ('data.validation_size', 'model.num_visible',
                'train.strength_learning_rate')


def _read_config(path: str) -> dict[str, Any]:
  record = _read_json(path)
  for dotted in LEGACY_UNSET:
    *parents, leaf = dotted.split('.')
    parent = _lookup(record, '.'.join(parents))
    if isinstance(parent, dict) and parent.get(leaf) == -1:
      parent[leaf] = None
  return record


def _lookup(record: dict, dotted: str) -> Any:
  for name in dotted.split('.'):
    record = record.get(name) if isinstance(record, dict) else None
  return record


def _has(record: dict, dotted: str) -> bool:
  *parents, leaf = dotted.split('.')
  for name in parents:
    record = record.get(name) if isinstance(record, dict) else None
  return isinstance(record, dict) and leaf in record


def _grows(old: Any, new: Any) -> bool:
  return (isinstance(old, int) and isinstance(new, int) and
          not isinstance(old, bool) and new > old)


def _read_json(path: str) -> dict[str, Any]:
  try:
    with open(path) as f:
      record = json.load(f)
  except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
    raise InputError(f'{path} is not readable JSON ({e}); restore it or use '
                     'another --workdir') from None
  check(isinstance(record, dict), f'{path} does not hold a JSON object')
  return record


def read_json(path: str) -> dict[str, Any]:
  """A JSON object from ``path`` (InputError if unreadable or not an object)."""
  return _read_json(path)


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
  return ml_collections.ConfigDict(_read_config(path))


def _to_json(value: Any) -> Any:
  if isinstance(value, (jax.Array, np.ndarray, np.generic)):
    value = np.asarray(value)
    return value.item() if value.ndim == 0 else value.tolist()
  return value


def append_metrics(workdir: str, record: dict[str, Any]) -> None:
  """Appends one JSON line to workdir/metrics.jsonl (arrays become lists).

  The record also goes to the sinks switched on (experiments/sinks.py:
  NCG_TENSORBOARD=1 writes TensorBoard event files). Only on the writing
  process (:func:`ncg.distributed.is_writer`).
  """
  if not distributed.is_writer():
    return
  record = {k: _to_json(v) for k, v in record.items()}
  path = os.path.join(workdir, METRICS_FILE)
  try:
    with open(path, 'a') as f:
      f.write(json.dumps(record) + '\n')
  except OSError as e:  # a write's error names no file: name it
    raise OSError(e.errno, e.strerror, e.filename or path) from None
  sinks.publish(workdir, record)


def read_metrics(workdir: str) -> list[dict[str, Any]]:
  """All records of workdir/metrics.jsonl, in order.

  A last line without its newline (a kill during its append) is dropped; any
  other unreadable line is an InputError naming it.
  """
  path = os.path.join(workdir, METRICS_FILE)
  if not os.path.exists(path):
    return []
  with open(path, 'rb') as f:
    lines = f.read().split(b'\n')
  records = []
  for number, line in enumerate(lines[:-1], 1):  # lines[-1]: after the last \n
    if line.strip():
      try:
        records.append(json.loads(line))
      except (UnicodeDecodeError, json.JSONDecodeError):
        raise InputError(f'{path} line {number} is not JSON: the file is '
                         'damaged; restore it or use another --workdir') from None
  return records


def truncate_metrics(workdir: str, keep: Callable[[dict[str, Any]], bool]) -> None:
  """Drops records not satisfying ``keep`` (those past a resumed checkpoint).

  The file is replaced atomically: a kill during the rewrite leaves the old one.
  """
  records = [r for r in read_metrics(workdir) if keep(r)]
  _write_atomic(os.path.join(workdir, METRICS_FILE),
                ''.join(json.dumps(r) + '\n' for r in records))


def checkpoint_manager(workdir: str, max_to_keep: int = 2) -> ocp.CheckpointManager:
  """An orbax manager of workdir/checkpoints keeping the newest checkpoints."""
  return ocp.CheckpointManager(
      os.path.abspath(os.path.join(workdir, CHECKPOINT_DIR)),
      options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True))


# How orbax/tensorstore word a save that failed for want of space or rights.
_DISK_FAILURES = ('No space left on device', 'Disk quota exceeded',
                  'Read-only file system', 'Permission denied',
                  'RESOURCE_EXHAUSTED')


def disk_failure(error: BaseException) -> str | None:
  """What a failed write says of the disk ('No space left on device'...),
  or None for an error of another kind."""
  text = str(error)
  for failure in _DISK_FAILURES:
    if failure in text:
      return failure if failure != 'RESOURCE_EXHAUSTED' else 'disk full'
  return None


def save_checkpoint(manager: ocp.CheckpointManager, step: int, tree: Any) -> None:
  """Saves a pytree of arrays at ``step`` and waits until it is on disk.

  Every process calls it (orbax synchronizes them and writes each shard once).

  A save that fails for want of disk space or permissions is an InputError
  (the earlier checkpoints are intact: orbax commits by renaming a finished
  temporary directory); rerunning after freeing space resumes.
  """
  try:
    with checkpoint.quiet_logs():  # failures raise; their threads' logs go
      manager.save(step, args=ocp.args.StandardSave(tree))
      manager.wait_until_finished()
  except Exception as e:  # pylint: disable=broad-except
    if disk_failure(e) is None:
      raise
    # orbax's other writing threads fail after the first and log as they do:
    # the run ends with the line below, so orbax stays quiet from here on
    logging.getLogger('absl').setLevel(logging.CRITICAL)
    raise InputError(f'cannot save checkpoint {step} in {manager.directory}: '
                     f'{_one_line(e, 160)} ({disk_failure(e)}; earlier '
                     'checkpoints are intact: free space and rerun to resume)'
                     ) from None


def restore_checkpoint(manager: ocp.CheckpointManager, like: Any,
                       step: int | None = None) -> tuple[int | None, Any]:
  """(step, tree) of the given or latest checkpoint, or (None, like) if none.

  ``like`` is a pytree with the structure, shapes and dtypes to restore into.
  A checkpoint that cannot be restored is an InputError: damaged (its files
  cannot be read even without ``like``; :func:`damaged`) or of another run.
  """
  step = manager.latest_step() if step is None else step
  if step is None:
    return None, like
  abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
  try:
    with checkpoint.quiet_logs():
      tree = manager.restore(step, args=ocp.args.StandardRestore(abstract))
  except Exception as e:  # pylint: disable=broad-except
    # orbax/tensorstore raise ValueError, TypeError, KeyError, OSError or a
    # bare Exception; which of the two it is, a raw read tells
    detail = _one_line(e)
    if not _readable(manager, step):
      raise damaged(manager, step, detail) from None
    raise InputError(
        f'checkpoint {step} in {manager.directory} does not fit this run '
        f'(a checkpoint of another architecture or config?): {detail}') from None
  return step, tree


def restore_raw(manager: ocp.CheckpointManager, step: int) -> Any:
  """Checkpoint ``step`` as saved (nested dicts of arrays), with no template.

  What a reader that does not train needs (experiments/rbm_run.load_model,
  experiments/prune_run.restore): no data set or trainer is rebuilt to give
  the shapes. A checkpoint that cannot be read is damaged: an InputError
  (:func:`damaged`).
  """
  try:
    with checkpoint.quiet_logs():
      return manager.restore(step, args=ocp.args.StandardRestore())
  except Exception as e:  # pylint: disable=broad-except
    raise damaged(manager, step, _one_line(e)) from None


def _one_line(error: BaseException, limit: int = 200) -> str:
  text = ' '.join(str(error).split()) or type(error).__name__
  return text if len(text) <= limit else text[:limit] + '…'


def _readable(manager: ocp.CheckpointManager, step: int) -> bool:
  """Whether checkpoint ``step``'s files can be read (a raw restore)."""
  try:
    with checkpoint.quiet_logs():
      manager.restore(step, args=ocp.args.StandardRestore())
    return True
  except Exception:  # pylint: disable=broad-except
    return False


def damaged(manager: ocp.CheckpointManager, step: int, detail: str) -> InputError:
  """The error of a damaged checkpoint ``step``, saying how to go on.

  Names the step and what failed; when an older checkpoint can be read, says
  to delete the damaged one and rerun (the run resumes from the older one,
  metrics past it dropped); else that the rerun then starts over.
  """
  path = os.path.join(str(manager.directory), str(step))
  older = [s for s in sorted(manager.all_steps(), reverse=True) if s < step]
  intact = next((s for s in older if _readable(manager, s)), None)
  if intact is not None:
    advice = (f'checkpoint {intact} is intact: delete the damaged one '
              f'(rm -r {path}) and rerun the same command to resume from '
              f'checkpoint {intact}')
  else:
    advice = (f'no older checkpoint is intact: delete it (rm -r {path}) and '
              'rerun the same command to start over, or use another --workdir')
  return InputError(f'checkpoint {step} in {manager.directory} is damaged (its '
                    f'files cannot be read: {detail}); {advice}')


def figure_path(workdir: str, name: str) -> str:
  """workdir/figures/<name>."""
  return os.path.join(workdir, FIGURE_DIR, name)


def _flat(value: Any) -> bool:
  """A list of numbers/strings, or of such lists (a curve): one line in JSON."""
  return isinstance(value, list) and all(
      not isinstance(v, (dict, list)) or
      (isinstance(v, list) and not any(isinstance(u, (dict, list)) for u in v))
      for v in value)


def format_json(value: Any, level: int = 0) -> str:
  """JSON indented by 2 per level, with lists of numbers (per-epoch lists,
  curves) on one line each, so a summary stays a page long."""
  pad = '  ' * (level + 1)
  if isinstance(value, dict) and value:
    items = [f'{pad}{json.dumps(str(k))}: {format_json(v, level + 1)}'
             for k, v in value.items()]
    return '{\n' + ',\n'.join(items) + '\n' + '  ' * level + '}'
  if isinstance(value, list) and value and not _flat(value):
    items = [pad + format_json(v, level + 1) for v in value]
    return '[\n' + ',\n'.join(items) + '\n' + '  ' * level + ']'
  return json.dumps(value)


def finite_json(value: Any) -> Any:
  """``value`` with every non-finite float (NaN, ±inf), at any depth, as None:
  standard JSON (null) instead of NaN/Infinity tokens or 'inf' strings."""
  if isinstance(value, float):
    return value if math.isfinite(value) else None
  if isinstance(value, dict):
    return {k: finite_json(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [finite_json(v) for v in value]
  return value


def write_json(workdir: str, name: str, record: dict[str, Any]) -> str:
  """Writes workdir/<name> atomically (a temporary file renamed over it);
  non-finite floats become null (:func:`finite_json`)."""
  path = os.path.join(workdir, name)
  _write_atomic(path, format_json(finite_json(
      {k: _to_json(v) for k, v in record.items()})) + '\n')
  return path

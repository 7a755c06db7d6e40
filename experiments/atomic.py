"""Files replaced whole: a reader sees the old file or the new one, never half of one.

Every file a run rewrites (config.json, summary.json, side files, figures) is written
to a temporary file beside it and renamed over it; a kill leaves no truncated file, a
full disk names the file it could not write. Only the writing process writes
(:func:`ncg.distributed.is_writer`).
"""

from __future__ import annotations

import os
import tempfile
from typing import Callable, IO

from ncg import checkpoint
from ncg import distributed


def write(path: str, writer: Callable[[IO], None], binary: bool = False,
          sync: bool = False, suffix: str = '.tmp') -> str:
  """Calls ``writer(f)`` on a temporary file beside ``path`` and renames it over ``path``.

  Args:
    path: the file to replace (its directory is created).
    writer: writes the contents to the open file.
    binary: open the temporary file in binary mode.
    sync: flush and fsync before the rename (text that must survive a crash).
    suffix: the temporary file's suffix (``.tmp.png`` keeps an image viewer away).

  Returns:
    ``path``. An OSError names ``path``; the temporary file never stays behind.
  """
  if not distributed.is_writer():  # several hosts: process 0 writes
    return path
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=directory, prefix='.' + os.path.basename(path),
                             suffix=suffix)
  checkpoint.follow_umask(tmp)
  try:
    with os.fdopen(fd, 'wb' if binary else 'w') as f:
      writer(f)
      if sync:
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
  except OSError as e:  # a write's error names no file: name it
    if os.path.exists(tmp):
      os.unlink(tmp)
    raise OSError(e.errno, e.strerror, path) from None
  except BaseException:
    if os.path.exists(tmp):
      os.unlink(tmp)
    raise
  return path

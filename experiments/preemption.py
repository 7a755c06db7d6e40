"""Stopping a run cleanly: SIGTERM/SIGINT become a request honoured at the next epoch end.

A preemptible machine (or ``kill``, or Ctrl-C) sends SIGTERM or SIGINT. Inside
``with StopSignals() as stop:`` the first such signal only sets
``stop.requested``; the epoch loop checks it after each epoch, saves a
checkpoint, prints :func:`StopSignals.message` (one line: what stopped it and
how to resume) and returns, so the process exits 0 and rerunning the same
command resumes exactly. The handlers stay installed up to the run's last
file: a signal after the last epoch lets the run write its outputs (model/,
figures, summary.json), print :func:`StopSignals.finished_message` and exit
0. A second SIGINT (Ctrl-C twice) stops at once, like Python's default,
without saving (the previous checkpoint stays valid).

:class:`CheckpointSchedule` decides when an epoch's end is a checkpoint: every
``every_epochs`` epochs and whenever ``every_minutes`` of wall-clock time have
passed since the last save (long epochs on big data), and always at the end.

Usage (the shape of every entry point's epoch loop)::

    schedule = CheckpointSchedule(t.checkpoint_every, t.checkpoint_minutes)
    with StopSignals() as stop:
      for epoch in range(start + 1, epochs + 1):
        ...train one epoch, append its metrics...
        if schedule.due(epoch, last=epoch == epochs) or stop.requested:
          save(epoch); schedule.saved()
        if stop.requested:
          print(stop.message(epoch, workdir)); return
      ...write model/, figures, summary.json...
      if stop.requested:
        print(stop.finished_message(workdir))
"""

from __future__ import annotations

import functools
import os
import signal
import threading
import time
import weakref
from typing import Any, Callable

SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _restore_handlers(previous: dict[int, Any]) -> None:
  try:
    for s, handler in previous.items():
      signal.signal(s, handler)
  except ValueError:  # not in the main thread: nothing can be restored here
    pass


class StopSignals:
  """Context manager: SIGTERM/SIGINT set ``requested`` instead of killing.

  Outside the main thread (where Python cannot install handlers) it does
  nothing and ``requested`` stays False. The previous handlers come back on
  :meth:`uninstall`, on leaving the ``with`` block, or when the object is
  garbage-collected (a loop that raised before uninstalling, in-process).
  """

  def __init__(self):
    self.signal: int | None = None
    self._restore = None

  def install(self) -> 'StopSignals':
    """Installs the handlers (a loop that cannot be indented under ``with``)."""
    if threading.current_thread() is not threading.main_thread():
      return self
    owner = weakref.ref(self)

    def handle(signum, frame):
      me = owner()
      if me is not None:
        me._handle(signum, frame)  # pylint: disable=protected-access
    previous = {s: signal.signal(s, handle) for s in SIGNALS}
    self._restore = weakref.finalize(self, _restore_handlers, previous)
    return self

  def uninstall(self) -> None:
    """Restores the handlers that were there before :meth:`install`."""
    if self._restore is not None:
      self._restore()  # runs once
      self._restore = None

  def __enter__(self) -> 'StopSignals':
    return self.install()

  def __exit__(self, *exc) -> None:
    self.uninstall()

  def _handle(self, signum: int, frame) -> None:  # pylint: disable=unused-argument
    if self.signal is not None and signum == signal.SIGINT:
      raise KeyboardInterrupt  # Ctrl-C twice: stop now, without saving
    self.signal = signum
    if signum == signal.SIGINT:
      # os.write, not print: the handler may run while tqdm writes to stderr.
      os.write(2, b'\nSIGINT: stopping after the current epoch (Ctrl-C again '
                  b'stops now, keeping the previous checkpoint)\n')

  @property
  def requested(self) -> bool:
    """True once SIGTERM or SIGINT arrived."""
    return self.signal is not None

  @property
  def name(self) -> str:
    return signal.Signals(self.signal).name if self.signal else 'nothing'

  def message(self, epoch: int, workdir: str) -> str:
    """The one line printed after the stop's checkpoint (of ``epoch``) is on disk."""
    if not epoch:
      return (f'stopped by {self.name} before the first epoch ended: nothing to '
              f'save in {workdir}; rerun the same command to start')
    return (f'stopped by {self.name} after epoch {epoch}: checkpoint saved in '
            f'{workdir}; rerun the same command to resume')

  def finished_message(self, workdir: str) -> str:
    """The one line printed when the signal came after the last epoch: the
    run went on to write its outputs (a run is stopped only between epochs)."""
    return (f'stopped by {self.name} after the last epoch: the run is complete '
            f'and every output is saved in {workdir} (rerunning the same '
            'command redoes none of it)')


class CheckpointSchedule:
  """When an epoch's end is a checkpoint: every N epochs, every M minutes, the last.

  Args:
    every_epochs: N >= 1.
    every_minutes: M > 0 minutes of wall-clock time since the last save (or
      since the schedule was made); 0 turns the clock off.
    clock: seconds, monotonic (tests pass a fake one).
  """

  def __init__(self, every_epochs: int, every_minutes: float = 0.0,
               clock: Callable[[], float] = time.monotonic):
    self.every_epochs = int(every_epochs)
    self.every_seconds = 60.0 * float(every_minutes)
    self._clock = clock
    self._last = clock()

  def due(self, epoch: int, last: bool = False) -> bool:
    """Whether to save after ``epoch`` (``last``: the run's final epoch)."""
    return (last or epoch % self.every_epochs == 0 or
            (self.every_seconds > 0 and
             self._clock() - self._last >= self.every_seconds))

  def saved(self) -> None:
    """Records that a checkpoint was just written (restarts the clock)."""
    self._last = self._clock()


class Interrupted(Exception):
  """Raised by :func:`interruptible`'s handlers when SIGTERM/SIGINT arrives."""


def interruptible(main: Callable[..., Any], what: str) -> Callable[..., Any]:
  """Wraps an entry point with nothing to checkpoint (an evaluation).

  SIGTERM/SIGINT raise :class:`Interrupted` at the next Python instruction
  (a running jitted computation finishes first); the wrapper prints one line
  (nothing of this run was recorded, earlier results are untouched, rerun
  to redo it) and returns, so the process exits 0. Result files are written
  atomically, so an interruption never leaves half of one.
  """
  @functools.wraps(main)
  def wrapped(*args, **kwargs):
    def handle(signum, frame):  # pylint: disable=unused-argument
      raise Interrupted(signal.Signals(signum).name)
    previous = {s: signal.signal(s, handle) for s in SIGNALS}
    try:
      return main(*args, **kwargs)
    except Interrupted as e:
      print(f'stopped by {e} before the {what} finished: nothing of it was '
            'recorded and earlier results are untouched; rerun the same '
            'command to redo it', flush=True)
      return None
    finally:
      for s, handler in previous.items():
        signal.signal(s, handler)
  return wrapped

"""What the train, sweep and prune loops share: restore-or-start, the
checkpoint schedule, and a stop before the last epoch.

* :func:`resume`: the latest checkpoint of a prepared workdir (or none), the
  metrics past it dropped, and whether the run is already complete (every
  epoch trained and ``summary.json`` written: a rerun does nothing).
* :class:`Checkpoints`: a checkpoint at an epoch's end when
  :class:`experiments.preemption.CheckpointSchedule` says it is due, at the
  last epoch, or when a signal asked to stop; it remembers the newest one.
* :func:`stopped_early`: a signal stopped the loop before its last epoch was
  checkpointed: the handlers go and the one line says how to go on.

Each loop keeps what is its own (the state's tree, the epoch, what it records
and prints); these are the steps whose order the bit-exact resume depends on
(tests/test_resume*.py, tests/test_reliability*.py).
"""

from __future__ import annotations

import os
from typing import Any, Callable, NamedTuple

from experiments import preemption
from experiments import workdir as workdir_lib

SUMMARY_FILE = 'summary.json'


class Resumed(NamedTuple):
  """Where a run starts.

  Attributes:
    manager: the workdir's checkpoint manager.
    epoch: epochs completed at the restored checkpoint (0: a fresh start).
    tree: what ``restore`` returned beside the epoch (None: nothing restored).
    complete: every epoch is trained and the summary written: nothing to do.
  """
  manager: Any
  epoch: int
  tree: Any
  complete: bool


def resume(workdir: str, resuming: bool, epochs: int,
           restore: Callable[[Any], tuple[int, Any] | None],
           summary_file: str = SUMMARY_FILE) -> Resumed:
  """Restore-or-start in a workdir that :func:`experiments.workdir.prepare`
  has prepared (``resuming``: what it returned).

  ``restore(manager)`` gives (epoch, tree) of the latest checkpoint, or None
  when there is none. A restored run whose epochs are all trained and whose
  ``summary_file`` exists is complete (its metrics are left as they are);
  otherwise the metrics records past the restored epoch are dropped, and a
  resumed workdir without a checkpoint drops them all.
  """
  manager = workdir_lib.checkpoint_manager(workdir)
  restored = restore(manager)
  if restored is None:
    if resuming:
      workdir_lib.truncate_metrics(workdir, lambda r: False)
    return Resumed(manager, 0, None, False)
  epoch, tree = restored
  if epoch >= epochs and os.path.isfile(os.path.join(workdir, summary_file)):
    return Resumed(manager, epoch, tree, True)
  workdir_lib.truncate_metrics(workdir, lambda r: r.get('epoch', 0) <= epoch)
  return Resumed(manager, epoch, tree, False)


def resuming_line(workdir: str, epoch: int) -> str:
  """What a resumed RBM run or sweep prints before its first epoch."""
  return f'Resuming {workdir} after epoch {epoch}.'


class Checkpoints:
  """The checkpoint schedule of a loop over epochs (``saved``: the newest)."""

  def __init__(self, manager, train_config, start: int):
    self.manager = manager
    self.schedule = preemption.CheckpointSchedule(train_config.checkpoint_every,
                                                  train_config.checkpoint_minutes)
    self.saved = start

  def save(self, epoch: int, tree: Any) -> None:
    """Checkpoint ``tree`` as ``epoch`` now."""
    workdir_lib.save_checkpoint(self.manager, epoch, tree)
    self.saved = epoch

  def at_end_of(self, epoch: int, last: bool, stop: preemption.StopSignals,
                tree: Callable[[], Any]) -> None:
    """After ``epoch``: a checkpoint of ``tree()`` when due, at the ``last``
    epoch, or when a signal asked to stop."""
    if self.schedule.due(epoch, last=last) or stop.requested:
      workdir_lib.save_checkpoint(self.manager, epoch, tree())
      self.schedule.saved()
      self.saved = epoch


def stopped_early(stop: preemption.StopSignals, saved: int, epochs: int,
                  workdir: str, before: Callable[[], None] | None = None) -> bool:
  """True (``before()`` run, the handlers uninstalled, the one line printed)
  when a signal stopped the loop before epoch ``epochs`` was checkpointed
  (``saved``: the newest checkpoint)."""
  if not (stop.requested and saved < epochs):
    return False
  if before is not None:
    before()
  stop.uninstall()
  print(stop.message(saved, workdir))
  return True

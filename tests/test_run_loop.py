"""experiments/run_loop.py: restore-or-start and the early stop, without training.

The loops' resume is checked bit for bit by tests/test_resume*.py and
tests/test_reliability*.py; these check the shared steps' cases alone (a
fake ``restore``, a fake stop; ~1 s).
"""

from __future__ import annotations

from experiments import run_loop
from experiments import workdir as workdir_lib


def _metrics(workdir, epochs):
  for epoch in epochs:
    workdir_lib.append_metrics(str(workdir), {'epoch': epoch})


def test_a_fresh_start_restores_nothing_and_keeps_the_metrics(tmp_path):
  _metrics(tmp_path, (1, 2))
  resumed = run_loop.resume(str(tmp_path), False, 3, lambda manager: None)
  assert (resumed.epoch, resumed.tree, resumed.complete) == (0, None, False)
  assert len(workdir_lib.read_metrics(str(tmp_path))) == 2
  resumed = run_loop.resume(str(tmp_path), True, 3, lambda manager: None)
  assert workdir_lib.read_metrics(str(tmp_path)) == []  # resumed, no checkpoint


def test_a_restored_run_drops_the_metrics_past_its_checkpoint(tmp_path):
  _metrics(tmp_path, (1, 2, 3))
  seen = []
  resumed = run_loop.resume(str(tmp_path), True, 5,
                            lambda manager: seen.append(manager) or (2, 'tree'))
  assert seen == [resumed.manager]
  assert (resumed.epoch, resumed.tree, resumed.complete) == (2, 'tree', False)
  assert [r['epoch'] for r in workdir_lib.read_metrics(str(tmp_path))] == [1, 2]
  assert run_loop.resuming_line('w', 2) == 'Resuming w after epoch 2.'


def test_a_finished_run_with_its_summary_is_complete(tmp_path):
  _metrics(tmp_path, (1, 2, 3))
  restore = lambda manager: (3, 'tree')
  assert not run_loop.resume(str(tmp_path), True, 3, restore).complete
  _metrics(tmp_path, (4,))
  workdir_lib.write_json(str(tmp_path), 'result.json', {})
  resumed = run_loop.resume(str(tmp_path), True, 3, restore, 'result.json')
  assert resumed.complete and resumed.epoch == 3
  assert len(workdir_lib.read_metrics(str(tmp_path))) == 4  # left as it is


class _Stop:
  def __init__(self, requested):
    self.requested, self.uninstalled = requested, False

  def uninstall(self):
    self.uninstalled = True

  def message(self, epoch, workdir):
    return f'stopped after {epoch} in {workdir}'


def test_stopped_early_only_before_the_last_checkpoint(capsys):
  calls = []
  for requested, saved, expected in ((False, 1, False), (True, 3, False),
                                     (True, 2, True)):
    stop = _Stop(requested)
    assert run_loop.stopped_early(stop, saved, 3, 'w',
                                  lambda: calls.append(saved)) is expected
    assert stop.uninstalled is expected
  assert calls == [2]
  assert capsys.readouterr().out == 'stopped after 2 in w\n'

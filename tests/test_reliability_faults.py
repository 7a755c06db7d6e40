"""Faults a cluster produces (issue 27): each class ends in one line and exit 2.

Class 4: a setting rejected only after the workdir was written made the
corrected command fail with "different config"; every check now runs before
anything is written. Class 3: a workdir is owned by the live process that
runs in it (a second one is refused; a killed one's lock is taken over), and
evaluations at once reserve different result names. Class 2: a damaged
checkpoint is named in one line, with how to resume from an older intact
one; ncg.checkpoint.load checks its metadata against the arrays. One driver process forks every command
(tests/entry_driver.py), as tests/test_reliability_inputs.py does; the
programs are those of tests/test_reliability.py (the session's compilation
cache has them).
"""

from __future__ import annotations

import gc
import glob
import json
import os
import shutil
import subprocess
import sys

import jax.numpy as jnp
import numpy as np
import pytest

from experiments import workdir as workdir_lib
from ncg import checkpoint
from ncg.errors import InputError
from tests.conftest import ROOT

DRIVER = os.path.join(ROOT, 'tests', 'entry_driver.py')
HOOK = 'tests.fault_hooks'
BARS = 'experiments/configs/bars_and_stripes.py'
PRUNE = 'experiments/configs/prune_tiny.py'
SMALL = [f'--config={BARS}', '--config.eval.final=False',
         '--config.figures.gibbs_steps=5', '--config.figures.num_samples=4',
         '--config.train.checkpoint_every=1']


def _drive(steps, base):
  """[(exit code, output)] of the driver jobs ``steps`` [(module, argv)]."""
  jobs = [(module, argv, os.path.join(base, f'{i}.log'))
          for i, (module, argv) in enumerate(steps)]
  done = subprocess.run([sys.executable, DRIVER, json.dumps(jobs)], cwd=ROOT,
                        capture_output=True, text=True, timeout=600)
  line = [l for l in done.stdout.splitlines() if l.startswith('RESULTS')]
  assert line, done.stderr[-3000:]
  out = []
  for (_, _, log), (code, _) in zip(jobs, json.loads(line[0][len('RESULTS'):])):
    with open(log) as f:
      out.append((code, f.read()))
  return out


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
  """({name: (exit code, output)} of the commands, run in order; the base
  directory; the pid of the process that held the train workdir)."""
  base = str(tmp_path_factory.mktemp('faults'))
  train, sweep = os.path.join(base, 'train'), os.path.join(base, 'sweep')
  corrected = ('experiments.train', [*SMALL, '--config.train.epochs=2',
                                     f'--workdir={train}'])
  # class 3: a live process owns the train workdir (it speaks workdir.lock's
  # protocol: an flock of .lock naming its owner), then is killed
  holder = subprocess.Popen([sys.executable, '-c', HOLDER, train],
                            stdout=subprocess.PIPE, text=True)
  pid = holder.stdout.readline().strip()
  steps = {
      # class 4: rejected before anything is written, then the corrected command
      'shards': ('experiments.train', [*SMALL, '--config.train.epochs=2',
                                       '--config.train.data_shards=64',
                                       f'--workdir={train}']),
      'sweep chunk': ('experiments.sweep', [*SMALL, '--chunk=-1',
                                            f'--workdir={sweep}']),
      'sweep shards': ('experiments.sweep', [*SMALL, '--config.train.data_shards=64',
                                             f'--workdir={sweep}']),
      'busy': corrected,                   # class 3: refused while it lives
      'kill': (HOOK, ['kill', pid]),
      'corrected': corrected,              # takes the dead owner's lock over
      # class 2: checkpoint 2 of 2 truncated; resuming names it and checkpoint 1
      'truncate': (HOOK, ['truncate', os.path.join(train, 'checkpoints', '2')]),
      'damaged': ('experiments.train', [*SMALL, '--config.train.epochs=3',
                                        f'--workdir={train}']),
  }
  # class 5: settings that crashed with a traceback (exit 1)
  prune = lambda *a: ('experiments.prune', [  # pylint: disable=unnecessary-lambda-assignment
      f'--config={PRUNE}', '--config.train.epochs=2', *a,
      f'--workdir={base}/prune'])
  steps.update({
      'widths text': prune("--config.model.widths='(300,x)'"),
      'widths float': prune('--config.model.widths=(1.5,2)'),
      'widths huge': prune('--config.model.widths=(1000000000,16)'),
      'hidden huge': ('experiments.train', [
          *SMALL, '--config.model.num_hidden=1000000000000',
          f'--workdir={base}/huge']),
  })
  try:
    results = _drive(list(steps.values()), base)
  finally:
    holder.kill()
    holder.wait()
  return dict(zip(steps, results)), base, pid


HOLDER = """
import fcntl, os, sys, time
os.makedirs(sys.argv[1])
fd = os.open(os.path.join(sys.argv[1], '.lock'), os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, f'process {os.getpid()} on a node (since now)'.encode())
print(os.getpid(), flush=True)
time.sleep(600)
"""


def _one_error(code, output, words):
  errors = [l for l in output.splitlines() if l.startswith('error: ')]
  assert code == 2 and len(errors) == 1, output[-3000:]
  assert 'Traceback' not in output and 'Event loop' not in output, output[-3000:]
  for word in words:
    assert word in errors[0], errors[0]
  return errors[0]


def test_checks_come_before_anything_is_written(runs):
  """Class 4: data shards against the devices, --chunk: exit 2, no workdir;
  the corrected command then runs in the same workdir."""
  results, base, _ = runs
  _one_error(*results['shards'], ['train.data_shards=64 needs 64 devices'])
  _one_error(*results['sweep chunk'], ['--chunk must be an integer >= 0'])
  _one_error(*results['sweep shards'], ['train.data_shards=64'])
  assert not os.path.exists(os.path.join(base, 'sweep'))
  code, output = results['corrected']
  assert code == 0, output[-3000:]
  assert 'different config' not in output
  with open(os.path.join(base, 'train', 'summary.json')) as f:
    assert json.load(f)['epochs'] == 2


def test_a_damaged_checkpoint_is_named_with_the_intact_one(runs):
  """Class 2: a truncated array file of the latest checkpoint: one line that
  names it and says how to resume from the older one (train; sweep and
  prune read checkpoints through the same two functions, tested below)."""
  results, base, _ = runs
  assert results['truncate'][0] == 0, results['truncate'][1]
  path = os.path.join(base, 'train', 'checkpoints', '2')
  _one_error(*results['damaged'],
             ['checkpoint 2 in', 'is damaged', 'checkpoint 1 is intact',
              f'rm -r {path}'])


def test_a_live_owner_is_refused_a_dead_ones_lock_taken_over(runs):
  """Class 3: a second process on a workdir → one line, exit 2, naming the
  owner; after the owner is killed (SIGKILL: its .lock file stays), the
  next run takes the lock over with a message, and removes it at its end."""
  results, base, pid = runs
  _one_error(*results['busy'], [f'is in use by process {pid} on a node',
                                'use another --workdir'])
  assert results['kill'][0] == 0, results['kill'][1]
  code, output = results['corrected']
  assert code == 0, output[-3000:]
  assert f'taking over the lock of process {pid} on a node' in output
  assert not os.path.exists(os.path.join(base, 'train', '.lock'))


def test_two_evaluations_reserve_different_names(tmp_path):
  """Class 3: evaluations at once take eval.json, eval-2.json… (and their
  figures' prefixes) one each; a killed one's reservation is free again."""
  from experiments import evaluate_run  # pylint: disable=g-import-not-at-top
  from experiments import figures  # pylint: disable=g-import-not-at-top
  directory = str(tmp_path)
  first, held = evaluate_run.reserve_result_name(directory)
  second, held2 = evaluate_run.reserve_result_name(directory)
  assert (first, second) == ('eval.json', 'eval-2.json')
  workdir_lib.unlock(*held)  # the first finished without writing (killed)
  assert evaluate_run.reserve_result_name(directory)[0] == 'eval.json'
  workdir_lib.unlock(*held2)
  path = figures.line_plot(str(tmp_path / 'figures' / 'eval_x.png'), [1, 2],
                           {'a': [1.0, 2.0]})
  assert os.listdir(tmp_path / 'figures') == ['eval_x.png']  # no temp file
  assert open(path, 'rb').read(8) == b'\x89PNG\r\n\x1a\n'


def test_malformed_tuples_and_models_too_large_are_one_line(runs):
  """Class 5: a tuple field with a bad element, and a model that cannot fit
  the memory (checked before anything is allocated: the size asked, what
  fits) end in one line and exit 2, with nothing written."""
  results, base, _ = runs
  for name in ('widths text', 'widths float'):
    _one_error(*results[name], ['model.widths must be a non-empty tuple of '
                                'integers >= 1'])
  _one_error(*results['widths huge'], ['a mlp network with model.widths='
                                       '(1000000000, 16) needs 8.', 'TiB',
                                       '% of that fits'])
  line = _one_error(*results['hidden huge'], [
      'an RBM of 16 visible units with model.num_hidden=1000000000000 needs',
      'memory is free: at most about model.num_hidden='])
  fits = int(line.split('model.num_hidden=')[2].split()[0])
  assert 0 < fits < 10 ** 12
  assert not os.path.exists(os.path.join(base, 'prune', 'config.json'))
  assert not os.path.exists(os.path.join(base, 'huge'))


def test_a_full_disk_is_one_line_without_orbax_tracebacks(capfd):
  """Class 5: orbax logs each failing thread's traceback before it raises
  (hundreds of lines on a full disk); the run ends with the one line."""
  import logging  # pylint: disable=g-import-not-at-top
  import threading  # pylint: disable=g-import-not-at-top
  full = ('RESOURCE_EXHAUSTED: Error writing local file "w/checkpoints/3.orbax'
          '-checkpoint-tmp/_sharding": No space left on device')

  class FullDisk:
    directory = 'w/checkpoints'

    def save(self, step, args):
      def log():  # as orbax's writing threads do
        try:
          raise ValueError(full)
        except ValueError:
          logging.getLogger('absl').error('thread raised', exc_info=True)
      thread = threading.Thread(target=log)
      thread.start()
      thread.join()
      raise ValueError(full)

  def main():
    workdir_lib.save_checkpoint(FullDisk(), 3, {})
  absl = logging.getLogger('absl')
  level = absl.level  # a disk failure silences orbax for the rest of the run
  try:
    with pytest.raises(SystemExit) as stopped:
      workdir_lib.clean_errors(main)()
  finally:
    absl.setLevel(level)
  assert stopped.value.code == 2
  err = capfd.readouterr().err
  assert err.count('\n') == 1 and err.startswith(
      'error: cannot save checkpoint 3 in w/checkpoints: RESOURCE_EXHAUSTED'), err
  assert 'No space left on device; earlier checkpoints are intact' in err

  def model_save():  # ncg.checkpoint.save and other orbax writes
    raise ValueError(full)
  try:
    with pytest.raises(SystemExit) as stopped:
      workdir_lib.clean_errors(model_save)()
  finally:
    absl.setLevel(level)
  assert stopped.value.code == 2
  err = capfd.readouterr().err
  assert err.count('\n') == 1 and err.startswith(
      'error: cannot write the workdir: No space left on device'), err


def _damage(directory):
  for name in glob.glob(os.path.join(directory, '**', 'd', '*'), recursive=True):
    os.truncate(name, 8)


# tensorstore's callbacks after a failed read (workdir.quiet_teardown drops
# them in the entry points)
QUIET = pytest.mark.filterwarnings(
    'ignore::pytest.PytestUnraisableExceptionWarning')


@QUIET
def test_restore_tells_damage_from_another_run(tmp_path):
  """The shared readers of train, sweep and prune (workdir.restore_checkpoint
  with a template, workdir.restore_raw without): damaged → 'is damaged' and
  the advice; readable but of another shape → 'does not fit'."""
  tree = {'a': jnp.arange(6.0).reshape(2, 3), 'epoch': jnp.asarray(0)}
  manager = workdir_lib.checkpoint_manager(str(tmp_path))
  for step in (1, 2):
    workdir_lib.save_checkpoint(manager, step, tree)
  with pytest.raises(InputError, match='does not fit this run'):
    workdir_lib.restore_checkpoint(manager, {'a': jnp.zeros((4, 4)),
                                             'epoch': jnp.asarray(0)})
  _damage(str(tmp_path / 'checkpoints' / '2'))
  for read in (lambda: workdir_lib.restore_checkpoint(manager, tree),
               lambda: workdir_lib.restore_raw(manager, 2)):
    with pytest.raises(InputError, match='checkpoint 2 .* is damaged .* '
                       'checkpoint 1 is intact: delete the damaged one'):
      read()
  _damage(str(tmp_path / 'checkpoints' / '1'))
  with pytest.raises(InputError, match='no older checkpoint is intact'):
    workdir_lib.restore_raw(manager, 2)
  manager.close()
  gc.collect()  # tensorstore's leftovers of the failed reads, under QUIET


@QUIET
def test_load_checks_metadata_against_the_arrays(tmp_path):
  """Class 2: ncg.checkpoint.load no longer trusts metadata.json."""
  saved = checkpoint.save(str(tmp_path / 'm'), {
      'W': np.zeros((3, 4), np.float32), 'b': np.ones(4, np.int32)})

  def edited(change, name):
    path = str(tmp_path / name)
    shutil.copytree(saved, path)
    with open(os.path.join(path, 'metadata.json')) as f:
      record = json.load(f)
    change(record)
    with open(os.path.join(path, 'metadata.json'), 'w') as f:
      json.dump(record, f)
    return path

  cases = [
      (lambda r: r['shapes'].update(W=[2, 4]), "says 'W' is float32.2, 4. but"),
      (lambda r: r['dtypes'].update(W='float64'), "says 'W' is float64"),
      (lambda r: r['dtypes'].update(W='bogus'), 'not a numpy dtype'),
      (lambda r: r['dtypes'].update(W=7), 'not a numpy dtype'),
      (lambda r: r.pop('dtypes'), 'no dtypes record'),
      (lambda r: r['dtypes'].pop('b'), 'name different arrays'),
      (lambda r: r['shapes'].update(W='3x4'), 'not a list of sizes'),
  ]
  for i, (change, words) in enumerate(cases):
    with pytest.raises(InputError, match=words):
      checkpoint.load(edited(change, f'case{i}'))
  truncated = edited(lambda r: None, 'truncated')
  _damage(os.path.join(truncated, 'state'))
  with pytest.raises(InputError, match='is damaged .its arrays cannot be read'):
    checkpoint.load(truncated)
  gc.collect()
  assert checkpoint.load(saved).state['b'].dtype == np.int32

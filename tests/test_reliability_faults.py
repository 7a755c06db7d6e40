"""Faults a cluster produces (issue 27): each class ends in one line and exit 2.

Class 4: a setting rejected only after the workdir was written made the
corrected command fail with "different config"; every check now runs before
anything is written. Class 2: a damaged checkpoint is named in one line,
with how to resume from an older intact one; ncg.checkpoint.load checks its
metadata against the arrays. One driver process forks every command
(tests/entry_driver.py), as tests/test_reliability_inputs.py does; the
programs are those of tests/test_reliability.py (the session's compilation
cache has them).
"""

from __future__ import annotations

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
  """{name: (exit code, output)} of the commands, run in order, and the base."""
  base = str(tmp_path_factory.mktemp('faults'))
  train, sweep = os.path.join(base, 'train'), os.path.join(base, 'sweep')
  steps = {
      # class 4: rejected before anything is written, then the corrected command
      'shards': ('experiments.train', [*SMALL, '--config.train.epochs=2',
                                       '--config.train.data_shards=64',
                                       f'--workdir={train}']),
      'sweep chunk': ('experiments.sweep', [*SMALL, '--chunk=-1',
                                            f'--workdir={sweep}']),
      'sweep shards': ('experiments.sweep', [*SMALL, '--config.train.data_shards=64',
                                             f'--workdir={sweep}']),
      'corrected': ('experiments.train', [*SMALL, '--config.train.epochs=2',
                                          f'--workdir={train}']),
      # class 2: checkpoint 2 of 2 truncated; resuming names it and checkpoint 1
      'truncate': (HOOK, ['truncate', os.path.join(train, 'checkpoints', '2')]),
      'damaged': ('experiments.train', [*SMALL, '--config.train.epochs=3',
                                        f'--workdir={train}']),
  }
  results = _drive(list(steps.values()), base)
  return dict(zip(steps, results)), base


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
  results, base = runs
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
  results, base = runs
  assert results['truncate'][0] == 0, results['truncate'][1]
  path = os.path.join(base, 'train', 'checkpoints', '2')
  _one_error(*results['damaged'],
             ['checkpoint 2 in', 'is damaged', 'checkpoint 1 is intact',
              f'rm -r {path}'])


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
  assert checkpoint.load(saved).state['b'].dtype == np.int32

"""End to end: experiments/train.py on the tiny config, resume, and bad input."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import ROOT

TINY = 'experiments/configs/tiny.py'


def run_train(workdir, *overrides, check=True):
  result = subprocess.run(
      [sys.executable, '-m', 'experiments.train', f'--config={TINY}',
       f'--workdir={workdir}', *overrides],
      cwd=ROOT, capture_output=True, text=True, timeout=300)
  if check:
    assert result.returncode == 0, result.stderr[-3000:]
  return result


def final_params(workdir):
  sys.path.insert(0, ROOT)
  from experiments import rbm_run  # pylint: disable=g-import-not-at-top
  return rbm_run.load_trained(str(workdir))


# One run serves every test here: the tiny config (2 epochs) as a joint RBM with
# label units, trained with PCD. The plain RBM trained with CD through the same
# entry point: tests/test_first_hour.py.
JOINT_PCD = ('--config.model.labels=True', '--config.train.persistent=True')


@pytest.fixture(scope='module')
def finished_run(tmp_path_factory):
  workdir = tmp_path_factory.mktemp('runs') / 'tiny'
  result = run_train(workdir, *JOINT_PCD)
  return workdir, result


def test_outputs_of_a_run(finished_run):
  workdir, result = finished_run
  assert str(workdir) in result.stdout  # says where its outputs are
  records = [json.loads(l) for l in open(workdir / 'metrics.jsonl')]
  assert [r['epoch'] for r in records] == [1, 2]
  for key in ('reconstruction_error', 'free_energy_gap', 'density', 'added',
              'removed', 'mean_abs_weight', 'examples_per_s'):
    assert np.isfinite(records[-1][key]), key
  assert records[-1]['added'] > 0 and records[-1]['removed'] > 0
  config = json.load(open(workdir / 'config.json'))
  assert config['model']['num_hidden'] == 64
  summary = json.load(open(workdir / 'summary.json'))
  assert summary['epochs'] == 2 and summary['density'] == records[-1]['density']
  for name in ('samples.png', 'filters.png', 'connectivity.png'):
    assert os.path.getsize(workdir / 'figures' / name) > 1000, name


# Resuming after a crash, bit-exact: tests/test_reliability.py. Rerunning a
# finished run, extending it, and a sweep of 4 members with its evaluation:
# tests/test_first_hour.py.


def test_joint_rbm_with_labels_and_pcd(finished_run):
  workdir, _ = finished_run
  assert json.load(open(workdir / 'config.json'))['train']['persistent'] is True
  run = final_params(workdir)
  assert run.label_units == 10 and run.state.W.shape == (794, 64)
  np.testing.assert_array_equal(np.asarray(run.state.strength)[-10:], 1.0)


# Bad input (one error line, exit 2, files unchanged) at every entry point:
# tests/test_reliability_inputs.py.


def test_workdir_with_a_different_config_is_refused(finished_run, capsys):
  """In-process, through the entry point's error handler (exit 2, one line): a
  subprocess would only add JAX's start-up; the command line's own parsing of
  bad input: tests/test_reliability_inputs.py."""
  sys.path.insert(0, ROOT)
  from experiments import rbm_run  # pylint: disable=g-import-not-at-top
  from experiments import workdir as workdir_lib  # pylint: disable=g-import-not-at-top
  from experiments.configs import tiny  # pylint: disable=g-import-not-at-top
  workdir, _ = finished_run
  before = open(workdir / 'metrics.jsonl').read()
  config = tiny.get_config()
  config.model.labels = config.train.persistent = True   # JOINT_PCD
  config.model.num_hidden = 32
  with pytest.raises(SystemExit) as exit_info:
    workdir_lib.clean_errors(rbm_run.train_and_evaluate)(config, str(workdir))
  assert exit_info.value.code == 2
  err = capsys.readouterr().err
  assert 'different config' in err and 'num_hidden' in err
  assert open(workdir / 'metrics.jsonl').read() == before

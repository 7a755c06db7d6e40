"""End to end: experiments/train.py on the tiny config, resume, and bad input."""

import json
import os
import shutil
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


@pytest.fixture(scope='module')
def finished_run(tmp_path_factory):
  workdir = tmp_path_factory.mktemp('runs') / 'tiny'
  result = run_train(workdir)
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


def test_interrupted_and_resumed_run_ends_with_same_parameters(finished_run,
                                                               tmp_path):
  workdir, _ = finished_run
  resumed = tmp_path / 'resumed'
  shutil.copytree(workdir, resumed)
  # Simulate a crash after epoch 1 was checkpointed and epoch 2 logged.
  shutil.rmtree(resumed / 'checkpoints' / '2')
  result = run_train(resumed)
  assert 'Resuming' in result.stdout and 'after epoch 1' in result.stdout
  a, b = final_params(workdir), final_params(resumed)
  assert a.epoch == b.epoch == 2
  for x, y in zip(a.state, b.state):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
  records = [json.loads(l) for l in open(resumed / 'metrics.jsonl')]
  assert [r['epoch'] for r in records] == [1, 2]  # epoch 2 not logged twice


def test_rerun_of_a_finished_run_changes_nothing(finished_run):
  workdir, _ = finished_run
  before = open(workdir / 'metrics.jsonl').read()
  run_train(workdir)
  assert open(workdir / 'metrics.jsonl').read() == before


def test_joint_rbm_with_labels_and_pcd(tmp_path):
  run_train(tmp_path / 'labels', '--config.model.labels=True',
            '--config.train.persistent=True', '--config.train.epochs=1')
  run = final_params(tmp_path / 'labels')
  assert run.label_units == 10 and run.state.W.shape == (794, 64)
  np.testing.assert_array_equal(np.asarray(run.state.strength)[-10:], 1.0)


# Bad input (one error line, exit 2, files unchanged) at every entry point:
# tests/test_reliability_inputs.py.


def test_workdir_with_a_different_config_is_refused(finished_run):
  workdir, _ = finished_run
  before = open(workdir / 'metrics.jsonl').read()
  result = run_train(workdir, '--config.model.num_hidden=32', check=False)
  assert result.returncode == 2
  assert 'different config' in result.stderr and 'num_hidden' in result.stderr
  assert open(workdir / 'metrics.jsonl').read() == before


def test_sweep_trains_a_population_in_one_call_and_resumes(tmp_path):
  args = [sys.executable, '-m', 'experiments.sweep', f'--config={TINY}',
          '--densities=0.0,1.0', '--seeds=0,1', f'--workdir={tmp_path}/sweep',
          '--config.train.epochs=1']
  result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  records = [json.loads(l) for l in open(tmp_path / 'sweep' / 'metrics.jsonl')]
  assert sorted((r['seed'], r['density0']) for r in records) == [
      (0, 0.0), (0, 1.0), (1, 0.0), (1, 1.0)]
  grown = [r['density'] for r in records if r['density0'] == 0.0]
  assert all(d > 0 for d in grown)  # empty starts grew
  again = subprocess.run(args, cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
  assert again.returncode == 0 and 'already complete' in again.stdout
  assert len(open(tmp_path / 'sweep' / 'metrics.jsonl').readlines()) == 4
  bad = subprocess.run(args[:-1] + ['--densities=2'], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
  assert bad.returncode == 2 and 'densities must be in [0, 1]' in bad.stderr

"""experiments/evaluate.py: end to end on a tiny training run, the evaluate()
function on a joint RBM with exact log Z, and bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from experiments import evaluate
from ncg import data as data_lib
from ncg import rbm
from tests.conftest import ROOT

TINY = 'experiments/configs/tiny.py'
FAST = ['--ais_runs=8', '--ais_temperatures=200', '--sample_chains=4',
        '--sample_steps=10', '--pl_examples=50']


def run(module, *args):
  return subprocess.run([sys.executable, '-m', module, *args], cwd=ROOT,
                        capture_output=True, text=True, timeout=300)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
  workdir = tmp_path_factory.mktemp('eval') / 'tiny'
  result = run('experiments.train', f'--config={TINY}', f'--workdir={workdir}',
               '--config.train.epochs=1')
  assert result.returncode == 0, result.stderr[-3000:]
  return workdir


def test_end_to_end_writes_eval_json_and_figures(trained):
  result = run('experiments.evaluate', f'--workdir={trained}', *FAST)
  assert result.returncode == 0, result.stderr[-3000:]
  with open(trained / 'eval.json') as f:
    record = json.load(f)
  assert record['epoch'] == 1 and record['ais_runs'] == 8
  assert record['ais_temperatures'] == 200
  assert record['log_z_exact'] is None          # 784 × 64: not enumerable
  assert np.isfinite(record['log_z_ais'])
  for split in ('train', 'valid', 'test'):
    ll = record[f'{split}_log_likelihood_ais']
    assert -784 * np.log(2) < ll < 0            # better than uniform, < 0
  assert record['probe_test_accuracy'] > 0.2   # 10 classes: chance is 0.1
  assert np.isfinite(record['test_pseudo_log_likelihood'])
  for name in record['figures']:
    assert os.path.getsize(trained / 'figures' / name) > 0
  assert 'eval_samples_noise.png' in record['figures']

  # A second evaluation never overwrites the first.
  before = (trained / 'eval.json').read_bytes()
  again = run('experiments.evaluate', f'--workdir={trained}', *FAST,
              '--seed=1', '--noprobe', '--ais_temperatures=20',
              '--sample_chains=1', '--sample_steps=1', '--pl_examples=5')
  assert again.returncode == 0, again.stderr[-3000:]
  assert (trained / 'eval.json').read_bytes() == before
  with open(trained / 'eval-2.json') as f:
    second = json.load(f)
  assert second['seed'] == 1 and 'probe_test_accuracy' not in second
  assert 'eval-2_samples_noise.png' in second['figures']


@pytest.mark.parametrize('args,message', [
    ([], '--workdir is required'),
    (['--workdir=/nonexistent/run'], 'not a directory'),
    (['--ais_runs=1'], 'ais_runs'),
    (['--ais_temperatures=1'], 'ais_temperatures'),
    (['--ais_runs=many'], 'ais_runs'),
])
def test_bad_input_is_one_line_and_exit_2(trained, tmp_path, args, message):
  if args and args[0].startswith('--ais'):
    args = [f'--workdir={trained}'] + args
  listing = sorted(os.listdir(trained))
  result = run('experiments.evaluate', *args)
  assert result.returncode == 2, result.stderr[-2000:]
  lines = result.stderr.strip().splitlines()
  assert len(lines) == 1 and message in lines[0], result.stderr
  assert sorted(os.listdir(trained)) == listing


def test_not_a_workdir(tmp_path):
  result = run('experiments.evaluate', f'--workdir={tmp_path}')
  assert result.returncode == 2
  assert 'not a workdir' in result.stderr.strip().splitlines()[-1]
  assert os.listdir(tmp_path) == []


def test_write_new_json_never_overwrites(tmp_path):
  first = evaluate.write_new_json(str(tmp_path), 'eval.json', {'a': 1})
  second = evaluate.write_new_json(str(tmp_path), 'eval.json', {'a': 2})
  assert os.path.basename(first) == 'eval.json'
  assert os.path.basename(second) == 'eval-2.json'
  assert json.load(open(first)) == {'a': 1}
  assert sorted(os.listdir(tmp_path)) == ['eval-2.json', 'eval.json']


def test_evaluate_a_joint_rbm_with_exact_log_z(tmp_path):
  # 6 bits + 2 labels, 5 hidden: AIS and the exact sum must agree.
  rng = np.random.default_rng(0)
  x = (rng.random((120, 6)) < 0.4).astype(np.float32)
  y = (x[:, 0] > 0.5).astype(np.int32)
  split = data_lib.Split(x[:80], y[:80])
  dataset = data_lib.Dataset('toy', split, data_lib.Split(x[80:100], y[80:100]),
                             data_lib.Split(x[100:], y[100:]), 2, (2, 3))
  state = rbm.init(jax.random.key(0), 8, 5, density=0.8, weight_scale=1.0)
  state = state._replace(W=state.W.at[0, 0].set(3.0).at[6, 0].set(-3.0)
                         .at[7, 0].set(3.0))
  out = evaluate.evaluate(jax.random.key(1), state, dataset, label_units=2,
                          ais_runs=50, ais_temperatures=500, probe=False,
                          figures_dir=str(tmp_path), figure_prefix='eval',
                          sample_chains=4, sample_steps=5)
  assert out['log_z_exact'] is not None
  assert abs(out['log_z_ais'] - out['log_z_exact']) < 0.1
  assert out['log_z_ais_low'] <= out['log_z_exact'] <= out['log_z_ais_high']
  for split in ('train', 'valid', 'test'):
    assert abs(out[f'{split}_log_likelihood_ais']
               - out[f'{split}_log_likelihood_exact']) < 0.1
    # log p(x) ≥ log p(x, y).
    assert (out[f'{split}_log_likelihood_exact']
            >= out[f'{split}_joint_log_likelihood_exact'])
  # The exact rule on the test split, recomputed in numpy: argmax_y −F(x, y).
  W = np.asarray(rbm.effective_weights(state), np.float64)
  b, c = np.asarray(state.b, np.float64), np.asarray(state.c, np.float64)
  scores = [x[100:] @ b[:6] + b[6 + k]
            + np.logaddexp(0, x[100:] @ W[:6] + W[6 + k] + c).sum(1)
            for k in range(2)]
  expected = np.mean(np.argmax(scores, axis=0) == y[100:])
  assert out['test_accuracy'] == pytest.approx(expected, abs=1e-12)
  assert out['ais_runs'] == 50 and out['ais_temperatures'] == 500
  assert set(out['figures']) >= {'eval_samples_noise.png',
                                 'eval_ais_log_weights.png'}
  json.dumps(out)  # JSON-safe

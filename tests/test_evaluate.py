"""experiments/evaluation.py (the flag-free library behind experiments/evaluate.py
and in-training evaluation): evaluate() on a joint RBM against the exact log Z
and classification rule, result files that are never overwritten, and the
summary that an evaluation updates. The entry point end to end (a run and a
sweep) is in tests/test_first_hour.py; its bad input in the table of
tests/test_reliability_inputs.py."""

from __future__ import annotations

import json
import math
import os

import jax
import numpy as np
import pytest

from experiments import evaluation
from ncg import data as data_lib
from ncg import rbm

def test_write_new_json_never_overwrites(tmp_path):
  first = evaluation.write_new_json(str(tmp_path), 'eval.json', {'a': 1})
  second = evaluation.write_new_json(str(tmp_path), 'eval.json', {'a': 2})
  assert os.path.basename(first) == 'eval.json'
  assert os.path.basename(second) == 'eval-2.json'
  assert json.load(open(first)) == {'a': 1}
  assert sorted(os.listdir(tmp_path)) == ['eval-2.json', 'eval.json']


def test_evaluate_a_joint_rbm_with_exact_log_z():
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
  out = evaluation.evaluate(jax.random.key(1), state, dataset, label_units=2,
                          ais_runs=50, ais_temperatures=500, probe=False)
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
  assert 'figures' not in out                   # figures_dir=None: none drawn
  json.dumps(out)  # JSON-safe


def test_an_evaluation_is_folded_into_the_summary_and_headline(tmp_path):
  summary = {'kind': 'rbm', 'density0': 0.5, 'density': 0.25, 'epochs': 3,
             'connectivity': 'ncg', 'added_total': 10, 'removed_total': 260,
             'test_log_likelihood_ais': None, 'evaluated_epoch': None,
             'start_test_log_likelihood_ais': -300.0,
             'start_test_log_likelihood_ais_low': -301.0,
             'start_test_log_likelihood_ais_high': 'inf'}
  (tmp_path / 'summary.json').write_text(json.dumps(summary))
  record = {'test_log_likelihood_ais': -100.0, 'test_log_likelihood_ais_low': -101.5,
            'test_log_likelihood_ais_high': -99.0, 'ais_runs': 7,
            'ais_temperatures': 30, 'probe_test_accuracy': 0.5, 'other': 1}
  folded = evaluation.fold_into_summary(str(tmp_path), record, 3, 'eval-2.json')
  assert folded == json.load(open(tmp_path / 'summary.json'))
  assert folded['evaluated_epoch'] == 3 and folded['evaluation_file'] == 'eval-2.json'
  assert folded['test_log_likelihood_ais'] == -100.0 and 'other' not in folded
  assert folded['test_accuracy'] is None and folded['kind'] == 'rbm'
  text = evaluation.headline(folded)
  assert '-100.0 [-101.5, -99.0]' in text and '7 runs × 30 temperatures' in text
  assert '(+200.0 nats)' in text and '≥ -301.0 at 3σ, unbounded above' in text
  assert 'density 0.500 → 0.250' in text and '260 removed over 3 epochs' in text
  assert 'probe test accuracy = 50.0%' in text
  # No summary (a run that did not finish): nothing is written.
  assert evaluation.fold_into_summary(str(tmp_path / 'nope'), record, 1, 'e') is None
  assert not math.isnan(folded['density'])

"""experiments/runs_report.py on hand-made workdirs: grouping, statistics, refusals.

(The real 2-density × 2-seed sweep goes through ``ncg-report`` in
tests/test_first_hour.py.)
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from experiments import runs_report
from ncg.errors import InputError


def _run(directory, seed, log_p, density, rule='reference', **settings):
  os.makedirs(directory)
  summary = {'kind': 'rbm', 'connectivity': 'ncg', 'dataset': 'bars_and_stripes',
             'num_hidden': 16, 'density0': 0.5, 'seed': seed,
             'test_log_likelihood_ais': log_p, 'density': density, **settings}
  with open(os.path.join(directory, 'summary.json'), 'w') as f:
    json.dump(summary, f)
  with open(os.path.join(directory, 'config.json'), 'w') as f:
    json.dump({'train': {'seed': seed, 'strength_rule': rule, 'batch_size': 5},
               'data': {'path': f'/somewhere/{seed}'}}, f)


def test_separate_runs_group_by_settings_including_their_config(tmp_path):
  _run(tmp_path / 'a0', 0, -4.0, 0.5)
  _run(tmp_path / 'a1', 1, -5.0, 0.7)
  _run(tmp_path / 'a2', 2, -6.0, 0.6)
  _run(tmp_path / 'n0', 0, -3.0, 0.4, rule='normalized')   # config.json differs
  _run(tmp_path / 'd0', 0, -2.0, 1.0, connectivity='dense', density0=1.0)
  groups = runs_report.group(runs_report.collect([str(tmp_path)]))
  assert [len(g.runs) for g in groups] == [3, 1, 1]
  assert groups[0].seeds == (0, 1, 2)
  text = runs_report.table(groups)
  header = [l for l in text.splitlines() if l.startswith('| #')][0]
  assert 'train.strength_rule' in header and 'connectivity' in header
  assert 'train.batch_size' not in header          # shared: above the table
  assert 'Shared settings:' in text and 'train.batch_size=5' in text
  assert 'data.path' not in text and 'train.seed' not in text
  assert f'-5.00 ± {np.std([-4, -5, -6], ddof=1):.2f}' in text
  assert '0.6000 ± 0.1000' in text
  assert '-3.00 ± —' in text                       # one seed
  figure = runs_report.figure(str(tmp_path / 'r.png'), groups)
  assert os.path.getsize(figure) > 0


def test_exact_log_likelihood_wins_and_non_finite_values_are_skipped():
  assert runs_report.log_likelihood({'test_log_likelihood_exact': -3.5,
                                     'test_log_likelihood_ais': -3.4}) == -3.5
  assert runs_report.log_likelihood({'test_log_likelihood_ais': 'inf'}) is None
  assert runs_report.mean_std([1.0, None, 3.0]) == (2.0, pytest.approx(2 ** 0.5), 2)


def test_nothing_to_report_is_an_input_error(tmp_path):
  with pytest.raises(InputError, match='does not exist'):
    runs_report.collect([str(tmp_path / 'nope')])
  with pytest.raises(InputError, match='nothing to report'):
    runs_report.collect([str(tmp_path)])
  os.makedirs(tmp_path / 'prune')
  with open(tmp_path / 'prune' / 'summary.json', 'w') as f:
    json.dump({'kind': 'parsimonious', 'test_error': 0.02}, f)
  with pytest.raises(InputError, match='no RBM run summary.json'):
    runs_report.collect([str(tmp_path)])
  with pytest.raises(InputError, match='nothing to report'):
    runs_report.collect([])

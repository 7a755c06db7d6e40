"""experiments/prune.py end to end: a tiny run, resume after a stop, clean errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from experiments import prune
from experiments import workdir as workdir_lib
from experiments.configs import prune_tiny

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_tiny_run_resumes_to_the_same_result(tmp_path):
  config = prune_tiny.get_config()
  straight = prune.train_and_evaluate(config, str(tmp_path / 'straight'))
  assert prune.train_and_evaluate(config, str(tmp_path / 'resumed'), stop_after_epochs=1) is None
  assert not os.path.exists(tmp_path / 'resumed' / prune.SUMMARY_FILE)
  resumed = prune.train_and_evaluate(config, str(tmp_path / 'resumed'))
  for key in ('final_widths', 'test_error', 'macs', 'params', 'final_gather'):
    assert resumed[key] == straight[key], key
  with open(tmp_path / 'resumed' / prune.SUMMARY_FILE) as f:
    summary = json.load(f)
  for key in ('net', 'start_widths', 'final_widths', 'test_error', 'flops', 'params',
              'epochs', 'seed'):
    assert key in summary
  assert summary['start_widths'] == [784, 32, 16]
  # pruning happened during training and the arrays shrank
  records = workdir_lib.read_metrics(str(tmp_path / 'resumed'))
  assert [r['epoch'] for r in records] == [0, 1, 2]
  assert records[-1]['alive']['macs'] < records[0]['alive']['macs']
  assert summary['test_error'] < 0.5


@pytest.mark.parametrize('override, message', [
    ('--config.train.learning_rate=-1', 'learning_rate'),
    ('--config.data.name=nope', 'unknown data set'),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, override, message):
  result = subprocess.run(
      [sys.executable, '-m', 'experiments.prune',
       '--config=experiments/configs/prune_tiny.py', override,
       f'--workdir={tmp_path / "w"}'],
      cwd=REPO, capture_output=True, text=True, timeout=300)
  assert result.returncode == 2, result.stderr[-2000:]
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith('error: ') and message in last


def test_dense_baseline_keeps_every_unit_and_reports_validation(tmp_path):
  config = prune_tiny.get_config()
  config.train.gated = False
  config.data.validation_size = 500
  summary = prune.train_and_evaluate(config, str(tmp_path / 'dense'))
  assert summary['final_widths'] == summary['start_widths'] == [784, 32, 16]
  assert summary['gated'] is False and summary['undecided_units'] == 0
  assert 0 <= summary['validation_error'] < 0.5
  records = workdir_lib.read_metrics(str(tmp_path / 'dense'))
  assert all(r['alive']['widths'] == [784, 32, 16] for r in records)

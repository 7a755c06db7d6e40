"""experiments/prune.py end to end: a tiny run, resume from a checkpoint alone, the
dense and L0 baselines (the dense one with nothing held out, then rerun: nothing to do),
and the report built from tiny summaries. Bad input: tests/test_reliability_inputs.py."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from experiments import prune
from experiments import prune_report
from experiments import prune_run
from experiments import workdir as workdir_lib
from experiments.configs import prune_tiny


def _phases_config():
  """Dense warm-up (epoch 1), gated epochs with the expected-MAC price (2, 3), then
  the deterministic phase (4, 5); shrinking (and its audit) in the gated epochs."""
  config = prune_tiny.get_config()
  config.train.epochs = 5
  config.train.finetune_epochs = 2
  config.train.warmup_epochs = 1
  config.train.price = 'expected_macs'
  config.train.penalty = 3e-6
  config.train.shrink_fraction = 0.25   # fewer shapes to compile than 0.05 (~28% of the fixture)
  return config


@pytest.fixture(scope='module')
def phases(tmp_path_factory):
  """The straight run, and one run stopped in the gated phase (epoch 2), resumed
  from its checkpoint alone (metrics.jsonl removed), stopped again at the switch to
  the deterministic phase (epoch 3) and resumed to the end. One config: the stopped
  and resumed runs reuse the straight run's compiled programs."""
  base = tmp_path_factory.mktemp('phases')
  config = _phases_config()
  straight = prune.train_and_evaluate(config, str(base / 'straight'))
  resumed_dir = base / 'resumed'
  assert prune.train_and_evaluate(config, str(resumed_dir), stop_after_epochs=2) is None
  assert not os.path.exists(resumed_dir / prune.SUMMARY_FILE)
  os.remove(resumed_dir / workdir_lib.METRICS_FILE)     # resume must not need it
  assert prune.train_and_evaluate(config, str(resumed_dir), stop_after_epochs=3) is None
  assert not os.path.exists(resumed_dir / prune.SUMMARY_FILE)
  resumed = prune.train_and_evaluate(config, str(resumed_dir))
  return {'base': base, 'straight': straight, 'resumed': resumed}


def test_tiny_run_resumes_from_the_checkpoint_alone(phases):
  """Stopped mid-way through the gated phase and at the switch, resumed without
  its metrics: the same run as the straight one."""
  straight, resumed, base = phases['straight'], phases['resumed'], phases['base']
  for key in ('final_widths', 'test_error', 'validation_error', 'test_error_gated',
              'macs', 'params', 'undecided_units'):
    assert resumed[key] == straight[key], key
  gathers = [workdir_lib.read_json(str(base / d / 'model' / 'metadata.json'))
             ['architecture']['gather'] for d in ('straight', 'resumed')]
  assert gathers[0] == gathers[1] and 'final_gather' not in resumed
  with open(base / 'resumed' / prune.SUMMARY_FILE) as f:
    summary = json.load(f)
  assert summary['start_widths'] == [784, 32, 16]
  assert summary['method'] == 'bernoulli' and summary['gates'] > 0
  # pruning happened during training (after the grace epoch) and the arrays shrank
  records = workdir_lib.read_metrics(str(base / 'straight'))
  assert [r['epoch'] for r in records] == [0, 1, 2, 3, 4, 5]
  assert records[1]['alive']['widths'] == [784, 32, 16]          # grace: nobody left
  assert records[-1]['computed']['macs'] < records[0]['computed']['macs']
  # cheaper than the unshrunk arrays: 1 pass (warm-up) + 2 × 3 (gated) + 2 × 1 of 5 epochs
  assert summary['train_mac_epochs'] < summary['dense_mac_epochs'] * 9 / 5
  decisions = summary['decisions']
  assert decisions['examples'] == 200 and decisions['decided_gates'] > 0


def test_deterministic_phase_run_resumes_across_the_switch(phases):
  """Dense warm-up, gated epochs with the expected-MAC price, then the deterministic
  phase (the run of the fixture above, resumed at the switch too): the widths do not
  move in the deterministic phase; the summary says what trained."""
  straight = phases['straight']
  records = workdir_lib.read_metrics(str(phases['base'] / 'straight'))
  assert [r['phase'] for r in records] == ['gated'] * 4 + ['finetune'] * 2
  assert records[1]['theta_histogram'][0][9] == 784          # warm-up: θ still at 0.9
  assert records[4]['computed']['widths'] == records[5]['computed']['widths'] \
      == straight['final_widths']
  assert records[3]['decisions']['decided_gates'] >= 0 and 'rounded_units' in records[3]
  assert straight['gated_epochs'] == 3 and straight['finetune_epochs'] == 2
  assert straight['price'] == 'expected_macs' and straight['warmup_epochs'] == 1
  assert 0 < straight['finetune_mac_epochs'] == 2 * straight['macs']
  audit = straight['removal_audit']        # every unit that left the arrays, held out
  assert audit['examples'] == 200 and 0 < audit['removed'] == sum(audit['removed_per_group'])
  assert 0 <= audit['agree'] <= audit['removed']


def test_dense_and_l0_baselines(tmp_path, capsys):
  # 'dense' is a row of the methods table; train.gated=False its older spelling
  config = prune_tiny.get_config()
  config.train.method = 'dense'
  setup = prune_run.resolve_run(config)
  config = prune_tiny.get_config()
  config.train.gated = False
  assert prune_run.resolve_run(config).trainer_config == setup.trainer_config
  assert (setup.trainer_config.method, setup.trainer_config.penalty,
          setup.trainer_config.explore, setup.trainer_config.sharpness) == ('dense', 0, 0, 0)
  config.train.epochs = 2
  config.data.validation_size = 0          # nothing held out: no validation error
  dense = prune.train_and_evaluate(config, str(tmp_path / 'dense'))
  assert dense['final_widths'] == dense['start_widths'] == [784, 32, 16]
  assert dense['method'] == 'dense' and dense['undecided_units'] == 0
  assert not dense['gated'] and dense['train_mac_epochs'] == dense['dense_mac_epochs']
  assert 'validation_error' not in dense and 'decisions' not in dense
  assert dense['num_train'] == 4000                 # 3,500 + the 500 held out
  assert dense['net'] == 'mlp' and 'final_gather' not in dense
  with open(tmp_path / 'dense' / prune.SUMMARY_FILE) as f:
    assert len(f.read().splitlines()) < 150
  records = workdir_lib.read_metrics(str(tmp_path / 'dense'))
  assert all(r['alive']['widths'] == [784, 32, 16] for r in records)
  assert all(h[:-1] == [0] * 10 for r in records for h in r['theta_histogram'])  # θ = 1
  capsys.readouterr()
  assert prune.train_and_evaluate(config, str(tmp_path / 'dense')) == dense
  assert 'already complete' in capsys.readouterr().out
  config = prune_tiny.get_config()
  config.train.method = 'l0'
  config.train.epochs = 2
  config.analysis.marginal_examples = 0
  config.train.penalty = 0.05             # a high price: the gates must fall
  config.train.theta_init = 0.6           # test gate 1.2·0.6 − 0.1 = 0.62
  l0 = prune.train_and_evaluate(config, str(tmp_path / 'l0'))
  assert l0['method'] == 'l0'
  gates = [r['theta_histogram'] for r in workdir_lib.read_metrics(str(tmp_path / 'l0'))]
  assert gates[0][0][6] == 784 and gates[-1][0][6] < 784   # input test gates left [0.6, 0.7)
  assert sum(gates[-1][0][:6]) > 0                           # ... downwards


def test_frontier_and_robustness_report_from_tiny_summaries(tmp_path):
  def summary(study, run, method, penalty, macs, error, start=(784, 300, 100),
              final=(200, 100, 50), seed=0):
    return {'_path': os.path.join('parsimonious', study, run, 'summary.json'),
            'kind': 'parsimonious', 'net': 'lenet300', 'method': method, 'gated': method != 'dense',
            'penalty': penalty, 'start_widths': list(start), 'final_widths': list(final),
            'test_error': error, 'validation_error': error + 0.001,
            'test_error_best_epoch': error - 0.001, 'macs': macs, 'seed': seed,
            'undecided_units': 1, 'gates': 1184, 'train_mac_epochs': 5.0,
            'dense_mac_epochs': 10.0, 'train_seconds': 3.0}
  runs = [summary('frontier', f'b{p}_s{s}', 'bernoulli', p, m + s, e)
          for p, m, e in ((1e-4, 20000, 0.02), (3e-4, 9000, 0.025)) for s in (0, 1, 2)]
  runs += [summary('frontier', 'l0', 'l0', 1e-4, 30000, 0.022),
           summary('frontier', 'dense', 'dense', 0.0, 266200, 0.016)]
  runs += [summary('robustness', f'w{w}_s{s}', 'bernoulli', 1e-4, 20000, 0.02,
                   start=(784, w, w // 3), final=(200, 90 + s + w // 100, 40 + s), seed=s)
           for w in (300, 600, 1200) for s in (0, 1, 2)]
  he = [summary('robustness', f'he_s{s}', 'bernoulli', 1e-4, 20000, 0.02,
                final=(200, 100 + 10 * s, 50), seed=s) for s in (0, 1)]  # 1x start only
  for s in he:
    s['init_scheme'] = 'he'
  runs += he
  text = prune_report.section(runs, str(tmp_path))
  assert 'bernoulli λ/N=0.0001 | 3 |' in text and 'l0 λ/N=0.0001 | 1 |' in text
  assert 'comparability only' in text
  assert ('Chosen on the validation split, overall: bernoulli λ/N=0.0001 (validation 2.10 ± 0.00'
          in text)                                   # lowest validation error of the family
  assert 'within 9,560 MACs: bernoulli λ/N=0.0003 (validation 2.60' in text
  assert '; dense: no setting' in text and 'l0: no setting' in text
  assert os.path.isfile(tmp_path / 'frontier_lenet300.png')
  assert '| hidden 1 | 0.010 |' in text     # 90 + w/100: slope exactly 0.01 (LeCun runs only)
  assert 'Starts (lecun×1, θ₀=0.9, 9 runs over 3 starting widths): CV per group 0%' in text
  # initialisations at the 1x start: LeCun 93, 94, 95 and He 100, 110 in hidden 1
  cv = 100 * np.std([93, 94, 95, 100, 110], ddof=1) / np.mean([93, 94, 95, 100, 110])
  assert f'Initialisations at the 784-300-100 start (2 settings, 5 runs): CV per group 0% / {cv:.0f}%' in text
  assert 'one-way ANOVA' in text

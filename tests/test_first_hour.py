"""The first hour of a new user: every entry point's documented commands, run
from a fresh workdir, do what the README says and say what they did.

One driver process imports JAX once and runs the commands one after another
(each in a forked child, through ``runpy`` as ``python -m`` would); the tests
then read the outputs. Tiny configs keep the whole file within ~20 s:
``--help`` of every entry point (config fields listed), a run that ends with
its headline, the rerun of a finished run (nothing redone), a run extended
with a larger ``train.epochs`` (and refused when it shrinks), ``evaluate`` on
the run and on a sweep (all members, then one) with the results folded into
the summaries. A prune run and its rerun: tests/test_prune_entry.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import ROOT

TINY = 'experiments/configs/tiny.py'
PRUNE = 'experiments/configs/prune_tiny.py'
# The same shapes as the runs' final evaluations: the programs compiled for
# those come from the test session's persistent compilation cache (conftest).
FAST_EVAL = ['--ais_runs=4', '--ais_temperatures=10', '--noprobe',
             '--sample_chains=16', '--sample_steps=20', '--pl_examples=1000']
# The tiny config as tests/test_train_entry.py runs it (the same programs: in a
# whole test session they come from the persistent compilation cache).
SMALL_RUN = [f'--config={TINY}', '--config.train.epochs=1']
RUN = [*SMALL_RUN, '--config.eval.final=True', '--config.eval.ais_runs=4',
       '--config.eval.ais_temperatures=10']

DRIVER = os.path.join(ROOT, 'tests', 'entry_driver.py')


@pytest.fixture(scope='module')
def session(tmp_path_factory):
  """Runs the commands in order; returns {name: (exit code, output)} and dirs."""
  base = tmp_path_factory.mktemp('first_hour')
  run, sweep = str(base / 'run'), str(base / 'sweep')
  steps = [
      ('train --help', 'experiments.train', ['--help']),
      ('evaluate --help', 'experiments.evaluate', ['--help']),
      ('sweep --helpfull', 'experiments.sweep', ['--helpfull']),
      ('prune --help', 'experiments.prune', [f'--config={PRUNE}', '--help']),
      ('train', 'experiments.train', [*RUN, f'--workdir={run}']),
      ('snapshot', '@snapshot', [run]),
      ('train again', 'experiments.train', [*RUN, f'--workdir={run}']),
      ('snapshot again', '@snapshot', [run]),
      ('train longer', 'experiments.train',
       [*RUN, '--config.train.epochs=2', f'--workdir={run}']),
      ('train shorter', 'experiments.train',
       [*RUN, '--config.train.epochs=1', f'--workdir={run}']),
      ('evaluate', 'experiments.evaluate', [f'--workdir={run}', *FAST_EVAL]),
      ('sweep', 'experiments.sweep', [*SMALL_RUN, '--densities=0.0,1.0',
                                      '--seeds=0,1', f'--workdir={sweep}']),
      ('evaluate sweep', 'experiments.evaluate', [f'--workdir={sweep}', *FAST_EVAL]),
      ('evaluate member', 'experiments.evaluate',
       [f'--workdir={sweep}', '--member=1', *FAST_EVAL]),
      ('evaluate no member', 'experiments.evaluate',
       [f'--workdir={sweep}', '--member=4', *FAST_EVAL]),
      ('train beside', 'experiments.train',
       [*RUN, '--config.train.baseline=dense', f'--workdir={base / "beside"}']),
      ('report sweep', 'experiments.report', [sweep]),
      ('report nothing', 'experiments.report', [str(base / 'run' / 'figures')]),
  ]
  jobs = [(module, argv, str(base / f'{i}.log'))
          for i, (_, module, argv) in enumerate(steps)]
  done = subprocess.run([sys.executable, DRIVER, json.dumps(jobs)],
                        cwd=ROOT, capture_output=True, text=True, timeout=600)
  line = [l for l in done.stdout.splitlines() if l.startswith('RESULTS')]
  assert line, done.stderr[-3000:]
  results = json.loads(line[0][len('RESULTS'):])
  out = {}
  for (name, _, _), (_, _, log), (code, seconds) in zip(steps, jobs, results):
    with open(log) as f:
      out[name] = (code, f.read(), seconds)
  print(' '.join(f'{name}: {seconds:.1f} s;' for name, (_, _, seconds) in out.items()))
  return {'out': out, 'run': run, 'sweep': sweep, 'beside': str(base / 'beside')}


def _ok(session, name):
  code, text, _ = session['out'][name]
  assert code == 0, text[-3000:]
  assert 'Traceback' not in text, text[-3000:]
  return text


def _read(*path):
  with open(os.path.join(*path)) as f:
    return json.load(f)


def test_help_of_every_entry_point_lists_flags_and_config_fields(session):
  text = _ok(session, 'train --help')
  assert 'Trains an RBM' in text and '--workdir' in text
  assert '--config.train.epochs=20' in text and '--config.model.density=0.5' in text
  assert '# initial connection density' in text        # the config file's comment
  text = _ok(session, 'evaluate --help')
  assert '--member' in text and '--ais_temperatures' in text and 'sweep' in text
  text = _ok(session, 'sweep --helpfull')
  assert '--seeds' in text and '--densities' in text and '--config.train.k=10' in text
  assert '--verbosity' in text                          # absl's own flags: full
  text = _ok(session, 'prune --help')
  assert '--config.model.widths=(32, 16)' in text and '--config.train.penalty=' in text


def test_a_run_ends_with_its_headline_and_saves_its_model_alone(session):
  text = _ok(session, 'train')
  assert 'test log p(v) = ' in text and 'at the start' in text
  assert 'connections added' in text and 'density 0.5' in text
  summary = json.loads(json.loads(session['out']['snapshot'][1])['summary'])
  assert summary['evaluated_epoch'] == 1 and summary['ais_runs'] == 4
  assert summary['test_log_likelihood_ais'] > summary['start_test_log_likelihood_ais']
  assert summary['start_density'] == pytest.approx(0.5, abs=0.02)

  # The model loads elsewhere without its data, identical to the checkpoint.
  from experiments import workdir as workdir_lib
  from ncg import checkpoint
  moved = os.path.join(os.path.dirname(session['run']), 'moved_model')
  shutil.copytree(os.path.join(session['run'], 'model'), moved)
  state, metadata = checkpoint.load(moved)
  manager = workdir_lib.checkpoint_manager(session['run'])
  raw = workdir_lib.restore_raw(manager, metadata['epoch'])
  assert metadata['epoch'] == 2 and metadata['label_units'] == 0
  assert metadata['config']['model']['num_hidden'] == 64
  assert metadata['shapes']['W'] == [784, 64]
  for name in ('W', 'b', 'c', 'strength'):
    assert np.array_equal(np.asarray(getattr(state, name)), raw['state'][name])


def test_rerunning_a_finished_run_redoes_nothing(session):
  text = _ok(session, 'train again')
  assert 'already complete (1 epochs): nothing to do' in text
  assert '100%' not in text and 'Outputs in' not in text
  before, after = (json.loads(session['out'][name][1])
                   for name in ('snapshot', 'snapshot again'))
  assert set(before['files']) >= {'config.json', 'metrics.jsonl', 'summary.json',
                                  'model', 'checkpoints', 'figures'}
  assert before['figures'] and after == before       # not a file touched


def test_a_finished_run_is_extended_by_more_epochs_never_fewer(session):
  code, text, _ = session['out']['train shorter']
  assert code == 2 and 'train.epochs may only grow' in text.strip().splitlines()[-1]
  text = _ok(session, 'train longer')
  assert 'Resuming' in text and 'after epoch 1' in text
  records = [json.loads(l) for l in open(os.path.join(session['run'], 'metrics.jsonl'))]
  assert [(r['epoch'], r.get('kind')) for r in records] == [
      (1, None), (1, 'eval'), (2, None), (2, 'eval')]
  assert _read(session['run'], 'config.json')['train']['epochs'] == 2


def test_evaluate_writes_eval_json_and_updates_the_summary(session):
  text = _ok(session, 'evaluate')
  assert 'Wrote' in text and 'eval.json' in text
  record = _read(session['run'], 'eval.json')
  summary = _read(session['run'], 'summary.json')
  assert record['ais_runs'] == 4 and record['ais_temperatures'] == 10
  assert summary['evaluation_file'] == 'eval.json' and summary['evaluated_epoch'] == 2
  assert summary['test_log_likelihood_ais'] == record['test_log_likelihood_ais']
  assert summary['epochs'] == 2
  for name in record['figures']:
    assert os.path.getsize(os.path.join(session['run'], 'figures', name)) > 0


def test_evaluate_a_sweep_all_members_then_one(session):
  text = _ok(session, 'sweep')
  assert 'member  seed' in text                       # the table of members
  assert os.path.getsize(os.path.join(session['sweep'], 'figures', 'density.png')) > 0
  with open(os.path.join(session['sweep'], 'metrics.jsonl')) as f:
    records = [json.loads(line) for line in f]
  assert sorted((r['seed'], r['density0']) for r in records) == [
      (0, 0.0), (0, 1.0), (1, 0.0), (1, 1.0)]          # one line per member
  assert all(r['density'] > 0 for r in records if r['density0'] == 0.0)  # grew
  text = _ok(session, 'evaluate sweep')
  assert all(f'm{i}:' in text for i in range(4))
  population = _read(session['sweep'], 'summary.json')
  for i in range(4):
    member = os.path.join(session['sweep'], 'members', f'm{i}')
    record = _read(member, 'eval.json')
    assert record['epoch'] == 1
    summary = _read(member, 'summary.json')
    assert summary['evaluation_file'] == ('eval-2.json' if i == 1 else 'eval.json')
    assert population['members'][i]['evaluated_epoch'] == 1
  _ok(session, 'evaluate member')
  assert os.path.exists(os.path.join(session['sweep'], 'members', 'm1', 'eval-2.json'))
  assert not os.path.exists(os.path.join(session['sweep'], 'members', 'm0',
                                         'eval-2.json'))
  assert population['members'][1]['evaluation_file'] == 'eval-2.json'
  code, text, _ = session['out']['evaluate no member']
  assert code == 2 and '--member must be in [0, 4)' in text


def test_report_groups_the_sweep_by_density_over_its_two_seeds(session):
  """ncg-report on the 2-density × 2-seed sweep: one row per initial density,
  both seeds in it, the mean ± sample std of the members' test log p and
  final density; report.png beside; a directory without runs is exit 2."""
  text = _ok(session, 'report sweep')
  rows = [l for l in text.splitlines() if l.startswith('| ') and not l.startswith('| #')]
  assert len(rows) == 2, text
  members = [_read(session['sweep'], 'members', f'm{i}', 'summary.json') for i in range(4)]
  for row in rows:
    cells = [c.strip() for c in row.strip('|').split('|')]
    density0 = float(cells[1])
    group = [m for m in members if m['density0'] == density0]
    assert sorted(m['seed'] for m in group) == [0, 1] and cells[2] in ('2 (0, 1)', '2 (1, 0)')
    log_p = [m['test_log_likelihood_exact'] if m.get('test_log_likelihood_exact') is not None
             else m['test_log_likelihood_ais'] for m in group]
    assert cells[3] == f'{np.mean(log_p):.2f} ± {np.std(log_p, ddof=1):.2f}'
    density = [m['density'] for m in group]
    assert cells[-1] == f'{np.mean(density):.4f} ± {np.std(density, ddof=1):.4f}'
  assert os.path.getsize(os.path.join(session['sweep'], 'report.png')) > 0
  assert 'The sweep, mean ± std over seeds' in _ok(session, 'evaluate sweep')
  code, text, _ = session['out']['report nothing']
  assert code == 2 and 'error: nothing to report' in text


def test_the_default_runs_dense_baseline_trains_beside_it(session):
  """train.baseline=dense (the default config's): after the NCG run the dense
  one trains in baseline_dense/ with the same epochs, and the run ends with
  both headlines, the learning curves and the baseline in summary.json."""
  text = _ok(session, 'train beside')
  assert 'ncg (this run) and dense (beside it' in text
  assert text.count('test log p(v) =') >= 4       # each run's own, then both again
  assert 'not reliable' not in text and 'UserWarning' not in text
  beside = session['beside']
  baseline = os.path.join(beside, 'baseline_dense')
  config = _read(baseline, 'config.json')
  assert config['train']['connectivity'] == 'dense' and config['train']['baseline'] == ''
  assert config['train']['seed'] == _read(beside, 'config.json')['train']['seed']
  record = _read(beside, 'summary.json')['baseline']
  base = _read(baseline, 'summary.json')
  assert record['test_log_likelihood_ais'] == base['test_log_likelihood_ais']
  assert record['density'] == 1.0 and record['epochs'] == base['epochs'] == 1
  assert os.path.getsize(os.path.join(beside, 'figures', 'learning_curves.png')) > 0

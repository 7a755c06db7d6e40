"""SIGTERM after the last epoch (issue 27, class 1): exit 0, every output saved.

The run's last epoch is checkpointed; then, as it writes its final files, the
scheduler's SIGTERM arrives (tests/term_at_summary.py sends it just before
the first summary.json). train, sweep and prune must finish writing model/,
the figures and summary.json, print one line saying so and exit 0, and train
starts no baseline after the signal (its rerun does: "already complete" is
tests/test_first_hour.py's). One driver process forks every command
(tests/entry_driver.py); the programs are those of tests/test_reliability.py
and tests/test_prune_entry.py (the session's compilation cache has them).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

DRIVER = os.path.join(ROOT, 'tests', 'entry_driver.py')
HOOK = 'tests.term_at_summary'
BARS = 'experiments/configs/bars_and_stripes.py'
PRUNE = 'experiments/configs/prune_tiny.py'
SMALL = ['--config.train.epochs=2', '--config.eval.final=False',
         '--config.figures.gibbs_steps=5', '--config.figures.num_samples=4']
STOPPED = 'stopped by SIGTERM after the last epoch: the run is complete'


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
  """{name: (exit code, output, workdir)} of the commands, run in order."""
  base = tmp_path_factory.mktemp('finish')
  train, sweep, prune = (str(base / n) for n in ('train', 'sweep', 'prune'))
  train_argv = [f'--config={BARS}', *SMALL, '--config.train.baseline=dense',
                f'--workdir={train}']
  steps = [
      ('train', HOOK, ['experiments.train', *train_argv], train),
      ('sweep', HOOK, ['experiments.sweep', f'--config={BARS}', *SMALL,
                       '--seeds=0,1', f'--workdir={sweep}'], sweep),
      ('prune', HOOK, ['experiments.prune', f'--config={PRUNE}',
                       '--config.train.epochs=2', f'--workdir={prune}'], prune),
  ]
  jobs = [(module, argv, str(base / f'{i}.log'))
          for i, (_, module, argv, _) in enumerate(steps)]
  done = subprocess.run([sys.executable, DRIVER, json.dumps(jobs)], cwd=ROOT,
                        capture_output=True, text=True, timeout=600)
  line = [l for l in done.stdout.splitlines() if l.startswith('RESULTS')]
  assert line, done.stderr[-3000:]
  out = {}
  for (name, _, _, workdir), (_, _, log), (code, _) in zip(
      steps, jobs, json.loads(line[0][len('RESULTS'):])):
    with open(log) as f:
      out[name] = (code, f.read(), workdir)
  return out


def _stopped_once(output):
  lines = [l for l in output.splitlines() if l.startswith('stopped by')]
  assert len(lines) == 1 and lines[0].startswith(STOPPED), output[-3000:]


def _summary(path):
  with open(path) as f:
    return json.load(f)


def test_train_finishes_its_outputs_exits_0_and_starts_no_baseline(runs):
  code, output, workdir = runs['train']
  assert code == 0, output[-3000:]
  _stopped_once(output)
  assert _summary(os.path.join(workdir, 'summary.json'))['epochs'] == 2
  assert os.path.isfile(os.path.join(workdir, 'model', 'metadata.json'))
  for name in ('samples.png', 'filters.png', 'connectivity.png'):
    assert os.path.isfile(os.path.join(workdir, 'figures', name)), name
  assert not os.path.exists(os.path.join(workdir, 'baseline_dense'))


def test_sweep_finishes_every_member_and_exits_0(runs):
  code, output, workdir = runs['sweep']
  assert code == 0, output[-3000:]
  _stopped_once(output)
  members = _summary(os.path.join(workdir, 'summary.json'))['members']
  assert [m['member'] for m in members] == [0, 1]
  assert os.path.isfile(os.path.join(workdir, 'figures', 'density.png'))
  for i in (0, 1):
    member = os.path.join(workdir, 'members', f'm{i}')
    assert _summary(os.path.join(member, 'summary.json'))['epochs'] == 2
    assert os.path.isfile(os.path.join(member, 'model', 'metadata.json'))
    assert os.path.isfile(os.path.join(member, 'figures', 'connectivity.png'))


def test_prune_finishes_its_outputs_and_exits_0(runs):
  code, output, workdir = runs['prune']
  assert code == 0, output[-3000:]
  _stopped_once(output)
  assert 'test_error' in _summary(os.path.join(workdir, 'summary.json'))
  assert os.path.isfile(os.path.join(workdir, 'model', 'metadata.json'))
  assert os.path.isfile(os.path.join(workdir, 'figures', 'widths.png'))

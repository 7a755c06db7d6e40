"""experiments/studies/budget.sh (the resumable MNIST study scripts' runner), with a
stub `python` on PATH that records its calls: SWEEPS picks sweeps by name, finished
sweeps are skipped, a stopped sweep ends the call, the budget is respected."""

from __future__ import annotations

import os
import pathlib
import subprocess

import pytest

BUDGET = pathlib.Path(__file__).resolve().parents[1] / 'experiments' / 'studies' / 'budget.sh'

STUB = """#!/usr/bin/env bash
# a stub of `python -m experiments.sweep ... --workdir=W`: records W; finishes it unless
# W's name is in $STOP (then exits 0 without summary.json, as a stopped sweep does)
for a in "$@"; do case $a in --workdir=*) w=${a#--workdir=};; esac; done
echo "$(basename $w)" >> "$LOG"
mkdir -p "$w"
case " $STOP " in *" $(basename $w) "*) exit 0;; esac
touch "$w/summary.json"
"""


def _run(tmp_path, sweeps=None, stop='', budget=600, done=()):
  bindir = tmp_path / 'bin'
  bindir.mkdir(exist_ok=True)
  (bindir / 'python').write_text(STUB)
  (bindir / 'python').chmod(0o755)
  out = tmp_path / 'runs'
  for name in done:
    (out / name).mkdir(parents=True, exist_ok=True)
    (out / name / 'summary.json').touch()
  script = tmp_path / 'study.sh'
  script.write_text(f'set -euo pipefail\nsource {BUDGET}\n'
                    + ''.join(f'run {out}/{n} --x=1\n' for n in ('a', 'b', 'c'))
                    + 'echo "all sweeps finished"\n')
  log = tmp_path / 'calls.log'
  log.write_text('')
  env = {**os.environ, 'PATH': f'{bindir}:{os.environ["PATH"]}', 'LOG': str(log),
         'STOP': stop, 'BUDGET': str(budget)}
  env.pop('SWEEPS', None)
  if sweeps is not None:
    env['SWEEPS'] = sweeps
  result = subprocess.run(['bash', str(script)], env=env, capture_output=True, text=True,
                          check=True)
  return log.read_text().split(), result.stdout


@pytest.mark.skipif(not BUDGET.is_file(), reason='no study scripts')
def test_budget_runs_every_sweep_in_order_and_skips_finished_ones(tmp_path):
  calls, out = _run(tmp_path, done=('b',))
  assert calls == ['a', 'c'] and 'all sweeps finished' in out


@pytest.mark.skipif(not BUDGET.is_file(), reason='no study scripts')
def test_sweeps_names_only_those_sweeps(tmp_path):
  calls, _ = _run(tmp_path, sweeps='c')
  assert calls == ['c']
  (tmp_path / 'two').mkdir()
  calls, _ = _run(tmp_path / 'two', sweeps='c a')
  assert calls == ['a', 'c']          # the script's order, not SWEEPS'


@pytest.mark.skipif(not BUDGET.is_file(), reason='no study scripts')
def test_a_stopped_sweep_ends_the_call_and_no_budget_starts_nothing(tmp_path):
  calls, out = _run(tmp_path, stop='b')
  assert calls == ['a', 'b'] and 'stopped before the end' in out
  assert 'all sweeps finished' not in out
  (tmp_path / 'late').mkdir()
  calls, out = _run(tmp_path / 'late', budget=30)
  assert calls == [] and 'budget spent' in out

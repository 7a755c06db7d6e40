"""A baseline trained beside a run: does learning the connectivity help?

With ``config.train.baseline = 'dense'`` (the default run's setting) a run of
``experiments/train.py`` is followed by the same run with that connectivity
mode — the same seed, so the same initial weights and biases (the dense
model has every strength present), the same data order and chain keys
(``fold_in(key, epoch)``), the same epochs and evaluation — in
``<workdir>/baseline_<mode>/``, a workdir of its own (resumable like any run;
a rerun of a finished pair does nothing). The run then ends with both
headlines, ``figures/learning_curves.png`` (the free-energy gap of held-out
against training data per epoch, and test log p at the in-training
evaluations where there are some, for both) and a ``baseline`` record in its
summary.json. On a CPU the baseline costs as much as the run (a population
of two would not be cheaper there: docs/operations.md, "Sweeps and populations").
"""

from __future__ import annotations

import os
from typing import Any

import ml_collections

from experiments import workdir as workdir_lib
from ncg import train as train_lib
from ncg.errors import check

CURVES = 'learning_curves.png'


def baseline_mode(config: ml_collections.ConfigDict) -> str:
  """The baseline's connectivity mode, checked; '' for none (also when it is
  the run's own connectivity)."""
  mode = config.train.get('baseline', '') or ''
  check(mode == '' or mode in train_lib.CONNECTIVITY_MODES,
        f'train.baseline must be empty or one of {train_lib.CONNECTIVITY_MODES}, '
        f'got {mode!r}')
  return '' if mode == config.train.connectivity else mode  # nothing to compare


def baseline_config(config: ml_collections.ConfigDict, mode: str
                    ) -> ml_collections.ConfigDict:
  """The run's config with connectivity ``mode`` (dense: every connection)."""
  config = config.copy_and_resolve_references()
  with config.unlocked():
    config.train.connectivity = mode
    config.train.baseline = ''
    if mode in train_lib.DENSE_MODES:
      config.model.density = 1.0
      config.model.density_from = ''
  return config


def baseline_workdir(workdir: str, mode: str) -> str:
  return os.path.join(workdir, f'baseline_{mode}')


def _curve(records: list[dict[str, Any]], field: str) -> dict[int, float]:
  return {int(r['epoch']): float(r[field]) for r in records
          if r.get(field) is not None and 'epoch' in r}


def learning_curves(path: str, runs: dict[str, str]) -> str | None:
  """The free-energy gap (and eval log p, if any) per epoch of each workdir."""
  from experiments import figures  # pylint: disable=g-import-not-at-top
  records = {name: workdir_lib.read_metrics(d) for name, d in runs.items()}
  gaps = {n: _curve([x for x in r if x.get('kind') != 'eval'], 'free_energy_gap')
          for n, r in records.items()}
  epochs = sorted(set().union(*gaps.values()))
  if not epochs:
    return None
  series = {f'{n}: free-energy gap': [g.get(e, float('nan')) for e in epochs]
            for n, g in gaps.items()}
  log_p = {n: _curve([x for x in r if x.get('kind') == 'eval'],
                     'test_log_likelihood_ais') for n, r in records.items()}
  title = 'held-out minus training mean F (nats; > 0 grows with overfitting)'
  if all(len(c) >= 2 for c in log_p.values()):
    series.update({f'{n}: test log p (AIS)': [c.get(e, float('nan')) for e in epochs]
                   for n, c in log_p.items()})
    title = 'free-energy gap and test log p (nats)'
  return figures.line_plot(path, epochs, series, xlabel='epoch', ylabel='nats',
                           title=title)


def compare(workdir: str, mode: str, connectivity: str) -> str:
  """The two headlines and the curves; records the baseline in summary.json."""
  from experiments import evaluation  # pylint: disable=g-import-not-at-top
  other = baseline_workdir(workdir, mode)
  summary = workdir_lib.read_json(os.path.join(workdir, 'summary.json'))
  base = workdir_lib.read_json(os.path.join(other, 'summary.json'))
  figure = learning_curves(workdir_lib.figure_path(workdir, CURVES),
                           {connectivity: workdir, mode: other})
  keys = ('test_log_likelihood_ais', 'test_log_likelihood_ais_low',
          'test_log_likelihood_ais_high', 'test_log_likelihood_exact',
          'probe_test_accuracy', 'test_accuracy', 'density', 'epochs')
  summary['baseline'] = {'connectivity': mode, 'workdir': os.path.abspath(other),
                         **{k: base.get(k) for k in keys if k in base}}
  workdir_lib.write_json(workdir, 'summary.json', summary)
  lines = [f'{connectivity} (this run) and {mode} (beside it: same start, data '
           'order and epochs):',
           f'  {connectivity}: ' + evaluation.headline(summary).replace('\n', '\n    '),
           f'  {mode}: ' + evaluation.headline(base).replace('\n', '\n    ')]
  if figure:
    lines.append(f'  learning curves: {figure}')
  return '\n'.join(lines)

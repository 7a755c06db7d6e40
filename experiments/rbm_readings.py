"""Two cross-study RBM tables of RESULTS.md: equal starts, and the reference's reading.

Called by experiments/rbm_report.py. Both read the curated summaries
(``results/rbm/<study>/<method>/[m<i>/]summary.json``) by their recorded
settings, not by directory names:

* :func:`starts_tables`: for each data set in :data:`EQUAL_START_STUDIES`,
  every method from the reference start (W ~ U[−1, 1], biases 0) beside the
  same method from the small start (N(0, 0.01²), base-rate visible biases),
  mean ± sample std over seeds, with the small − reference difference and
  Welch's p (scipy, when installed).
* :func:`reference_reading_tables`: the runs read the way the NCG reference
  reads them — MNIST log p on the training set by uniform-base AIS
  (experiments/studies/paper_reading.py) beside the project's test-set,
  base-rate reading; bars and stripes on the reference's 32-sample set against
  its floor 3.379 and the log 32 = 3.466 its plots call the minimum; the
  mean-field classifier beside the exact p(y|x).
"""

from __future__ import annotations

import math
import os
from typing import Any, Callable

import numpy as np

from ncg import modes

# data set → (studies whose runs are pooled, metric field, metric label, higher is better);
# 'study:mode' takes only that study's runs of one connectivity mode (mnist20 holds the
# one dense RBM from U[−1, 1]; its other rows repeat seed 0 of mnist).
EQUAL_START_STUDIES = {
    'bars and stripes (6,000 epochs, 10 seeds)': (
        ('bas', 'starts_bas'), 'train_nll_exact', 'train NLL, exact (nats)', False),
    'MNIST (20 epochs, 3 seeds)': (
        ('mnist', 'starts_mnist', 'mnist20:dense'), 'test_log_likelihood_ais',
        'test log p(v), AIS (nats)', True),
    'UCI Mushrooms (50 epochs, 5 seeds)': (
        ('uci_mushrooms', 'starts_uci_mushrooms'), 'test_accuracy',
        'joint RBM test accuracy (exact p(y|x))', True),
    'UCI Connect-4 (50 epochs, 5 seeds)': (
        ('uci_connect4', 'starts_uci_connect4'), 'test_accuracy',
        'joint RBM test accuracy (exact p(y|x))', True),
}
BAS_FLOOR_30 = math.log(30)
BAS_FLOOR_32 = 28 / 32 * math.log(32) + 4 / 32 * math.log(16)  # 3.379
BAS_REFERENCE_MINIMUM = math.log(32)                            # 3.466


def _study(s: dict) -> str:
  return s['_path'].split(os.sep)[1]


def start_of(s: dict) -> str:
  """'small' for N(0, s²) weights with base-rate biases, else 'reference'."""
  return 'small' if s.get('weight_init') == 'normal' else 'reference'


def _standard(s: dict) -> bool:
  """The reference's η_α = 5η, no band, the 30-pattern set."""
  ratio = (s.get('strength_learning_rate') or 5 * s['learning_rate']) / s['learning_rate']
  return (abs(ratio - 5) < 1e-6 and not s.get('hysteresis')
          and not s.get('bars_reference_set'))


def _from_start(mode: modes.Mode, s: dict) -> str:
  """A mode that learns its density, named by where it starts: 'NCG from p = 1'."""
  return f'{mode.short} from p = {s["density0"]:g}'


def family(s: dict) -> str | None:
  """The method of a run regardless of its start (None: not in the table).

  Read from the mode's row (:data:`ncg.modes.MODES`): a mode that learns its
  density by its start (and the scale-free strength rule), a dense one with
  the first setting its label shows, any other at its density.
  """
  if not _standard(s):
    return None
  mode = modes.MODES[s['connectivity']]
  if mode.learns_strength:
    rule = s.get('strength_rule') or 'reference'
    return (_from_start(mode, s)
            + (', scale-free strength rule' if rule == 'normalized' else ''))
  if mode.dense_mask:
    return mode.short + ''.join(f' ({symbol} = {s[field]:g})'
                                for field, symbol in mode.shows[:1])
  return mode.short + (" at NCG's density" if s.get('density_from') else
                       f' at density {s["density0"]:.3g}')


def _mean_std(values: list[float], scale: float, fmt: str) -> str:
  values = [v * scale for v in values]
  if len(values) == 1:
    return fmt.format(values[0]) + ' (1 seed)'
  return (f'{fmt.format(np.mean(values))} ± {fmt.format(np.std(values, ddof=1))}'
          f' ({len(values)})')


def welch_p(a: list[float], b: list[float]) -> float | None:
  """Two-sided Welch t-test p-value (None without scipy or with < 2 per side)."""
  if len(a) < 2 or len(b) < 2:
    return None
  try:
    from scipy import stats  # pylint: disable=g-import-not-at-top
  except ImportError:
    return None
  return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def _order(name: str) -> tuple:
  """Rows in the order of :data:`ncg.modes.MODES` (a row's name starts with
  the first word of its mode's short name: 'fixed', 'dense'), then by name."""
  kinds = tuple(mode.short.split()[0] for mode in modes.MODES.values())
  return (next((i for i, k in enumerate(kinds) if name.startswith(k)), 9), name)


def starts_table(runs: list[dict], field: str, label: str,
                 scale: float = 1.0) -> list[str]:
  """Methods × {reference, small} start for one data set's runs."""
  fmt = '{:.3f}' if field == 'train_nll_exact' else '{:.2f}'
  cells: dict[str, dict[str, list[dict]]] = {}
  for s in runs:
    name = family(s)
    if name is not None and s.get(field) is not None:
      cells.setdefault(name, {}).setdefault(start_of(s), []).append(s)
  out = [f'| method | reference start: final density | {label} | small start: '
         f'final density | {label} | small − reference | Welch p |',
         '|---|---|---|---|---|---|---|']
  for name in sorted(cells, key=_order):
    row, values = [name], {}
    for start in ('reference', 'small'):
      group = cells[name].get(start, [])
      values[start] = [g[field] * scale for g in group]
      row += ([f'{np.mean([g["density"] for g in group]):.3f}',
               _mean_std([g[field] for g in group], scale, fmt)]
              if group else ['–', 'not run'])
    if values['reference'] and values['small']:
      p = welch_p(values['small'], values['reference'])
      row += [f'{np.mean(values["small"]) - np.mean(values["reference"]):+.3f}'
              if field == 'train_nll_exact' else
              f'{np.mean(values["small"]) - np.mean(values["reference"]):+.2f}',
              '–' if p is None else f'{p:.2g}']
    else:
      row += ['–', '–']
    out.append('| ' + ' | '.join(row) + ' |')
  return out


def starts_tables(runs: list[dict[str, Any]]) -> list[str]:
  """The equal-start section: one table per data set with runs from both starts."""
  out = []
  for title, (studies, field, label, _) in EQUAL_START_STUDIES.items():
    group = [s for s in runs if (_study(s) in studies
             or f'{_study(s)}:{s["connectivity"]}' in studies)
             # joint label RBMs where accuracy is the measure, plain RBMs elsewhere
             and bool(s.get('labels')) == (field == 'test_accuracy')]
    if not any(start_of(s) == 'small' and s['connectivity'] != 'dense'
               for s in group):
      continue
    scale = 100.0 if field.endswith('accuracy') else 1.0
    biases = ('base-rate visible biases (on UCI both starts have them: they differ in '
              'the weights only)' if scale != 1 else 'biases 0')
    out += [f'**{title}.** Machine: a shared 2-core CPU. Studies '
            f'{", ".join(f"`{x}`" for x in studies)}; reference start W ~ U[−1, 1], '
            f'{biases}; small start W ~ N(0, 0.01²), base-rate visible biases; '
            "fixed/SET/RigL at the final density of the NCG runs of the same start."
            + (' Accuracies in %.' if scale != 1 else ''), '']
    out += starts_table(group, field, label, scale) + ['']
  return out


def _rows(runs: list[dict], key: Callable[[dict], str]) -> dict[str, list[dict]]:
  rows: dict[str, list[dict]] = {}
  for s in runs:
    rows.setdefault(key(s), []).append(s)
  return dict(sorted(rows.items(), key=lambda kv: _order(kv[0])))


def _name(s: dict) -> str:
  mode = modes.MODES[s['connectivity']]
  base = family(s) if _standard(s) else (
      _from_start(mode, s) if mode.learns_strength else s['connectivity'])
  return f'{base or s["connectivity"]}, {start_of(s)} start'


def reference_reading_tables(runs: list[dict[str, Any]]) -> list[str]:
  """The runs as the reference's code would report them, beside ours."""
  out = []
  mnist = [s for s in runs if s.get('train_log_likelihood_ais_uniform') is not None]
  if mnist:
    out += ['**MNIST: train set with a uniform-base AIS (the reference) against the '
            'test set with a base-rate base (ours).** Same models, 100 AIS runs × '
            '14,501 temperatures each way; 2-core CPU.', '',
            '| method | seeds | test log p, base-rate AIS (ours) | train log p, '
            'uniform-base AIS (reference) | reference − ours |',
            '|---|---|---|---|---|']
    for name, group in _rows(mnist, _name).items():
      ours = [g['test_log_likelihood_ais'] for g in group]
      theirs = [g['train_log_likelihood_ais_uniform'] for g in group]
      out.append(f'| {name} | {len(group)} | {_mean_std(ours, 1, "{:.2f}")} | '
                 f'{_mean_std(theirs, 1, "{:.2f}")} | '
                 f'{np.mean(theirs) - np.mean(ours):+.2f} |')
    out.append('')
  bas = [s for s in runs if s.get('bars_reference_set')
         and s.get('train_nll_exact') is not None]
  if bas:
    out += [f'**Bars and stripes on the reference\'s 32-sample set** (all-off and '
            f'all-on twice; floor {BAS_FLOOR_32:.3f} nats, where the reference\'s '
            f'plots draw log 32 = {BAS_REFERENCE_MINIMUM:.3f} as the minimum; the 30 '
            f'distinct patterns\' floor is log 30 = {BAS_FLOOR_30:.3f}). Exact NLL, '
            '6,000 epochs, 2-core CPU.', '',
            '| method | seeds | train NLL on the 32 samples | above the floor 3.379 | '
            'above log 32 = 3.466 | seeds below log 32 |', '|---|---|---|---|---|---|']
    for name, group in _rows(bas, _name).items():
      nll = [g['train_nll_exact'] for g in group]
      out.append(f'| {name} | {len(group)} | {_mean_std(nll, 1, "{:.3f}")} | '
                 f'{np.mean(nll) - BAS_FLOOR_32:+.3f} | '
                 f'{np.mean(nll) - BAS_REFERENCE_MINIMUM:+.3f} | '
                 f'{sum(v < BAS_REFERENCE_MINIMUM for v in nll)} / {len(nll)} |')
    out.append('')
  joint = [s for s in runs if s.get('test_accuracy_mean_field') is not None]
  if joint:
    out += ['**Classification: the reference\'s mean-field rule (labels clamped at ½, '
            'one up-down pass) against the exact p(y|x)**, same joint RBMs, test '
            'accuracy %.', '',
            '| data set | method | seeds | exact p(y\\|x) | mean-field | mean-field − exact |',
            '|---|---|---|---|---|---|']
    for key, group in _rows(joint, lambda s: f'{s["dataset"]}\t{_name(s)}').items():
      dataset, name = key.split('\t')
      exact = [g['test_accuracy'] for g in group]
      mf = [g['test_accuracy_mean_field'] for g in group]
      out.append(f'| {dataset} | {name} | {len(group)} | {_mean_std(exact, 100, "{:.2f}")} | '
                 f'{_mean_std(mf, 100, "{:.2f}")} | '
                 f'{100 * (np.mean(mf) - np.mean(exact)):+.2f} |')
    out.append('')
  return out

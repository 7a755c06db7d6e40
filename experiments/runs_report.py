"""A report on the user's own runs and sweeps: grouped by settings, mean ± std over seeds.

    ncg-report runs/sweep                 # a sweep's members
    ncg-report runs/ncg_s0 runs/ncg_s1 runs/dense_s0 runs/dense_s1
    ncg-report runs/                      # every summary.json below it

Each path is a run's workdir (its ``summary.json``), a sweep's workdir (its
``members/m<i>/summary.json``) or a directory searched for ``summary.json``
files. Runs and members are grouped by their settings (every field of
:data:`SETTINGS` their summaries hold, and the other fields of their
config.json but seeds and bookkeeping): within a group only the seed
differs. For each group: the seeds, and mean ± sample standard deviation
(ddof = 1; '—' for one seed) over them of the test log p(v) (AIS, or exact
where a run has it), the test accuracy of p(y|x) and of the probe, and the
final density. The table shows the settings that differ between groups (the
shared ones are listed above it). A figure puts every group's mean ± std of
log p and of the final density side by side (``report.png``). Nothing to
report (no summary.json, or none of an RBM) is an input error: one line,
exit 2.
"""

from __future__ import annotations

import glob
import json
import math
import os
from typing import Any, NamedTuple, Sequence

import numpy as np

from ncg.errors import InputError, check

# The fields of an RBM summary.json that describe how the run was set up.
SETTINGS = ('dataset', 'connectivity', 'num_hidden', 'density0', 'density_from',
            'k', 'persistent', 'learning_rate', 'strength_learning_rate',
            'weight_init', 'weight_scale', 'base_rate_bias', 'rewire_fraction',
            'l1_penalty', 'epochs', 'labels')
# config.json fields that are not settings of the model (seeds, bookkeeping,
# where the data lie) or that a sweep member's summary holds itself.
NOT_SETTINGS = ('train.seed', 'data.seed', 'data.path', 'train.checkpoint_every',
                'train.checkpoint_minutes', 'train.log_every', 'train.data_shards',
                'train.free_energy_examples', 'train.reconstruction',
                'train.learning_rate', 'train.strength_learning_rate',
                'model.density', 'model.density_from', 'model.num_hidden',
                'train.k', 'train.persistent', 'train.connectivity', 'data.name',
                'train.epochs', 'model.weight_init', 'model.weight_scale',
                'model.base_rate_bias', 'train.rewire_fraction', 'train.l1_penalty',
                'model.labels')
CONFIG_SECTIONS = ('data', 'model', 'train')
# (summary field, column title) of the outcomes averaged over seeds.
OUTCOMES = (('test_log_likelihood', 'test log p(v), nats'),
            ('test_accuracy', 'accuracy p(y|x)'),
            ('probe_test_accuracy', 'probe accuracy'),
            ('density', 'final density'))


class Group(NamedTuple):
  """Runs that differ only in their seed.

  Attributes:
    settings: (field, value) pairs of :data:`SETTINGS` the runs share.
    seeds: the runs' seeds, in the order of ``runs``.
    runs: their summaries.
  """
  settings: tuple[tuple[str, Any], ...]
  seeds: tuple[Any, ...]
  runs: tuple[dict[str, Any], ...]


def _read(path: str) -> dict[str, Any]:
  try:
    with open(path) as f:
      record = json.load(f)
  except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
    raise InputError(f'{path} is not a readable summary.json ({e})') from None
  check(isinstance(record, dict), f'{path} is not a summary (not a JSON object)')
  record['_path'] = path
  record['_config'] = _config_settings(path)
  return record


def _config_settings(summary_path: str) -> dict[str, Any]:
  """The run's config.json settings beyond the summary's (a sweep member's:
  the sweep's config.json), flattened to 'train.x' names; {} without one."""
  directory = os.path.dirname(os.path.abspath(summary_path))
  if os.path.basename(os.path.dirname(directory)) == 'members':
    directory = os.path.dirname(os.path.dirname(directory))
  try:
    with open(os.path.join(directory, 'config.json')) as f:
      config = json.load(f)
  except (OSError, UnicodeDecodeError, json.JSONDecodeError):
    return {}
  out = {}
  for section in CONFIG_SECTIONS:
    for key, value in (config.get(section) or {}).items():
      name = f'{section}.{key}'
      if name not in NOT_SETTINGS and not isinstance(value, dict):
        out[name] = _hashable(value)
  return out


def summary_files(path: str) -> list[str]:
  """The summary.json files a path stands for (see the module docstring)."""
  check(os.path.exists(path), f'{path} does not exist')
  if os.path.isfile(path):
    return [path]
  members = sorted(glob.glob(os.path.join(path, 'members', 'm*', 'summary.json')))
  if members:
    return members
  own = os.path.join(path, 'summary.json')
  if os.path.isfile(own):
    return [own]
  return sorted(glob.glob(os.path.join(path, '**', 'summary.json'), recursive=True))


def collect(paths: Sequence[str]) -> list[dict[str, Any]]:
  """The RBM summaries of ``paths`` (InputError when there is none)."""
  check(len(paths) > 0, 'nothing to report: name run or sweep workdirs '
        '(ncg-report runs/sweep runs/other_run ...)')
  files: list[str] = []
  for path in paths:
    files += [f for f in summary_files(path) if f not in files]
  summaries = [_read(f) for f in files]
  # a sweep's own summary.json lists its members; the members are the runs
  runs = [s for s in summaries if s.get('kind', 'rbm') == 'rbm'
          and 'connectivity' in s and not isinstance(s.get('members'), list)]
  check(runs, f'nothing to report: no RBM run summary.json in {", ".join(paths)} '
        '(a run writes it when it finishes)')
  return runs


def log_likelihood(summary: dict[str, Any]) -> float | None:
  """The run's test log p(v): exact when it has it, else the AIS estimate."""
  for key in ('test_log_likelihood_exact', 'test_log_likelihood_ais'):
    value = _number(summary.get(key))
    if value is not None:
      return value
  return None


def _number(value: Any) -> float | None:
  if isinstance(value, bool) or value is None:
    return None
  try:
    value = float(value)
  except (TypeError, ValueError):
    return None
  return value if math.isfinite(value) else None


def _outcome(summary: dict[str, Any], field: str) -> float | None:
  if field == 'test_log_likelihood':
    return log_likelihood(summary)
  return _number(summary.get(field))


def group(runs: Sequence[dict[str, Any]]) -> list[Group]:
  """Runs grouped by their settings, groups in order of first appearance."""
  fields = [f for f in SETTINGS if any(f in r for r in runs)]
  extra = sorted({f for r in runs for f in r['_config']})
  groups: dict[tuple, list[dict[str, Any]]] = {}
  for run in runs:
    key = (tuple((f, _hashable(run.get(f))) for f in fields)
           + tuple((f, run['_config'].get(f)) for f in extra))
    groups.setdefault(key, []).append(run)
  return [Group(key, tuple(r.get('seed') for r in members), tuple(members))
          for key, members in groups.items()]


def _hashable(value: Any) -> Any:
  return json.dumps(value, sort_keys=True) if isinstance(value, (list, dict)) else value


def mean_std(values: Sequence[float | None]) -> tuple[float | None, float | None, int]:
  """(mean, sample std or None for one value, count) of the values present."""
  x = np.asarray([v for v in values if v is not None], np.float64)
  if not x.size:
    return None, None, 0
  return float(x.mean()), (float(x.std(ddof=1)) if x.size > 1 else None), int(x.size)


def _cell(values: Sequence[float | None], digits: int) -> str:
  mean, std, n = mean_std(values)
  if mean is None:
    return ''
  return f'{mean:.{digits}f}' + (f' ± {std:.{digits}f}' if std is not None else ' ± —')


def _label(settings: tuple[tuple[str, Any], ...], varying: Sequence[str]) -> str:
  return ', '.join(f'{f}={v}' for f, v in settings if f in varying) or 'all runs'


def table(groups: Sequence[Group]) -> str:
  """Markdown: the shared settings, then one row per group."""
  fields = [f for f, _ in groups[0].settings]
  varying = [f for i, f in enumerate(fields)
             if len({g.settings[i][1] for g in groups}) > 1]
  shared = [(f, v) for f, v in groups[0].settings if f not in varying]
  outcomes = [(f, t) for f, t in OUTCOMES
              if any(_outcome(r, f) is not None for g in groups for r in g.runs)]
  lines = []
  if shared:
    lines.append('Shared settings: ' + ', '.join(f'{f}={v}' for f, v in shared) + '\n')
  lines.append('| # | ' + ' | '.join(varying + ['seeds'] + [t for _, t in outcomes])
               + ' |')
  lines.append('|' + '---|' * (len(varying) + 2 + len(outcomes)))
  for number, g in enumerate(groups, 1):
    values = dict(g.settings)
    cells = [str(number)] + [str(values[f]) for f in varying]
    cells.append(f'{len(g.runs)} ({", ".join(str(s) for s in g.seeds)})')
    for f, _ in outcomes:
      digits = 2 if f == 'test_log_likelihood' else 4
      cells.append(_cell([_outcome(r, f) for r in g.runs], digits))
    lines.append('| ' + ' | '.join(cells) + ' |')
  lines.append('\nmean ± sample standard deviation over the seeds (— for one seed); '
               'log p exact where the run has it, else AIS.')
  return '\n'.join(lines)


def figure(path: str, groups: Sequence[Group]) -> str:
  """Per group, mean ± std of test log p (left) and final density (right);
  more than four groups are labelled by their row number (#) in :func:`table`."""
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top
  from experiments import figures  # pylint: disable=g-import-not-at-top
  fields = [f for f, _ in groups[0].settings]
  varying = [f for i, f in enumerate(fields)
             if len({g.settings[i][1] for g in groups}) > 1]
  if len(groups) <= 4:   # short enough to spell out; else the table's numbers
    labels = [_label(g.settings, varying) for g in groups]
  else:
    labels = [f'#{i}' for i in range(1, len(groups) + 1)]
  fig = Figure(figsize=(max(7.0, 0.6 * len(groups) + 3), 3.8))
  axes = fig.subplots(1, 2)
  for ax, (field, title) in zip(axes, (OUTCOMES[0], OUTCOMES[3])):
    stats = [mean_std([_outcome(r, field) for r in g.runs]) for g in groups]
    x = np.arange(len(groups))
    means = np.asarray([m if m is not None else np.nan for m, _, _ in stats])
    stds = np.asarray([s if s is not None else 0.0 for _, s, _ in stats])
    ax.errorbar(x, means, yerr=stds, fmt='o', capsize=4)
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=30, ha='right', fontsize=7)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
  fig.suptitle('mean ± std over seeds', fontsize=9)
  return figures.save(fig, path)


def report(paths: Sequence[str], figure_path: str | None = None) -> tuple[str, str]:
  """(Markdown, figure path) of the runs under ``paths``.

  The figure goes to ``figure_path``, by default ``<path>/report.png`` for
  one path that is a directory, else ``report.png`` here.
  """
  groups = group(collect(paths))
  if figure_path is None:
    figure_path = (os.path.join(paths[0], 'report.png')
                   if len(paths) == 1 and os.path.isdir(paths[0]) else 'report.png')
  return table(groups), figure(figure_path, groups)

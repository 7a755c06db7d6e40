"""RESULTS.md sections of the RBM studies (called by experiments/report.py).

Summaries live under ``results/rbm/<study>/<method>/[m<i>/]summary.json``
(``m<i>``: one member of a sweep population, copied by
``experiments/studies/collect.py``). Rows are methods aggregated over seeds
(mean ± sample std; an NCG population over several initial densities gives
one row per density). Studies with exact likelihoods (bars and stripes) show
the exact average NLL of the training patterns; the others the test log p(v)
by AIS, the probe's and the joint RBM's test accuracy. ``results/rbm/
verdict.md``, written by hand from these tables, opens the section; figures
(NLL and density curves, initial vs final density) go to ``results/rbm/<study>/``.
"""

from __future__ import annotations

import glob
import os
import re
from typing import Any

from matplotlib.figure import Figure
import numpy as np

from experiments import figures
from experiments import rbm_readings
from ncg import modes

# Study-variant directory → readable label. A directory named after its
# connectivity mode (or '<mode>_<number>') gets the mode's own label
# (ncg.modes.label); anything else: the directory name.
LABELS = {
    'dense_uniform': 'dense, U[−1, 1] weights (reference init)',
    'dense_small': 'dense, N(0, 0.01²) weights + base-rate biases',
    'ncg_ratio1': 'NCG, η_α = η', 'ncg_ratio25': 'NCG, η_α = 25η',
}
ORDER = ('ncg', 'ncg_p', 'ncg_ratio', 'dense_uniform', 'dense_small', 'dense',
         'fixed', 'set', 'rigl', 'l1')


def _parts(path: str) -> tuple[str, str]:
  parts = path.split(os.sep)        # rbm/<study>/<method>/[m<i>/]summary.json
  return parts[1], parts[2]


# Directory suffixes of the both-start studies; the label says the same from
# the summary's fields (start, strength rule, data set).
SUFFIXES = ('_set32', '_norm_small', '_small', '_norm')
# '<mode>_<sampler>' directories (e.g. dense_pcd10, ncg_pt5_k2): the label's sampler part
# says it from the summary (:func:`sampler`).
SAMPLER_TAG = r'(cd|pcd|pt)\d+(_k\d+)?'


def _mode(s: dict) -> modes.Mode:
  return modes.MODES[s['connectivity']]


def _is_number(text: str) -> bool:
  try:
    float(text)
  except ValueError:
    return False
  return True


def sampler(s: dict) -> str:
  """The negative phase in words for a row label: '' for CD-k (the
  reference's), ', PCD-k', or ', PT K rungs × k sweeps (β_min …)'."""
  if not s.get('persistent'):
    return ''
  rungs = s.get('temperatures') or 1
  if rungs <= 1:
    return f", PCD-{s['k']}"
  sweeps = 'sweep' if s['k'] == 1 else 'sweeps'
  return f", PT {rungs} rungs × {s['k']} {sweeps} (β_min {s['beta_min']:g})"


def _label(method: str, s: dict) -> str:
  return _base_label(method, s) + sampler(s)


def _base_label(method: str, s: dict) -> str:
  if method.endswith('_labels'):
    return _base_label(method[:-len('_labels')], s) + ', joint RBM with label units'
  if _mode(s).dense_mask and not _mode(s).l1:   # a plain dense RBM: its start
    return LABELS['dense_small' if s.get('weight_init') == 'normal'
                  else 'dense_uniform']
  for suffix in SUFFIXES:
    if method.endswith(suffix):
      label = _base_label(method[:-len(suffix)], s)
      if s.get('weight_init') == 'normal':
        label += ', small start'
      if s.get('strength_rule') == 'normalized':
        label += ', scale-free strength rule'
      return label
  if method.startswith('ncg_p') and _is_number(method[5:]):
    return f'NCG from p = {method[5:]}'
  if method.startswith('ncg_hyst'):
    return f'NCG, hysteresis band ½ ± {method[8:]}'
  name = s['connectivity']
  rest = method[len(name) + 1:] if method.startswith(name + '_') else None
  if method == name or (rest is not None and (
      _is_number(rest) or re.fullmatch(SAMPLER_TAG, rest))):  # the sampler: sampler()
    return modes.label(name, s)
  return LABELS.get(method, method)


def _rank(method: str) -> int:
  for i, prefix in enumerate(ORDER):
    if method.startswith(prefix):
      return i
  return len(ORDER)


def _ms(values, fmt='{:.2f}', scale=1.0) -> str:
  values = [v * scale for v in values if v is not None]
  if not values:
    return '–'
  if len(values) == 1:
    return fmt.format(values[0])
  return (f'{fmt.format(np.mean(values))} ± '
          f'{fmt.format(np.std(values, ddof=1))}')


def groups_of(runs: list[dict]) -> dict[tuple, list[dict]]:
  """(method, initial density for NCG populations) → its seeds' summaries."""
  groups: dict[tuple, list[dict]] = {}
  for s in runs:
    _, method = _parts(s['_path'])
    density0 = s['density0'] if _mode(s).learns_strength else None
    groups.setdefault((method, density0), []).append(s)
  return dict(sorted(groups.items(), key=lambda kv: (
      _rank(kv[0][0]), kv[0][0], -(kv[0][1] if kv[0][1] is not None else 2))))


def _settings(runs: list[dict]) -> str:
  s = runs[0]
  seeds = sorted({r['seed'] for r in runs})
  phases = {(r.get('persistent'), r.get('k'), r.get('temperatures') or 1) for r in runs}
  phase = (f'{"PCD" if s["persistent"] else "CD"}-{s["k"]}' if len(phases) == 1
           else 'negative phase per row')
  return (f'{s["dataset"]}, H = {s["num_hidden"]}, '
          f'{phase}, η = '
          f'{s["learning_rate"]:g}, {s["epochs"]} epochs, seeds '
          f'{seeds[0]}–{seeds[-1]} ({len(seeds)}); machine: '
          + ('a shared 2-core CPU' if (s.get('environment') or {}).get(
              'backend', 'cpu') == 'cpu' else s['environment']['device_kind']))


def study_table(runs: list[dict]) -> list[str]:
  exact = any(r.get('train_nll_exact') is not None for r in runs)
  labelled = any(r.get('test_accuracy') is not None for r in runs)
  head = ['method', 'seeds', 'initial → final density']
  if exact:
    head += ['train NLL, exact (nats)', 'best seed']
  else:
    head += ['test log p(v), AIS (nats)', 'probe test accuracy %']
  if labelled:
    head += ['joint RBM test accuracy %']
  tempering = any(r.get('swap_rates') for r in runs)
  if tempering:
    head += ['PT swaps accepted %, last epoch (lowest / mean pair)']
  head += ['added / removed (whole run)', 'ever flipped %', 'near ½ %']
  out = ['| ' + ' | '.join(head) + ' |', '|---' * len(head) + '|']
  for (method, density0), group in groups_of(runs).items():
    s = group[0]
    label = _base_label(method, s)
    if density0 is not None and not (method.startswith('ncg_p') and _is_number(method[5:])):
      label += f' from p = {density0:g}'
    label += sampler(s)
    d0 = s['density0']
    row = [label, str(len(group)),
           f'{d0:.3g} → {_ms([g["density"] for g in group], "{:.3f}")}'
           + (f' (eff. {_ms([g.get("effective_density") for g in group], "{:.3f}")})'
              if _mode(s).l1 else '')]
    if exact:
      nll = [g['train_nll_exact'] for g in group]
      row += [_ms(nll, '{:.3f}'), f'{min(nll):.3f}']
    else:
      row += [_ms([g.get('test_log_likelihood_ais') for g in group]),
              _ms([g.get('probe_test_accuracy') for g in group], scale=100)]
    if labelled:
      row += [_ms([g.get('test_accuracy') for g in group], scale=100)]
    if tempering:
      rates = [g['swap_rates'] for g in group if g.get('swap_rates')]
      row += [f'{_ms([min(r) for r in rates], "{:.0f}", 100)} / '
              f'{_ms([np.mean(r) for r in rates], "{:.0f}", 100)}' if rates else '–']
    totals = ('–' if group[0].get('added_total') is None else
              f'{np.mean([g["added_total"] for g in group]):,.0f} / '
              f'{np.mean([g["removed_total"] for g in group]):,.0f}')
    row += [totals,
            _ms([g.get('flips_ever_flipped') for g in group], '{:.1f}', 100),
            (_ms([g.get('near_threshold') for g in group], '{:.1f}', 100)
             if _mode(s).learns_strength else '–')]
    out.append('| ' + ' | '.join(row) + ' |')
  return out


def curve_figure(path: str, runs: list[dict], field: str, ylabel: str,
                 title: str, floor: float | None = None) -> str | None:
  """Mean ± std over seeds of a per-epoch curve, one line per method."""
  fig = Figure(figsize=(8, 4.8))
  ax = fig.subplots()
  ax.set_prop_cycle(color=[f'tab:{c}' for c in (
      'blue', 'orange', 'green', 'red', 'purple', 'brown', 'pink', 'gray',
      'olive', 'cyan')] + ['black', 'gold', 'navy', 'lime'])
  drawn = False
  for (method, density0), group in groups_of(runs).items():
    curves = [np.asarray(g[field], float) for g in group if g.get(field)]
    if not curves or len({len(c) for c in curves}) != 1:
      continue
    stack = np.stack(curves)
    epochs, values = stack[0, :, 0], stack[:, :, 1]
    label = _label(method, group[0]) + (
        f' p={density0:g}' if density0 is not None
        and method == group[0]['connectivity'] else '')
    mean, std = values.mean(0), values.std(0)
    line, = ax.plot(epochs, mean, label=f'{label} ({len(curves)})', lw=1.2)
    ax.fill_between(epochs, mean - std, mean + std, color=line.get_color(), alpha=0.15)
    drawn = True
  if not drawn:
    return None
  if floor is not None:
    ax.axhline(floor, color='k', ls=':', lw=1, label=f'minimum {floor:.2f}')
  ax.set(xlabel='epoch', ylabel=ylabel, title=title)
  ax.legend(fontsize=7, ncol=2)
  ax.grid(alpha=0.3)
  fig.tight_layout()
  return figures.save(fig, path, dpi=90, tight=False)


def density_scatter(path: str, runs: list[dict]) -> str | None:
  """Initial against final density of every NCG member."""
  ncg = [r for r in runs if _mode(r).learns_strength and
         _parts(r['_path'])[1].startswith(r['connectivity'])
         and 'ratio' not in r['_path']]
  if len({r['density0'] for r in ncg}) < 2:
    return None
  fig = Figure(figsize=(4.5, 4.2))
  ax = fig.subplots()
  ax.plot([0, 1], [0, 1], 'k:', lw=1, label='no change')
  ax.plot([r['density0'] for r in ncg], [r['density'] for r in ncg], 'o',
          alpha=0.6, label='NCG members')
  ax.set(xlabel='initial density p', ylabel='final density',
         title='NCG: initial vs final density', xlim=(-0.03, 1.03), ylim=(-0.03, 1.03))
  ax.legend(fontsize=8)
  ax.grid(alpha=0.3)
  fig.tight_layout()
  return figures.save(fig, path, dpi=90, tight=False)


def section(summaries: list[dict[str, Any]], results_dir: str | None) -> str:
  """The RBM section: the verdict, then one table (and figures) per study."""
  runs = [s for s in summaries if s.get('kind') == 'rbm']
  out = []
  if results_dir:
    verdict = os.path.join(results_dir, 'rbm', 'verdict.md')
    if os.path.isfile(verdict):
      with open(verdict) as f:
        out += [f.read().rstrip(), '']
  equal = rbm_readings.starts_tables(runs)
  if equal:
    out += ['### Every method from both starts', ''] + equal
  reading = rbm_readings.reference_reading_tables(runs)
  if reading:
    out += ["### The project's runs read the way the NCG reference reads them", ''] + reading
  by_study: dict[str, list[dict]] = {}
  for s in runs:
    by_study.setdefault(_parts(s['_path'])[0], []).append(s)
  for study, group in sorted(by_study.items()):
    out += [f'### {study}', '', f'{_settings(group)}.', '']
    out += study_table(group) + ['']
    if not results_dir:
      continue
    folder = os.path.join(results_dir, 'rbm', study)
    figures = [
        curve_figure(os.path.join(folder, 'nll_curves.png'), group,
                     'train_nll_curve', 'exact average NLL (nats)',
                     f'{study}: training NLL (mean ± std over seeds)',
                     floor=((rbm_readings.BAS_FLOOR_32
                             if group[0].get('bars_reference_set') else np.log(30))
                            if group[0]['dataset'] == 'bars_and_stripes' else None)),
        curve_figure(os.path.join(folder, 'density_curves.png'), group,
                     'density_curve', 'connection density',
                     f'{study}: density (mean ± std over seeds)'),
        density_scatter(os.path.join(folder, 'initial_vs_final_density.png'), group)]
    figures += sorted(glob.glob(os.path.join(folder, 'ncg*', 'connectivity.png')))
    for path in figures:
      if path:
        name = os.path.relpath(path, folder).replace(os.sep, ': ')
        out += [f'![{name}]({os.path.relpath(path, os.path.dirname(results_dir) or ".")})', '']
  return '\n'.join(out)

"""RESULTS.md sections of the parsimonious networks (called by experiments/report.py).

Summaries live under ``results/parsimonious/<study>/<run>/summary.json``; the
study decides the table: ``frontier*`` (the price λ/N swept, Bernoulli gates,
the L0 baseline and the dense network), ``robustness*`` (starting widths and
initialisations), ``decision*`` (where θ is made deterministic), and any other
study gets the plain run table. Every error is the last epoch's; the
best-epoch test error is shown only in a column marked as test-selected.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from scipy import stats

from experiments import figures

# Published structured pruning (architecture, error %, MACs per example).
PUBLISHED = {
    'lenet300': [('L0 (Louizos et al. 2018)', '266-88-33', 1.7, 266 * 88 + 88 * 33 + 330),
                 ('SBP (Neklyudov et al. 2017)', '245-160-55', 1.6,
                  245 * 160 + 160 * 55 + 550),
                 ('VIBNet (Dai et al. 2018)', '97-71-33', 1.6, 9560)],
    'lenet5': [('L0-sep', '9-18-65-25', 1.0, 403_000 // 2),
               ('SBP', '3-18-284-283', 0.9, 217_000 // 2),
               ('BC-GNJ (Louizos et al. 2017)', '8-13-88-13', 1.0, 290_000 // 2),
               ('BC-GHS (Louizos et al. 2017)', '5-10-76-16', 1.0, 153_376)],
}
PUBLISHED_NOTE = ('published points: L0 1.6–1.8% (1.7 drawn); LeNet-5 costs as published '
                  '("FLOPs" that are MACs for BC-GHS, 153K; the others halved from FLOPs)')
VIBNET_MACS = 9560   # the LeNet-300-100 goals: ≤ 2.0 % (stretch 1.6 %) below VIBNet's MACs
L0_MACS = 266 * 88 + 88 * 33 + 330   # 26,642: ≤ 1.8 % at L0's published cost
BC_GHS_MACS = 153_376                 # LeNet-5: ≤ 1.0 % at BC-GHS's cost
# the MAC budgets under which a setting is chosen on validation, per net
BUDGETS = {'lenet300': (None, L0_MACS, VIBNET_MACS), 'lenet5': (None, BC_GHS_MACS)}
NET_TITLES = {'lenet300': 'LeNet-300-100', 'mlp': 'deeper MLP', 'lenet5': 'LeNet-5-Caffe'}


def arch(widths) -> str:
  return '-'.join(str(int(w)) for w in widths)


def mean_std(values, fmt='{:.2f}') -> str:
  values = np.asarray(values, float)
  if len(values) == 1:
    return fmt.format(values[0])
  return f'{fmt.format(values.mean())} ± {fmt.format(values.std(ddof=1))}'


def _pct(v) -> str:
  return '' if v is None else f'{100 * v:.2f}'


def _label(s) -> str:
  """'dense', or the method, its price (λ/N per unit; κ/N per MAC for 'expected_macs';
  other price rows named) and the deterministic phase ('+F det.') of a summary."""
  rates = s.get('dropout') or []
  dropout = (' dropout (' + ','.join(f'{v:g}' for v in rates) + ')'
             if any(v > 0 for v in rates) else '')
  if s.get('method') in ('dense', 'dropout') or not s.get('gated', True):
    return ('dense' + (f' {s["epochs"]} ep.' if s.get('finetune_epochs') is not None else '')
            + dropout)
  price = s.get('price', 'unit')
  value = (f'κ/N={s["penalty"]:g}' if price == 'expected_macs' else
           f'λ/N={s["penalty"]:g}' + ('' if price == 'unit' else f' ({price})'))
  scale = s.get('penalty_multipliers')
  if scale is None and price == 'unit':     # older summaries: the unit row is all 1
    scale = s.get('penalty_scale') or []
  if scale and any(v != 1 for v in scale):
    value += ' ×(' + ','.join(f'{v:g}' for v in scale) + ')'
  detail = (f' {s["gated_epochs"]}+{s["finetune_epochs"]} det.'
            if s.get('finetune_epochs') else '')
  if s.get('warmup_epochs'):
    detail += f', warm-up {s["warmup_epochs"]:g}'
  if s.get('penalty_ramp_epochs'):
    detail += f', ramp {s["penalty_ramp_epochs"]:g}'
  if s.get('sharpness') and s.get('method', 'bernoulli') == 'bernoulli':   # L0 ignores γ
    detail += f', γ/N={s["sharpness"]:g}' + (f' ×{s["sharpness_final"]:g}'
                                            if s.get('sharpness_final', 1) != 1 else '')
  rate = s.get('finetune_learning_rate')
  if rate and rate != s.get('learning_rate'):
    detail += f', det. step {rate:g}'
  detail += dropout.replace(' dropout', ', det. dropout')
  return f'{s.get("method", "bernoulli")} {value}{detail}'


def undecided(s) -> int:
  """The gates the architecture left to rounding: those still strictly inside (0, 1)
  at the switch to the deterministic phase (decided there by θ ≥ ½), else at the end."""
  if s.get('finetune_epochs') and s.get('rounded_units') is not None:
    return int(s['rounded_units'])
  return int(s.get('undecided_units', 0))


def _study(s) -> str:
  parts = s['_path'].split(os.sep)
  return parts[1] if len(parts) > 3 else ''


def run_table(runs: list[dict[str, Any]]) -> list[str]:
  out = ['| run | start | final | validation error % | test error % (last epoch) | '
         'test-selected best epoch, for comparability only % | MACs | undecided / gates '
         '(with a deterministic phase: rounded at the switch) | '
         'decisions agreeing with sign(Δ+λ/N) (with prior) | training MAC-epochs vs dense | '
         'train s |',
         '|---|---|---|---|---|---|---|---|---|---|---|']
  for s in runs:
    d = s.get('decisions')
    agree = (f'{100 * d["agree_price_only"]:.0f}% ({100 * d["agree_with_prior"]:.0f}%'
             + (f'; in the γ band {100 * d["agree_sharpened"]:.0f}%'
                if s.get('sharpness') and 'agree_sharpened' in d else '')
             + f') of {d["decided_gates"]}' if d else '')
    cost = (f'{s["train_mac_epochs"] / s["dense_mac_epochs"]:.2f}'
            if s.get('dense_mac_epochs') else '')
    out.append(f'| {os.path.dirname(s["_path"])} | {arch(s["start_widths"])} | '
               f'{arch(s["final_widths"])} | {_pct(s.get("validation_error"))} | '
               f'{_pct(s["test_error"])} | {_pct(s.get("test_error_best_epoch"))} | '
               f'{s["macs"]:,} | {undecided(s)} / {s.get("gates", "")} | '
               f'{agree} | {cost} | {s.get("train_seconds", 0):.0f} |')
  return out


def frontier(runs: list[dict[str, Any]], figure_dir: str | None, name: str) -> list[str]:
  """Mean ± std per (method, λ/N) and the test error against MACs figure."""
  groups: dict[str, list] = {}
  for s in runs:
    groups.setdefault(_label(s), []).append(s)
  out = ['| setting | runs | final widths (mean) | validation error % | test error % | '
         'test-selected best epoch % (comparability only) | MACs | undecided gates (with a '
         'deterministic phase: rounded at the switch) | '
         'training MAC-epochs vs dense | train s |', '|---|---|---|---|---|---|---|---|---|---|']
  for label, g in sorted(groups.items(), key=lambda kv: (kv[0] != 'dense', kv[0])):
    widths = np.mean([s['final_widths'] for s in g], axis=0)
    valid = [s['validation_error'] for s in g if s.get('validation_error') is not None]
    out.append(f'| {label} | {len(g)} | {arch(np.round(widths))} | '
               f'{mean_std(100 * np.array(valid)) if valid else ""} | '
               f'{mean_std([100 * s["test_error"] for s in g])} | '
               f'{mean_std([100 * s.get("test_error_best_epoch", s["test_error"]) for s in g])} | '
               f'{mean_std([s["macs"] for s in g], "{:,.0f}")} | '
               f'{mean_std([undecided(s) for s in g], "{:.0f}")} | '
               f'{mean_std([s["train_mac_epochs"] / s["dense_mac_epochs"] for s in g], "{:.2f}")} | '
               f'{mean_std([s.get("train_seconds", 0) for s in g], "{:.0f}")} |')
  out += [''] + chosen_on_validation(groups, BUDGETS.get(runs[0]['net'], (None,)))
  if figure_dir is not None:
    path = plot_frontier(groups, PUBLISHED.get(runs[0]['net'], []),
                         os.path.join(figure_dir, f'{name}.png'))
    root = os.path.dirname(os.path.dirname(figure_dir)) or '.'
    out += ['', f'![test error against MACs]({os.path.relpath(path, root)})'
            f' ({PUBLISHED_NOTE})']
  return out


def chosen_on_validation(groups: dict[str, list], budgets=(None, VIBNET_MACS)) -> list[str]:
  """Per method family, the setting with the lowest mean validation error (overall, and
  among settings whose mean MACs are within each budget), reported with its test error."""
  families: dict[str, list] = {}
  for label, g in groups.items():
    if all(s.get('validation_error') is not None for s in g):
      families.setdefault(label.split(' ')[0], []).append((label, g))
  out = []
  for budget in budgets:
    picks = []
    for family, settings in sorted(families.items()):
      within = [(label, g) for label, g in settings
                if budget is None or np.mean([s['macs'] for s in g]) <= budget]
      if not within:
        picks.append(f'{family}: no setting')
        continue
      label, g = min(within, key=lambda lg: np.mean([s['validation_error'] for s in lg[1]]))
      picks.append(f'{label} (validation {mean_std([100 * s["validation_error"] for s in g])}'
                   f' %, test {mean_std([100 * s["test_error"] for s in g])} % at '
                   f'{np.mean([s["macs"] for s in g]):,.0f} MACs)')
    where = 'overall' if budget is None else f'within {budget:,} MACs'
    out.append(f'Chosen on the validation split, {where}: ' + '; '.join(picks) + '.')
  return out


def plot_frontier(groups: dict[str, list], published, path: str) -> str:
  """Test error (last epoch) against MACs: every run, the means, published points."""
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top
  fig = Figure(figsize=(6, 4))  # no pyplot: the user's backend is left alone
  ax = fig.subplots()
  families: dict[str, list] = {}
  for label, g in groups.items():
    families.setdefault(label.split(' ')[0], []).append(g)
  for family, gs in sorted(families.items()):
    pts = sorted((np.mean([s['macs'] for s in g]), 100 * np.mean([s['test_error'] for s in g]))
                 for g in gs)
    line, = ax.plot(*zip(*pts), 'o-' if len(pts) > 1 else 's', label=f'{family} (mean)')
    every = [(s['macs'], 100 * s['test_error']) for g in gs for s in g]
    ax.plot(*zip(*every), '.', color=line.get_color(), alpha=0.4)
  for method, arch, err, macs in published:
    ax.plot(macs, err, 'k*')
    ax.annotate(method.split(' (')[0], (macs, err), fontsize=7, xytext=(3, 3),
                textcoords='offset points')
  ax.set(xscale='log', xlabel='MACs per example', ylabel='test error % (last epoch)')
  ax.legend(fontsize=7)
  fig.tight_layout()
  return figures.save(fig, path, dpi=110, tight=False)


def slope(x, y) -> tuple[float, float, float, float]:
  """OLS slope of y on x, its 95% confidence interval and the p-value of slope = 0."""
  result = stats.linregress(np.asarray(x, float), np.asarray(y, float))
  t = stats.t.ppf(0.975, len(x) - 2)
  return result.slope, result.slope - t * result.stderr, result.slope + t * result.stderr, \
      result.pvalue


def _init_setting(s) -> str:
  return (f'{s.get("init_scheme", "lecun")}×{s.get("init_scale", 1):g}, '
          f'θ₀={s.get("theta_init", 0.9):g}')


def _cv(widths: np.ndarray) -> np.ndarray:
  return 100 * widths.std(0, ddof=1) / widths.mean(0) if len(widths) > 1 else 0 * widths[0]


def robustness(runs: list[dict[str, Any]]) -> list[str]:
  """Final widths per start and initialisation; then the two questions apart.

  Starts: the initialisation that was run at several starting widths, every start of
  it — CV per gate group and the OLS slope of final on starting width per hidden layer.
  Initialisations: every initialisation at the narrowest start — CV per group and a
  one-way ANOVA p-value of the widths across the initialisations.
  """
  groups: dict[tuple, list] = {}
  for s in runs:
    groups.setdefault((arch(s['start_widths']), _init_setting(s)), []).append(s)
  out = ['| start | initialisation | runs | final units per group (mean ± std) | CV % | '
         'test error % | MACs |', '|---|---|---|---|---|---|---|']
  for (start, init), g in sorted(groups.items()):
    w = np.array([s['final_widths'] for s in g], float)
    sd = w.std(0, ddof=1) if len(g) > 1 else 0 * w[0]
    out.append(f'| {start} | {init} | {len(g)} | '
               + ' / '.join(f'{m:.0f} ± {d:.0f}' for m, d in zip(w.mean(0), sd)) + ' | '
               + ' / '.join(f'{100 * d / max(m, 1e-9):.0f}' for m, d in zip(w.mean(0), sd))
               + f' | {mean_std([100 * s["test_error"] for s in g])} | '
               f'{mean_std([s["macs"] for s in g], "{:,.0f}")} |')
  depth = max(len(s['start_widths']) for s in runs)
  same = [s for s in runs if len(s['start_widths']) == depth]
  by_init: dict[str, list] = {}
  for s in same:
    by_init.setdefault(_init_setting(s), []).append(s)
  starts = max(by_init.values(), key=lambda g: (len({tuple(s['start_widths']) for s in g}),
                                                 len(g)))
  if len({tuple(s['start_widths']) for s in starts}) > 1:
    w = np.array([s['final_widths'] for s in starts], float)
    out += ['', f'Starts ({_init_setting(starts[0])}, {len(starts)} runs over '
            f'{len({tuple(s["start_widths"]) for s in starts})} starting widths): CV per group '
            + ' / '.join(f'{c:.0f}%' for c in _cv(w)) + '.']
    x = np.array([s['start_widths'] for s in starts], float)
    if len(starts) > 2:
      out += ['', '| layer | slope of final width on starting width | 95% CI | p (slope = 0) |',
              '|---|---|---|---|']
      for layer in range(1, depth):
        b, lo, hi, p = slope(x[:, layer], w[:, layer])
        out.append(f'| hidden {layer} | {b:.3f} | [{lo:.3f}, {hi:.3f}] | {p:.2g} |')
  narrowest = min(tuple(s['start_widths']) for s in same)
  inits: dict[str, list] = {}
  for s in same:
    if tuple(s['start_widths']) == narrowest:
      inits.setdefault(_init_setting(s), []).append(s)
  if len(inits) > 1:
    w = np.array([s['final_widths'] for g in inits.values() for s in g], float)
    samples = [np.array([s['final_widths'] for s in g], float) for g in inits.values()]
    anova = [stats.f_oneway(*[x[:, j] for x in samples]).pvalue
             if all(len(x) > 1 for x in samples) else float('nan') for j in range(depth)]
    out += ['', f'Initialisations at the {arch(narrowest)} start ({len(inits)} settings, '
            f'{len(w)} runs): CV per group ' + ' / '.join(f'{c:.0f}%' for c in _cv(w))
            + '; one-way ANOVA across the settings p = '
            + ' / '.join(f'{p:.2g}' for p in anova) + '.']
  return out


def section(summaries: list[dict[str, Any]], figure_dir: str | None = None) -> str:
  """The Markdown of results/parsimonious: per net, per study."""
  out = ['Widths are gate groups: MLPs count input pixels-hidden-hidden (as VIBNet, L0, '
         'SBP do); LeNet-5 counts conv1 filters-conv2 filters-dense inputs-dense units. '
         'MACs per example of the final deterministic network (FLOPs = 2·MACs). Training on '
         '50,000 MNIST digits, 10,000 held out for validation (settings are chosen on it); '
         'test error on the 10,000 test digits at the last epoch. "Undecided" counts the '
         'gates strictly inside (0, 1) at the end, before θ is folded into the weights. '
         'Training cost: Σ over epochs of the MACs per example of the arrays computed × '
         'forward passes per step (3 while some gate is undecided, else 1), over the '
         'dense network\'s epochs × MACs.\n']
  nets = sorted({s['net'] for s in summaries}, key=lambda n: list(NET_TITLES).index(n)
                if n in NET_TITLES else 9)
  for net in nets:
    runs = [s for s in summaries if s['net'] == net]
    out.append(f'### {NET_TITLES.get(net, net)}\n')
    studies: dict[str, list] = {}
    for s in runs:
      studies.setdefault(_study(s), []).append(s)
    for study, group in sorted(studies.items()):
      out.append(f'**{study or "runs"}**\n')
      if study.startswith('frontier'):
        out += frontier(group, figure_dir, f'{study}_{net}') + ['']
      elif study.startswith('robustness'):
        out += robustness(group) + ['']
      out += run_table(group) + ['']
  return '\n'.join(out)

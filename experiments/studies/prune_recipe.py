"""The pruning studies of the recipe whose final networks compete (docs/parsimonious.md
§8a, §9g–9h): its probes, its frontier against L0 and dense, LeNet-5, robustness."""

from __future__ import annotations

from experiments.studies.prune_lines import (INITIALISATIONS, L0_SCALES, LENET300,
    LENET300_EXACT, LENET300_L0, LENET300_RECIPE, NO_RAMP, RAMP, RAMP_PENALTIES,
    RECIPE_PENALTIES, line, scaled_l0)


def recipe_probes(epochs, seeds):
  """The single-seed probes (seed 0, validation) that chose the recipe of docs §8a /
  §9g: the exact recipe at 3·10⁻³ with a 20-epoch deterministic phase (30 epochs in
  all), priced per unit, with cheaper pixels, by expected MACs (with and without the
  ramp), with and without the dense warm-up: runs/prune/recipe_probes/..."""
  del epochs, seeds
  base = dict(train__learning_rate='3e-3', train__finetune_epochs=20,
              analysis__marginal_examples=1000)
  px = dict(train__penalty_scale="'(0.3,1,1)'")
  emacs = dict(train__price='expected_macs', train__penalty='1.2e-5')
  warm = dict(train__warmup_epochs=2)
  ramp = dict(train__penalty_ramp_epochs=4)
  for name, extra in (('unit_l1e-3', {}), ('unit_px0.3', px), ('emacs_k1.2e-5', emacs),
                      ('emacs_k1.2e-5_warm2', {**emacs, **warm}), ('unit_l1e-3_warm2', warm),
                      ('emacs_k4e-6', {**emacs, 'train__penalty': '4e-6'}),
                      ('unit_px0.3_warm2', {**px, **warm}),
                      ('emacs_k1.2e-5_ramp4', {**emacs, **ramp}),
                      ('emacs_k1.2e-5_ramp4_warm2', {**emacs, **ramp, **warm}),
                      ('unit_px0.3_warm2_ramp4', {**px, **warm, **ramp}),
                      ('unit_px0.3_l3e-4', {**px, 'train__penalty': '3e-4'}),
                      ('unit_px0.3_l5e-4', {**px, 'train__penalty': '5e-4'})):
    yield line(LENET300_EXACT, 'recipe_probes', name, '0', 30, **base, **extra).replace(
        '_s0', '')
  for epochs_, lr in ((10, '1e-3'), (10, '3e-3'), (10, '6e-3'), (30, '1e-3'), (30, '3e-3'),
                      (30, '6e-3')):   # the dense network's step, on validation
    yield line(LENET300, 'recipe_probes', f'dense_e{epochs_}_lr{lr}', '0', epochs_,
                train__method='dense', train__learning_rate=lr,
                analysis__marginal_examples=0).replace('_s0', '')


def compete(epochs, seeds):
  """The recipe's frontier (configs/prune_lenet300_recipe.py, 100 epochs: 10 gated + 90
  deterministic), at the price for L0's cost (≤ 26.6K MACs) and for VIBNet's (≤ 9.6K),
  with the dense network trained the same 100 epochs at the same step, 3 seeds:
  runs/prune/frontier_compete/..."""
  del epochs
  for s in seeds:
    for penalty in RECIPE_PENALTIES:
      yield line(LENET300_RECIPE, 'frontier_compete', f'recipe_l{penalty}', s, 100,
                  train__penalty=penalty, **NO_RAMP)
    yield line(LENET300, 'frontier_compete', 'dense', s, 100, train__method='dense',
                train__learning_rate='3e-3', analysis__marginal_examples=0)


def l0_paper(epochs, seeds):
  """The L0 paper's protocol (configs/prune_lenet300_l0.py), seed 0, cut to 40 epochs on
  the shared CPU: λ = 0.1 on every layer (the paper's "λ = 0.1/N" row), then per-layer
  multipliers of the fan-out price towards 266-88-33 (runs/prune/l0_paper/...)."""
  del epochs, seeds
  for name, scale in (('lam0.1', ()), ('sc1-3-10', (1, 3, 10)), ('sc1-6-40', (1, 6, 40))):
    extra = {'train__penalty_scale': "'(" + ','.join(map(str, scale)) + ")'"} if scale else {}
    yield line(LENET300_L0, 'l0_paper', f'l0paper_{name}_e40', '0', 40, **extra).replace(
        '_s0', '')


def robustness_compete(epochs, seeds):
  """Robustness of the recipe (configs/prune_lenet300_recipe.py, λ/N = 10⁻³, 100 epochs:
  10 gated + 90 deterministic): starts 1×, 2×, 4× and the deeper MLP, and the
  initialisations (He, LeCun × 0.5 and × 2, θ_init = 0.9) at the 1× start, widths *and*
  error (5 seeds: --seeds=0,1,2,3,4). The exact differences on 64 examples of each batch
  at every start (``difference_examples``: the 4× start's (256, 1200, 400) arrays cost
  ≈ 70× a dense step otherwise): runs/prune/robustness_compete/..."""
  del epochs
  sub = dict(train__difference_examples=64, **NO_RAMP)
  for widths in ('300,100', '600,200', '1200,400', '300,100,100'):
    for s in seeds:
      yield line(LENET300_RECIPE, 'robustness_compete', f'w{widths.replace(",", "-")}', s,
                  100, model__widths=f"'({widths})'", **sub)
  for name, overrides in INITIALISATIONS:
    for s in seeds:
      yield line(LENET300_RECIPE, 'robustness_compete', f'w300-100_{name}', s, 100,
                  **overrides, **sub)


def ramp_probes(epochs, seeds):
  """Second round of single-seed probes (seed 0, validation) of the recipe at its full
  100-epoch protocol: the dense warm-up (2 epochs) with the price ramped in over 4
  epochs, the best row of recipe_probes at 30 epochs, at four λ/N; a lower λ/N without
  them; a 20-epoch gated phase; a 190-epoch deterministic phase; and the L0 paper's
  protocol (40 epochs) with per-layer multipliers towards the recipe's costs:
  runs/prune/ramp_probes/..."""
  del epochs, seeds
  for penalty in ('1e-3', '3e-3', '4e-3', '6e-3'):
    yield line(LENET300_RECIPE, 'ramp_probes', f'r100_l{penalty}_warm2_ramp4', '0', 100,
                train__penalty=penalty, **RAMP).replace('_s0', '')
  yield line(LENET300_RECIPE, 'ramp_probes', 'r100_l1.5e-4', '0', 100,
              train__penalty='1.5e-4', **NO_RAMP).replace('_s0', '')
  yield line(LENET300_RECIPE, 'ramp_probes', 'r110_g20_l1e-3', '0', 110,
              train__penalty='1e-3', **NO_RAMP).replace('_s0', '')
  yield line(LENET300_RECIPE, 'ramp_probes', 'r200_l1e-3_warm2_ramp4', '0', 200,
              train__penalty='1e-3', train__finetune_epochs=190, **RAMP).replace('_s0', '')
  for scale in L0_SCALES:
    name, extra = scaled_l0(scale)
    yield line(LENET300_L0, 'ramp_probes', f'l0paper_sc{name}_e40', '0', 40,
                **extra).replace('_s0', '')


def compete_ramp(epochs, seeds):
  """The recipe with the dense warm-up and the price ramp (configs/prune_lenet300_recipe.py
  + warmup_epochs 2, penalty_ramp_epochs 4; 100 epochs: 10 gated + 90 deterministic) at
  the two λ/N of RAMP_PENALTIES, 3 seeds; the dense reference is frontier_compete's:
  runs/prune/frontier_ramp/..."""
  del epochs
  for s in seeds:
    for penalty in RAMP_PENALTIES:
      yield line(LENET300_RECIPE, 'frontier_ramp', f'ramp_l{penalty}', s, 100,
                  train__penalty=penalty, **RAMP)


def lenet5_recipe(epochs, seeds):
  """LeNet-5 with the deterministic phase (configs/prune_lenet5_recipe.py: 10 gated + 20
  deterministic epochs at λ/N = 2·10⁻⁴, for BC-GHS's ≈ 153K MACs):
  runs/prune/lenet5_recipe/..."""
  del epochs
  for s in seeds:
    yield line('--config=experiments/configs/prune_lenet5_recipe.py', 'lenet5_recipe',
                'recipe_l2e-4', s, 30)


def l0_compete(epochs, seeds):
  """The L0 paper's protocol (configs/prune_lenet300_l0.py) at the recipe's 100 epochs
  (the paper's 200 cut to the frontier's protocol, stated), at the two per-layer
  multipliers of ramp_probes, 3 seeds, in the frontier_ramp folder beside the method:
  runs/prune/frontier_ramp/l0_sc..."""
  del epochs
  for s in seeds:
    for scale in L0_SCALES:
      name, extra = scaled_l0(scale)
      yield line(LENET300_L0, 'frontier_ramp', f'l0_sc{name}', s, 100, **extra)


def robustness_ramp(epochs, seeds):
  """Robustness of the warm-up + ramp recipe (λ/N = 10⁻³, 100 epochs: 10 gated + 90
  deterministic), widths *and* error: starts 1× and 2×, then 4× and the deeper MLP,
  then the initialisations of robustness_compete at the 1× start (5 seeds:
  --seeds=0,1,2,3,4), the exact differences on 64 examples of each batch at every
  start (``difference_examples``): runs/prune/robustness_ramp/..."""
  del epochs
  sub = dict(train__difference_examples=64, train__penalty='1e-3', **RAMP)
  for starts in (('600,200', '300,100'), ('1200,400', '300,100,100')):
    for s in seeds:
      for widths in starts:
        yield line(LENET300_RECIPE, 'robustness_ramp', f'w{widths.replace(",", "-")}', s,
                    100, model__widths=f"'({widths})'", **sub)
  for s in seeds:
    for name, overrides in INITIALISATIONS:
      yield line(LENET300_RECIPE, 'robustness_ramp', f'w300-100_{name}', s, 100,
                  **overrides, **sub)


STUDIES = {'recipe_probes': recipe_probes, 'compete': compete, 'l0_paper': l0_paper,
           'robustness_compete': robustness_compete, 'ramp_probes': ramp_probes,
           'compete_ramp': compete_ramp, 'lenet5_recipe': lenet5_recipe,
           'l0_compete': l0_compete, 'robustness_ramp': robustness_ramp}

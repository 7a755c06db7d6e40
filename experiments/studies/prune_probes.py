"""Single-seed probes of the recipe (seed 0, chosen on validation) and the chosen ones at
more seeds (docs/parsimonious.md §9i): regularising the small network, prices that
follow cost, a long dense warm-up, a late sharpening, and their combinations."""

from __future__ import annotations

from experiments.studies.prune_lines import (LENET300_RECIPE, LENET5_RECIPE, RAMP,
    RAMP_PENALTIES, line)


DROPOUT_PROBES = ('0,0.2,0.2', '0.1,0.3,0.3', '0.2,0.5,0.5')


def dropout_probes(epochs, seeds):
  """Single-seed probes (seed 0, validation) of the deterministic phase under dropout
  (``train.dropout``, per gate group: pixels, hidden-1, hidden-2) at the recipe's two
  λ/N (the gated phase is the same as frontier_ramp's seed 0, so only the last 90
  epochs differ), and the dense network under the classic (0.2, 0.5, 0.5) for
  reference: runs/prune/dropout_probes/..."""
  del epochs, seeds
  for penalty in RAMP_PENALTIES:
    for rates in DROPOUT_PROBES:
      yield line(LENET300_RECIPE, 'dropout_probes', f'ramp_l{penalty}_do{rates.replace(",", "-")}',
                  '0', 100, train__penalty=penalty, train__dropout=f"'({rates})'", **RAMP)
  yield line(LENET300_RECIPE, 'dropout_probes', 'dropout_do0.2-0.5-0.5', '0', 100,
              train__method='dropout', train__finetune_epochs=0,
              train__dropout="'(0.2,0.5,0.5)'")


def finetune_probes(epochs, seeds):
  """Single-seed probes (seed 0, validation) of the deterministic phase's Adam step
  (``train.finetune_learning_rate``; the recipe restarts it at the gated phase's 3·10⁻³)
  at the recipe's two λ/N; the gated phase is frontier_ramp's seed 0:
  runs/prune/finetune_probes/..."""
  del epochs, seeds
  for penalty in RAMP_PENALTIES:
    for rate in ('1e-3', '3e-4'):
      yield line(LENET300_RECIPE, 'finetune_probes', f'ramp_l{penalty}_ft{rate}', '0', 100,
                  train__penalty=penalty, train__finetune_learning_rate=rate, **RAMP)


def price_probes(epochs, seeds):
  """Single-seed probes (seed 0, validation) of the per-group price multipliers
  (``train.penalty_scale``: pixels, hidden-1, hidden-2; the recipe's (0.3, 1, 1)) at the
  recipe's two λ/N, to be read on the validation-error/MAC frontier of ramp_probes:
  runs/prune/price_probes/..."""
  del epochs, seeds
  for penalty in RAMP_PENALTIES:
    for scale in ('0.1,1,1', '0.1,1,3'):
      yield line(LENET300_RECIPE, 'price_probes', f'ramp_l{penalty}_sc{scale.replace(",", "-")}',
                  '0', 100, train__penalty=penalty, train__penalty_scale=f"'({scale})'", **RAMP)


def switch_probes(epochs, seeds):
  """Single-seed probes (seed 0, validation) of a late sharpening that decides the
  gates by the switch (the recipe rounds 33–97 undecided gates there): the sharpened
  hyper-prior's γ/N rising linearly from 10⁻⁵ after the grace period to 10⁻³ or
  3·10⁻³ at the end of the gated phase (``sharpness``, ``sharpness_final``), at
  λ/N = 10⁻³: runs/prune/switch_probes/..."""
  del epochs, seeds
  for final in ('100', '300'):
    yield line(LENET300_RECIPE, 'switch_probes', f'ramp_l1e-3_sharp1e-5x{final}', '0', 100,
                train__penalty='1e-3', train__sharpness='1e-5', train__sharpness_final=final,
                **RAMP)


# a 20-epoch dense warm-up: the grace period, every gate at its start (warmup_probes on)
WARM20 = dict(train__grace_epochs=20, train__warmup_epochs=20)


def warmup_probes(epochs, seeds):
  """Single-seed probes (seed 0, validation) of a long dense warm-up, so that the gates
  decide on a well-trained dense network (as L0 and VIBNet start from a pretrained one):
  20 dense epochs (the grace period), the recipe's 8 gated epochs (price ramped over 4),
  then its 90 deterministic ones, 118 in all, at the two λ/N:
  runs/prune/warmup_probes/..."""
  del epochs, seeds
  for penalty in RAMP_PENALTIES:
    yield line(LENET300_RECIPE, 'warmup_probes', f'warm20_l{penalty}', '0', 118,
                train__penalty=penalty, **WARM20,
                train__penalty_ramp_epochs=4)


def probe_seeds(epochs, seeds):
  """The probes chosen on validation (seed 0) at each MAC budget, at more seeds
  (--seeds=1,2), in their probes' folders: the 20-epoch dense warm-up at λ/N = 10⁻³
  (≤ 26.6K MACs: validation 1.87 %) and the prices ×(0.1, 1, 3) at 4·10⁻³ (≤ 9.6K:
  2.40 %)."""
  del epochs
  for s in seeds:
    yield line(LENET300_RECIPE, 'warmup_probes', 'warm20_l1e-3', s, 118,
                train__penalty='1e-3', **WARM20,
                train__penalty_ramp_epochs=4)
    yield line(LENET300_RECIPE, 'price_probes', 'ramp_l4e-3_sc0.1-1-3', s, 100,
                train__penalty='4e-3', train__penalty_scale="'(0.1,1,3)'", **RAMP)


# the 20-epoch dense warm-up with prices ×(0.1, 1, 3) (combined_probes, combined_seeds)
WARM20_PRICED = dict(**WARM20, train__penalty_scale="'(0.1,1,3)'")


def combined_probes(epochs, seeds):
  """Single-seed probes (seed 0, validation) of the two settings probe_seeds confirmed,
  combined: the 20-epoch dense warm-up with the prices ×(0.1, 1, 3), 8 gated epochs
  (118 in all) at three λ/N (10⁻³ for L0's 26.6K MACs; 4·10⁻³ and 6·10⁻³ for VIBNet's
  9.6K, as the warm-up keeps more units at a given price), then 1.3·10⁻³ and 1.6·10⁻³
  (10⁻³ kept 28.1K MACs, over L0's cost), then 1.1·10⁻³ (between 28.1K and 22.2K); and a gradual gated phase
  after the warm-up (20 gated epochs, the price ramped in over 10; 130 in all) at
  10⁻³ and 6·10⁻³, then 2.5·10⁻³ (17.3K and 5.4K MACs: towards 9.6K):
  runs/prune/combined_probes/..."""
  del epochs, seeds
  for penalty in ('1e-3', '4e-3', '6e-3', '1.3e-3', '1.6e-3', '1.1e-3'):
    yield line(LENET300_RECIPE, 'combined_probes', f'warm20_sc0.1-1-3_l{penalty}', '0', 118,
                train__penalty=penalty, train__penalty_ramp_epochs=4, **WARM20_PRICED)
  for penalty in ('1e-3', '6e-3', '2.5e-3'):
    yield line(LENET300_RECIPE, 'combined_probes', f'warm20_g20_sc0.1-1-3_l{penalty}', '0',
                130, train__penalty=penalty, train__penalty_ramp_epochs=10, **WARM20_PRICED)

# the LeNet-5 probe chosen on validation (lenet5_probes → lenet5_seeds)
LENET5_CHOSEN = ('ft50_l2e-4_lr3e-3', dict(train__penalty='2e-4', train__learning_rate='3e-3'))


def lenet5_probes(epochs, seeds):
  """Single-seed probes (seed 0, validation) of LeNet-5's recipe (configs/
  prune_lenet5_recipe.py: 10 gated + 20 deterministic epochs at λ/N = 2·10⁻⁴, 1.10 %
  test at ≈ 157K MACs over 3 seeds): a 50-epoch deterministic phase at 2·10⁻⁴ and at
  2.5·10⁻⁴ (for a margin under BC-GHS's 153K), and the MLP recipe's weights' step
  3·10⁻³ with it: runs/prune/lenet5_probes/..."""
  del epochs, seeds
  for name, extra in (('ft50_l2e-4', dict(train__penalty='2e-4')),
                      ('ft50_l2.5e-4', dict(train__penalty='2.5e-4')),
                      LENET5_CHOSEN):
    yield line(LENET5_RECIPE, 'lenet5_probes', name, '0', 60, train__finetune_epochs=50,
               **extra)


# λ/N of the warm-up + prices ×(0.1, 1, 3) chosen on validation in combined_probes, per budget
COMBINED_PENALTIES = ('6e-3', '1.1e-3')


def combined_seeds(epochs, seeds):
  """The settings of combined_probes chosen on validation (seed 0) at each MAC budget, at
  more seeds (--seeds=1,2), in combined_probes' folder (seed 0's lines equal the probes'):
  the 20-epoch warm-up with the prices ×(0.1, 1, 3) at COMBINED_PENALTIES."""
  del epochs
  for s in seeds:
    for penalty in COMBINED_PENALTIES:
      yield line(LENET300_RECIPE, 'combined_probes', f'warm20_sc0.1-1-3_l{penalty}', s, 118,
                 train__penalty=penalty, train__penalty_ramp_epochs=4, **WARM20_PRICED)


def lenet5_seeds(epochs, seeds):
  """The LeNet-5 probe chosen on validation (seed 0: the 50-epoch deterministic phase
  with the weights' step 3·10⁻³ at λ/N = 2·10⁻⁴, validation 1.09 % at 122K MACs) at more
  seeds (--seeds=1,2), in lenet5_probes' folder (seed 0's line equals the probe's)."""
  del epochs
  for s in seeds:
    name, extra = LENET5_CHOSEN
    yield line(LENET5_RECIPE, 'lenet5_probes', name, s, 60, train__finetune_epochs=50, **extra)


STUDIES = {'dropout_probes': dropout_probes, 'finetune_probes': finetune_probes,
           'price_probes': price_probes, 'switch_probes': switch_probes,
           'warmup_probes': warmup_probes, 'probe_seeds': probe_seeds,
           'combined_probes': combined_probes, 'combined_seeds': combined_seeds,
           'lenet5_probes': lenet5_probes, 'lenet5_seeds': lenet5_seeds}

r"""Prints the command-line overrides of the parsimonious studies, one run per line.

    python -m experiments.prune_studies frontier | \
        xargs -P 2 -L 1 nice python -m experiments.prune

``python -m experiments.prune_studies collect`` copies the finished summaries.
Every line is ``--config=... --config.<field>=<value> ... --workdir=runs/prune/<study>/<run>``;
copy each finished ``summary.json`` to ``results/parsimonious/<study>/<run>/`` and run
``python -m experiments.report``. ``--epochs`` shortens every run (the committed
studies used 20 epochs on the shared 2-core machine; the configs' protocol is 60).
"""

from __future__ import annotations

from absl import app
from absl import flags

from experiments import workdir as workdir_lib
from ncg.errors import check

_EPOCHS = flags.DEFINE_integer('epochs', 20, 'Epochs of every run.')
_SEEDS = flags.DEFINE_list('seeds', ['0', '1'], 'Seeds of every setting.')

LENET300 = '--config=experiments/configs/prune_lenet300.py'
LENET5 = '--config=experiments/configs/prune_lenet5.py'
LENET300_EXACT = '--config=experiments/configs/prune_lenet300_exact.py'


def _line(config: str, study: str, run: str, seed: str, epochs: int, **overrides) -> str:
  flags_ = [config, f'--config.train.seed={seed}', f'--config.train.epochs={epochs}']
  flags_ += [f'--config.{k.replace("__", ".")}={v}' for k, v in overrides.items()]
  return ' '.join(flags_ + [f'--workdir=runs/prune/{study}/{run}_s{seed}'])


def frontier(epochs, seeds):
  for penalty in ('1e-4', '3e-4', '1e-3'):
    for s in seeds:
      yield _line(LENET300, 'frontier', f'bernoulli_l{penalty}', s, epochs,
                  train__penalty=penalty)
  for penalty in ('1e-4', '1e-3'):
    yield _line(LENET300, 'frontier', f'l0_l{penalty}', seeds[0], epochs,
                train__penalty=penalty, train__method='l0')
  yield _line(LENET300, 'frontier', 'dense', seeds[0], epochs, train__gated='False')


def robustness(epochs, seeds):
  for widths in ('300,100', '600,200', '1200,400', '300,100,100'):
    for s in seeds:
      yield _line(LENET300, 'robustness', f'w{widths.replace(",", "-")}', s, epochs,
                  model__widths=f"'({widths})'")
  for name, overrides in (('he', dict(train__init_scheme='he')),
                          ('x0.5', dict(train__init_scale=0.5)),
                          ('x2', dict(train__init_scale=2.0)),
                          ('theta1', dict(train__theta_init=1.0))):
    yield _line(LENET300, 'robustness', f'w300-100_{name}', seeds[0], epochs, **overrides)


def decision(epochs, seeds):
  for s in seeds:
    yield _line(LENET300, 'decision', f'decide{2 * epochs // 3}', s, epochs,
                train__decide_epoch=2 * epochs // 3)


def lenet5(epochs, seeds):
  yield _line(LENET5, 'lenet5', 'bernoulli_macs', seeds[0], epochs // 2)


def collect(results: str = 'results/parsimonious') -> None:
  """Copies every finished runs/prune/<study>/<run>/summary.json to results/; the
  λ/N = 1e-4 frontier runs (the default recipe at the 1× start) also count as
  robustness/w300-100 runs, and frontier_compete's dense runs as frontier_ramp's."""
  import glob  # pylint: disable=g-import-not-at-top
  import json  # pylint: disable=g-import-not-at-top
  import os  # pylint: disable=g-import-not-at-top
  import re  # pylint: disable=g-import-not-at-top
  for path in sorted(glob.glob('runs/prune/*/*/summary.json')):
    study, run = path.split(os.sep)[2:4]
    with open(path) as f:
      summary = json.load(f)
    summary['gates'] = int(sum(summary['start_widths']))
    config_path = os.path.join(os.path.dirname(path), 'config.json')
    if 'penalty_multipliers' not in summary and os.path.isfile(config_path):
      with open(config_path) as f:   # summaries written before the field existed
        summary['penalty_multipliers'] = [
            float(v) for v in json.load(f)['train'].get('penalty_scale', ())]
    if summary['method'] != 'bernoulli':   # runs started before prune_run counted these so
      summary.pop('decisions', None)
      summary['train_mac_epochs'] = float(sum(summary['computed_macs_per_epoch']))
    targets = [os.path.join(results, study, run)]
    if study == 'frontier' and run.startswith('bernoulli_l1e-4'):
      targets.append(os.path.join(results, 'robustness', f'w300-100_{run.split("_")[-1]}'))
    if study == 'frontier_compete' and run.startswith('dense_'):
      # the dense reference of the warm-up + ramp frontier (the same 100-epoch protocol)
      targets.append(os.path.join(results, 'frontier_ramp', run))
    if study == 'robustness_local' and re.fullmatch(r'w300-100_s\d+', run):
      # the exact recipe's default start is its frontier's λ/N = 10⁻³ point
      targets.append(os.path.join(results, 'frontier_local',
                                  f'bernoulli_l1e-3_{run.split("_")[-1]}'))
    for target in targets:
      os.makedirs(target, exist_ok=True)
      with open(os.path.join(target, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=1)
      print(path, '->', target)


def sharpened(epochs, seeds):
  """The default recipe's studies as committed (10 epochs, Δ_j on 1,000 digits):
  runs/prune/sharp_<study>/...; results/parsimonious/<study>_sharpened/."""
  del epochs
  check_ = dict(analysis__marginal_examples=1000)
  for penalty in ('1e-4', '3e-4', '1e-3'):
    for s in seeds:
      yield _line(LENET300, 'sharp_frontier', f'bernoulli_l{penalty}', s, 10,
                  train__penalty=penalty, **check_)
  yield _line(LENET300, 'sharp_robustness', 'w600-200', seeds[0], 10,
              model__widths="'(600,200)'", **check_)
  yield _line(LENET300, 'sharp_robustness', 'w1200-400', seeds[0], 10,
              model__widths="'(1200,400)'", analysis__marginal_examples=200)
  yield _line(LENET5, 'sharp_lenet5', 'bernoulli_macs', seeds[0], 2, train__grace_epochs=1,
              train__sharpness=1e-3, train__theta_init=0.5, analysis__marginal_examples=500)


def anneal(epochs, seeds):
  """Annealed sharpness against starting width (docs §7, §9c), 10 epochs:
  γ/N = 10⁻³ shrinking to r = 0.1 (and r = 0 at 1×), and γ/N = 10⁻⁴ growing
  to 10⁻³ (r = 10); runs/prune/anneal/...; results/parsimonious/anneal/."""
  del epochs
  for widths, examples in (('300,100', 1000), ('600,200', 1000), ('1200,400', 200)):
    name = f'w{widths.replace(",", "-")}'
    for s in seeds:
      yield _line(LENET300, 'anneal', f'{name}_r0.1', s, 10, train__sharpness_final=0.1,
                  model__widths=f"'({widths})'", analysis__marginal_examples=examples)
      yield _line(LENET300, 'anneal', f'{name}_g1e-4_r10', s, 10, train__sharpness='1e-4',
                  train__sharpness_final=10, model__widths=f"'({widths})'",
                  analysis__marginal_examples=examples)
  yield _line(LENET300, 'anneal', 'w300-100_r0', seeds[0], 10, train__sharpness_final=0.0,
              analysis__marginal_examples=1000)


def verdict(epochs, seeds):
  """The default recipe's remaining runs for issue 9's verdict (10 epochs; written
  straight into the committed studies' names, so ``collect`` merges them):
  the frontier's low-MAC end and the L0 baseline and dense network at 3 seeds
  (frontier_sharpened), initialisation at 5 seeds (robustness_sharpened), then
  starting widths at 5 seeds and a deeper MLP. Existing runs are not repeated."""
  del epochs, seeds
  analysis = dict(analysis__marginal_examples=1000)
  for s in '012':
    yield _line(LENET300, 'frontier_sharpened', 'bernoulli_l3e-3', s, 10,
                train__penalty='3e-3', **analysis)
    for penalty in ('1e-3', '3e-3', '1e-2'):
      yield _line(LENET300, 'frontier_sharpened', f'l0_l{penalty}', s, 10,
                  train__penalty=penalty, train__method='l0')
    yield _line(LENET300, 'frontier_sharpened', 'dense', s, 10, train__gated='False')
  inits = (('', {}, '34'), ('_he', dict(train__init_scheme='he'), '1234'),
           ('_x0.5', dict(train__init_scale=0.5), '1234'),
           ('_x2', dict(train__init_scale=2.0), '1234'),
           ('_theta0.9', dict(train__theta_init=0.9), '012'))
  for name, overrides, new_seeds in inits:
    for s in new_seeds:
      yield _line(LENET300, 'robustness_sharpened', f'w300-100{name}', s, 10,
                  **overrides, **analysis)
  for widths, new_seeds, examples in (('600,200', '234', 1000), ('300,100,100', '012', 1000),
                                      ('1200,400', '1234', 200)):
    for s in new_seeds:
      yield _line(LENET300, 'robustness_sharpened', f'w{widths.replace(",", "-")}', s, 10,
                  model__widths=f"'({widths})'", analysis__marginal_examples=examples)


def exact(epochs, seeds):
  """Exact hidden-unit differences (estimator 'local'), the flattening hyper-prior
  (γ = 0), η₀ = 10, λ/N = 10⁻³ (configs/prune_lenet300_exact.py) at the 1×, 2×
  and 4× starts, and two initialisations, 10 epochs (docs §9e):
  runs/prune/robustness_local/..."""
  del epochs
  for widths, examples in (('300,100', 1000), ('600,200', 1000), ('1200,400', 200)):
    for s in seeds:
      yield _line(LENET300_EXACT, 'robustness_local', f'w{widths.replace(",", "-")}', s, 10,
                  model__widths=f"'({widths})'", analysis__marginal_examples=examples)
  yield _line(LENET300_EXACT, 'robustness_local', 'w300-100_theta0.9', seeds[0], 10,
              train__theta_init=0.9, analysis__marginal_examples=1000)
  yield _line(LENET300_EXACT, 'robustness_local', 'w300-100_x2', seeds[0], 10,
              train__init_scale=2.0, analysis__marginal_examples=1000)


def exact_verdict(epochs, seeds):
  """The exact-difference recipe's remaining runs for issue 9 (10 epochs unless said;
  Δ_j on 1,000 held-out digits, 200 at the 4× start), in priority order: its λ
  frontier (λ/N = 3·10⁻⁴ and 3·10⁻³, seeds 0–2: frontier_local; the 10⁻³ point is
  robustness_local's 1× start), starts at 5 seeds, the deeper MLP, 30 epochs at
  10⁻³ (frontier_long), and the initialisations at 5 seeds. Runs already in
  ``exact`` are not repeated."""
  del epochs, seeds
  for penalty in ('3e-4', '3e-3'):
    for s in '012':
      yield _line(LENET300_EXACT, 'frontier_local', f'bernoulli_l{penalty}', s, 10,
                  train__penalty=penalty, analysis__marginal_examples=1000)
  for widths, examples in (('300,100', 1000), ('600,200', 1000), ('1200,400', 200)):
    for s in '34':
      yield _line(LENET300_EXACT, 'robustness_local', f'w{widths.replace(",", "-")}', s, 10,
                  model__widths=f"'({widths})'", analysis__marginal_examples=examples)
  for s in '01234':
    yield _line(LENET300_EXACT, 'robustness_local', 'w300-100-100', s, 10,
                model__widths="'(300,100,100)'", analysis__marginal_examples=1000)
  for s in '01':
    yield _line(LENET300_EXACT, 'frontier_long', 'bernoulli_l1e-3', s, 30,
                analysis__marginal_examples=1000)
  for name, overrides, new_seeds in (('_theta0.9', dict(train__theta_init=0.9), '234'),
                                     ('_x2', dict(train__init_scale=2.0), '234'),
                                     ('_x0.5', dict(train__init_scale=0.5), '1234'),
                                     ('_he', dict(train__init_scheme='he'), '1234')):
    for s in new_seeds:
      yield _line(LENET300_EXACT, 'robustness_local', f'w300-100{name}', s, 10,
                  **overrides, analysis__marginal_examples=1000)


def exact_long(epochs, seeds):
  """A 30-epoch protocol (grace 2) for the exact-difference recipe's frontier, with
  L0 and the dense network trained the same 30 epochs: λ/N = 10⁻³, 2·10⁻³, 3·10⁻³
  (seeds 0–2; 10⁻³ seeds 0, 1 are in ``exact_verdict``), L0 at 3·10⁻³ and 10⁻²,
  dense; runs/prune/frontier_long/..."""
  del epochs, seeds
  analysis = dict(analysis__marginal_examples=1000)
  yield _line(LENET300_EXACT, 'frontier_long', 'bernoulli_l1e-3', '2', 30, **analysis)
  for penalty in ('3e-3', '2e-3'):
    for s in '012':
      yield _line(LENET300_EXACT, 'frontier_long', f'bernoulli_l{penalty}', s, 30,
                  train__penalty=penalty, **analysis)
  for s in '012':
    yield _line(LENET300, 'frontier_long', 'dense', s, 30, train__method='dense')
    for penalty in ('3e-3', '1e-2'):
      yield _line(LENET300, 'frontier_long', f'l0_l{penalty}', s, 30, train__penalty=penalty,
                  train__method='l0')


def exact_100(epochs, seeds):
  """A 100-epoch protocol (grace 2): the exact-difference recipe at λ/N = 10⁻³ and
  2·10⁻³ (seeds 0–2), L0 at 3·10⁻³ and 10⁻² and the dense network (seeds 0, 1),
  all trained the same way; runs/prune/frontier_100ep/..."""
  del epochs, seeds
  for penalty in ('1e-3', '2e-3'):
    for s in '012':
      yield _line(LENET300_EXACT, 'frontier_100ep', f'bernoulli_l{penalty}', s, 100,
                  train__penalty=penalty, analysis__marginal_examples=1000)
  for s in '01':
    for penalty in ('3e-3', '1e-2'):
      yield _line(LENET300, 'frontier_100ep', f'l0_l{penalty}', s, 100, train__penalty=penalty,
                  train__method='l0')
    yield _line(LENET300, 'frontier_100ep', 'dense', s, 100, train__method='dense')


LENET300_RECIPE = '--config=experiments/configs/prune_lenet300_recipe.py'
# the recipe before the warm-up and the price ramp became its default (studies that ran it)
_NO_RAMP = dict(train__warmup_epochs=0, train__penalty_ramp_epochs=0)
LENET300_L0 = '--config=experiments/configs/prune_lenet300_l0.py'


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
    yield _line(LENET300_EXACT, 'recipe_probes', name, '0', 30, **base, **extra).replace(
        '_s0', '')
  for epochs_, lr in ((10, '1e-3'), (10, '3e-3'), (10, '6e-3'), (30, '1e-3'), (30, '3e-3'),
                      (30, '6e-3')):   # the dense network's step, on validation
    yield _line(LENET300, 'recipe_probes', f'dense_e{epochs_}_lr{lr}', '0', epochs_,
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
      yield _line(LENET300_RECIPE, 'frontier_compete', f'recipe_l{penalty}', s, 100,
                  train__penalty=penalty, **_NO_RAMP)
    yield _line(LENET300, 'frontier_compete', 'dense', s, 100, train__method='dense',
                train__learning_rate='3e-3', analysis__marginal_examples=0)


def l0_paper(epochs, seeds):
  """The L0 paper's protocol (configs/prune_lenet300_l0.py), seed 0, cut to 40 epochs on
  the shared CPU: λ = 0.1 on every layer (the paper's "λ = 0.1/N" row), then per-layer
  multipliers of the fan-out price towards 266-88-33 (runs/prune/l0_paper/...)."""
  del epochs, seeds
  for name, scale in (('lam0.1', ()), ('sc1-3-10', (1, 3, 10)), ('sc1-6-40', (1, 6, 40))):
    extra = {'train__penalty_scale': "'(" + ','.join(map(str, scale)) + ")'"} if scale else {}
    yield _line(LENET300_L0, 'l0_paper', f'l0paper_{name}_e40', '0', 40, **extra).replace(
        '_s0', '')


# the initialisation study of the robustness studies (at the 1× start)
INITIALISATIONS = (('he', dict(train__init_scheme='he')),
                   ('x0.5', dict(train__init_scale=0.5)),
                   ('x2', dict(train__init_scale=2.0)),
                   ('theta0.9', dict(train__theta_init=0.9)))


def robustness_compete(epochs, seeds):
  """Robustness of the recipe (configs/prune_lenet300_recipe.py, λ/N = 10⁻³, 100 epochs:
  10 gated + 90 deterministic): starts 1×, 2×, 4× and the deeper MLP, and the
  initialisations (He, LeCun × 0.5 and × 2, θ_init = 0.9) at the 1× start, widths *and*
  error (5 seeds: --seeds=0,1,2,3,4). The exact differences on 64 examples of each batch
  at every start (``difference_examples``: the 4× start's (256, 1200, 400) arrays cost
  ≈ 70× a dense step otherwise): runs/prune/robustness_compete/..."""
  del epochs
  sub = dict(train__difference_examples=64, **_NO_RAMP)
  for widths in ('300,100', '600,200', '1200,400', '300,100,100'):
    for s in seeds:
      yield _line(LENET300_RECIPE, 'robustness_compete', f'w{widths.replace(",", "-")}', s,
                  100, model__widths=f"'({widths})'", **sub)
  for name, overrides in INITIALISATIONS:
    for s in seeds:
      yield _line(LENET300_RECIPE, 'robustness_compete', f'w300-100_{name}', s, 100,
                  **overrides, **sub)


# λ/N of the recipe's two frontier points (chosen on validation in recipe_probes)
RECIPE_PENALTIES = ('2e-4', '1e-3')

# λ/N of the warm-up + ramp recipe's two frontier points (chosen on validation in ramp_probes)
RAMP_PENALTIES = ('1e-3', '4e-3')
_RAMP = dict(train__warmup_epochs=2, train__penalty_ramp_epochs=4)
# the L0 paper's per-layer λ multipliers tried beside it: ≈ 18K and ≈ 8K MACs at 40 epochs
L0_SCALES = ((1, 12, 150), (2, 30, 400))


def _scaled_l0(scale) -> tuple[str, dict]:
  """('1-12-150', the penalty_scale override) of a tuple of per-layer multipliers."""
  return ('-'.join(map(str, scale)),
          {'train__penalty_scale': "'(" + ','.join(map(str, scale)) + ")'"})


def ramp_probes(epochs, seeds):
  """Second round of single-seed probes (seed 0, validation) of the recipe at its full
  100-epoch protocol: the dense warm-up (2 epochs) with the price ramped in over 4
  epochs, the best row of recipe_probes at 30 epochs, at four λ/N; a lower λ/N without
  them; a 20-epoch gated phase; a 190-epoch deterministic phase; and the L0 paper's
  protocol (40 epochs) with per-layer multipliers towards the recipe's costs:
  runs/prune/ramp_probes/..."""
  del epochs, seeds
  for penalty in ('1e-3', '3e-3', '4e-3', '6e-3'):
    yield _line(LENET300_RECIPE, 'ramp_probes', f'r100_l{penalty}_warm2_ramp4', '0', 100,
                train__penalty=penalty, **_RAMP).replace('_s0', '')
  yield _line(LENET300_RECIPE, 'ramp_probes', 'r100_l1.5e-4', '0', 100,
              train__penalty='1.5e-4', **_NO_RAMP).replace('_s0', '')
  yield _line(LENET300_RECIPE, 'ramp_probes', 'r110_g20_l1e-3', '0', 110,
              train__penalty='1e-3', **_NO_RAMP).replace('_s0', '')
  yield _line(LENET300_RECIPE, 'ramp_probes', 'r200_l1e-3_warm2_ramp4', '0', 200,
              train__penalty='1e-3', train__finetune_epochs=190, **_RAMP).replace('_s0', '')
  for scale in L0_SCALES:
    name, extra = _scaled_l0(scale)
    yield _line(LENET300_L0, 'ramp_probes', f'l0paper_sc{name}_e40', '0', 40,
                **extra).replace('_s0', '')


def compete_ramp(epochs, seeds):
  """The recipe with the dense warm-up and the price ramp (configs/prune_lenet300_recipe.py
  + warmup_epochs 2, penalty_ramp_epochs 4; 100 epochs: 10 gated + 90 deterministic) at
  the two λ/N of RAMP_PENALTIES, 3 seeds; the dense reference is frontier_compete's:
  runs/prune/frontier_ramp/..."""
  del epochs
  for s in seeds:
    for penalty in RAMP_PENALTIES:
      yield _line(LENET300_RECIPE, 'frontier_ramp', f'ramp_l{penalty}', s, 100,
                  train__penalty=penalty, **_RAMP)


def lenet5_recipe(epochs, seeds):
  """LeNet-5 with the deterministic phase (configs/prune_lenet5_recipe.py: 10 gated + 20
  deterministic epochs at λ/N = 2·10⁻⁴, for BC-GHS's ≈ 153K MACs):
  runs/prune/lenet5_recipe/..."""
  del epochs
  for s in seeds:
    yield _line('--config=experiments/configs/prune_lenet5_recipe.py', 'lenet5_recipe',
                'recipe_l2e-4', s, 30)


def l0_compete(epochs, seeds):
  """The L0 paper's protocol (configs/prune_lenet300_l0.py) at the recipe's 100 epochs
  (the paper's 200 cut to the frontier's protocol, stated), at the two per-layer
  multipliers of ramp_probes, 3 seeds, in the frontier_ramp folder beside the method:
  runs/prune/frontier_ramp/l0_sc..."""
  del epochs
  for s in seeds:
    for scale in L0_SCALES:
      name, extra = _scaled_l0(scale)
      yield _line(LENET300_L0, 'frontier_ramp', f'l0_sc{name}', s, 100, **extra)


def robustness_ramp(epochs, seeds):
  """Robustness of the warm-up + ramp recipe (λ/N = 10⁻³, 100 epochs: 10 gated + 90
  deterministic), widths *and* error: starts 1× and 2×, then 4× and the deeper MLP,
  then the initialisations of robustness_compete at the 1× start (5 seeds:
  --seeds=0,1,2,3,4), the exact differences on 64 examples of each batch at every
  start (``difference_examples``): runs/prune/robustness_ramp/..."""
  del epochs
  sub = dict(train__difference_examples=64, train__penalty='1e-3', **_RAMP)
  for starts in (('600,200', '300,100'), ('1200,400', '300,100,100')):
    for s in seeds:
      for widths in starts:
        yield _line(LENET300_RECIPE, 'robustness_ramp', f'w{widths.replace(",", "-")}', s,
                    100, model__widths=f"'({widths})'", **sub)
  for s in seeds:
    for name, overrides in INITIALISATIONS:
      yield _line(LENET300_RECIPE, 'robustness_ramp', f'w300-100_{name}', s, 100,
                  **overrides, **sub)


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
      yield _line(LENET300_RECIPE, 'dropout_probes', f'ramp_l{penalty}_do{rates.replace(",", "-")}',
                  '0', 100, train__penalty=penalty, train__dropout=f"'({rates})'", **_RAMP)
  yield _line(LENET300_RECIPE, 'dropout_probes', 'dropout_do0.2-0.5-0.5', '0', 100,
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
      yield _line(LENET300_RECIPE, 'finetune_probes', f'ramp_l{penalty}_ft{rate}', '0', 100,
                  train__penalty=penalty, train__finetune_learning_rate=rate, **_RAMP)


def price_probes(epochs, seeds):
  """Single-seed probes (seed 0, validation) of the per-group price multipliers
  (``train.penalty_scale``: pixels, hidden-1, hidden-2; the recipe's (0.3, 1, 1)) at the
  recipe's two λ/N, to be read on the validation-error/MAC frontier of ramp_probes:
  runs/prune/price_probes/..."""
  del epochs, seeds
  for penalty in RAMP_PENALTIES:
    for scale in ('0.1,1,1', '0.1,1,3'):
      yield _line(LENET300_RECIPE, 'price_probes', f'ramp_l{penalty}_sc{scale.replace(",", "-")}',
                  '0', 100, train__penalty=penalty, train__penalty_scale=f"'({scale})'", **_RAMP)


def switch_probes(epochs, seeds):
  """Single-seed probes (seed 0, validation) of a late sharpening that decides the
  gates by the switch (the recipe rounds 33–97 undecided gates there): the sharpened
  hyper-prior's γ/N rising linearly from 10⁻⁵ after the grace period to 10⁻³ or
  3·10⁻³ at the end of the gated phase (``sharpness``, ``sharpness_final``), at
  λ/N = 10⁻³: runs/prune/switch_probes/..."""
  del epochs, seeds
  for final in ('100', '300'):
    yield _line(LENET300_RECIPE, 'switch_probes', f'ramp_l1e-3_sharp1e-5x{final}', '0', 100,
                train__penalty='1e-3', train__sharpness='1e-5', train__sharpness_final=final,
                **_RAMP)


def warmup_probes(epochs, seeds):
  """Single-seed probes (seed 0, validation) of a long dense warm-up, so that the gates
  decide on a well-trained dense network (as L0 and VIBNet start from a pretrained one):
  20 dense epochs (the grace period), the recipe's 8 gated epochs (price ramped over 4),
  then its 90 deterministic ones, 118 in all, at the two λ/N:
  runs/prune/warmup_probes/..."""
  del epochs, seeds
  for penalty in RAMP_PENALTIES:
    yield _line(LENET300_RECIPE, 'warmup_probes', f'warm20_l{penalty}', '0', 118,
                train__penalty=penalty, train__grace_epochs=20, train__warmup_epochs=20,
                train__penalty_ramp_epochs=4)


def probe_seeds(epochs, seeds):
  """The probes chosen on validation (seed 0) at each MAC budget, at more seeds
  (--seeds=1,2), in their probes' folders: the 20-epoch dense warm-up at λ/N = 10⁻³
  (≤ 26.6K MACs: validation 1.87 %) and the prices ×(0.1, 1, 3) at 4·10⁻³ (≤ 9.6K:
  2.40 %)."""
  del epochs
  for s in seeds:
    yield _line(LENET300_RECIPE, 'warmup_probes', 'warm20_l1e-3', s, 118,
                train__penalty='1e-3', train__grace_epochs=20, train__warmup_epochs=20,
                train__penalty_ramp_epochs=4)
    yield _line(LENET300_RECIPE, 'price_probes', 'ramp_l4e-3_sc0.1-1-3', s, 100,
                train__penalty='4e-3', train__penalty_scale="'(0.1,1,3)'", **_RAMP)


def combined_probes(epochs, seeds):
  """Single-seed probes (seed 0, validation) of the two settings probe_seeds confirmed,
  combined: the 20-epoch dense warm-up with the prices ×(0.1, 1, 3), 8 gated epochs
  (118 in all) at three λ/N (10⁻³ for L0's 26.6K MACs; 4·10⁻³ and 6·10⁻³ for VIBNet's
  9.6K, as the warm-up keeps more units at a given price); and a gradual gated phase
  after the warm-up (20 gated epochs, the price ramped in over 10; 130 in all) at
  10⁻³ and 6·10⁻³: runs/prune/combined_probes/..."""
  del epochs, seeds
  warm = dict(train__grace_epochs=20, train__warmup_epochs=20,
              train__penalty_scale="'(0.1,1,3)'")
  for penalty in ('1e-3', '4e-3', '6e-3'):
    yield _line(LENET300_RECIPE, 'combined_probes', f'warm20_sc0.1-1-3_l{penalty}', '0', 118,
                train__penalty=penalty, train__penalty_ramp_epochs=4, **warm)
  for penalty in ('1e-3', '6e-3'):
    yield _line(LENET300_RECIPE, 'combined_probes', f'warm20_g20_sc0.1-1-3_l{penalty}', '0',
                130, train__penalty=penalty, train__penalty_ramp_epochs=10, **warm)


STUDIES = {'recipe_probes': recipe_probes, 'compete': compete, 'l0_paper': l0_paper,
           'ramp_probes': ramp_probes, 'compete_ramp': compete_ramp,
           'lenet5_recipe': lenet5_recipe, 'l0_compete': l0_compete,
           'robustness_ramp': robustness_ramp, 'dropout_probes': dropout_probes,
           'finetune_probes': finetune_probes, 'price_probes': price_probes,
           'switch_probes': switch_probes, 'warmup_probes': warmup_probes,
           'probe_seeds': probe_seeds, 'combined_probes': combined_probes,
           'robustness_compete': robustness_compete,
           'anneal': anneal, 'frontier': frontier, 'robustness': robustness, 'decision': decision,
           'lenet5': lenet5, 'sharpened': sharpened, 'verdict': verdict,
           'exact': exact, 'exact_verdict': exact_verdict,
           'exact_long': exact_long, 'exact_100': exact_100}


def main(argv):
  if len(argv) == 2 and argv[1] == 'collect':
    collect()
    return
  check(len(argv) == 2 and argv[1] in STUDIES,
        f'name one study ({", ".join(STUDIES)}) or collect')
  for line in STUDIES[argv[1]](_EPOCHS.value, _SEEDS.value):
    print(line)


if __name__ == '__main__':
  app.run(workdir_lib.clean_errors(main), flags_parser=workdir_lib.parse_flags)

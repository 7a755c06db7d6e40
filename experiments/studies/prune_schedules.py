"""The pruning studies of the schedules before the recipe (docs/parsimonious.md §9a–9f):
the flattening and sharpened hyper-priors, the annealed sharpness, the exact
differences; each yields command-line overrides of ``experiments.prune``."""

from __future__ import annotations

from experiments.studies.prune_lines import LENET300, LENET5, LENET300_EXACT, line


def frontier(epochs, seeds):
  for penalty in ('1e-4', '3e-4', '1e-3'):
    for s in seeds:
      yield line(LENET300, 'frontier', f'bernoulli_l{penalty}', s, epochs,
                  train__penalty=penalty)
  for penalty in ('1e-4', '1e-3'):
    yield line(LENET300, 'frontier', f'l0_l{penalty}', seeds[0], epochs,
                train__penalty=penalty, train__method='l0')
  yield line(LENET300, 'frontier', 'dense', seeds[0], epochs, train__gated='False')


def robustness(epochs, seeds):
  for widths in ('300,100', '600,200', '1200,400', '300,100,100'):
    for s in seeds:
      yield line(LENET300, 'robustness', f'w{widths.replace(",", "-")}', s, epochs,
                  model__widths=f"'({widths})'")
  for name, overrides in (('he', dict(train__init_scheme='he')),
                          ('x0.5', dict(train__init_scale=0.5)),
                          ('x2', dict(train__init_scale=2.0)),
                          ('theta1', dict(train__theta_init=1.0))):
    yield line(LENET300, 'robustness', f'w300-100_{name}', seeds[0], epochs, **overrides)


def decision(epochs, seeds):
  for s in seeds:
    yield line(LENET300, 'decision', f'decide{2 * epochs // 3}', s, epochs,
                train__decide_epoch=2 * epochs // 3)


def lenet5(epochs, seeds):
  yield line(LENET5, 'lenet5', 'bernoulli_macs', seeds[0], epochs // 2)


def sharpened(epochs, seeds):
  """The default recipe's studies as committed (10 epochs, Δ_j on 1,000 digits):
  runs/prune/sharp_<study>/...; results/parsimonious/<study>_sharpened/."""
  del epochs
  check_ = dict(analysis__marginal_examples=1000)
  for penalty in ('1e-4', '3e-4', '1e-3'):
    for s in seeds:
      yield line(LENET300, 'sharp_frontier', f'bernoulli_l{penalty}', s, 10,
                  train__penalty=penalty, **check_)
  yield line(LENET300, 'sharp_robustness', 'w600-200', seeds[0], 10,
              model__widths="'(600,200)'", **check_)
  yield line(LENET300, 'sharp_robustness', 'w1200-400', seeds[0], 10,
              model__widths="'(1200,400)'", analysis__marginal_examples=200)
  yield line(LENET5, 'sharp_lenet5', 'bernoulli_macs', seeds[0], 2, train__grace_epochs=1,
              train__sharpness=1e-3, train__theta_init=0.5, analysis__marginal_examples=500)


def anneal(epochs, seeds):
  """Annealed sharpness against starting width (docs §7, §9c), 10 epochs:
  γ/N = 10⁻³ shrinking to r = 0.1 (and r = 0 at 1×), and γ/N = 10⁻⁴ growing
  to 10⁻³ (r = 10); runs/prune/anneal/...; results/parsimonious/anneal/."""
  del epochs
  for widths, examples in (('300,100', 1000), ('600,200', 1000), ('1200,400', 200)):
    name = f'w{widths.replace(",", "-")}'
    for s in seeds:
      yield line(LENET300, 'anneal', f'{name}_r0.1', s, 10, train__sharpness_final=0.1,
                  model__widths=f"'({widths})'", analysis__marginal_examples=examples)
      yield line(LENET300, 'anneal', f'{name}_g1e-4_r10', s, 10, train__sharpness='1e-4',
                  train__sharpness_final=10, model__widths=f"'({widths})'",
                  analysis__marginal_examples=examples)
  yield line(LENET300, 'anneal', 'w300-100_r0', seeds[0], 10, train__sharpness_final=0.0,
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
    yield line(LENET300, 'frontier_sharpened', 'bernoulli_l3e-3', s, 10,
                train__penalty='3e-3', **analysis)
    for penalty in ('1e-3', '3e-3', '1e-2'):
      yield line(LENET300, 'frontier_sharpened', f'l0_l{penalty}', s, 10,
                  train__penalty=penalty, train__method='l0')
    yield line(LENET300, 'frontier_sharpened', 'dense', s, 10, train__gated='False')
  inits = (('', {}, '34'), ('_he', dict(train__init_scheme='he'), '1234'),
           ('_x0.5', dict(train__init_scale=0.5), '1234'),
           ('_x2', dict(train__init_scale=2.0), '1234'),
           ('_theta0.9', dict(train__theta_init=0.9), '012'))
  for name, overrides, new_seeds in inits:
    for s in new_seeds:
      yield line(LENET300, 'robustness_sharpened', f'w300-100{name}', s, 10,
                  **overrides, **analysis)
  for widths, new_seeds, examples in (('600,200', '234', 1000), ('300,100,100', '012', 1000),
                                      ('1200,400', '1234', 200)):
    for s in new_seeds:
      yield line(LENET300, 'robustness_sharpened', f'w{widths.replace(",", "-")}', s, 10,
                  model__widths=f"'({widths})'", analysis__marginal_examples=examples)


def exact(epochs, seeds):
  """Exact hidden-unit differences (estimator 'local'), the flattening hyper-prior
  (γ = 0), η₀ = 10, λ/N = 10⁻³ (configs/prune_lenet300_exact.py) at the 1×, 2×
  and 4× starts, and two initialisations, 10 epochs (docs §9e):
  runs/prune/robustness_local/..."""
  del epochs
  for widths, examples in (('300,100', 1000), ('600,200', 1000), ('1200,400', 200)):
    for s in seeds:
      yield line(LENET300_EXACT, 'robustness_local', f'w{widths.replace(",", "-")}', s, 10,
                  model__widths=f"'({widths})'", analysis__marginal_examples=examples)
  yield line(LENET300_EXACT, 'robustness_local', 'w300-100_theta0.9', seeds[0], 10,
              train__theta_init=0.9, analysis__marginal_examples=1000)
  yield line(LENET300_EXACT, 'robustness_local', 'w300-100_x2', seeds[0], 10,
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
      yield line(LENET300_EXACT, 'frontier_local', f'bernoulli_l{penalty}', s, 10,
                  train__penalty=penalty, analysis__marginal_examples=1000)
  for widths, examples in (('300,100', 1000), ('600,200', 1000), ('1200,400', 200)):
    for s in '34':
      yield line(LENET300_EXACT, 'robustness_local', f'w{widths.replace(",", "-")}', s, 10,
                  model__widths=f"'({widths})'", analysis__marginal_examples=examples)
  for s in '01234':
    yield line(LENET300_EXACT, 'robustness_local', 'w300-100-100', s, 10,
                model__widths="'(300,100,100)'", analysis__marginal_examples=1000)
  for s in '01':
    yield line(LENET300_EXACT, 'frontier_long', 'bernoulli_l1e-3', s, 30,
                analysis__marginal_examples=1000)
  for name, overrides, new_seeds in (('_theta0.9', dict(train__theta_init=0.9), '234'),
                                     ('_x2', dict(train__init_scale=2.0), '234'),
                                     ('_x0.5', dict(train__init_scale=0.5), '1234'),
                                     ('_he', dict(train__init_scheme='he'), '1234')):
    for s in new_seeds:
      yield line(LENET300_EXACT, 'robustness_local', f'w300-100{name}', s, 10,
                  **overrides, analysis__marginal_examples=1000)


def exact_long(epochs, seeds):
  """A 30-epoch protocol (grace 2) for the exact-difference recipe's frontier, with
  L0 and the dense network trained the same 30 epochs: λ/N = 10⁻³, 2·10⁻³, 3·10⁻³
  (seeds 0–2; 10⁻³ seeds 0, 1 are in ``exact_verdict``), L0 at 3·10⁻³ and 10⁻²,
  dense; runs/prune/frontier_long/..."""
  del epochs, seeds
  analysis = dict(analysis__marginal_examples=1000)
  yield line(LENET300_EXACT, 'frontier_long', 'bernoulli_l1e-3', '2', 30, **analysis)
  for penalty in ('3e-3', '2e-3'):
    for s in '012':
      yield line(LENET300_EXACT, 'frontier_long', f'bernoulli_l{penalty}', s, 30,
                  train__penalty=penalty, **analysis)
  for s in '012':
    yield line(LENET300, 'frontier_long', 'dense', s, 30, train__method='dense')
    for penalty in ('3e-3', '1e-2'):
      yield line(LENET300, 'frontier_long', f'l0_l{penalty}', s, 30, train__penalty=penalty,
                  train__method='l0')


def exact_100(epochs, seeds):
  """A 100-epoch protocol (grace 2): the exact-difference recipe at λ/N = 10⁻³ and
  2·10⁻³ (seeds 0–2), L0 at 3·10⁻³ and 10⁻² and the dense network (seeds 0, 1),
  all trained the same way; runs/prune/frontier_100ep/..."""
  del epochs, seeds
  for penalty in ('1e-3', '2e-3'):
    for s in '012':
      yield line(LENET300_EXACT, 'frontier_100ep', f'bernoulli_l{penalty}', s, 100,
                  train__penalty=penalty, analysis__marginal_examples=1000)
  for s in '01':
    for penalty in ('3e-3', '1e-2'):
      yield line(LENET300, 'frontier_100ep', f'l0_l{penalty}', s, 100, train__penalty=penalty,
                  train__method='l0')
    yield line(LENET300, 'frontier_100ep', 'dense', s, 100, train__method='dense')


STUDIES = {'frontier': frontier, 'robustness': robustness, 'decision': decision,
           'lenet5': lenet5, 'sharpened': sharpened, 'anneal': anneal, 'verdict': verdict,
           'exact': exact, 'exact_verdict': exact_verdict, 'exact_long': exact_long,
           'exact_100': exact_100}

"""The equal-start and reference-reading tables, from hand-made summaries."""

import os

from experiments import rbm_readings


def _run(study, method, seed, **fields):
  s = {'_path': os.path.join('rbm', study, method, f'm{seed}', 'summary.json'),
       'dataset': 'bars_and_stripes', 'connectivity': 'ncg', 'density0': 0.5,
       'density': 0.6, 'weight_init': 'uniform', 'learning_rate': 0.01,
       'strength_learning_rate': 0.05, 'hysteresis': 0.0, 'seed': seed}
  s.update(fields)
  return s


def test_starts_table_pairs_the_two_starts_of_each_method():
  runs = ([_run('bas', 'ncg', i, train_nll_exact=4.0 + 0.1 * i) for i in range(3)]
          + [_run('starts_bas', 'ncg_small', i, weight_init='normal',
                  train_nll_exact=3.8 + 0.1 * i, density=0.5) for i in range(3)]
          + [_run('bas', 'ncg_ratio1', 0, strength_learning_rate=0.01,
                  train_nll_exact=9.0)]                   # a variant: left out
          + [_run('starts_bas', 'fixed_small', i, connectivity='fixed',
                  weight_init='normal', train_nll_exact=4.5,
                  density_from='runs/ncg_small') for i in range(2)])
  lines = '\n'.join(rbm_readings.starts_tables(runs))
  ncg = next(l for l in lines.splitlines() if l.startswith('| NCG from p = 0.5 |'))
  cells = [c.strip() for c in ncg.strip('|').split('|')]
  assert cells[1:5] == ['0.600', '4.100 ± 0.100 (3)', '0.500', '3.900 ± 0.100 (3)']
  assert cells[5] == '-0.200'
  assert '9.000' not in lines
  fixed = next(l for l in lines.splitlines() if l.startswith('| fixed'))
  assert 'not run' in fixed and '4.500 ± 0.000 (2)' in fixed


def test_reference_reading_tables():
  runs = [_run('bas_set32', 'ncg_set32', i, bars_reference_set=True,
               train_nll_exact=3.4 + 0.1 * i) for i in range(2)]
  runs += [_run('starts_mnist', 'ncg_p0.1_small', 0, dataset='mnist_idx',
                weight_init='normal', test_log_likelihood_ais=-120.0,
                train_log_likelihood_ais_uniform=-110.0)]
  runs += [_run('starts_uci', 'ncg_p0.5', 0, dataset='mushrooms',
                test_accuracy=0.99, test_accuracy_mean_field=0.97)]
  text = '\n'.join(rbm_readings.reference_reading_tables(runs))
  assert abs(rbm_readings.BAS_FLOOR_32 - 3.379) < 5e-4
  assert '| NCG from p = 0.5, reference start | 2 | 3.450 ± 0.071 (2) | +0.071 | -0.016 | 1 / 2 |' in text
  assert '| NCG from p = 0.5, small start | 1 | -120.00 (1 seed) | -110.00 (1 seed) | +10.00 |' in text
  assert '| 99.00 (1 seed) | 97.00 (1 seed) | -2.00 |' in text

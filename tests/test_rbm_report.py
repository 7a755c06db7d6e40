"""The RBM study report builds its tables and figures from tiny sweep workdirs."""

import os

from experiments import rbm_report
from experiments import report
from experiments import sweep_run as sweep
from experiments.configs import bas_reference
from experiments.studies import collect


def _tiny(**train):
  config = bas_reference.get_config()
  config.data.bars_size = 3
  config.model.num_hidden = 4
  config.train.k = 1
  config.train.batch_size = 2
  config.train.epochs = 4
  config.train.checkpoint_every = 4
  config.train.log_every = 2
  config.eval.every = 2
  config.eval.final = False
  config.figures.gibbs_steps = 2
  config.figures.num_samples = 4
  for name, value in train.items():
    setattr(config.train, name, value)
  return config


def test_report_from_tiny_sweeps(tmp_path):
  runs = tmp_path / 'runs'
  ncg = _tiny()
  sweep.run_sweep(ncg, str(runs / 'ncg'),
                  sweep.member_grid(ncg, ['0', '1'], [], ['0.2', '0.8']))
  dense = _tiny(connectivity='dense')
  sweep.run_sweep(dense, str(runs / 'dense_uniform'),
                  sweep.member_grid(dense, ['0', '1'], [], []))
  member = runs / 'ncg' / 'members' / 'm0'
  assert (member / 'figures' / 'connectivity.png').is_file()

  results = tmp_path / 'results'
  for name in ('ncg', 'dense_uniform'):
    collect.collect(str(runs / name), str(results / 'rbm' / 'tiny' / name))
  (results / 'rbm' / 'verdict.md').write_text('VERDICT TEXT')
  summaries = report.load_summaries(str(results))['rbm']
  assert len(summaries) == 6
  text = rbm_report.section(summaries, str(results))
  assert text.startswith('VERDICT TEXT')
  rows = [line for line in text.splitlines() if line.startswith('| NCG')
          or line.startswith('| dense')]
  assert len(rows) == 3                        # NCG p=0.8, p=0.2, dense
  assert '| 2 | 0.8 →' in rows[0] and '| 2 | 0.2 →' in rows[1]
  for name in ('nll_curves.png', 'density_curves.png',
               'initial_vs_final_density.png'):
    assert os.path.isfile(results / 'rbm' / 'tiny' / name), name
    assert f'rbm/tiny/{name}' in text


def test_rows_say_their_negative_phase_and_pt_swap_rates():
  """A row's label names its sampler (CD-k: nothing, PCD-k, PT K rungs × k sweeps)
  and a study with PT runs gets the last epoch's swap acceptance (lowest pair / mean
  over pairs, mean ± std over seeds); summary.json records them from the config."""
  import ml_collections  # pylint: disable=g-import-not-at-top
  from experiments import rbm_outputs  # pylint: disable=g-import-not-at-top
  base = dict(kind='rbm', connectivity='dense', density0=1.0, density=1.0,
              weight_init='uniform', train_nll_exact=4.0, added_total=0,
              removed_total=0, k=10, persistent=False)
  def at(method, member, **fields):
    return dict(base, _path=f'rbm/sampling/{method}/m{member}/summary.json', **fields)
  runs = [at('dense_cd10', 0, seed=0),
          at('dense_pcd10', 0, seed=0, persistent=True, temperatures=1),
          *[at('dense_pt5_k2', s, seed=s, persistent=True, k=2, temperatures=5,
               beta_min=0.1, swap_rates=rates)
            for s, rates in enumerate(([0.5, 0.9, 1.0, 1.0], [0.7, 0.9, 1.0, 1.0]))]]
  text = '\n'.join(rbm_report.study_table(runs))
  assert 'PT swaps accepted %' in text
  rows = {line.split('|')[1].strip(): line for line in text.splitlines()[2:]}
  assert ', PCD-10' in ' '.join(rows) and not any('CD-10' in r and 'PCD' not in r
                                                  for r in rows)
  pt = [line for label, line in rows.items() if 'PT 5 rungs × 2 sweeps (β_min 0.1)' in label]
  assert len(pt) == 1 and '| 2 |' in pt[0] and '60 ± 14 / 88 ± 4' in pt[0]  # (0.85, 0.90) per seed
  t = ml_collections.ConfigDict(dict(persistent=True, temperatures=5, beta_min=0.1))
  assert rbm_outputs.summary_tempering(t, {'swap_rates': [0.5, 1.0]}) == {
      'temperatures': 5, 'beta_min': 0.1, 'swap_rates': [0.5, 1.0]}
  t.temperatures = 1
  assert rbm_outputs.summary_tempering(t, {'swap_rates': 0.0}) == {
      'temperatures': 1, 'beta_min': None, 'swap_rates': None}

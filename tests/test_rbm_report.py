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

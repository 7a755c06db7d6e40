"""The pruning studies' command lines: every study names existing configs, known fields
and one workdir per run (experiments/prune_studies.py, experiments/studies/prune_*.py)."""

import os
import re

import pytest

from experiments import prune_studies
from experiments.studies import prune_lines

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_line_builds_overrides_and_workdir():
  got = prune_lines.line('--config=c.py', 'study', 'run', '3', 7, train__penalty='1e-3',
                         model__widths="'(3,2)'")
  assert got == ("--config=c.py --config.train.seed=3 --config.train.epochs=7 "
                 "--config.train.penalty=1e-3 --config.model.widths='(3,2)' "
                 "--workdir=runs/prune/study/run_s3")


@pytest.mark.parametrize('name', sorted(prune_studies.STUDIES))
def test_every_study_names_configs_that_exist_and_distinct_workdirs(name):
  lines = list(prune_studies.STUDIES[name](20, ['0', '1']))
  assert lines
  workdirs = []
  for line in lines:
    config = re.search(r'--config=(\S+)', line).group(1)
    assert os.path.isfile(os.path.join(_ROOT, config)), config
    workdir = re.search(r'--workdir=(\S+)', line).group(1)
    assert workdir.startswith('runs/prune/'), workdir
    workdirs.append(workdir)
  assert len(set(workdirs)) == len(workdirs), 'two runs of one study share a workdir'


def test_warm_config_is_the_recipe_after_a_20_epoch_dense_warm_up():
  """configs/prune_lenet300_warm.py: 20 dense epochs (the grace period), 8 gated, the
  recipe's 90 deterministic ones; it resolves into a run (checks pass) on embedded data."""
  from experiments import prune_run  # pylint: disable=g-import-not-at-top
  from experiments.configs import prune_lenet300_recipe, prune_lenet300_warm  # pylint: disable=g-import-not-at-top
  warm, recipe = prune_lenet300_warm.get_config(), prune_lenet300_recipe.get_config()
  t = warm.train
  assert (t.epochs, t.grace_epochs, t.warmup_epochs, t.finetune_epochs) == (118, 20, 20, 90)
  assert t.epochs - t.finetune_epochs - t.grace_epochs == 8
  assert (t.penalty, tuple(t.penalty_scale)) == (recipe.train.penalty,
                                                 tuple(recipe.train.penalty_scale))
  warm.data.name, warm.data.path, warm.data.validation_size = 'embedded', '', 500
  setup = prune_run.resolve_run(warm)
  assert setup.trainer_config.method == 'bernoulli'


def test_long_lenet5_config_is_the_chosen_probe():
  """configs/prune_lenet5_long.py is the LeNet-5 recipe with the overrides of the
  study that chose it (prune_probes.LENET5_CHOSEN, a 50-epoch deterministic phase,
  60 epochs): the packaged file and the study's command line cannot drift apart."""
  from experiments.configs import prune_lenet5_long, prune_lenet5_recipe  # pylint: disable=g-import-not-at-top
  from experiments.studies import prune_probes  # pylint: disable=g-import-not-at-top
  long, recipe = prune_lenet5_long.get_config(), prune_lenet5_recipe.get_config()
  _, overrides = prune_probes.LENET5_CHOSEN
  line = next(prune_probes.lenet5_seeds(60, ['0']))
  assert '--config.train.finetune_epochs=50' in line and '--config.train.epochs=60' in line
  want = {**{k.split('__')[1]: float(v) for k, v in overrides.items()},
          'finetune_epochs': 50, 'epochs': 60}
  for field, value in want.items():
    assert long.train[field] == value, field
  for field in recipe.train:
    if field not in want:
      assert long.train[field] == recipe.train[field], field

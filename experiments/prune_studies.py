r"""Prints the command-line overrides of the parsimonious studies, one run per line.

    python -m experiments.prune_studies frontier | \
        xargs -P 2 -L 1 nice python -m experiments.prune

``python -m experiments.prune_studies collect`` copies the finished summaries. The
studies themselves are listed in experiments/studies/prune_schedules.py (§9a–9f),
prune_recipe.py (§9g–9h) and prune_probes.py (§9i), their shared settings in
prune_lines.py.
Every line is ``--config=... --config.<field>=<value> ... --workdir=runs/prune/<study>/<run>``;
copy each finished ``summary.json`` to ``results/parsimonious/<study>/<run>/`` and run
``python -m experiments.report``. ``--epochs`` shortens every run (the committed
studies used 20 epochs on the shared 2-core machine; the configs' protocol is 60).
"""

from __future__ import annotations

from absl import app
from absl import flags

from experiments import workdir as workdir_lib
from experiments.studies import prune_probes
from experiments.studies import prune_recipe
from experiments.studies import prune_schedules
from ncg.errors import check

_EPOCHS = flags.DEFINE_integer('epochs', 20, 'Epochs of every run.')
_SEEDS = flags.DEFINE_list('seeds', ['0', '1'], 'Seeds of every setting.')

STUDIES = {**prune_recipe.STUDIES, **prune_probes.STUDIES, **prune_schedules.STUDIES}


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

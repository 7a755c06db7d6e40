r"""Copies the summaries of finished study runs into results/ for the report.

    python -m experiments.studies.collect --study=bas runs/bas/*

Each argument is a workdir of experiments/train.py (its summary.json) or of
experiments/sweep.py (members/m<i>/summary.json); it lands as
results/rbm/<study>/<workdir name>/[m<i>/]summary.json, with the first
member's connectivity figure beside it. Unfinished workdirs are skipped with
a line saying so; existing results are replaced only for the same run.
"""

from __future__ import annotations

import glob
import os
import shutil

from absl import app
from absl import flags

from experiments import workdir as workdir_lib
from ncg.errors import check

_STUDY = flags.DEFINE_string('study', None, 'Name of the study under results/rbm/.')
_AS_METHOD = flags.DEFINE_string(
    'as_method', None, 'Collect every workdir under this method name (e.g. the '
    'seeds of one method trained as two sweeps); members become <workdir>_m<i>.')
_RESULTS = flags.DEFINE_string('results_dir', 'results', 'Directory of curated results.')


def collect(workdir: str, destination: str, prefix: str = '') -> int:
  """Copies one workdir's summaries; returns how many.

  Sweep members land in ``destination/<prefix>m<i>/``; a single run in
  ``destination/`` (or ``destination/<prefix>run/`` with a prefix).
  """
  members = sorted(glob.glob(os.path.join(workdir, 'members', 'm*', 'summary.json')))
  pairs = ([(m, os.path.join(destination,
                             prefix + os.path.basename(os.path.dirname(m))))
            for m in members] if members else
           [(os.path.join(workdir, 'summary.json'),
             os.path.join(destination, prefix + 'run') if prefix else destination)])
  copied = 0
  for source, target in pairs:
    if not os.path.isfile(source):
      continue
    os.makedirs(target, exist_ok=True)
    shutil.copyfile(source, os.path.join(target, 'summary.json'))
    copied += 1
  figure = os.path.join(os.path.dirname(pairs[0][0]), 'figures', 'connectivity.png')
  if copied and os.path.isfile(figure):
    shutil.copyfile(figure, os.path.join(destination, 'connectivity.png'))
  return copied


def main(argv):
  check(_STUDY.value, '--study is required')
  for workdir in argv[1:]:
    name = os.path.basename(os.path.normpath(workdir))
    destination = os.path.join(_RESULTS.value, 'rbm', _STUDY.value,
                               _AS_METHOD.value or name)
    n = collect(workdir, destination, f'{name}_' if _AS_METHOD.value else '')
    print(f'{workdir}: {n} summaries → {destination}' if n else
          f'{workdir}: not finished (no summary.json), skipped')


if __name__ == '__main__':
  app.run(workdir_lib.clean_errors(main), flags_parser=workdir_lib.parse_flags)

r"""Trains an RBM — NCG, fixed sparse or dense — and writes a resumable workdir.

    ncg-train --workdir=runs/default
    ncg-train --config=mnist --config.data.path=DIR_OF_MNIST_IDX_FILES \
        --config.model.density=0.1 --workdir=runs/mnist_p0.1

(``python -m experiments.train`` in a clone; ``--config=`` takes a packaged
config's name — default, tiny, bars_and_stripes, mnist, uci… — or a file.)

Outputs in the workdir: config.json, metrics.jsonl (one line per epoch, and
per evaluation), checkpoints/ (orbax; rerunning the same command resumes from
the latest, with the same PRNG stream and data order) and figures/ (model
samples, hidden-unit filters, the mask, density over epochs). The logic is in
experiments/rbm_run.py.
"""

import sys

from absl import app
from absl import flags
from absl import logging

from experiments import beside
from experiments import configs
from experiments import rbm_run
from experiments import workdir as workdir_lib
from ncg import distributed
from ncg.errors import check

_CONFIG = configs.define_flag(
    'default', 'Training configuration: a file, or the name of a packaged config (mnist...).')
_WORKDIR = flags.DEFINE_string('workdir', 'runs/default',
                               'Directory of the run (created; resumed if it exists).')


def main(argv):
  check(len(argv) == 1, f'unexpected arguments: {" ".join(argv[1:])}')
  logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO
  distributed.initialize()  # several hosts: start jax.distributed; else nothing
  config, workdir = _CONFIG.value, _WORKDIR.value
  mode = beside.baseline_mode(config)  # checked before anything is written
  if not rbm_run.train_and_evaluate(config, workdir) or not mode:
    return
  print(f'\nTraining the {mode} baseline beside it (train.baseline={mode!r}; '
        "--config.train.baseline='' skips it):")
  if rbm_run.train_and_evaluate(beside.baseline_config(config, mode),
                                beside.baseline_workdir(workdir, mode)):
    print('\n' + beside.compare(workdir, mode, config.train.connectivity))


def cli():
  """The ``ncg-train`` console script (and ``python -m``)."""
  app.run(workdir_lib.clean_errors(main), argv=configs.resolve_argv(sys.argv),
          flags_parser=workdir_lib.parse_flags)


if __name__ == '__main__':
  cli()

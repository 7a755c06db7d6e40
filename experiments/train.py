r"""Trains an RBM — NCG, fixed sparse or dense — and writes a resumable workdir.

    python -m experiments.train --workdir=runs/default
    python -m experiments.train --config=experiments/configs/mnist.py \
        --config.data.path=../shared/data/mnist --config.model.density=0.1 \
        --workdir=runs/mnist_p0.1

Outputs in the workdir: config.json, metrics.jsonl (one line per epoch, and
per evaluation), checkpoints/ (orbax; rerunning the same command resumes from
the latest, with the same PRNG stream and data order) and figures/ (model
samples, hidden-unit filters, the mask, density over epochs). The logic is in
experiments/rbm_run.py.
"""

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from experiments import rbm_run
from experiments import workdir as workdir_lib
from ncg.errors import check

_CONFIG = config_flags.DEFINE_config_file(
    'config', 'experiments/configs/default.py', 'Training configuration file.')
_WORKDIR = flags.DEFINE_string('workdir', 'runs/default',
                               'Directory of the run (created; resumed if it exists).')


def main(argv):
  check(len(argv) == 1, f'unexpected arguments: {" ".join(argv[1:])}')
  logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO
  rbm_run.train_and_evaluate(_CONFIG.value, _WORKDIR.value)


if __name__ == '__main__':
  app.run(workdir_lib.clean_errors(main), flags_parser=workdir_lib.parse_flags)

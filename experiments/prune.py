r"""Trains a parsimonious (gated, self-pruning) network and writes a resumable workdir.

    python -m experiments.prune --workdir=runs/prune/lenet300_s0
    python -m experiments.prune --config=experiments/configs/prune_lenet5.py \
        --config.train.seed=1 --workdir=runs/prune/lenet5_s1

Outputs in the workdir: config.json, metrics.jsonl (one line per epoch: units
alive per gate group, undecided gates, θ histograms, test and validation
error, MACs/FLOPs/params, the epoch's wall time), checkpoints/ (orbax, with
the architecture; rerunning the same command resumes from the latest epoch
with the same PRNG stream and data order), figures/widths.png, and at the end
summary.json (the final deterministic architecture, its errors, MACs, FLOPs,
parameters and the training cost). The logic is in experiments/prune_run.py.
"""

import sys

from absl import app
from absl import flags
from absl import logging

from experiments import configs
from experiments import prune_run
from experiments import workdir as workdir_lib
from ncg.errors import check

_CONFIG = configs.define_flag(
    'prune_lenet300', 'Training configuration: a file, or a packaged config name (prune_lenet5...).')
_WORKDIR = flags.DEFINE_string('workdir', 'runs/prune/default',
                               'Directory of the run (created; resumed if it exists).')
_STOP_AFTER = flags.DEFINE_integer(
    'stop_after_epochs', 0, 'Stop (as if preempted) once this many epochs are '
    'checkpointed; 0 = run to config.train.epochs. For resume tests.')

SUMMARY_FILE = prune_run.SUMMARY_FILE
train_and_evaluate = prune_run.train_and_evaluate


def main(argv):
  check(len(argv) == 1, f'unexpected arguments: {" ".join(argv[1:])}')
  logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO
  prune_run.train_and_evaluate(_CONFIG.value, _WORKDIR.value, _STOP_AFTER.value)


def cli():
  """The ``ncg-prune`` console script (and ``python -m``)."""
  app.run(workdir_lib.clean_errors(main), argv=configs.resolve_argv(sys.argv),
          flags_parser=workdir_lib.parse_flags)


if __name__ == '__main__':
  cli()

r"""Trains a population of RBMs — seeds × learning rates × initial densities — in one call.

    ncg-sweep --config=default --densities=0.1,0.5,1.0 --seeds=0,1 \
        --learning_rates=0.1 --workdir=runs/sweep

(``python -m experiments.sweep`` in a clone.)

Every member shares the run config except its seed, learning rate (η; η_α
keeps its ratio to η) and initial density; the members are stacked along a
leading axis and one vmapped, jitted epoch trains them all, so a sweep costs
one compilation and keeps the device busy. The workdir is that of
experiments/train.py (config.json holds the config and the member grid;
checkpoints hold the stacked population and resume), and metrics.jsonl gets
one line per member per epoch, with ``member``, ``seed``, ``learning_rate``
and ``density0`` fields. Every connectivity mode (ncg, dense, fixed, set,
rigl, l1) trains as a population.

Small models (exact log Z with at most 2^20 terms, e.g. bars and stripes)
get the exact average negative log-likelihood of the training and test sets
in their metrics lines every ``eval.every`` epochs (``train_nll_exact``,
``test_nll_exact``, nats), computed for all members in one vmapped call.
At the end each member gets ``members/m<i>/summary.json`` (the fields of a
train.py summary, with ``member``; with ``eval.final`` the full evaluation,
AIS and accuracies) and ``members/m<i>/figures/connectivity.png``; the
workdir's summary.json lists the members (kind ``rbm_population``).
"""

import sys

from absl import app
from absl import flags
from absl import logging

from experiments import configs
from experiments import rbm_run
from experiments import sweep_run
from experiments import workdir as workdir_lib
from ncg import distributed
from ncg.errors import check

_CONFIG = configs.define_flag(
    'default', 'Shared run configuration: a file, or a packaged config name.')
_WORKDIR = flags.DEFINE_string('workdir', 'runs/sweep', 'Directory of the sweep.')
_SEEDS = flags.DEFINE_list('seeds', ['0'], 'Seeds of the members.')
_LRS = flags.DEFINE_list('learning_rates', [], 'η of the members (default: the config\'s).')
_DENSITIES = flags.DEFINE_list('densities', [],
                               'Initial densities (default: the config\'s).')
_CHUNK = flags.DEFINE_integer(
    'chunk', 0, 'Members trained per device call, the population staying in '
    'host memory between calls (0 = all at once); for populations larger '
    'than the device. Results are those of the unchunked sweep.')


def main(argv):
  check(len(argv) == 1, f'unexpected arguments: {" ".join(argv[1:])}')
  logging.set_verbosity(logging.WARNING)
  distributed.initialize()  # several hosts: start jax.distributed; else nothing
  config = rbm_run.resolve_density_from(_CONFIG.value)
  grid = sweep_run.member_grid(config, _SEEDS.value, _LRS.value, _DENSITIES.value)
  sweep_run.run_sweep(config, _WORKDIR.value, grid, _CHUNK.value)


def cli():
  """The ``ncg-sweep`` console script (and ``python -m``)."""
  app.run(workdir_lib.clean_errors(main), argv=configs.resolve_argv(sys.argv),
          flags_parser=workdir_lib.parse_flags)


if __name__ == '__main__':
  cli()

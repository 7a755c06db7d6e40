r"""Trains a population of RBMs — seeds × learning rates × initial densities — in one call.

    python -m experiments.sweep --config=experiments/configs/default.py \
        --densities=0.1,0.5,1.0 --seeds=0,1 --learning_rates=0.1 --workdir=runs/sweep

Every member shares the run config except its seed, learning rate (η; η_α
keeps its ratio to η) and initial density; the members are stacked along a
leading axis and one vmapped, jitted epoch trains them all, so a sweep costs
one compilation and keeps the device busy. The workdir is that of
experiments/train.py (config.json holds the config and the member grid;
checkpoints hold the stacked population and resume), and metrics.jsonl gets
one line per member per epoch, with ``member``, ``seed``, ``learning_rate``
and ``density0`` fields.
"""

from __future__ import annotations

import itertools
import time

from absl import app
from absl import flags
from absl import logging
import jax
import jax.numpy as jnp
from ml_collections import config_flags
import numpy as np
import tqdm

from experiments import rbm_run
from experiments import workdir as workdir_lib
from ncg import train as train_lib
from ncg.errors import InputError, check

_CONFIG = config_flags.DEFINE_config_file(
    'config', 'experiments/configs/default.py', 'Shared run configuration.')
_WORKDIR = flags.DEFINE_string('workdir', 'runs/sweep', 'Directory of the sweep.')
_SEEDS = flags.DEFINE_list('seeds', ['0'], 'Seeds of the members.')
_LRS = flags.DEFINE_list('learning_rates', [], 'η of the members (default: the config\'s).')
_DENSITIES = flags.DEFINE_list('densities', [],
                               'Initial densities (default: the config\'s).')


def member_grid(config, seeds, learning_rates, densities):
  """The Cartesian product of the sweep's values, as a dict of lists."""
  def floats(values, default, name):
    try:
      return [float(v) for v in values] or [default]
    except ValueError:
      raise InputError(f'--{name} must be numbers, got {values}') from None
  try:
    seeds = [int(s) for s in seeds]
  except ValueError:
    raise InputError(f'--seeds must be integers, got {seeds}') from None
  lrs = floats(learning_rates, config.train.learning_rate, 'learning_rates')
  densities = floats(densities, config.model.density, 'densities')
  check(all(lr > 0 for lr in lrs), f'learning rates must be positive, got {lrs}')
  check(all(0 <= p <= 1 for p in densities),
        f'densities must be in [0, 1], got {densities}')
  grid = list(itertools.product(seeds, lrs, densities))
  return {'seed': [g[0] for g in grid], 'learning_rate': [g[1] for g in grid],
          'density0': [g[2] for g in grid]}


def run_sweep(config, workdir, grid) -> None:
  _, label_units, tconfig, train_x, held_x = rbm_run.resolve_run(config)
  batch_size = config.train.batch_size
  n_free = config.train.free_energy_examples

  keys = jax.vmap(jax.random.key)(jnp.asarray(grid['seed']))
  split = jax.vmap(lambda k: jax.random.split(k, 4))(keys)
  key_init, key_chains, key_epochs = split[:, 0], split[:, 1], split[:, 2]
  lrs = jnp.asarray(grid['learning_rate'], jnp.float32)
  ratio = tconfig.resolved_strength_learning_rate / tconfig.learning_rate
  densities = jnp.asarray(grid['density0'], jnp.float32)

  def init_member(key, density):
    return rbm_run.initial_state(config, train_x, label_units, key, density)

  states = jax.vmap(init_member)(key_init, densities)
  trainer = train_lib.make_trainer(tconfig)
  opt_states = jax.vmap(trainer.init, in_axes=(0, 0, None, 0, 0))(
      states, key_chains, batch_size, lrs, ratio * lrs)

  config = config.copy_and_resolve_references()
  with config.unlocked():
    config.sweep = grid
  workdir_lib.prepare(workdir, config)
  manager = workdir_lib.checkpoint_manager(workdir)
  step, tree = workdir_lib.restore_checkpoint(
      manager, {'state': states, 'opt_state': opt_states, 'epoch': jnp.asarray(0)})
  start = 0
  if step is not None:
    states, opt_states, start = tree['state'], tree['opt_state'], int(tree['epoch'])
    print(f'Resuming {workdir} after epoch {start}.')
  workdir_lib.truncate_metrics(workdir, lambda r: r.get('epoch', 0) <= start)

  epoch_fn = train_lib.make_epoch(tconfig, batch_size, population=True).lower(
      states, opt_states, train_x, key_epochs).compile()  # time epochs only
  gap = jax.jit(jax.vmap(train_lib.free_energy_gap, in_axes=(0, None, None)))
  members = len(grid['seed'])
  epochs = config.train.epochs
  for epoch in tqdm.tqdm(range(start + 1, epochs + 1), initial=start,
                         total=epochs, desc=f'sweep of {members}', unit='epoch'):
    began = time.perf_counter()
    epoch_keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(key_epochs, epoch)
    states, opt_states, metrics = epoch_fn(states, opt_states, train_x, epoch_keys)
    jax.block_until_ready(states)
    seconds = time.perf_counter() - began
    gaps = gap(states, train_x[:n_free], held_x[:n_free])
    for i in range(members):
      record = {'epoch': epoch, 'member': i,
                **{name: values[i] for name, values in grid.items()},
                **{name: np.asarray(value)[i]
                   for name, value in metrics._asdict().items()},
                'free_energy_gap': np.asarray(gaps)[i], 'seconds': seconds}
      workdir_lib.append_metrics(workdir, record)
    if epoch % config.train.checkpoint_every == 0 or epoch == epochs:
      workdir_lib.save_checkpoint(
          manager, epoch,
          {'state': states, 'opt_state': opt_states, 'epoch': jnp.asarray(epoch)})
  print(f'Outputs in {workdir}: config.json, metrics.jsonl (one line per member '
        'and epoch), checkpoints/')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  logging.set_verbosity(logging.WARNING)
  config = _CONFIG.value
  grid = member_grid(config, _SEEDS.value, _LRS.value, _DENSITIES.value)
  run_sweep(config, _WORKDIR.value, grid)


if __name__ == '__main__':
  app.run(workdir_lib.clean_errors(main))

"""The logic of a population sweep, shared by experiments/sweep.py and the tests.

Config and member grid → stacked states; the vmapped epoch loop with metrics,
exact NLL curves of small models, checkpoints, divergence guard and SIGTERM
handling; per-member evaluation, summaries and figures. See experiments/sweep.py
for what a sweep writes. The absl flags live in the entry point.
"""

from __future__ import annotations

import itertools
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import tqdm

from experiments import divergence
from experiments import evaluation as evaluation_lib
from experiments import preemption
from experiments import rbm_outputs
from experiments import rbm_setup
from experiments import run_loop
from experiments import workdir as workdir_lib
from ncg import distributed
from ncg import estimators
from ncg import rbm
from ncg import train as train_lib
from ncg.errors import Diverged, InputError, check


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
  check(seeds and all(s >= 0 for s in seeds),
        f'--seeds must list one or more integers >= 0, got {seeds}')
  lrs = floats(learning_rates, config.train.learning_rate, 'learning_rates')
  densities = floats(densities, config.model.density, 'densities')
  check(all(0 < lr < float('inf') for lr in lrs),
        f'learning rates must be positive and finite, got {lrs}')
  check(all(0 <= p <= 1 for p in densities),
        f'densities must be in [0, 1], got {densities}')
  grid = list(itertools.product(seeds, lrs, densities))
  return {'seed': [g[0] for g in grid], 'learning_rate': [g[1] for g in grid],
          'density0': [g[2] for g in grid]}


EXACT_CURVE_MAX_LOG2 = 20  # exact NLL curves for models this small


def chunked_epoch(epoch_fn, chunk: int, members: int):
  """``epoch_fn`` applied ``chunk`` members at a time (0: all in one call).

  For populations whose training does not fit the device at once: each call
  gets the members [lo, lo + chunk) of the stacked states, optimizer states
  and keys, and its outputs are pulled back to host memory (numpy) before the
  next chunk runs, so the device holds one chunk's state and working set.
  Members are independent (own keys, own data order), and the rewiring
  schedule reads the step count, which every live member shares, so the
  result equals the unchunked epoch. A last, smaller chunk compiles once more.
  """
  if not chunk or chunk >= members:
    return epoch_fn

  def run(states, opt_states, x, keys):
    parts = []
    for lo in range(0, members, chunk):
      take = lambda a, lo=lo: a[lo:lo + chunk]  # pylint: disable=cell-var-from-loop
      parts.append(jax.device_get(epoch_fn(
          jax.tree.map(take, states), jax.tree.map(take, opt_states), x,
          keys[lo:lo + chunk])))
    return jax.tree.map(lambda *a: np.concatenate(a), *parts)
  return run


def exact_nll_fn(state_like, label_units: int, train_x, test_x):
  """A jitted, member-vmapped (train, test) exact NLL, or None if too big."""
  _, log2_terms = estimators.count_configurations(state_like, label_units)
  if log2_terms > EXACT_CURVE_MAX_LOG2:
    return None

  def nll(state):
    log_z = estimators.exact_log_partition(state, label_units=label_units)
    return (-jnp.mean(estimators.log_likelihood(state, train_x, log_z, label_units)),
            -jnp.mean(estimators.log_likelihood(state, test_x, log_z, label_units)))
  return jax.jit(jax.vmap(nll))


def member_config(config, grid, i):
  """The run config of member i (its seed, η and initial density)."""
  member = config.copy_and_resolve_references()
  member.train.seed = grid['seed'][i]
  member.train.learning_rate = grid['learning_rate'][i]
  member.model.density = grid['density0'][i]
  return member


def change_totals(flips, density_initial, density_final) -> dict:
  """Connections added and removed over the whole run, from the flip counts.

  Every flip is an addition or a removal, and additions − removals is the
  change in present connections: added = (F + Δn)/2, removed = (F − Δn)/2.
  (The metrics lines of a sweep may skip epochs: train.log_every.)
  """
  flips = np.asarray(flips)
  total = int(flips.sum())
  change = int(round((float(density_final) - float(density_initial)) * flips.size))
  return {'added_total': (total + change) // 2, 'removed_total': (total - change) // 2}


def write_members(workdir, config, grid, states, opt_states, dataset,
                  label_units, key, diverged_epoch=None,
                  density_initial=None) -> list[dict]:
  """Per-member evaluation, summary.json and connectivity figure.

  A member that diverged (``diverged_epoch[i] > 0``) gets only its grid values
  and ``diverged_epoch`` in the population summary.
  """
  records = workdir_lib.read_metrics(workdir)
  members = []
  for i in range(len(grid['seed'])):
    if diverged_epoch is not None and diverged_epoch[i]:
      members.append({'member': i, 'diverged_epoch': int(diverged_epoch[i]),
                      **{name: values[i] for name, values in grid.items()}})
      continue
    mconfig = member_config(config, grid, i)
    mdir = os.path.join(workdir, 'members', f'm{i}')
    state = jax.tree.map(lambda a, i=i: a[i], states)
    flips = opt_states.flips[i]
    mrecords = [r for r in records if r.get('member') == i]
    if config.eval.final:
      evaluation = rbm_outputs.evaluate_during_training(
          mconfig, state, dataset, label_units, jax.random.fold_in(key, i),
          final=True, workdir=mdir)
      mrecords.append({'epoch': mrecords[-1]['epoch'], 'kind': 'eval',
                       **evaluation})
      print(f'member {i}: ' + evaluation_lib.summary_line(evaluation))
    curve = [r for r in mrecords if 'train_nll_exact' in r]
    summary = rbm_outputs.summary_record(
        mconfig, mrecords,
        {'member': i, **rbm_outputs.flip_record(flips, label_units),
         **(change_totals(flips, density_initial[i], rbm.density(state))
            if density_initial is not None else {}),
         **{name: curve[-1][name] if curve else None
            for name in ('train_nll_exact', 'test_nll_exact')},
         'train_nll_curve': [[r['epoch'], r['train_nll_exact']] for r in curve],
         'density_curve': [[r['epoch'], r['density']] for r in mrecords
                           if r.get('kind') != 'eval']})
    workdir_lib.write_json(mdir, 'summary.json', summary)
    rbm_outputs.save_model(mdir, mconfig, state, mrecords[-1]['epoch'],
                           label_units, dataset)
    rbm_outputs.write_figures(
        mdir, mconfig, state, dataset, label_units, jax.random.fold_in(key, i),
        flips, records=[r for r in mrecords if r.get('kind') != 'eval'])
    members.append(summary)
  workdir_lib.write_json(workdir, 'summary.json',
                         {'kind': 'rbm_population', 'members': members})
  density_figure(workdir, members)
  print(member_table(members))
  return members


def density_figure(workdir: str, members: list[dict]) -> str | None:
  """figures/density.png: every member's density over the epochs."""
  from experiments import figures  # pylint: disable=g-import-not-at-top
  curves = {f'm{m["member"]} (p0={m["density0"]:g}, η={m["learning_rate"]:g}, '
            f'seed {m["seed"]})': m['density_curve']
            for m in members if m.get('density_curve')}
  if not curves:
    return None
  epochs = [e for e, _ in next(iter(curves.values()))]
  return figures.line_plot(
      workdir_lib.figure_path(workdir, 'density.png'), epochs,
      {name: [d for _, d in curve] for name, curve in curves.items()},
      xlabel='epoch', ylabel='density', title='connection density per member')


def member_table(members: list[dict]) -> str:
  """One line per member: its grid values, final density, likelihoods."""
  lines = ['member  seed  learning_rate  density0 → density  '
           'test log p (AIS)  test NLL (exact)']
  for m in members:
    head = (f'm{m["member"]:<6} {m["seed"]:>4}  {m["learning_rate"]:>13g}  '
            f'{m["density0"]:>8.3f}')
    if m.get('diverged_epoch'):
      lines.append(f'{head}   diverged at epoch {m["diverged_epoch"]}')
      continue
    ais = m.get('test_log_likelihood_ais')
    exact = m.get('test_nll_exact')
    lines.append(f'{head} → {m["density"]:<7.3f}  '
                 f'{"-" if ais is None else f"{ais:.2f}":>16}  '
                 f'{"-" if exact is None else f"{exact:.3f}":>16}')
  return '\n'.join(lines)


def population_program(config, tconfig, members: int, chunk: int = 0):
  """(epoch, chunked) of a sweep of ``members``, built but not compiled.

  ``chunk`` members per device call (:func:`chunked_epoch`), or all of them
  laid out over the devices: minibatches over ``train.data_shards`` of
  them, the members over the rest (or over all when data_shards is 1). Its
  checks (chunk, data shards against the devices and the batch size) raise
  here, before the workdir is written.
  """
  check(isinstance(chunk, int) and chunk >= 0,
        f'--chunk must be an integer >= 0, got {chunk}')
  batch_size = config.train.batch_size
  epoch_fn = train_lib.make_epoch(tconfig, batch_size, population=True)
  if 0 < chunk < members:
    return chunked_epoch(epoch_fn, chunk, members), True
  data_shards = config.train.get('data_shards', 1)
  if data_shards > 1:  # members x minibatches over a 2-D mesh
    rbm_setup.check_data_shards(batch_size, data_shards)
    return distributed.data_parallel(
        tconfig, batch_size, distributed.make_mesh(
            max(jax.device_count() // data_shards, 1), data_shards),
        population=True), False
  if jax.device_count() > 1:  # members over a ('member',) mesh, padded
    return distributed.shard_members(epoch_fn, distributed.member_mesh()), False
  return epoch_fn, False


def run_sweep(config, workdir, grid, chunk: int = 0) -> None:
  """Trains, checkpoints and evaluates the population ``grid`` of ``config``.

  ``chunk`` > 0 trains that many members per device call
  (:func:`chunked_epoch`) for populations larger than device memory;
  otherwise, with several devices, the members are laid out over all of
  them (:func:`ncg.distributed.shard_members`).
  """
  try:
    return _run_sweep(config, workdir, grid, chunk)
  finally:
    workdir_lib.release(workdir)  # the workdir lock (workdir.lock) ends with the run


def _run_sweep(config, workdir, grid, chunk: int = 0) -> None:
  # SIGTERM/SIGINT: stop at an epoch's end; after the last, once every file is written
  stop = preemption.StopSignals().install()
  run = rbm_setup.resolve_run(config)
  dataset, label_units, tconfig, train_x, _ = run
  batch_size = config.train.batch_size

  keys = jax.vmap(jax.random.key)(jnp.asarray(grid['seed']))
  split = jax.vmap(lambda k: jax.random.split(k, 4))(keys)
  key_init, key_chains, key_epochs = split[:, 0], split[:, 1], split[:, 2]
  key_figures = split[0, 3]
  lrs = jnp.asarray(grid['learning_rate'], jnp.float32)
  ratio = tconfig.resolved_strength_learning_rate / tconfig.learning_rate
  densities = jnp.asarray(grid['density0'], jnp.float32)

  # before allocating: the population, or (chunked) one member at a time
  rbm_setup.check_fits_memory(config, train_lib.make_trainer(tconfig), train_x,
                            label_units, 1 if 0 < chunk < len(lrs) else len(lrs))

  def init_member(key, density):
    return rbm_setup.initial_state(config, train_x, label_units, key, density)

  states = jax.vmap(init_member)(key_init, densities)
  density_initial = np.asarray(jax.vmap(rbm.density)(states))
  trainer = train_lib.make_trainer(tconfig)
  opt_states = jax.vmap(trainer.init, in_axes=(0, 0, None, 0, 0))(
      states, key_chains, batch_size, lrs, ratio * lrs)

  members = len(grid['seed'])
  # Built (not compiled) here: its checks come before anything is written.
  epoch_fn, chunked = population_program(config, tconfig, members, chunk)
  config = config.copy_and_resolve_references()
  with config.unlocked():
    config.sweep = grid
  workdir_lib.prepare(workdir, config, rbm_setup.growable_fields(config))
  template = {'state': states, 'opt_state': opt_states, 'epoch': jnp.asarray(0),
              'diverged_epoch': jnp.zeros(len(grid['seed']), jnp.int32)}

  def restore(manager):
    step, tree = workdir_lib.restore_checkpoint(manager, template)
    return None if step is None else (int(tree['epoch']), tree)
  # resuming=True: a sweep drops whatever metrics its workdir holds past the
  # checkpoint (all of them without one), fresh or not
  resumed = run_loop.resume(workdir, True, config.train.epochs, restore)
  tree = template if resumed.tree is None else resumed.tree
  guard = divergence.PopulationGuard(tree['diverged_epoch'], grid)
  start = resumed.epoch
  if resumed.complete:
    stop.uninstall()
    print(rbm_setup.already_complete(workdir, start))
    return
  if resumed.tree is not None:
    states, opt_states = tree['state'], tree['opt_state']
    print(run_loop.resuming_line(workdir, start))
  checkpoints = run_loop.Checkpoints(resumed.manager, config.train, start)

  if not chunked:
    epoch_fn = epoch_fn.lower(
        states, opt_states, train_x, key_epochs).compile()  # time epochs only
  states, opt_states = _population_epochs(
      config, workdir, run, grid, stop, checkpoints, guard, (epoch_fn, chunked),
      key_epochs, start, states, opt_states)
  epochs = config.train.epochs
  if run_loop.stopped_early(stop, checkpoints.saved, epochs, workdir):
    return
  for line in guard.report():
    print(line)
  if not guard.alive.any():
    stop.uninstall()
    raise Diverged(f'every member of the sweep diverged (NaN or Inf); the '
                   f'likely cause is learning rates too large; see {workdir}')
  write_members(workdir, config, grid, states, opt_states, dataset,
                label_units, key_figures, guard.diverged_epoch, density_initial)
  print(f'Outputs in {workdir}: config.json, metrics.jsonl (one line per member '
        'and epoch), checkpoints/, summary.json, figures/density.png, '
        'members/m<i>/ (summary.json, model/, figures/connectivity.png)')
  stop.uninstall()
  if stop.requested:  # it came after the last epoch: every file is written
    print(stop.finished_message(workdir))


def _population_epochs(config, workdir, run: rbm_setup.RunData, grid, stop,
                       checkpoints, guard, program, key_epochs, start: int,
                       states, opt_states):
  """The epochs after ``start``, until the last or a signal: (states, opt_states).

  Each epoch: the population's epoch (``program``: the epoch and whether it
  is chunked), the divergence guard, the exact NLL curve when due, one
  metrics line per member when logged, the checkpoint when due.
  """
  epoch_fn, chunked = program
  dataset, label_units, _, train_x, held_x = run
  members = len(grid['seed'])
  n_free = config.train.free_energy_examples
  gap = jax.jit(jax.vmap(train_lib.free_energy_gap, in_axes=(0, None, None)))
  test_x = rbm_setup.visible_data(dataset.test.x, dataset.test.y, label_units)
  exact_nll = (exact_nll_fn(jax.tree.map(lambda a: a[0], states), label_units,
                            train_x, test_x) if config.eval.every else None)
  epochs = config.train.epochs
  for epoch in tqdm.tqdm(range(start + 1, epochs + 1), initial=start,
                         total=epochs, desc=f'sweep of {members}', unit='epoch',
                         disable=None):  # no bar when stderr is not a terminal
    if stop.requested:
      break
    began = time.perf_counter()
    epoch_keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(key_epochs, epoch)
    previous = (states, opt_states)
    states, opt_states, metrics = epoch_fn(states, opt_states, train_x, epoch_keys)
    states, opt_states = guard.update(epoch, (states, opt_states), previous,
                                      metrics)
    if chunked:  # the population lives on the host between chunked calls
      states, opt_states = jax.device_get((states, opt_states))
    jax.block_until_ready(states)
    seconds = time.perf_counter() - began
    gaps = gap(states, train_x[:n_free], held_x[:n_free])
    curve = {}
    if exact_nll is not None and epoch % config.eval.every == 0:
      train_nll, test_nll = exact_nll(states)
      curve = {'train_nll_exact': np.asarray(train_nll),
               'test_nll_exact': np.asarray(test_nll)}
    logged = (epoch % config.train.log_every == 0 or epoch == epochs or curve)
    for i in range(members if logged else 0):
      record = {'epoch': epoch, 'member': i,
                **{name: values[i] for name, values in grid.items()},
                **{name: np.asarray(value)[i]
                   for name, value in metrics._asdict().items()},
                'free_energy_gap': np.asarray(gaps)[i], 'seconds': seconds,
                **{name: values[i] for name, values in curve.items()}}
      workdir_lib.append_metrics(workdir, guard.annotate(record, i))
    checkpoints.at_end_of(epoch, epoch == epochs, stop, lambda: {
        'state': states, 'opt_state': opt_states, 'epoch': jnp.asarray(epoch),
        'diverged_epoch': jnp.asarray(guard.diverged_epoch)})
  return states, opt_states

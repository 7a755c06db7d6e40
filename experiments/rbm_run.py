"""The loop of one RBM run (experiments/train.py; its baseline, experiments/beside.py).

Config → data set, trainer settings and initial state (experiments/rbm_setup.py);
restore-or-start and the checkpoint schedule (experiments/run_loop.py); the
epoch loop with metrics, checkpoints (resume; ``train.epochs`` may grow to
extend a finished run, whose plain rerun does nothing), divergence, signals;
then the outputs (experiments/rbm_outputs.py): model/, figures, the final
evaluation with the starting point's for comparison, summary.json and the
headline. Every public name of rbm_setup and rbm_outputs is also a name
here (``rbm_run.load_trained`` …). The absl flags live in the entry points;
the measurements in experiments/evaluation.py.
"""

from __future__ import annotations

import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import tqdm

from experiments import divergence
from experiments import evaluation as evaluation_lib
from experiments import preemption
from experiments import rbm_setup
from experiments import run_loop
from experiments import sinks
from experiments import workdir as workdir_lib
# Re-exported: what the sweep, evaluate and the studies call rbm_run.X.
from experiments.rbm_outputs import (  # pylint: disable=unused-import
    MODEL_DIR, Model, TrainedRun, evaluate_during_training, evaluate_start,
    flip_record, load_model, load_trained, save_model, summary_record,
    write_figures, write_summary)
from experiments.rbm_setup import (  # pylint: disable=unused-import
    NEEDS_PATH, RunData, already_complete, check_fits_memory, epoch_program,
    growable_fields, initial_state, load_dataset, resolve_density_from,
    resolve_run, train_config, visible_data)
from ncg import distributed
from ncg import rbm
from ncg import train as train_lib
from ncg.errors import Diverged


def _checkpoint_tree(state, opt_state, epoch):
  return {'state': state, 'opt_state': opt_state, 'epoch': jnp.asarray(epoch)}


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> bool:
  """Trains (or resumes) the run of ``config`` in ``workdir``; True when the
  run is complete and no signal asked to stop (False: stopped by a signal;
  rerunning the same command goes on, so experiments/train.py then starts no
  baseline).

  SIGTERM/SIGINT stop it after the current epoch with a checkpoint (and one
  line saying so); after the last epoch they let it write every output
  first (model/, figures, summary.json), then stop with one line; NaN/Inf raise :class:`ncg.errors.Diverged` after making
  sure the last finite epoch is checkpointed (experiments/preemption.py,
  experiments/divergence.py).
  """
  try:
    return _train_and_evaluate(config, workdir)
  finally:
    workdir_lib.release(workdir)  # the workdir lock (workdir.lock) ends with the run


class _Keys(NamedTuple):
  """The run's keys, split once from ``train.seed``."""
  init: jax.Array
  chains: jax.Array
  epochs: jax.Array
  figures: jax.Array


def _train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> bool:
  stop = preemption.StopSignals().install()
  config = resolve_density_from(config)
  run = resolve_run(config)
  keys = _Keys(*jax.random.split(jax.random.key(config.train.seed), 4))
  trainer = train_lib.make_trainer(run.train_config)
  check_fits_memory(config, trainer, run.train_x, run.label_units)  # before allocating
  state = initial_state(config, run.train_x, run.label_units, keys.init)
  opt_state = trainer.init(state, keys.chains, config.train.batch_size)
  # Built (not compiled) here: its checks (data shards against the devices
  # and the batch size) come before anything is written.
  epoch_fn, mesh, feed = epoch_program(config, run.train_config, run.train_x)
  # Every check of the config has passed: only now is the workdir touched.
  resuming = workdir_lib.prepare(workdir, config, growable_fields(config))

  def restore(manager):  # a gated run's checkpoint may be narrower (train.hidden)
    step, tree = workdir_lib.restore_checkpoint(manager, rbm_setup.checkpoint_template(
        run.train_config, _checkpoint_tree(state, opt_state, 0), manager))
    return None if step is None else (int(tree['epoch']), tree)
  resumed = run_loop.resume(workdir, resuming, config.train.epochs, restore)
  start = resumed.epoch
  if resumed.complete:
    stop.uninstall()
    print(already_complete(workdir, start))
    return True
  if resumed.tree is not None:
    state, opt_state = resumed.tree['state'], resumed.tree['opt_state']
    print(run_loop.resuming_line(workdir, start))

  # Compiled ahead of the loop so that each epoch's wall time is training only
  # (again when a gated run's hidden units leave the arrays: train.hidden).
  def compiled(state, opt_state):
    if mesh is not None:
      # A restored state sits on one device: replicate it on the mesh (a
      # resume may change train.data_shards, workdir.RESUMABLE_CHANGES).
      state, opt_state = jax.device_put(
          (state, opt_state), distributed.replicated(mesh))
    return state, opt_state, program.lower(state, opt_state, feed(keys.epochs),
                                           keys.epochs).compile()
  program = epoch_fn
  state, opt_state, epoch_fn = compiled(state, opt_state)
  checkpoints = run_loop.Checkpoints(resumed.manager, config.train, start)
  state, opt_state = _epochs(config, workdir, run, stop, checkpoints,
                             (epoch_fn, feed, compiled), keys, start, state,
                             opt_state)
  epochs = config.train.epochs
  saved = checkpoints.saved

  def save_stopped_model():  # the state of the last epoch run, just checkpointed
    if saved:
      save_model(workdir, config, train_lib.effective_model(
          run.train_config, state, opt_state.hidden), saved, run.label_units, run.dataset)
  if run_loop.stopped_early(stop, saved, epochs, workdir, save_stopped_model):
    return False
  # The handlers stay installed to the last file: a signal from here on is
  # honoured once model/, the figures and summary.json are written.
  _write_outputs(config, workdir, run, keys, state, opt_state)
  stop.uninstall()
  if stop.requested:  # the run is complete; the command stops here
    print(stop.finished_message(workdir))
    return False
  return True


def _epochs(config, workdir, run: RunData, stop, checkpoints, program, keys,
            start: int, state, opt_state):
  """The epochs after ``start``, until the last or a signal: (state, opt_state).

  Each epoch: the compiled ``program`` (epoch, feed), its metrics line, the
  divergence check (Diverged after checkpointing the last finite state), the
  evaluation when due, the checkpoint when due.
  """
  epoch_fn, feed, compiled = program
  batch_size = config.train.batch_size
  examples_per_epoch = (len(run.train_x) // batch_size) * batch_size
  epochs = config.train.epochs
  bar = tqdm.tqdm(range(start + 1, epochs + 1), initial=start, total=epochs,
                  desc='train', unit='epoch', dynamic_ncols=True,
                  disable=None)  # None: no bar when stderr is not a terminal
  for epoch in bar:
    if stop.requested:
      break
    began = time.perf_counter()
    previous = (state, opt_state)
    key_epoch = jax.random.fold_in(keys.epochs, epoch)
    state, opt_state, m = epoch_fn(state, opt_state, feed(key_epoch), key_epoch)
    jax.block_until_ready(state)
    seconds = time.perf_counter() - began
    state, opt_state, removed = train_lib.remove_units(run.train_config, state, opt_state)
    if removed:  # train.hidden='gated': units at θ = 0 leave the arrays
      state, opt_state, epoch_fn = compiled(state, opt_state)
    model = train_lib.gated_model(run.train_config, state, opt_state.hidden)
    record = _epoch_record(config, run, epoch, model, m, seconds,
                           examples_per_epoch)
    bad = divergence.nonfinite({'state': state, 'opt_state': opt_state,
                                'metrics': record})
    if bad:
      bar.close()
      stop.uninstall()
      if checkpoints.saved < epoch - 1:  # keep the last finite state
        checkpoints.save(epoch - 1, _checkpoint_tree(*previous, epoch - 1))
      raise Diverged(divergence.message(epoch, bad, config.train.learning_rate,
                                        checkpoints.saved or None, workdir))
    workdir_lib.append_metrics(workdir, record)
    _histograms(workdir, state, epoch)
    bar.set_postfix(recon=f'{float(m.reconstruction_error):.1f}',
                    density=f'{float(m.density):.3f}',
                    added=int(m.added), removed=int(m.removed))
    every = config.eval.every
    if (every and epoch % every == 0) or (config.eval.final and epoch == epochs):
      evaluation = evaluate_during_training(
          config, model, run.dataset, run.label_units,
          jax.random.fold_in(keys.figures, epoch), final=epoch == epochs,
          workdir=workdir)
      workdir_lib.append_metrics(workdir, {'epoch': epoch, 'kind': 'eval',
                                           **evaluation})
      bar.write(f'epoch {epoch}: ' + evaluation_lib.summary_line(evaluation))
    checkpoints.at_end_of(epoch, epoch == epochs, stop,
                          lambda: _checkpoint_tree(state, opt_state, epoch))
  bar.close()
  return state, opt_state


def _epoch_record(config, run: RunData, epoch: int, state, m, seconds: float,
                  examples_per_epoch: int) -> dict:
  """An epoch's metrics line (``m``: its EpochMetrics)."""
  n_free = config.train.free_energy_examples
  return {
      'epoch': epoch,
      'reconstruction_error': m.reconstruction_error,
      'added': m.added, 'removed': m.removed, 'density': m.density,
      'mean_abs_weight': m.mean_abs_weight,
      'effective_density': m.effective_density,
      'near_threshold': m.near_threshold,
      'free_energy_gap': train_lib.free_energy_gap(
          state, run.train_x[:n_free], run.held_x[:n_free]),
      'seconds': seconds, 'examples_per_s': examples_per_epoch / seconds,
      'hidden_units': m.hidden_units,
      **swap_record(m),
  }


def swap_record(m) -> dict:
  """{'swap_rates': [accepted / proposed per neighbouring pair of the parallel-tempering
  ladder]} of an epoch's metrics, or {} for CD and PCD (a scalar 0 there)."""
  rates = np.asarray(m.swap_rates)
  return {'swap_rates': [float(r) for r in rates]} if rates.ndim else {}


def _write_outputs(config, workdir, run: RunData, keys, state, opt_state) -> None:
  """model/, the figures, the starting point's evaluation, summary.json and
  the headline of a finished run."""
  label_units, dataset = run.label_units, run.dataset
  save_model(workdir, config, train_lib.effective_model(  # the units on (train.hidden)
      run.train_config, state, opt_state.hidden), config.train.epochs, label_units, dataset)
  state = train_lib.gated_model(run.train_config, state, opt_state.hidden)
  write_figures(workdir, config, state, dataset, label_units, keys.figures,
                opt_state.flips)
  extra = flip_record(opt_state.flips, label_units)
  if config.eval.final:  # the headline compares with the starting point
    extra.update(evaluate_start(
        config, initial_state(config, run.train_x, label_units, keys.init),
        dataset, label_units, jax.random.fold_in(keys.figures, 0)))
  summary = write_summary(workdir, config, extra)
  print(f'Outputs in {workdir}: config.json, metrics.jsonl, summary.json, '
        f'model/, checkpoints/, figures/ ({workdir_lib.figure_path(workdir, "")})')
  print(evaluation_lib.headline(summary))


def _histograms(workdir: str, state: rbm.RBMState, epoch: int) -> None:
  """The strengths α and the present weights as TensorBoard histograms
  (only when a sink is on: experiments/sinks.py)."""
  sinks.histogram(workdir, 'strength', state.strength, epoch)
  sinks.histogram(workdir, 'weight_present',
                  lambda: np.asarray(state.W)[np.asarray(rbm.mask(state)) > 0],
                  epoch)

"""The logic of an RBM run, shared by experiments/train.py and experiments/sweep.py.

Config → data set, trainer settings and initial state; the epoch loop with
metrics, checkpoints (resume; ``train.epochs`` may grow to extend a finished
run, whose plain rerun does nothing), figures, the final evaluation with the
starting point's for comparison, and the headline; :func:`save_model` (the
model alone, ``workdir/model``, :mod:`ncg.checkpoint`), :func:`load_model`
(without data) and :func:`load_trained` (with it). The absl flags live in the
entry points; the measurements in experiments/evaluation.py.
"""

from __future__ import annotations

import json
import os
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import tqdm

from experiments import config_checks
from experiments import divergence
from experiments import evaluation as evaluation_lib
from experiments import preemption
from experiments import sinks
from experiments import workdir as workdir_lib
from ncg import analytics
from ncg import checkpoint as checkpoint_lib
from ncg import data as data_lib
from ncg import distributed
from ncg import modes
from ncg import precision
from ncg import rbm
from ncg import train as train_lib
from ncg.errors import Diverged, InputError, check


class TrainedRun(NamedTuple):
  """A workdir's model as last checkpointed, with the data it was trained on.

  Attributes:
    config: the run's config.
    state: the RBM; with labels, the last ``label_units`` visible units are
      the one-hot labels.
    dataset: the data set as the run loaded it (x without label units).
    epoch: epochs completed at the checkpoint.
    label_units: number of label units (0 for a plain RBM).
  """
  config: ml_collections.ConfigDict
  state: rbm.RBMState
  dataset: data_lib.Dataset
  epoch: int
  label_units: int


def train_config(config: ml_collections.ConfigDict, label_units: int,
                 num_train: int | None = None) -> train_lib.TrainConfig:
  """The static trainer settings of a run config (validated).

  ``num_train`` (the training examples) turns RigL's ``train.rewire_until``,
  a fraction of the run's steps, into a step count.
  """
  t = config.train
  check(0 <= t.rewire_until <= 1,
        f'train.rewire_until must be a fraction of the run in [0, 1], got '
        f'{t.rewire_until}')
  steps = (num_train // t.batch_size) * t.epochs if num_train else 0
  check(t.epochs >= 1, f'train.epochs must be >= 1, got {t.epochs}')
  check(t.checkpoint_every >= 1,
        f'train.checkpoint_every must be >= 1, got {t.checkpoint_every}')
  return train_lib.TrainConfig(
      k=t.k, persistent=t.persistent, connectivity=t.connectivity,
      learning_rate=t.learning_rate,
      strength_learning_rate=t.strength_learning_rate,
      optimizer=t.optimizer, momentum=t.momentum, label_units=label_units,
      rng=t.rng, rewire_fraction=t.rewire_fraction,
      rewire_every=t.rewire_every,
      # only a mode whose schedule spans the run (RigL) reads it; 0 elsewhere
      # keeps the compiled epoch independent of train.epochs (an extended run
      # reuses it)
      rewire_until=(int(t.rewire_until * steps)
                    if modes.MODES[t.connectivity].spans_run else 0),
      new_weight_scale=t.new_weight_scale, l1_penalty=t.l1_penalty,
      magnitude_threshold=t.magnitude_threshold, hysteresis=t.hysteresis,
      strength_rule=t.get('strength_rule', 'reference'),
      reconstruction=t.get('reconstruction', True),
      matmul_precision=t.get('matmul_precision', 'default'))


# data set → what --config.data.path must name (ncg.data.SOURCES' needs_path)
NEEDS_PATH = {name: source.needs_path for name, source in data_lib.SOURCES.items()
              if source.needs_path}


def load_dataset(config: ml_collections.ConfigDict) -> data_lib.Dataset:
  """The run's data set, checked to be binary and to fit the model."""
  d = config.data
  check(d.path or d.name not in NEEDS_PATH,
        f'data set {d.name!r} needs its files: pass --config.data.path='
        f'{NEEDS_PATH.get(d.name, "PATH")}, or set NCG_DATA to a directory '
        'laid out as mnist/ (IDX files) and uci/mushrooms.libsvm')
  dataset = data_lib.load(
      d.name, path=d.path or None, binarization=d.binarization, seed=d.seed,
      validation_size=d.validation_size,
      bars_size=d.bars_size,
      bars_reference_set=d.get('bars_reference_set', False))
  check(data_lib.is_binary(dataset.train.x),
        f'data set {d.name!r} is not binary (binarization={d.binarization!r}); '
        'an RBM needs {0,1} data: use stochastic or threshold binarization')
  num_visible = config.model.num_visible
  check(num_visible in (None, dataset.num_features),
        f'model.num_visible={num_visible} does not match the '
        f'{dataset.num_features} features of data set {d.name!r}')
  if config.model.labels:
    check(dataset.num_classes > 0,
          f'model.labels needs a labelled data set; {d.name!r} has no labels')
  return dataset


def visible_data(x: np.ndarray, y: np.ndarray, label_units: int) -> jax.Array:
  """x (N, D), with one-hot labels appended when the RBM has label units."""
  if not label_units:
    return jnp.asarray(x)
  return jnp.concatenate([jnp.asarray(x), jax.nn.one_hot(y, label_units)], axis=1)


def initial_state(config: ml_collections.ConfigDict, train_x: jax.Array,
                  label_units: int, key: jax.Array,
                  density: float | jax.Array | None = None) -> rbm.RBMState:
  """A fresh RBM for the run (labels always connected).

  ``density`` overrides ``config.model.density`` (it may be traced, so
  experiments/sweep.py vmaps this over a population); 'dense' runs use 1.
  """
  m = config.model
  check(m.num_hidden >= 1, f'model.num_hidden must be >= 1, got {m.num_hidden}')
  check(0.0 <= m.density <= 1.0, f'model.density must be in [0, 1], got {m.density}')
  if config.train.connectivity in train_lib.DENSE_MODES:
    density = 1.0
  elif density is None:
    density = m.density
  state = rbm.init(
      key, train_x.shape[1], m.num_hidden, density=density,
      weight_init=m.weight_init, weight_scale=m.weight_scale,
      visible_bias=(rbm.base_rate_visible_bias(train_x)
                    if m.base_rate_bias else None))
  return train_lib.connect_label_units(state, label_units)


class RunData(NamedTuple):
  """What a config resolves to before any model exists.

  Attributes:
    dataset: the loaded, checked data set.
    label_units: one-hot label units of a joint RBM (0 otherwise).
    train_config: the static trainer settings.
    train_x, held_x: visible data (labels appended when label_units > 0) of
      the training and held-out splits, on the device.
  """
  dataset: data_lib.Dataset
  label_units: int
  train_config: train_lib.TrainConfig
  train_x: jax.Array
  held_x: jax.Array


def resolve_run(config: ml_collections.ConfigDict) -> RunData:
  """Loads and checks everything a run of ``config`` needs (InputError if not)."""
  config_checks.check_config(config, config_checks.RBM_RULES)
  dataset = load_dataset(config)
  label_units = dataset.num_classes if config.model.labels else 0
  tconfig = train_config(config, label_units, len(dataset.train.x))
  batch_size = config.train.batch_size
  check(1 <= batch_size <= len(dataset.train.x),
        f'train.batch_size={batch_size} must be in [1, {len(dataset.train.x)}] '
        f'(the training set of {dataset.name!r})')
  held = dataset.held_out
  return RunData(dataset, label_units, tconfig,
                 visible_data(dataset.train.x, dataset.train.y, label_units),
                 visible_data(held.x, held.y, label_units))


def _checkpoint_tree(state, opt_state, epoch):
  return {'state': state, 'opt_state': opt_state, 'epoch': jnp.asarray(epoch)}


MODEL_DIR = 'model'  # workdir/model: the last model alone (ncg.checkpoint)


class Model(NamedTuple):
  """A workdir's model without its data: config, state, epoch, label units."""
  config: ml_collections.ConfigDict
  state: rbm.RBMState
  epoch: int
  label_units: int


def save_model(directory: str, config: ml_collections.ConfigDict,
               state: rbm.RBMState, epoch: int, label_units: int,
               dataset: data_lib.Dataset) -> str:
  """directory/model: the RBM alone (:func:`ncg.checkpoint.save`), with its
  config, epoch, label layout and the data's shape as metadata. Several
  hosts: written by process 0 alone (the path is returned on every one)."""
  if not distributed.is_writer():
    return os.path.abspath(os.path.join(directory, MODEL_DIR))
  return checkpoint_lib.save(
      os.path.join(directory, MODEL_DIR), state,
      {'kind': 'rbm', 'epoch': int(epoch), 'label_units': int(label_units),
       'num_features': int(dataset.num_features),
       'image_shape': (None if dataset.image_shape is None
                       else list(dataset.image_shape)),
       'num_classes': int(dataset.num_classes), 'dataset': dataset.name,
       'config': workdir_lib.config_to_dict(config)})


def _check_fits(state: rbm.RBMState, config: ml_collections.ConfigDict,
                where: str) -> None:
  check(state.W.ndim == 2 and state.W.shape[1] == config.model.num_hidden,
        f'{where} does not fit this run: an RBM of shape {tuple(state.W.shape)} '
        f'against model.num_hidden={config.model.num_hidden} in config.json')


def load_model(workdir: str, member: int | None = None) -> Model:
  """A workdir's latest model, restored without its data set.

  Reads ``workdir/model`` (written by :func:`save_model` at the end of a run
  or when it stops) when it is at least as new as the latest training
  checkpoint; otherwise the latest checkpoint's ``state`` (restored without
  a template, so neither data nor trainer are rebuilt). ``member`` picks one
  member of a sweep's stacked population (its ``members/m<i>/model``).
  """
  config = workdir_lib.load_config(workdir)
  directory = workdir if member is None else os.path.join(
      workdir, 'members', f'm{member}')
  manager = workdir_lib.checkpoint_manager(workdir)
  step = manager.latest_step()
  path = os.path.join(directory, MODEL_DIR)
  if os.path.isfile(os.path.join(path, checkpoint_lib.METADATA_FILE)):
    saved = checkpoint_lib.read_metadata(path)
    if step is None or saved.get('epoch', -1) >= step:
      state, meta = checkpoint_lib.load(path)
      _check_fits(state, config, path)
      return Model(config, state, int(meta['epoch']), int(meta['label_units']))
  check(step is not None, f'no checkpoint in {workdir}: train it first')
  tree = workdir_lib.restore_raw(manager, step)
  try:
    arrays = {name: jnp.asarray(tree['state'][name])
              for name in rbm.RBMState._fields}
    epoch = int(np.asarray(tree['epoch']))
  except (KeyError, TypeError, IndexError):
    raise InputError(f'checkpoint {step} in {workdir} does not fit this run '
                     '(it holds no RBM state)') from None
  if member is not None:
    arrays = {name: a[member] for name, a in arrays.items()}
  state = rbm.RBMState(**arrays)
  _check_fits(state, config, f'checkpoint {step} in {workdir}')
  label_units = 0
  if config.model.labels:  # checkpoints older than model/: ask the data
    label_units = load_dataset(config).num_classes
  return Model(config, state, epoch, label_units)


def load_trained(workdir: str, member: int | None = None) -> TrainedRun:
  """The latest model of a workdir (:func:`load_model`) with its data set."""
  model = load_model(workdir, member)
  config = model.config
  if member is not None:
    config = config.copy_and_resolve_references()
    with config.unlocked():
      config.train.seed = model.config.sweep.seed[member]
      config.train.learning_rate = model.config.sweep.learning_rate[member]
      config.model.density = model.config.sweep.density0[member]
  dataset = load_dataset(config)
  check(model.state.num_visible == dataset.num_features + model.label_units,
        f'the model in {workdir} has {model.state.num_visible} visible units, '
        f'the data set {dataset.name!r} {dataset.num_features} features')
  return TrainedRun(config, model.state, dataset, model.epoch, model.label_units)


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


def _train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> bool:
  stop = preemption.StopSignals().install()
  config = resolve_density_from(config)
  dataset, label_units, tconfig, train_x, held_x = resolve_run(config)
  batch_size = config.train.batch_size
  n_free = config.train.free_energy_examples
  key = jax.random.key(config.train.seed)
  key_init, key_chains, key_epochs, key_figures = jax.random.split(key, 4)
  trainer = train_lib.make_trainer(tconfig)
  check_fits_memory(config, trainer, train_x, label_units)  # before allocating
  state = initial_state(config, train_x, label_units, key_init)
  opt_state = trainer.init(state, key_chains, batch_size)
  # Built (not compiled) here: its checks (data shards against the devices
  # and the batch size) come before anything is written.
  epoch_fn, mesh, feed = epoch_program(config, tconfig, train_x)
  # Every check of the config has passed: only now is the workdir touched.
  resuming = workdir_lib.prepare(workdir, config, growable_fields(config))

  manager = workdir_lib.checkpoint_manager(workdir)
  step, tree = workdir_lib.restore_checkpoint(
      manager, _checkpoint_tree(state, opt_state, 0))
  start = 0
  if step is not None:
    state, opt_state, start = tree['state'], tree['opt_state'], int(tree['epoch'])
    if start >= config.train.epochs and os.path.isfile(
        os.path.join(workdir, 'summary.json')):
      stop.uninstall()
      print(already_complete(workdir, start))
      return True
    workdir_lib.truncate_metrics(workdir, lambda r: r.get('epoch', 0) <= start)
    print(f'Resuming {workdir} after epoch {start}.')
  elif resuming:
    workdir_lib.truncate_metrics(workdir, lambda r: False)

  # Compiled ahead of the loop so that each epoch's wall time is training only.
  if mesh is not None:
    # A restored state sits on one device: replicate it on the mesh (a
    # resume may change train.data_shards, workdir.RESUMABLE_CHANGES).
    state, opt_state = jax.device_put(
        (state, opt_state), distributed.replicated(mesh))
  epoch_fn = epoch_fn.lower(state, opt_state, feed(key_epochs),
                            key_epochs).compile()
  examples_per_epoch = (len(train_x) // batch_size) * batch_size
  epochs = config.train.epochs
  schedule = preemption.CheckpointSchedule(config.train.checkpoint_every,
                                          config.train.checkpoint_minutes)
  saved = start  # the epoch of the newest checkpoint
  bar = tqdm.tqdm(range(start + 1, epochs + 1), initial=start, total=epochs,
                  desc='train', unit='epoch', dynamic_ncols=True,
                  disable=None)  # None: no bar when stderr is not a terminal
  for epoch in bar:
    if stop.requested:
      break
    began = time.perf_counter()
    previous = (state, opt_state)
    key_epoch = jax.random.fold_in(key_epochs, epoch)
    state, opt_state, m = epoch_fn(state, opt_state, feed(key_epoch), key_epoch)
    jax.block_until_ready(state)
    seconds = time.perf_counter() - began
    record = {
        'epoch': epoch,
        'reconstruction_error': m.reconstruction_error,
        'added': m.added, 'removed': m.removed, 'density': m.density,
        'mean_abs_weight': m.mean_abs_weight,
        'effective_density': m.effective_density,
        'near_threshold': m.near_threshold,
        'free_energy_gap': train_lib.free_energy_gap(
            state, train_x[:n_free], held_x[:n_free]),
        'seconds': seconds, 'examples_per_s': examples_per_epoch / seconds,
    }
    bad = divergence.nonfinite({'state': state, 'opt_state': opt_state,
                                'metrics': record})
    if bad:
      bar.close()
      stop.uninstall()
      if saved < epoch - 1:  # keep the last finite state
        workdir_lib.save_checkpoint(manager, epoch - 1,
                                    _checkpoint_tree(*previous, epoch - 1))
        saved = epoch - 1
      raise Diverged(divergence.message(epoch, bad, config.train.learning_rate,
                                        saved or None, workdir))
    workdir_lib.append_metrics(workdir, record)
    _histograms(workdir, state, epoch)
    bar.set_postfix(recon=f'{float(m.reconstruction_error):.1f}',
                    density=f'{float(m.density):.3f}',
                    added=int(m.added), removed=int(m.removed))
    every = config.eval.every
    if (every and epoch % every == 0) or (config.eval.final and epoch == epochs):
      evaluation = evaluate_during_training(
          config, state, dataset, label_units,
          jax.random.fold_in(key_figures, epoch), final=epoch == epochs,
          workdir=workdir)
      workdir_lib.append_metrics(workdir, {'epoch': epoch, 'kind': 'eval',
                                           **evaluation})
      bar.write(f'epoch {epoch}: ' + evaluation_lib.summary_line(evaluation))
    if schedule.due(epoch, last=epoch == epochs) or stop.requested:
      workdir_lib.save_checkpoint(manager, epoch,
                                  _checkpoint_tree(state, opt_state, epoch))
      schedule.saved()
      saved = epoch
  bar.close()
  if stop.requested and saved < epochs:
    if saved:  # the state of the last epoch run, which was just checkpointed
      save_model(workdir, config, state, saved, label_units, dataset)
    stop.uninstall()
    print(stop.message(saved, workdir))
    return False

  # The handlers stay installed to the last file: a signal from here on is
  # honoured once model/, the figures and summary.json are written.

  save_model(workdir, config, state, epochs, label_units, dataset)
  write_figures(workdir, config, state, dataset, label_units, key_figures,
                opt_state.flips)
  extra = flip_record(opt_state.flips, label_units)
  if config.eval.final:  # the headline compares with the starting point
    extra.update(evaluate_start(
        config, initial_state(config, train_x, label_units, key_init), dataset,
        label_units, jax.random.fold_in(key_figures, 0)))
  summary = write_summary(workdir, config, extra)
  print(f'Outputs in {workdir}: config.json, metrics.jsonl, summary.json, '
        f'model/, checkpoints/, figures/ ({workdir_lib.figure_path(workdir, "")})')
  print(evaluation_lib.headline(summary))
  stop.uninstall()
  if stop.requested:  # the run is complete; the command stops here
    print(stop.finished_message(workdir))
    return False
  return True


def check_fits_memory(config: ml_collections.ConfigDict, trainer,
                      train_x: jax.Array, label_units: int,
                      members: int = 1) -> None:
  """InputError, before anything is allocated, when the RBM (``members`` of
  them) and its training state cannot fit the free memory
  (:func:`experiments.config_checks.check_memory`: the size asked, what fits)."""
  def build(key):
    state = initial_state(config, train_x, label_units, key)
    return state, trainer.init(state, key, config.train.batch_size)
  one = jax.eval_shape(build, jax.random.key(0))
  config_checks.check_memory(
      [one] * members, 'model.num_hidden', config.model.num_hidden,
      f'an RBM of {train_x.shape[1]} visible units' if members == 1 else
      f'a population of {members} RBMs of {train_x.shape[1]} visible units')


def epoch_program(config: ml_collections.ConfigDict,
                  tconfig: train_lib.TrainConfig, train_x: jax.Array):
  """(epoch, mesh or None, feed) of a run, built but not compiled.

  ``train.data_shards`` > 1 spreads each minibatch over that many devices
  (:func:`ncg.distributed.data_parallel`); its checks (enough devices, a
  batch size they divide, on several processes every device) raise here,
  before the workdir is written. ``feed(key)`` is what the epoch reads: the
  data set on the device, or on several processes each host's rows.
  """
  batch_size = config.train.batch_size
  data_shards = config.train.get('data_shards', 1)
  if data_shards <= 1:
    return train_lib.make_epoch(tconfig, batch_size), None, lambda key: train_x
  check(data_shards <= jax.device_count(),
        f'train.data_shards={data_shards} needs {data_shards} devices; '
        f'{jax.device_count()} available')
  check(batch_size % data_shards == 0,
        f'train.batch_size={batch_size} is not a multiple of '
        f'train.data_shards={data_shards}')
  if jax.process_count() > 1:
    check(data_shards == jax.device_count(),
          f'train.data_shards={data_shards} must be the {jax.device_count()} '
          f'devices of the {jax.process_count()} processes')
  mesh = distributed.make_mesh(1, data_shards)
  epoch_fn = distributed.data_parallel(tconfig, batch_size, mesh)
  if jax.process_count() == 1:
    return epoch_fn, mesh, lambda key: train_x
  host_x = np.asarray(train_x)  # several hosts: each loads its rows only
  return epoch_fn, mesh, lambda key: distributed.host_minibatches(
      key, host_x, batch_size, mesh)


def already_complete(workdir: str, epochs: int) -> str:
  """What a rerun of a finished run prints (it trains and redraws nothing)."""
  return (f'{workdir} is already complete ({epochs} epochs): nothing to do. '
          'To train further, rerun with a larger --config.train.epochs; to '
          f'evaluate: ncg-evaluate --workdir={workdir}')


def growable_fields(config: ml_collections.ConfigDict) -> tuple[str, ...]:
  """Config fields a finished run may grow on resume: ``train.epochs``.

  Not for a mode whose schedule spans the run (``Mode.spans_run``: RigL, whose
  drop fraction decays over a fraction of the run's steps,
  ``train.rewire_until``): more epochs would change the past schedule.
  """
  return (() if modes.MODES[config.train.connectivity].spans_run
          else ('train.epochs',))


def evaluate_start(config: ml_collections.ConfigDict, state: rbm.RBMState,
                   dataset: data_lib.Dataset, label_units: int,
                   key: jax.Array) -> dict:
  """The run's starting point measured as the final model is: ``start_*`` fields.

  AIS with ``config.eval``'s settings on the initial state (rebuilt from the
  run's seed), for the headline's comparison; no probe and no figures.
  """
  e = config.eval
  record = evaluation_lib.evaluate(
      key, state, dataset, label_units=label_units, ais_runs=e.ais_runs,
      ais_temperatures=e.ais_temperatures, probe=False, pl_examples=200,
      exact_max_log2=20)
  names = ('test_log_likelihood_ais', 'test_log_likelihood_ais_low',
           'test_log_likelihood_ais_high', 'test_log_likelihood_exact',
           'density')
  return {f'start_{name}': evaluation_lib.json_safe(record.get(name))
          for name in names}


def flip_record(flips, label_units: int) -> dict:
  """The run's flip statistics (:func:`ncg.analytics.flip_statistics`), prefixed."""
  return {f'flips_{name}': value for name, value in
          analytics.flip_statistics(flips, label_units).items()}


def summary_record(config: ml_collections.ConfigDict, records: list[dict],
                   extra: dict | None = None) -> dict:
  """A run's summary from its metrics records (epoch lines and eval lines).

  Settings, the last epoch's connectivity, totals of added/removed
  connections, and the last evaluation's likelihoods and accuracies (None
  where the run did not evaluate); ``extra`` is merged in last.
  """
  epochs = [r for r in records if r.get('kind') != 'eval']
  evals = [r for r in records if r.get('kind') == 'eval']
  last, evaluation = epochs[-1], (evals[-1] if evals else {})
  t, m = config.train, config.model
  dense = t.connectivity in train_lib.DENSE_MODES
  return {
      'kind': 'rbm', 'dataset': config.data.name,
      'connectivity': t.connectivity,
      'density0': 1.0 if dense else m.density,
      'density_from': m.get('density_from') or None,
      'density': last['density'],
      'effective_density': last.get('effective_density'),
      'near_threshold': last.get('near_threshold'),
      'num_hidden': m.num_hidden, 'weight_init': m.weight_init,
      'weight_scale': m.weight_scale, 'base_rate_bias': m.base_rate_bias,
      'k': t.k, 'persistent': t.persistent,
      'learning_rate': t.learning_rate,
      'strength_learning_rate': (5 * t.learning_rate
                                 if t.strength_learning_rate is None
                                 else t.strength_learning_rate),
      **modes.recorded_settings(t.connectivity, t),  # None for other modes
      'magnitude_threshold': t.magnitude_threshold,
      'hysteresis': t.hysteresis,
      'strength_rule': t.get('strength_rule', 'reference'),
      'bars_reference_set': bool(config.data.get('bars_reference_set', False)),
      'epochs': last['epoch'],
      'seed': t.seed, 'labels': m.labels,
      'added_last_epoch': last['added'], 'removed_last_epoch': last['removed'],
      'added_total': int(sum(r['added'] for r in epochs)),
      'removed_total': int(sum(r['removed'] for r in epochs)),
      'seconds_per_epoch': float(np.median([r['seconds'] for r in epochs])),
      'evaluated_epoch': evaluation.get('epoch'),
      **evaluation_lib.summary_fields(evaluation),
      'environment': precision.environment(),
      **(extra or {}),
  }


def write_summary(workdir: str, config: ml_collections.ConfigDict,
                  extra: dict | None = None) -> dict:
  """workdir/summary.json (:func:`summary_record`), for RESULTS.md."""
  summary = summary_record(config, workdir_lib.read_metrics(workdir), extra)
  workdir_lib.write_json(workdir, 'summary.json', summary)
  return summary


def resolve_density_from(config: ml_collections.ConfigDict
                         ) -> ml_collections.ConfigDict:
  """Sets model.density to the final density of the run ``model.density_from``.

  The two-stage baseline: a fixed/SET/RigL run "at NCG's final density" reads
  it from an NCG run's summary.json (a file, or a workdir holding one; a
  sweep's summary gives the mean over its members). The config returned
  records both the path and the density it read.
  """
  source = config.model.get('density_from') or ''
  if not source:
    return config
  path = os.path.join(source, 'summary.json') if os.path.isdir(source) else source
  check(os.path.isfile(path),
        f'model.density_from={source!r}: no summary.json there (finish that run first)')
  try:
    with open(path) as f:
      summary = json.load(f)
    if 'members' in summary:
      densities = [m['density'] for m in summary['members'] if 'density' in m]
      check(densities, f'model.density_from={source!r}: every member diverged')
      density = float(np.mean(densities))  # diverged members have none
    else:
      density = float(summary['density'])
  except (OSError, ValueError, KeyError, TypeError) as error:
    raise InputError(f'model.density_from={source!r}: cannot read a final '
                     f'density from {path} ({error})') from None
  config = config.copy_and_resolve_references()
  config.model.density = round(density, 6)
  return config


def evaluate_during_training(config: ml_collections.ConfigDict,
                             state: rbm.RBMState, dataset: data_lib.Dataset,
                             label_units: int, key: jax.Array, *, final: bool,
                             workdir: str) -> dict:
  """experiments.evaluate's measurements with the run's (cheaper) AIS settings.

  The AIS settings used are part of the returned record (``ais_runs``,
  ``ais_temperatures``). Evaluations during training skip the linear probe and
  use fewer pseudo-likelihood examples; the final one is complete and writes
  its figures as figures/train_eval_*.png (up to 64 chains from noise and as
  many from test data, ``config.figures.gibbs_steps`` sweeps).
  """
  e, f = config.eval, config.figures
  cheap = {} if final else dict(probe=False, pl_examples=200, exact_max_log2=20)
  record = evaluation_lib.evaluate(
      key, state, dataset, label_units=label_units, ais_runs=e.ais_runs,
      ais_temperatures=e.ais_temperatures, figure_prefix='train_eval',
      figures_dir=workdir_lib.figure_path(workdir, '') if final else None,
      sample_chains=min(64, f.num_samples), sample_steps=f.gibbs_steps, **cheap)
  return {name: evaluation_lib.json_safe(value) for name, value in record.items()}


def _histograms(workdir: str, state: rbm.RBMState, epoch: int) -> None:
  """The strengths α and the present weights as TensorBoard histograms
  (only when a sink is on: experiments/sinks.py)."""
  sinks.histogram(workdir, 'strength', state.strength, epoch)
  sinks.histogram(workdir, 'weight_present',
                  lambda: np.asarray(state.W)[np.asarray(rbm.mask(state)) > 0],
                  epoch)


def write_figures(workdir: str, config: ml_collections.ConfigDict,
                  state: rbm.RBMState, dataset: data_lib.Dataset,
                  label_units: int, key: jax.Array, flips=None,
                  records: list[dict] | None = None) -> None:
  """Samples, filters and the connectivity figure as PNGs in workdir/figures.

  Samples: ``figures.num_samples`` chains from noise after
  ``figures.gibbs_steps`` sweeps, shown as p(v | h) of their last state.
  Filters: the effective weights (W ⊙ A) of the first hidden units.
  connectivity.png: :func:`experiments.connectivity.connectivity_figure`
  (visible degree image, hidden degrees, unit masks, added/removed and
  density per epoch, flip counts). ``records`` default to the workdir's
  epoch lines.
  """
  from experiments import connectivity  # pylint: disable=g-import-not-at-top
  from experiments import figures  # pylint: disable=g-import-not-at-top
  from ncg import sampling  # pylint: disable=g-import-not-at-top

  f = config.figures
  features = dataset.num_features
  if dataset.image_shape is not None:
    key_start, key_chain, key_mean = jax.random.split(key, 3)
    noise = sampling.random_visible(key_start, f.num_samples, state.num_visible)
    if label_units:
      noise = noise.at[:, features:].set(
          jax.nn.one_hot(jnp.arange(f.num_samples) % label_units, label_units))
    chains = jax.jit(sampling.sample_chains, static_argnums=(3, 4))(
        key_chain, state, noise, f.gibbs_steps, label_units)
    samples = sampling.mean_field_image(key_mean, state, chains)[:, :features]
    figures.image_grid(workdir_lib.figure_path(workdir, 'samples.png'),
                       np.asarray(samples), dataset.image_shape,
                       title=f'samples after {f.gibbs_steps} Gibbs sweeps')
    filters = np.asarray(rbm.effective_weights(state)[:features, :64].T)
    figures.image_grid(workdir_lib.figure_path(workdir, 'filters.png'),
                       filters, dataset.image_shape, symmetric=True,
                       per_image=True, cell_inches=1.0, dpi=150,
                       title='filters W ⊙ A of the first 64 hidden units '
                       '(each scaled to its own max |w|)')

  if records is None:
    records = [r for r in workdir_lib.read_metrics(workdir)
               if r.get('kind') != 'eval' and 'density' in r]
  connectivity.connectivity_figure(
      workdir_lib.figure_path(workdir, 'connectivity.png'), state, flips,
      records, dataset.image_shape, label_units,
      title=f'{config.train.connectivity}: density '
            f'{float(rbm.density(state)):.3f} after {len(records)} epochs')
  for name in ('samples', 'filters', 'connectivity'):
    sinks.image(workdir, f'figures/{name}',
                workdir_lib.figure_path(workdir, f'{name}.png'), len(records))

"""What an RBM run writes and reads back, shared by the run, the sweep and
``evaluate``.

:func:`save_model` (the model alone, ``workdir/model``, :mod:`ncg.checkpoint`),
:func:`load_model` (without data) and :func:`load_trained` (with it); the
summary (:func:`summary_record`, :func:`write_summary`, :func:`flip_record`);
the evaluations during training and of the starting point
(experiments/evaluation.py measures); the figures.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from experiments import evaluation as evaluation_lib
from experiments import rbm_setup
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
from ncg.errors import InputError, check


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
  """The model's H is model.num_hidden, or at most that when the run learns
  its hidden units (train.hidden other than 'fixed': the units off deleted)."""
  learned = config.train.get('hidden', 'fixed') != 'fixed'
  fits = state.W.ndim == 2 and (
      state.W.shape[1] <= config.model.num_hidden if learned
      else state.W.shape[1] == config.model.num_hidden)
  check(fits, f'{where} does not fit this run: an RBM of shape {tuple(state.W.shape)} '
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
  hidden = (tree.get('opt_state') or {}).get('hidden')
  if hidden is not None and np.ndim(hidden) == 1 and member is None:
    state = train_lib.effective_model(
        train_lib.TrainConfig(**rbm_setup.hidden_settings(config.train)), state, hidden)
  _check_fits(state, config, f'checkpoint {step} in {workdir}')
  label_units = 0
  if config.model.labels:  # checkpoints older than model/: ask the data
    label_units = rbm_setup.load_dataset(config).num_classes
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
  dataset = rbm_setup.load_dataset(config)
  check(model.state.num_visible == dataset.num_features + model.label_units,
        f'the model in {workdir} has {model.state.num_visible} visible units, '
        f'the data set {dataset.name!r} {dataset.num_features} features')
  return TrainedRun(config, model.state, dataset, model.epoch, model.label_units)


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
      **summary_tempering(t, last),
      'learning_rate': t.learning_rate,
      'strength_learning_rate': (5 * t.learning_rate
                                 if t.strength_learning_rate is None
                                 else t.strength_learning_rate),
      **modes.recorded_settings(t.connectivity, t),  # None for other modes
      'magnitude_threshold': t.magnitude_threshold,
      'hysteresis': t.hysteresis,
      'strength_rule': t.get('strength_rule', 'reference'),
      **summary_hidden(t, last),
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


def summary_tempering(t: ml_collections.ConfigDict, last: dict) -> dict:
  """summary.json's negative-phase fields: ``temperatures`` (K rungs of the
  parallel-tempering ladder; 1 for CD and PCD), ``beta_min`` and the last
  epoch's ``swap_rates`` (accepted / proposed per neighbouring pair, K − 1
  values) for PT, None otherwise (docs/ncg.md §7)."""
  rungs = int(t.get('temperatures', 1) or 1)
  pt = bool(t.persistent) and rungs > 1
  rates = last.get('swap_rates') if pt else None
  return {'temperatures': rungs if pt else 1,
          'beta_min': float(t.beta_min) if pt else None,
          'swap_rates': [float(r) for r in np.ravel(rates)] if rates is not None else None}


def summary_hidden(t: ml_collections.ConfigDict, last: dict) -> dict:
  """summary.json's hidden-unit fields: ``hidden`` (train.hidden) and
  ``hidden_units``, the units on after the last epoch (its metrics line: H
  for 'fixed'; None in metrics written before the field)."""
  return {'hidden': t.get('hidden', 'fixed'),
          'hidden_units': last.get('hidden_units')}


def write_summary(workdir: str, config: ml_collections.ConfigDict,
                  extra: dict | None = None) -> dict:
  """workdir/summary.json (:func:`summary_record`), for RESULTS.md."""
  summary = summary_record(config, workdir_lib.read_metrics(workdir), extra)
  workdir_lib.write_json(workdir, 'summary.json', summary)
  return summary


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

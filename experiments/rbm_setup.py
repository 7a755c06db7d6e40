"""What an RBM run resolves before any model exists, shared by the run
(experiments/rbm_run.py), the sweep (experiments/sweep_run.py) and the readers.

Config → the data set (checked binary and fitting the model; ``NEEDS_PATH``
from :data:`ncg.data.SOURCES`), the static trainer settings, the visible
data, a fresh RBM, the memory check before allocating, the compiled-to-be
epoch program of the device layout, the fields a finished run may grow, the
two-stage baseline's ``model.density_from``, and the line of a rerun of a
finished run.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from experiments import config_checks
from experiments import workdir as workdir_lib
from ncg import data as data_lib
from ncg import distributed
from ncg import modes
from ncg import rbm
from ncg import train as train_lib
from ncg.errors import InputError, check


def _spans_run(connectivity: str) -> bool:
  """``Mode.spans_run`` of a mode (False for an unknown name: TrainConfig
  refuses it with the list of modes)."""
  mode = modes.MODES.get(connectivity)
  return mode is not None and mode.spans_run


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
                    if _spans_run(t.connectivity) else 0),
      new_weight_scale=t.new_weight_scale, l1_penalty=t.l1_penalty,
      magnitude_threshold=t.magnitude_threshold, hysteresis=t.hysteresis,
      strength_rule=t.get('strength_rule', 'reference'),
      reconstruction=t.get('reconstruction', True),
      matmul_precision=t.get('matmul_precision', 'default'),
      temperatures=t.get('temperatures', 1), beta_min=t.get('beta_min', 0.1),
      **hidden_settings(t))


# train.<field> → TrainConfig's default, for configs written before the field
HIDDEN_DEFAULTS = {f.name: f.default for f in dataclasses.fields(train_lib.TrainConfig)
                   if f.name.startswith('hidden')}


def hidden_settings(t: ml_collections.ConfigDict) -> dict:
  """The TrainConfig's hidden-unit fields of ``config.train`` (``train.hidden``
  and its settings; an older config without them: 'fixed')."""
  return {name: t.get(name, default) for name, default in HIDDEN_DEFAULTS.items()}


def checkpoint_template(tconfig: train_lib.TrainConfig, like, manager):
  """The tree to restore the latest checkpoint into: ``like`` ({'state',
  'opt_state', …} at the start's width) cut to the checkpoint's width when the
  run removes hidden units (``train.hidden='gated'``: its arrays shrink)."""
  step = manager.latest_step()
  if step is None or train_lib.HIDDEN[tconfig.hidden].alive is None:
    return like
  width = np.shape(workdir_lib.restore_raw(manager, step)['state']['W'])[-1]
  if width == like['state'].W.shape[-1]:
    return like
  state, opt_state = train_lib.keep_training_units(like['state'], like['opt_state'],
                                                   np.arange(width))
  return {**like, 'state': state, 'opt_state': opt_state}


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
  dataset = data_lib.load(d.name, **data_lib.options_from(d))
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


def check_data_shards(batch_size: int, data_shards: int) -> None:
  """InputError unless ``data_shards`` devices exist and divide the batch
  (a run's and a sweep's minibatches over ``train.data_shards`` devices)."""
  check(data_shards <= jax.device_count(),
        f'train.data_shards={data_shards} needs {data_shards} devices; '
        f'{jax.device_count()} available')
  check(batch_size % data_shards == 0,
        f'train.batch_size={batch_size} is not a multiple of '
        f'train.data_shards={data_shards}')


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
  check_data_shards(batch_size, data_shards)
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

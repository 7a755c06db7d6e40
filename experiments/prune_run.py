"""The logic of a parsimonious-network run (experiments/prune.py is its absl main).

Config → data set, start architecture, trainer config and schedule
(:func:`resolve_run`); the epoch loop with metrics, checkpoints and resume
(:func:`train_and_evaluate`, the one place where epochs are run); the summary
and the figure. A checkpoint holds the architecture (widths and gather) with
the training state, so resuming reads nothing but the checkpoint.
"""

from __future__ import annotations

import functools
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
from experiments import preemption
from experiments import workdir as workdir_lib
from ncg import checkpoint as checkpoint_lib
from ncg import data as data_lib
from ncg.errors import Diverged, check
from ncg.parsimonious import analysis
from ncg.parsimonious import complexity
from ncg.parsimonious import models
from ncg.parsimonious import shrink as shrink_lib
from ncg.parsimonious import train as train_lib
from ncg.parsimonious.architecture import Architecture

SUMMARY_FILE = 'summary.json'
MODEL_DIR = 'model'   # the final network alone (ncg.checkpoint), with its architecture


class RunSetup(NamedTuple):
  """What a config resolves to before any model exists.

  Attributes:
    dataset: the loaded data set (grey levels).
    start: the full-width gated architecture.
    trainer_config: the trainer's static settings (``train.method_config``:
      the method's pinned fields set).
    schedule: epochs, batches, shrinking and the (optional) decision epoch.
    theta_init: initial θ (or L0 keep probability; the dense method starts
      every gate at 1 whatever it is).
  """
  dataset: data_lib.Dataset
  start: Architecture
  trainer_config: train_lib.Config
  schedule: train_lib.Schedule
  theta_init: float


def load_dataset(config: ml_collections.ConfigDict) -> data_lib.Dataset:
  """The run's grey-level data set (``data.validation_size`` unset: the data set's default)."""
  d = config.data
  return data_lib.load(d.name, path=d.path or None, binarization='none',
                       validation_size=d.validation_size)


def start_architecture(config: ml_collections.ConfigDict,
                       dataset: data_lib.Dataset) -> Architecture:
  """The full-width gated network of the config (its kind from ``models.KINDS``)."""
  net = config.model.net
  check(net in models.KINDS, f'unknown model.net {net!r}; choose one of {tuple(models.KINDS)}')
  check(dataset.num_classes > 0, f'data set {dataset.name!r} has no labels')
  return models.KINDS[net].start(tuple(int(w) for w in config.model.widths),
                                 dataset.num_features, dataset.image_shape,
                                 dataset.num_classes)


def mac_prices(arch: Architecture) -> tuple[float, ...]:
  """Per group, the MACs one unit costs (removing it from the start network),
  relative to a unit of the last group (a dense hidden unit)."""
  base = complexity.macs(arch)
  share = []
  for g in range(len(arch.widths)):
    widths = list(arch.widths)
    widths[g] -= 1
    share.append(base - models.kind(arch).macs(arch._replace(widths=tuple(widths))))
  return tuple(s / share[-1] for s in share)


# train.price → the per-group multipliers s_g of λ/N for an architecture.
PRICES = {'unit': lambda arch: (1.0,) * len(arch.widths), 'macs': mac_prices}


def penalty_scale(config: ml_collections.ConfigDict, arch: Architecture) -> tuple[float, ...]:
  """``train.penalty_scale`` if set, else the row of :data:`PRICES` named by ``train.price``."""
  t = config.train
  if len(t.penalty_scale):
    return tuple(float(s) for s in t.penalty_scale)
  check(t.price in PRICES, f'unknown train.price {t.price!r}; choose one of {tuple(PRICES)}')
  return PRICES[t.price](arch)


def method_name(config: ml_collections.ConfigDict) -> str:
  """``train.method``, with the older spelling ``train.gated=False`` of 'dense' resolved."""
  t = config.train
  if t.get('gated', True):
    return t.method
  check(t.method in ('bernoulli', 'dense'),
        'train.gated=False is the dense network of the bernoulli method')
  return 'dense'


def resolve_run(config: ml_collections.ConfigDict) -> RunSetup:
  """Loads and checks everything a run of ``config`` needs (InputError if not)."""
  config_checks.check_config(config, config_checks.PRUNE_RULES)
  dataset = load_dataset(config)
  arch = start_architecture(config, dataset)
  t = config.train
  num_train = len(dataset.train.x)
  check(t.epochs >= 1, f'train.epochs must be >= 1, got {t.epochs}')
  check(1 <= t.batch_size <= num_train,
        f'train.batch_size must be in [1, {num_train}], got {t.batch_size}')
  check(0 <= t.decide_epoch < t.epochs,
        f'train.decide_epoch must be in [0, train.epochs), got {t.decide_epoch}')
  check(0 <= t.grace_epochs < t.epochs,
        f'train.grace_epochs must be in [0, train.epochs), got {t.grace_epochs}')
  check(t.decide_epoch == 0 or t.decide_epoch > t.grace_epochs,
        'train.decide_epoch must come after the grace period')
  check(t.chunk_steps >= 1, f'train.chunk_steps must be >= 1, got {t.chunk_steps}')
  check(0 <= t.shrink_fraction <= 1,
        f'train.shrink_fraction must be in [0, 1], got {t.shrink_fraction}')
  check(0 < t.theta_init <= 1, f'train.theta_init must be in (0, 1], got {t.theta_init}')
  check(t.theta_decay_epochs > 0,
        f'train.theta_decay_epochs must be > 0, got {t.theta_decay_epochs}')
  steps = num_train // t.batch_size   # the schedule's epochs in steps
  tconfig = train_lib.method_config(train_lib.Config(
      learning_rate=float(t.learning_rate), theta_learning_rate=float(t.theta_learning_rate),
      penalty=float(t.penalty), penalty_scale=penalty_scale(config, arch),
      prior_variance=float(t.prior_variance), num_train=num_train,
      method=method_name(config), estimator=t.estimator, theta_optimizer=t.theta_optimizer,
      theta_decay_steps=float(t.theta_decay_epochs * steps),
      theta_decay_power=float(t.theta_decay_power),
      grace_steps=int(t.grace_epochs * steps), decide_step=int(t.decide_epoch * steps),
      decay_steps=(t.epochs * steps if t.cosine_decay else 0),
      coupled_prior=bool(t.coupled_prior), theta_averaging=float(t.theta_averaging),
      explore=float(t.explore), sharpness=float(t.get('sharpness', 0.0)),
      sharpness_final=float(t.get('sharpness_final', 1.0)),
      sharpness_end_step=int(t.epochs * steps)))
  train_lib.validate(tconfig, arch)
  check(t.init_scheme in models.INIT_GAINS,
        f'unknown train.init_scheme {t.init_scheme!r}; choose one of {tuple(models.INIT_GAINS)}')
  check(t.init_scale > 0, f'train.init_scale must be > 0, got {t.init_scale}')
  schedule = train_lib.Schedule(int(t.epochs), int(t.batch_size), int(t.chunk_steps),
                                float(t.shrink_fraction), int(t.decide_epoch))
  return RunSetup(dataset, arch, tconfig, schedule, float(t.theta_init))


def _checkpoint_tree(arch: Architecture, state: train_lib.TrainState, epoch: int) -> dict:
  return {'architecture': {'widths': np.asarray(arch.widths, np.int32),
                           'gather': np.asarray(arch.gather, np.int32)},
          'epoch': np.asarray(epoch, np.int32),
          'state': {'step': state.step, 'params': state.params, 'opt_state': state.opt_state}}


def restore(manager, start: Architecture, trainer: train_lib.Trainer, num_inputs: int,
            theta_init: float) -> tuple[Architecture, train_lib.TrainState, int]:
  """(architecture, state, epoch) of the latest checkpoint, from the checkpoint alone."""
  step = manager.latest_step()
  raw = manager.restore(step, args=workdir_lib.ocp.args.StandardRestore())
  arch = start._replace(widths=tuple(int(w) for w in raw['architecture']['widths']),
                        gather=tuple(int(i) for i in raw['architecture']['gather']))
  like = trainer.init(jax.random.key(0), arch, num_inputs, theta_init)
  template = _checkpoint_tree(arch, like, 0)
  _, tree = workdir_lib.restore_checkpoint(manager, template, step)
  # the template's exact tree structure (tuples stay tuples), so the compiled
  # steps of the run that wrote the checkpoint are reused instead of recompiled
  # (and uncommitted arrays, like freshly computed ones: no cache miss either)
  tree = jax.tree.unflatten(jax.tree.structure(template),
                            [jnp.asarray(np.asarray(x)) for x in jax.tree.leaves(tree)])
  s = tree['state']
  return arch, train_lib.TrainState(s['step'], s['params'], s['opt_state']), int(tree['epoch'])


def error_record(dataset: data_lib.Dataset, config: train_lib.Config, arch: Architecture,
                 params: dict) -> dict:
  """Test error of the deterministic network, and validation error when examples are held out."""
  out = {'test_error': train_lib.error_rate(arch, config, params, jnp.asarray(dataset.test.x),
                                            jnp.asarray(dataset.test.y))}
  if len(dataset.valid.x):
    out['validation_error'] = train_lib.error_rate(arch, config, params,
                                                   jnp.asarray(dataset.valid.x),
                                                   jnp.asarray(dataset.valid.y))
  return out


def cost_record(arch: Architecture) -> dict:
  """Widths, MACs, FLOPs and parameters of an architecture."""
  return {'widths': list(arch.widths), 'macs': complexity.macs(arch),
          'flops': complexity.flops(arch), 'params': complexity.num_params(arch)}


def kept_architecture(arch: Architecture, config: train_lib.Config, thetas,
                      final: bool = False) -> Architecture:
  """The units alive now (final=False: θ > 0, the arrays may still hold θ = 0
  units waiting for the next shrink) or the deterministic network's (final=True)."""
  if final:
    keep = shrink_lib.kept_units(arch, train_lib.final_gates(config, thetas))
  else:
    keep = train_lib.removable_units(arch, config, thetas)
  return shrink_lib.shrunk_architecture(arch, keep)


def plot_widths(workdir: str, records: list[dict], group_names) -> None:
  """figures/widths.png: units alive per group, undecided gates, epoch wall time."""
  from experiments import figures  # pylint: disable=g-import-not-at-top
  epochs = [r['epoch'] for r in records]
  widths = np.array([r['alive']['widths'] for r in records])
  figures.line_plot(workdir_lib.figure_path(workdir, 'widths.png'), epochs,
                    {name: widths[:, g] for g, name in enumerate(group_names)},
                    xlabel='epoch', ylabel='units alive (θ > 0)', logy=True)


def _arch_text(widths) -> str:
  return '-'.join(map(str, widths))


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str,
                       stop_after_epochs: int = 0) -> dict | None:
  """Trains (or resumes) the run of ``config`` in ``workdir``; returns the summary.

  ``stop_after_epochs`` > 0 stops (as if preempted) once that many epochs are
  checkpointed and returns None.
  """
  stop = preemption.StopSignals().install()  # SIGTERM/SIGINT: stop at an epoch's end
  setup = resolve_run(config)
  dataset, start, tconfig, schedule, theta_init = setup
  trainer = train_lib.make_trainer(tconfig)
  init_key, train_key = jax.random.split(jax.random.key(config.train.seed))
  num_inputs = dataset.num_features
  state = trainer.init(init_key, start, num_inputs, theta_init, config.train.init_scheme,
                       config.train.init_scale)
  arch = start
  # Every check of the config has passed: only now is the workdir touched.
  resuming = workdir_lib.prepare(workdir, config)
  manager = workdir_lib.checkpoint_manager(workdir)
  epoch = 0
  if resuming and manager.latest_step() is not None:
    arch, state, epoch = restore(manager, start, trainer, num_inputs, theta_init)
    summary_path = os.path.join(workdir, SUMMARY_FILE)
    if epoch >= schedule.epochs and os.path.isfile(summary_path):
      stop.uninstall()
      print(f'{workdir} is already complete ({epoch} epochs): nothing to do '
            f'(see {summary_path})')
      return workdir_lib.read_json(summary_path)
    workdir_lib.truncate_metrics(workdir, lambda r: r.get('epoch', 0) <= epoch)
    print(f'resuming {workdir} after epoch {epoch}: widths {arch.widths}')
  elif resuming:
    workdir_lib.truncate_metrics(workdir, lambda r: False)

  x, y = jnp.asarray(dataset.train.x), jnp.asarray(dataset.train.y)
  errors = functools.partial(error_record, dataset, tconfig)

  def record(epoch, arch, state, seconds=0.0, info=None) -> dict:
    thetas = state.params['theta']
    probabilities = train_lib.gate_probabilities(tconfig, thetas)
    return {'epoch': epoch, 'train_seconds': seconds,
            **({} if info is None else {'train_loss': info.loss, 'shrinks': info.shrinks}),
            'undecided_units': train_lib.undecided(probabilities),
            **errors(arch, state.params),
            'alive': cost_record(kept_architecture(arch, tconfig, thetas)),
            'computed': cost_record(arch),
            'final': cost_record(kept_architecture(arch, tconfig, thetas, final=True)),
            'theta_histogram': train_lib.theta_histogram(probabilities)}

  if epoch == 0:
    workdir_lib.append_metrics(workdir, record(0, arch, state))
    workdir_lib.save_checkpoint(manager, 0, _checkpoint_tree(arch, state, 0))

  steps_per_epoch = len(dataset.train.x) // schedule.batch_size
  for epoch in range(epoch + 1, schedule.epochs + 1):
    if stop.requested or (stop_after_epochs and epoch > stop_after_epochs):
      stop.uninstall()  # every epoch is checkpointed: epoch - 1 is on disk
      print(stop.message(epoch - 1, workdir) if stop.requested else
            f'stopping after epoch {epoch - 1} (--stop_after_epochs)')
      return None
    bar = tqdm.tqdm(total=steps_per_epoch, desc=f'epoch {epoch}', leave=False,
                    disable=None)  # no bar when stderr is not a terminal
    def on_chunk(done, current):
      bar.update(done - bar.n)
      bar.set_postfix(widths=_arch_text(current.widths))
    began = time.perf_counter()
    arch, state, info = train_lib.run_epoch(trainer, schedule, arch, state, x, y,
                                            jax.random.fold_in(train_key, epoch), epoch,
                                            on_chunk)
    jax.block_until_ready(state.params)
    seconds = time.perf_counter() - began
    bar.close()
    bad = divergence.nonfinite({'params': state.params, 'train_loss': info.loss})
    if bad:
      stop.uninstall()
      raise Diverged(divergence.message(epoch, bad, config.train.learning_rate,
                                        epoch - 1, workdir))
    r = record(epoch, arch, state, seconds, info)
    workdir_lib.append_metrics(workdir, r)
    workdir_lib.save_checkpoint(manager, epoch, _checkpoint_tree(arch, state, epoch))
    decided = ' (θ made deterministic)' if epoch == schedule.decide_epoch else ''
    validation = (f' (validation {100 * r["validation_error"]:.2f}%)'
                  if 'validation_error' in r else '')
    print(f'epoch {epoch}{decided}: alive {_arch_text(r["alive"]["widths"])}, '
          f'{r["undecided_units"]} undecided, test error {100 * r["test_error"]:.2f}%'
          f'{validation}, {seconds:.1f} s')

  stop.uninstall()
  return write_summary(workdir, config, setup, arch, state)


def write_summary(workdir: str, config: ml_collections.ConfigDict, setup: RunSetup,
                  arch: Architecture, state: train_lib.TrainState) -> dict:
  """summary.json: the final deterministic network, its errors and the run's cost."""
  dataset, start, tconfig, schedule, _ = setup
  records = [r for r in workdir_lib.read_metrics(workdir) if 'epoch' in r]
  plot_widths(workdir, records, models.group_names(arch))
  # per-epoch lists: what metrics.jsonl holds (a resumed run whose file was lost
  # has only the epochs since); the final network comes from the state alone
  epochs = [r for r in records if r['epoch'] >= 1]
  probabilities = train_lib.gate_probabilities(tconfig, state.params['theta'])
  method = train_lib.METHODS[tconfig.method]
  delta = None
  if config.analysis.marginal_examples and len(dataset.valid.x) and method.decisions:
    n = config.analysis.marginal_examples
    delta = analysis.decision_agreement(arch, tconfig, state.params,
                                        jnp.asarray(dataset.valid.x[:n]),
                                        jnp.asarray(dataset.valid.y[:n]))
  final_arch, final_state = train_lib.finalize(arch, tconfig, state)
  passes = [1 if r['undecided_units'] == 0 else method.passes for r in epochs]
  computed = [r['computed']['macs'] for r in epochs]
  test_errors = [r['test_error'] for r in epochs]
  summary = {
      'kind': 'parsimonious',
      'net': models.kind(arch).summary_name(start),
      'method': tconfig.method,
      'start_widths': list(start.widths),
      'final_widths': list(final_arch.widths),
      **error_record(dataset, tconfig, final_arch, final_state.params),
      'test_error_best_epoch': float(min(test_errors, default=1.0)),   # test-selected: comparability only
      'macs': complexity.macs(final_arch),
      'flops': complexity.flops(final_arch),
      'params': complexity.num_params(final_arch),
      'epochs': schedule.epochs,
      'seed': int(config.train.seed),
      'undecided_units': train_lib.undecided(probabilities),
      'gates': int(sum(start.widths)),
      'gates_in_arrays': int(sum(arch.widths)),
      'decide_epoch': schedule.decide_epoch,
      'grace_epochs': int(config.train.grace_epochs),
      'gated': method.gated,
      'penalty': float(config.train.penalty),
      'penalty_scale': list(tconfig.penalty_scale),
      'prior_variance': tconfig.prior_variance,
      'coupled_prior': tconfig.coupled_prior,
      'estimator': tconfig.estimator,
      'theta_optimizer': tconfig.theta_optimizer,
      'theta_learning_rate': tconfig.theta_learning_rate,
      'theta_decay_power': tconfig.theta_decay_power,
      'theta_decay_epochs': float(config.train.theta_decay_epochs),
      'theta_averaging': tconfig.theta_averaging,
      'explore': tconfig.explore,
      'sharpness': tconfig.sharpness,
      'sharpness_final': tconfig.sharpness_final,
      'theta_init': float(config.train.theta_init),
      'init_scheme': config.train.init_scheme,
      'init_scale': float(config.train.init_scale),
      'num_train': tconfig.num_train,
      'data': config.data.name,
      'train_seconds': float(sum(r['train_seconds'] for r in epochs)),
      'train_seconds_per_epoch': [r['train_seconds'] for r in epochs],
      'alive_macs_per_epoch': [r['alive']['macs'] for r in epochs],
      'computed_macs_per_epoch': computed,
      'undecided_per_epoch': [r['undecided_units'] for r in epochs],
      'test_error_per_epoch': test_errors,
      # forward-pass MAC-epochs: per-example MACs of the arrays × passes per step
      'train_mac_epochs': float(sum(p * c for p, c in zip(passes, computed))),
      'dense_mac_epochs': float(schedule.epochs * complexity.macs(start)),
  }
  if delta is not None:
    summary['decisions'] = delta
  # The final network alone (ncg.checkpoint), its per-unit index lists (the
  # kept inputs) in model/metadata.json rather than in the summary.
  checkpoint_lib.save(os.path.join(workdir, MODEL_DIR), final_state.params, {
      'kind': 'parsimonious', 'architecture': {
          'kind': final_arch.kind, 'widths': list(final_arch.widths),
          'num_classes': final_arch.num_classes, 'gather': list(final_arch.gather)},
      'epoch': schedule.epochs, 'config': workdir_lib.config_to_dict(config)})
  workdir_lib.write_json(workdir, SUMMARY_FILE, summary)
  print(f'final {summary["net"]} {_arch_text(final_arch.widths)}: test error '
        f'{100 * summary["test_error"]:.2f}%, {summary["macs"]} MACs, '
        f'{summary["params"]} params ({summary["undecided_units"]} undecided gates)')
  return summary

"""The logic of a parsimonious-network run (experiments/prune.py is its absl main).

Config → data set, start architecture, trainer config and schedule
(:func:`resolve_run`); the epoch loop with metrics, checkpoints and resume
(:func:`train_and_evaluate`, the one place where epochs are run); the summary
and the figure. A checkpoint holds the architecture (widths and gather) with
the training state, so resuming reads nothing but the checkpoint.
"""

from __future__ import annotations

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
from experiments import run_loop
from experiments import workdir as workdir_lib
from ncg import checkpoint as checkpoint_lib
from ncg import data as data_lib
from ncg.errors import Diverged, InputError, check
from ncg.parsimonious import analysis
from ncg.parsimonious import complexity
from ncg.parsimonious import finetune as finetune_lib
from ncg.parsimonious import local as local_lib
from ncg.parsimonious import models
from ncg.parsimonious import prices as prices_lib
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
      every gate at 1 whatever it is), one value or one per gate group.
    finetune_config: the deterministic phase's trainer config
      (:func:`ncg.parsimonious.finetune.finetune_config`), None without one.
  """
  dataset: data_lib.Dataset
  start: Architecture
  trainer_config: train_lib.Config
  schedule: train_lib.Schedule
  theta_init: float | tuple[float, ...]
  finetune_config: train_lib.Config | None = None

  @property
  def gated_epochs(self) -> int:
    """E − F: the epochs of the gated phase (all of them without a deterministic phase)."""
    return self.schedule.epochs - self.schedule.finetune_epochs

  def phase_config(self, epoch: int) -> train_lib.Config:
    """The trainer config of the state after ``epoch`` epochs (0 = the start)."""
    if self.finetune_config is not None and epoch >= self.gated_epochs:
      return self.finetune_config
    return self.trainer_config


def load_dataset(config: ml_collections.ConfigDict) -> data_lib.Dataset:
  """The run's grey-level data set (``data.validation_size`` unset: the data
  set's default; the data section's other options as the RBM runs read them)."""
  d = config.data
  return data_lib.load(d.name, **data_lib.options_from(d, binarization='none'))


def start_architecture(config: ml_collections.ConfigDict,
                       dataset: data_lib.Dataset) -> Architecture:
  """The full-width gated network of the config (its kind from ``models.KINDS``)."""
  net = config.model.net
  check(net in models.KINDS, f'unknown model.net {net!r}; choose one of {tuple(models.KINDS)}')
  check(dataset.num_classes > 0, f'data set {dataset.name!r} has no labels')
  return models.KINDS[net].start(tuple(int(w) for w in config.model.widths),
                                 dataset.num_features, dataset.image_shape,
                                 dataset.num_classes)


def penalty_scale(config: ml_collections.ConfigDict, arch: Architecture,
                  num_inputs: int) -> tuple[float, ...]:
  """s_g: the row of :data:`ncg.parsimonious.prices.PRICES` named by ``train.price``
  at the start network, times ``train.penalty_scale`` per group if set."""
  t = config.train
  return prices_lib.scales(t.price, arch, num_inputs, t.penalty_scale)


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
  finetune = int(t.get('finetune_epochs', 0))
  warmup = int(t.get('warmup_epochs', 0))
  check(0 <= finetune < t.epochs - t.grace_epochs,
        f'train.finetune_epochs must be in [0, train.epochs - train.grace_epochs), got {finetune}')
  check(t.decide_epoch == 0 or finetune == 0,
        'train.decide_epoch and train.finetune_epochs are two ways to end the gated phase: '
        'set one of them')
  check(0 <= warmup <= t.grace_epochs,
        f'train.warmup_epochs must be in [0, train.grace_epochs], got {warmup}')
  check(t.price in prices_lib.PRICES,
        f'unknown train.price {t.price!r}; choose one of {tuple(prices_lib.PRICES)}')
  theta_init = (tuple(float(v) for v in t.theta_init_per_group)
                if len(t.get('theta_init_per_group', ())) else float(t.theta_init))
  train_lib.initial_gates(theta_init, arch)
  check(t.theta_decay_epochs > 0,
        f'train.theta_decay_epochs must be > 0, got {t.theta_decay_epochs}')
  dropout = tuple(float(r) for r in t.get('dropout', ()))
  method = method_name(config)
  check(not dropout or method == 'dropout' or finetune,
        "train.dropout applies to method 'dropout' and to the deterministic phase "
        '(train.finetune_epochs > 0)')
  check(method != 'dropout' or dropout,
        "method 'dropout' needs train.dropout, one drop rate per gate group")
  steps = num_train // t.batch_size   # the schedule's epochs in steps
  gated_steps = (t.epochs - finetune) * steps
  tconfig = train_lib.method_config(train_lib.Config(
      learning_rate=float(t.learning_rate), theta_learning_rate=float(t.theta_learning_rate),
      penalty=float(t.penalty), penalty_scale=penalty_scale(config, arch, dataset.num_features),
      prior_variance=float(t.prior_variance), num_train=num_train,
      method=method, estimator=t.estimator, theta_optimizer=t.theta_optimizer,
      theta_decay_steps=float(t.theta_decay_epochs * steps),
      theta_decay_power=float(t.theta_decay_power),
      grace_steps=int(t.grace_epochs * steps), decide_step=int(t.decide_epoch * steps),
      decay_steps=(gated_steps if t.cosine_decay else 0),
      coupled_prior=bool(t.coupled_prior), theta_averaging=float(t.theta_averaging),
      explore=float(t.explore), sharpness=float(t.get('sharpness', 0.0)),
      sharpness_final=float(t.get('sharpness_final', 1.0)),
      sharpness_end_step=int(gated_steps),
      price_macs=prices_lib.PRICES[t.price].expected_macs, warmup_steps=warmup * steps,
      gate_rate_factor=float(t.get('gate_rate_factor', train_lib.L0_RATE_FACTOR)),
      gate_clamp=float(t.get('gate_clamp', 0.0)), weight_ema=float(t.get('weight_ema', 0.0)),
      penalty_ramp_steps=int(float(t.get('penalty_ramp_epochs', 0.0)) * steps),
      difference_examples=int(t.get('difference_examples', 0)),
      dropout=dropout if method == 'dropout' else ()))
  train_lib.validate(tconfig, arch)
  finetune_rate = float(t.get('finetune_learning_rate', 0.0))
  check(finetune_rate >= 0, f'train.finetune_learning_rate must be >= 0, got {finetune_rate}')
  fconfig = (finetune_lib.finetune_config(
      tconfig._replace(learning_rate=finetune_rate or tconfig.learning_rate),
      finetune * steps if t.cosine_decay else 0, dropout) if finetune else None)
  if fconfig is not None:
    train_lib.validate(fconfig, arch)
  check(t.init_scheme in models.INIT_GAINS,
        f'unknown train.init_scheme {t.init_scheme!r}; choose one of {tuple(models.INIT_GAINS)}')
  check(t.init_scale > 0, f'train.init_scale must be > 0, got {t.init_scale}')
  schedule = train_lib.Schedule(int(t.epochs), int(t.batch_size), int(t.chunk_steps),
                                float(t.shrink_fraction), int(t.decide_epoch), finetune)
  return RunSetup(dataset, arch, tconfig, schedule, theta_init, fconfig)


def _checkpoint_tree(arch: Architecture, state: train_lib.TrainState, epoch: int) -> dict:
  return {'architecture': {'widths': np.asarray(arch.widths, np.int32),
                           'gather': np.asarray(arch.gather, np.int32)},
          'epoch': np.asarray(epoch, np.int32),
          'state': {'step': state.step, 'params': state.params, 'opt_state': state.opt_state}}


def restore(manager, start: Architecture, trainer: train_lib.Trainer, num_inputs: int,
            theta_init: float) -> tuple[Architecture, train_lib.TrainState, int]:
  """(architecture, state, epoch) of the latest checkpoint, from the checkpoint alone."""
  step = manager.latest_step()
  raw = workdir_lib.restore_raw(manager, step)  # damaged: InputError
  try:
    arch = start._replace(widths=tuple(int(w) for w in raw['architecture']['widths']),
                          gather=tuple(int(i) for i in raw['architecture']['gather']))
  except (KeyError, TypeError, ValueError):
    raise InputError(f'checkpoint {step} in {manager.directory} does not fit this '
                     'run (it holds no architecture of a parsimonious net)') from None
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


def audit_examples(config: ml_collections.ConfigDict, dataset: data_lib.Dataset,
                   tconfig: train_lib.Config):
  """(x, y) of the held-out digits the decisions are audited on, or None (no audit)."""
  n = config.analysis.marginal_examples
  if not (n and len(dataset.valid.x) and train_lib.METHODS[tconfig.method].decisions
          and config.analysis.get('audit_removed', True)):
    return None
  return jnp.asarray(dataset.valid.x[:n]), jnp.asarray(dataset.valid.y[:n])


def merge_audits(audits: list[dict]) -> dict:
  """The removal audits of one epoch's shrinks added up (medians: of the last shrink)."""
  out = dict(audits[-1])
  for key in ('removed', 'agree'):
    out[key] = sum(a[key] for a in audits)
    out[f'{key}_per_group'] = [sum(v) for v in zip(*(a[f'{key}_per_group'] for a in audits))]
  out['shrinks'] = len(audits)
  return out


def decision_record(config: ml_collections.ConfigDict, dataset: data_lib.Dataset,
                    arch: Architecture, tconfig: train_lib.Config,
                    state: train_lib.TrainState) -> dict:
  """{'decisions': the Δ_j check of the gates in the arrays} on held-out digits, or {}."""
  n = config.analysis.marginal_examples
  if not (n and len(dataset.valid.x) and train_lib.METHODS[tconfig.method].decisions):
    return {}
  return {'decisions': analysis.decision_agreement(
      arch, tconfig, train_lib.evaluation_params(tconfig, state),
      jnp.asarray(dataset.valid.x[:n]), jnp.asarray(dataset.valid.y[:n]))}


def train_macs(record: dict, tconfig: train_lib.Config, start: Architecture,
               warmup_epochs: int = 0, batch_size: int = 0) -> float:
  """Forward-pass MACs per example of one epoch's steps (its record): the arrays'
  MACs × the method's passes (1 when the gates are deterministic: every gate
  decided and no exploration, the warm-up, the deterministic phase), plus the
  'local' estimator's exact differences (:func:`local.difference_macs`, one per
  gate draw: two per stochastic step, one per deterministic step)."""
  finetune = record.get('phase') == 'finetune'
  decided = ((record['undecided_units'] == 0 and not tconfig.explore)
             or record['epoch'] <= warmup_epochs)
  passes = 1 if (finetune or decided) else train_lib.METHODS[tconfig.method].passes
  macs = passes * record['computed']['macs']
  if tconfig.estimator == 'local' and not finetune and train_lib.METHODS[tconfig.method].gated:
    widths = record['computed']['widths']
    share = (min(1.0, tconfig.difference_examples / batch_size)
             if tconfig.difference_examples and batch_size else 1.0)
    macs += share * (1 if decided else 2) * local_lib.difference_macs(
        start._replace(widths=tuple(widths)))
  return float(macs)


def _arch_text(widths) -> str:
  return '-'.join(map(str, widths))


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str,
                       stop_after_epochs: int = 0) -> dict | None:
  """Trains (or resumes) the run of ``config`` in ``workdir``; returns the summary.

  ``stop_after_epochs`` > 0 stops (as if preempted) once that many epochs are
  checkpointed and returns None.
  """
  try:
    return _train_and_evaluate(config, workdir, stop_after_epochs)
  finally:
    workdir_lib.release(workdir)  # the workdir lock (workdir.lock) ends with the run


def epoch_record(setup: RunSetup, epoch: int, arch: Architecture,
                 state: train_lib.TrainState, seconds: float = 0.0, info=None,
                 extra: dict | None = None) -> dict:
  """The metrics line of the network ``epoch`` trained (0: the start)."""
  phase = setup.phase_config(max(0, epoch - 1))   # the phase that trained this epoch
  thetas = state.params['theta']
  probabilities = train_lib.gate_probabilities(phase, thetas)
  return {'epoch': epoch, 'train_seconds': seconds,
          'phase': 'finetune' if phase is setup.finetune_config else 'gated',
          **({} if info is None else {'train_loss': info.loss, 'shrinks': info.shrinks}),
          'undecided_units': train_lib.undecided(probabilities),
          **error_record(setup.dataset, phase, arch,
                         train_lib.evaluation_params(phase, state)),
          'alive': cost_record(kept_architecture(arch, phase, thetas)),
          'computed': cost_record(arch),
          'final': cost_record(kept_architecture(arch, phase, thetas, final=True)),
          'theta_histogram': train_lib.theta_histogram(probabilities),
          **(extra or {})}


def _train_and_evaluate(config: ml_collections.ConfigDict, workdir: str,
                       stop_after_epochs: int = 0) -> dict | None:
  stop = preemption.StopSignals().install()  # SIGTERM/SIGINT: stop at an epoch's end
  setup = resolve_run(config)
  dataset, start, tconfig, schedule, theta_init, fconfig = setup
  trainer = train_lib.make_trainer(tconfig)
  finetune_trainer = train_lib.make_trainer(fconfig) if fconfig is not None else None

  def trainer_after(epoch: int) -> train_lib.Trainer:   # the trainer of the state after `epoch`
    return trainer if setup.phase_config(epoch) is tconfig else finetune_trainer
  init_key, train_key = jax.random.split(jax.random.key(config.train.seed))
  num_inputs = dataset.num_features
  # before anything is allocated: the weights and two optimizer moments
  # (float32), a lower bound of what training keeps
  config_checks.check_memory(
      [jax.ShapeDtypeStruct((complexity.num_params(start),), np.float32)] * 3,
      'model.widths', tuple(config.model.widths), f'a {config.model.net} network')
  state = trainer.init(init_key, start, num_inputs, theta_init, config.train.init_scheme,
                       config.train.init_scale)
  arch = start
  # Every check of the config has passed: only now is the workdir touched.
  resuming = workdir_lib.prepare(workdir, config)

  def restore_latest(manager):  # only in a resumed workdir
    step = manager.latest_step()
    if not resuming or step is None:
      return None
    arch, state, epoch = restore(manager, start, trainer_after(step), num_inputs, theta_init)
    return epoch, (arch, state)
  resumed = run_loop.resume(workdir, resuming, schedule.epochs, restore_latest, SUMMARY_FILE)
  manager, epoch = resumed.manager, resumed.epoch
  if resumed.complete:
    summary_path = os.path.join(workdir, SUMMARY_FILE)
    stop.uninstall()
    print(f'{workdir} is already complete ({epoch} epochs): nothing to do '
          f'(see {summary_path})')
    return workdir_lib.read_json(summary_path)
  if resumed.tree is not None:
    arch, state = resumed.tree
    print(f'resuming {workdir} after epoch {epoch}: widths {arch.widths}')

  if epoch == 0:
    workdir_lib.append_metrics(workdir, epoch_record(setup, 0, arch, state))
    workdir_lib.save_checkpoint(manager, 0, _checkpoint_tree(arch, state, 0))

  trained = _epochs(config, workdir, setup, stop, stop_after_epochs, manager,
                    (trainer_after, finetune_trainer), train_key, epoch, arch, state)
  if trained is None:  # stopped: by a signal or --stop_after_epochs
    return None
  arch, state = trained
  # The handlers stay installed to the last file: a signal after the last
  # epoch is honoured once model/, figures/widths.png and summary.json are written.
  summary = write_summary(workdir, config, setup, arch, state)
  stop.uninstall()
  if stop.requested:
    print(stop.finished_message(workdir))
  return summary


def _epochs(config: ml_collections.ConfigDict, workdir: str, setup: RunSetup, stop,
            stop_after_epochs: int, manager, trainers, train_key, epoch: int,
            arch: Architecture, state: train_lib.TrainState):
  """The epochs after ``epoch``: (arch, state) after the last, or None when a
  signal or ``stop_after_epochs`` stopped them (every epoch is checkpointed).

  ``trainers``: (the trainer of the state after an epoch, the deterministic
  phase's trainer or None).
  """
  dataset, _, tconfig, schedule, _, fconfig = setup
  trainer_after, finetune_trainer = trainers
  x, y = jnp.asarray(dataset.train.x), jnp.asarray(dataset.train.y)
  audit_data = audit_examples(config, dataset, tconfig)
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
    audits = []
    def before_shrink(current, now, keep):
      if audit_data is not None:
        audits.append(analysis.removal_audit(current, tconfig, now.params, keep, *audit_data,
                                             step=int(now.step)))
    began = time.perf_counter()
    arch, state, info = train_lib.run_epoch(trainer_after(epoch - 1), schedule, arch, state,
                                            x, y, jax.random.fold_in(train_key, epoch), epoch,
                                            on_chunk, before_shrink)
    jax.block_until_ready(state.params)
    seconds = time.perf_counter() - began
    extra = {'removal_audit': merge_audits(audits)} if audits else {}
    if fconfig is not None and epoch == setup.gated_epochs:
      # the gates have had their epochs: audit the survivors, then train the final net
      extra.update(decision_record(config, dataset, arch, tconfig, state))
      extra['rounded_units'] = train_lib.undecided(
          train_lib.gate_probabilities(tconfig, state.params['theta']))
    r = epoch_record(setup, epoch, arch, state, seconds, info, extra)  # the net it trained
    if fconfig is not None and epoch == setup.gated_epochs:
      arch, state = finetune_lib.start(arch, tconfig, state, finetune_trainer)
    bar.close()
    bad = divergence.nonfinite({'params': state.params, 'train_loss': info.loss})
    if bad:
      stop.uninstall()
      raise Diverged(divergence.message(epoch, bad, config.train.learning_rate,
                                        epoch - 1, workdir))
    workdir_lib.append_metrics(workdir, r)
    workdir_lib.save_checkpoint(manager, epoch, _checkpoint_tree(arch, state, epoch))
    decided = (' (θ made deterministic)' if epoch == schedule.decide_epoch else
               ' (gates decided: the deterministic phase starts)'
               if fconfig is not None and epoch == setup.gated_epochs else '')
    validation = (f' (validation {100 * r["validation_error"]:.2f}%)'
                  if 'validation_error' in r else '')
    print(f'epoch {epoch}{decided}: alive {_arch_text(r["alive"]["widths"])}, '
          f'{r["undecided_units"]} undecided, test error {100 * r["test_error"]:.2f}%'
          f'{validation}, {seconds:.1f} s')

  return arch, state


def run_settings(config: ml_collections.ConfigDict, setup: RunSetup) -> dict:
  """The settings part of summary.json, as trained (in its order)."""
  _, _, tconfig, schedule, _, fconfig = setup
  method = train_lib.METHODS[tconfig.method]
  warmup = int(config.train.get('warmup_epochs', 0))
  return {
    'decide_epoch': schedule.decide_epoch,
    'grace_epochs': int(config.train.grace_epochs),
    'warmup_epochs': warmup,
    'penalty_ramp_epochs': float(config.train.get('penalty_ramp_epochs', 0.0)),
    'difference_examples': tconfig.difference_examples,
    'dropout': list((setup.finetune_config or tconfig).dropout),   # as trained, () = none
    'gated': method.gated,
    'penalty': tconfig.penalty,      # as trained (the dense method pins 0)
    'price': config.train.price if method.gated else 'none',
    'penalty_scale': list(tconfig.penalty_scale),
    'penalty_multipliers': [float(v) for v in config.train.penalty_scale],
    'learning_rate': tconfig.learning_rate,
    'finetune_learning_rate': (fconfig.learning_rate if fconfig is not None else 0.0),
    'cosine_decay': bool(config.train.cosine_decay),
    'batch_size': schedule.batch_size,
    'weight_ema': tconfig.weight_ema,
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
    'theta_init': (list(setup.theta_init) if isinstance(setup.theta_init, tuple)
                   else float(setup.theta_init)),
    'init_scheme': config.train.init_scheme,
    'init_scale': float(config.train.init_scale),
    'num_train': tconfig.num_train,
    'data': config.data.name,
  }


def write_summary(workdir: str, config: ml_collections.ConfigDict, setup: RunSetup,
                  arch: Architecture, state: train_lib.TrainState) -> dict:
  """summary.json: the final deterministic network, its errors and the run's cost."""
  dataset, start, tconfig, schedule, _, fconfig = setup
  final_config = setup.phase_config(schedule.epochs)
  records = [r for r in workdir_lib.read_metrics(workdir) if 'epoch' in r]
  plot_widths(workdir, records, models.group_names(arch))
  # per-epoch lists: what metrics.jsonl holds (a resumed run whose file was lost
  # has only the epochs since); the final network comes from the state alone
  epochs = [r for r in records if r['epoch'] >= 1]
  probabilities = train_lib.gate_probabilities(final_config, state.params['theta'])
  if fconfig is None:   # the survivors' Δ_j check at the end of the gated phase
    delta = decision_record(config, dataset, arch, tconfig, state).get('decisions')
  else:                 # recorded when the deterministic phase began
    delta = next((r['decisions'] for r in epochs if 'decisions' in r), None)
  final_arch, final_state = train_lib.finalize(
      arch, final_config, state._replace(params=train_lib.evaluation_params(final_config, state)))
  computed = [r['computed']['macs'] for r in epochs]
  test_errors = [r['test_error'] for r in epochs]
  gated = [r for r in epochs if r.get('phase', 'gated') == 'gated']
  warmup = int(config.train.get('warmup_epochs', 0))
  summary = {
      'kind': 'parsimonious',
      'net': models.kind(arch).summary_name(start),
      'method': tconfig.method,
      'start_widths': list(start.widths),
      'final_widths': list(final_arch.widths),
      **error_record(dataset, final_config, final_arch, final_state.params),
      'test_error_best_epoch': float(min(test_errors, default=1.0)),   # test-selected: comparability only
      'macs': complexity.macs(final_arch),
      'flops': complexity.flops(final_arch),
      'params': complexity.num_params(final_arch),
      'epochs': schedule.epochs,
      'gated_epochs': setup.gated_epochs,
      'finetune_epochs': schedule.finetune_epochs,
      'seed': int(config.train.seed),
      'undecided_units': train_lib.undecided(probabilities),
      'gates': int(sum(start.widths)),
      'gates_in_arrays': int(sum(arch.widths)),
      **run_settings(config, setup),
      'train_seconds': float(sum(r['train_seconds'] for r in epochs)),
      'train_seconds_per_epoch': [r['train_seconds'] for r in epochs],
      'alive_macs_per_epoch': [r['alive']['macs'] for r in epochs],
      'computed_macs_per_epoch': computed,
      'undecided_per_epoch': [r['undecided_units'] for r in epochs],
      'test_error_per_epoch': test_errors,
      'validation_error_per_epoch': [r['validation_error'] for r in epochs
                                     if 'validation_error' in r],
      # forward-pass MAC-epochs: per-example MACs of the arrays × passes per step,
      # plus the exact differences of the 'local' estimator (two draws while
      # some gate is undecided, one after)
      'train_mac_epochs': float(sum(train_macs(r, tconfig, start, warmup, schedule.batch_size)
                                    for r in epochs)),
      'finetune_mac_epochs': float(sum(train_macs(r, tconfig, start) for r in epochs
                                       if r.get('phase') == 'finetune')),
      'dense_mac_epochs': float(schedule.epochs * complexity.macs(start)),
  }
  if gated and fconfig is not None:   # the gated phase's own result, before the deterministic phase
    summary['test_error_gated'] = gated[-1]['test_error']
    if 'validation_error' in gated[-1]:
      summary['validation_error_gated'] = gated[-1]['validation_error']
    summary['rounded_units'] = next((r['rounded_units'] for r in epochs if 'rounded_units' in r), 0)
  audits = [r['removal_audit'] for r in epochs if 'removal_audit' in r]
  if audits:
    summary['removal_audit'] = merge_audits(audits)
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

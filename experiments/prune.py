r"""Trains a parsimonious (gated, self-pruning) network and writes a resumable workdir.

    python -m experiments.prune --workdir=runs/prune/lenet300_s0
    python -m experiments.prune --config=experiments/configs/prune_lenet5.py \
        --config.seed=1 --workdir=runs/prune/lenet5_s1

Outputs in the workdir: config.json, metrics.jsonl (one line per epoch: units
alive per gate group, θ histograms, test error, MACs/FLOPs/params, the epoch's
wall time), checkpoints/ (orbax; rerunning the same command resumes from the
latest epoch with the same PRNG stream and data order), figures/widths.png,
and at the end summary.json (the final deterministic architecture and its
test error, MACs, FLOPs, parameters).
"""

from __future__ import annotations

import json
import os
import time

from absl import app
from absl import flags
from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
from ml_collections import config_flags
import numpy as np
import tqdm

from experiments import workdir as workdir_lib
from ncg import data as data_lib
from ncg.errors import check
from ncg.parsimonious import complexity
from ncg.parsimonious import models
from ncg.parsimonious import shrink as shrink_lib
from ncg.parsimonious import train as train_lib

_CONFIG = config_flags.DEFINE_config_file(
    'config', 'experiments/configs/prune_lenet300.py', 'Training configuration file.')
_WORKDIR = flags.DEFINE_string('workdir', 'runs/prune/default',
                               'Directory of the run (created; resumed if it exists).')
_STOP_AFTER = flags.DEFINE_integer(
    'stop_after_epochs', 0, 'Stop (as if preempted) once this many epochs are '
    'checkpointed; 0 = run to config.train.epochs. For resume tests.')

SUMMARY_FILE = 'summary.json'
NET_NAMES = {'mlp': 'lenet300', 'lenet5': 'lenet5'}


def load_dataset(config: ml_collections.ConfigDict) -> data_lib.Dataset:
  """The run's grey-level data set."""
  d = config.data
  return data_lib.load(d.name, path=d.path or None, binarization='none',
                       validation_size=d.validation_size or None)


def start_architecture(config: ml_collections.ConfigDict,
                       dataset: data_lib.Dataset) -> models.Architecture:
  """The full-width gated network of the config."""
  m = config.model
  widths = tuple(int(w) for w in m.widths)
  check(m.net in models.KINDS, f'unknown model.net {m.net!r}; choose one of {models.KINDS}')
  check(dataset.num_classes > 0, f'data set {dataset.name!r} has no labels')
  if m.net == 'mlp':
    return models.mlp(dataset.num_features, widths, dataset.num_classes)
  check(len(widths) == 3, f'lenet5 needs model.widths=(conv0, conv1, dense), got {widths}')
  check(dataset.image_shape == (models.LENET5_SIDE,) * 2,
        f'lenet5 needs 28×28 images; {dataset.name!r} has {dataset.image_shape}')
  return models.lenet5(*widths, num_classes=dataset.num_classes)


def hyper_parameters(config: ml_collections.ConfigDict, arch: models.Architecture,
                     num_train: int) -> train_lib.Hyper:
  """The validated update hyper-parameters of a run config."""
  t = config.train
  check(t.epochs >= 1, f'train.epochs must be >= 1, got {t.epochs}')
  check(1 <= t.batch_size <= num_train,
        f'train.batch_size must be in [1, {num_train}], got {t.batch_size}')
  check(0 <= t.decide_epoch < t.epochs or t.decide_epoch == 0,
        f'train.decide_epoch must be in [0, train.epochs), got {t.decide_epoch}')
  check(t.chunk_steps >= 1, f'train.chunk_steps must be >= 1, got {t.chunk_steps}')
  check(0 <= t.shrink_fraction < 1,
        f'train.shrink_fraction must be in [0, 1), got {t.shrink_fraction}')
  scale = tuple(float(s) for s in t.penalty_scale) or (1.0,) * len(arch.widths)
  hyper = train_lib.Hyper(
      learning_rate=float(t.learning_rate), theta_learning_rate=float(t.theta_learning_rate),
      penalty=float(t.penalty), penalty_scale=scale,
      prior_variance=float(t.prior_variance), num_train=int(num_train),
      estimator=t.estimator, theta_optimizer=t.theta_optimizer,
      decay_steps=(t.epochs * (num_train // t.batch_size) if t.cosine_decay else 0))
  train_lib.validate(hyper, arch)
  return hyper


def _tree(state: train_lib.TrainState) -> dict:
  return {'step': state.step, 'params': state.params, 'opt_state': state.opt_state}


def _architecture_record(arch: models.Architecture) -> dict:
  return {'kind': arch.kind, 'widths': list(arch.widths),
          'num_classes': arch.num_classes, 'gather': list(arch.gather)}


def _architecture(record: dict) -> models.Architecture:
  return models.Architecture(record['kind'], tuple(record['widths']),
                             record['num_classes'], tuple(record['gather']))


def cost_record(arch: models.Architecture) -> dict:
  """Widths, MACs, FLOPs and parameters of an architecture."""
  return {'widths': list(arch.widths), 'macs': complexity.macs(arch),
          'flops': complexity.flops(arch), 'params': complexity.num_params(arch)}


def kept_architecture(arch: models.Architecture, thetas,
                      threshold: float = 0.0) -> models.Architecture:
  """The network of the units with θ > threshold: 0 gives the units alive now
  (the arrays may still hold θ = 0 units waiting for the next shrink), just
  below ½ the deterministic network the posterior mode would give now."""
  keep = shrink_lib.kept_units(arch, thetas, threshold=threshold)
  return shrink_lib.shrunk_architecture(arch, keep)


def plot_widths(workdir: str, records: list[dict], group_names) -> None:
  """figures/widths.png: units alive per group and epoch wall time."""
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
  epochs = [r['epoch'] for r in records]
  fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9, 3.2))
  widths = np.array([r['alive']['widths'] for r in records])
  for g, name in enumerate(group_names):
    ax0.plot(epochs, widths[:, g], marker='.', label=name)
  ax0.set_yscale('log')
  ax0.set_xlabel('epoch')
  ax0.set_ylabel('units alive (θ > 0)')
  ax0.legend(fontsize=7)
  ax1.plot(epochs, [r['train_seconds'] for r in records], marker='.')
  ax1.set_xlabel('epoch')
  ax1.set_ylabel('training wall time (s)')
  fig.tight_layout()
  fig.savefig(workdir_lib.figure_path(workdir, 'widths.png'), dpi=110)
  plt.close(fig)


def _arch_text(widths) -> str:
  return '-'.join(map(str, widths))


def _undecided(thetas) -> int:
  """Number of gates with 0 < θ < 1."""
  return int(sum(np.sum((np.asarray(t) > 0) & (np.asarray(t) < 1)) for t in thetas))


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str,
                       stop_after_epochs: int = 0) -> dict | None:
  """Trains (or resumes) the run of ``config`` in ``workdir``; returns the summary."""
  dataset = load_dataset(config)
  arch = start_architecture(config, dataset)
  start_arch = arch
  hyper = hyper_parameters(config, arch, len(dataset.train.x))
  check(0 < config.train.theta_init <= 1,
        f'train.theta_init must be in (0, 1], got {config.train.theta_init}')
  resuming = workdir_lib.prepare(workdir, config)
  key = jax.random.key(config.seed)
  init_key, train_key = jax.random.split(key)
  num_inputs = dataset.num_features
  gated = bool(config.train.gated)
  theta_init = config.train.theta_init if gated else 1.0   # dense: every θ fixed at 1
  state = train_lib.init_state(init_key, arch, hyper, num_inputs, theta_init)

  manager = workdir_lib.checkpoint_manager(workdir)
  epoch = 0
  if resuming and manager.latest_step() is not None:
    epoch = int(manager.latest_step())
    records = {r['epoch']: r for r in workdir_lib.read_metrics(workdir) if 'epoch' in r}
    check(epoch in records, f'{workdir}: checkpoint of epoch {epoch} has no metrics record')
    arch = _architecture(records[epoch]['architecture'])
    like = train_lib.init_state(init_key, arch, hyper, num_inputs, theta_init)
    _, tree = workdir_lib.restore_checkpoint(manager, _tree(like), epoch)
    state = train_lib.TrainState(tree['step'], tree['params'], tree['opt_state'])
    workdir_lib.truncate_metrics(workdir, lambda r: r.get('epoch', 0) <= epoch)
    print(f'resuming {workdir} after epoch {epoch}: widths {arch.widths}')
  elif resuming:
    workdir_lib.truncate_metrics(workdir, lambda r: False)

  x, y = jnp.asarray(dataset.train.x), jnp.asarray(dataset.train.y)
  test_x, test_y = jnp.asarray(dataset.test.x), jnp.asarray(dataset.test.y)
  valid = (jnp.asarray(dataset.valid.x), jnp.asarray(dataset.valid.y))

  def errors(arch, params) -> dict:
    """Test error, and validation error when the config holds examples out."""
    out = {'test_error': train_lib.error_rate(arch, params, test_x, test_y)}
    if len(dataset.valid.x):
      out['validation_error'] = train_lib.error_rate(arch, params, *valid)
    return out

  steps_per_epoch = len(dataset.train.x) // config.train.batch_size
  if epoch == 0:
    record = {'epoch': 0, 'architecture': _architecture_record(arch), 'train_seconds': 0.0,
              **errors(arch, state.params),
              'alive': cost_record(arch), 'computed': cost_record(arch),
              'theta_histogram': train_lib.theta_histogram(state.params['theta'])}
    workdir_lib.append_metrics(workdir, record)
    workdir_lib.save_checkpoint(manager, 0, _tree(state))

  decide = config.train.decide_epoch
  for epoch in range(epoch + 1, config.train.epochs + 1):
    hyper = hyper._replace(freeze_theta=not gated or (bool(decide) and epoch > decide))
    if stop_after_epochs and epoch > stop_after_epochs:
      print(f'stopping after epoch {epoch - 1} (--stop_after_epochs)')
      return None
    bar = tqdm.tqdm(total=steps_per_epoch, desc=f'epoch {epoch}', leave=False)
    def on_chunk(done, current):
      bar.update(done - bar.n)
      bar.set_postfix(widths=_arch_text(current.widths))
    start = time.perf_counter()
    arch, state, info = train_lib.train_epoch(
        arch, hyper, state, x, y, jax.random.fold_in(train_key, epoch),
        config.train.batch_size, config.train.chunk_steps, config.train.shrink_fraction,
        on_chunk)
    jax.block_until_ready(state.params)
    seconds = time.perf_counter() - start
    bar.close()
    mode = kept_architecture(arch, state.params['theta'], train_lib.MODE_THRESHOLD)
    undecided = _undecided(state.params['theta'])
    if decide and epoch == decide:   # round θ to the mode; θ is frozen from now on
      arch, state = train_lib.finalize(arch, hyper, state)
    record = {'epoch': epoch, 'architecture': _architecture_record(arch),
              'train_seconds': seconds, 'train_loss': info['loss'],
              'shrinks': info['shrinks'], 'undecided_units': undecided,
              **errors(arch, state.params),
              'alive': cost_record(kept_architecture(arch, state.params['theta'])),
              'computed': cost_record(arch), 'mode': cost_record(mode),
              'theta_histogram': train_lib.theta_histogram(state.params['theta'])}
    workdir_lib.append_metrics(workdir, record)
    workdir_lib.save_checkpoint(manager, epoch, _tree(state))
    rounded = ' (θ rounded to the mode)' if decide == epoch else ''
    validation = (f' (validation {100 * record["validation_error"]:.2f}%)'
                  if 'validation_error' in record else '')
    print(f'epoch {epoch}{rounded}: alive {_arch_text(record["alive"]["widths"])}, '
          f'mode {_arch_text(mode.widths)}, test error '
          f'{100 * record["test_error"]:.2f}%{validation}, {seconds:.1f} s')

  records = [r for r in workdir_lib.read_metrics(workdir) if 'epoch' in r]
  plot_widths(workdir, records, arch.group_names)
  final_arch, final_state = train_lib.finalize(arch, hyper, state)
  undecided = _undecided(state.params['theta'])
  if decide:
    undecided = records[decide]['undecided_units']
  summary = {
      'kind': 'parsimonious',
      'net': NET_NAMES[arch.kind],
      'start_widths': list(start_arch.widths),
      'final_widths': list(final_arch.widths),
      **errors(final_arch, final_state.params),
      'macs': complexity.macs(final_arch),
      'flops': complexity.flops(final_arch),
      'params': complexity.num_params(final_arch),
      'epochs': int(config.train.epochs),
      'seed': int(config.seed),
      'undecided_units': undecided,
      'decide_epoch': int(decide),
      'gated': gated,
      'penalty': float(config.train.penalty),
      'penalty_scale': list(hyper.penalty_scale),
      'prior_variance': float(config.train.prior_variance),
      'estimator': config.train.estimator,
      'theta_optimizer': config.train.theta_optimizer,
      'theta_learning_rate': float(config.train.theta_learning_rate),
      'theta_init': float(config.train.theta_init),
      'data': config.data.name,
      'train_seconds_per_epoch': [r['train_seconds'] for r in records[1:]],
      'alive_macs_per_epoch': [r['alive']['macs'] for r in records[1:]],
      'computed_macs_per_epoch': [r['computed']['macs'] for r in records[1:]],
      'final_gather': list(final_arch.gather),
  }
  with open(os.path.join(workdir, SUMMARY_FILE), 'w') as f:
    json.dump(summary, f, indent=1)
  print(f'final {summary["net"]} {_arch_text(final_arch.widths)}: test error '
        f'{100 * summary["test_error"]:.2f}%, {summary["macs"]} MACs, '
        f'{summary["params"]} params ({undecided} undecided units)')
  return summary


def main(argv):
  check(len(argv) == 1, f'unexpected arguments: {" ".join(argv[1:])}')
  logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO
  train_and_evaluate(_CONFIG.value, _WORKDIR.value, _STOP_AFTER.value)


if __name__ == '__main__':
  app.run(workdir_lib.clean_errors(main))

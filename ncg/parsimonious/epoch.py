"""A training epoch with on-line shrinking, and the epochs of a run (:class:`Schedule`).

After each chunk of steps the units the method says are gone (θ = 0) leave the
arrays (:mod:`ncg.parsimonious.shrink`) when :func:`worth_shrinking` says so, and
the next chunk runs compiled for the smaller shapes, so the rest of training
costs less.
"""

from __future__ import annotations

import functools
from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ncg.parsimonious import shrink as shrink_lib
from ncg.parsimonious.architecture import Architecture
from ncg.parsimonious.config import Config
from ncg.parsimonious.final import finalize
from ncg.parsimonious.methods import METHODS
from ncg.parsimonious.trainer import Trainer, TrainState


class EpochMetrics(NamedTuple):
  """loss: mean step loss over the epoch (nats); shrinks: times the arrays were rebuilt."""
  loss: float
  shrinks: int


@functools.lru_cache(maxsize=64)
def chunk_fn(trainer: Trainer, arch: Architecture) -> Callable:
  """Compiled loop of ``trainer.step`` over up to ``len(batch_index)`` minibatches.

  The number of steps is a traced argument (a ``fori_loop`` with a dynamic trip
  count), so one compilation per (trainer, architecture) serves every chunk
  length, the last partial chunk of an epoch included.
  """
  def run(state, x_all, y_all, batch_index, keys, num_steps):
    def body(i, carry):
      s, loss_sum = carry
      index = batch_index[i]
      s, metrics = trainer.step(arch, s, x_all[index], y_all[index], keys[i])
      return s, loss_sum + metrics.loss.astype(jnp.float32)
    state, loss_sum = jax.lax.fori_loop(0, num_steps, body,
                                        (state, jnp.zeros((), jnp.float32)))
    return state, loss_sum / num_steps
  return jax.jit(run)


def epoch_order(key: jax.Array, num_examples: int, batch_size: int) -> np.ndarray:
  """(steps, B) example indices of one epoch (a fresh permutation, last partial batch dropped)."""
  steps = num_examples // batch_size
  order = np.asarray(jax.random.permutation(key, num_examples))
  return order[:steps * batch_size].reshape(steps, batch_size)


def worth_shrinking(arch: Architecture, keep: Sequence[np.ndarray],
                    min_fraction: float) -> bool:
  """Whether removing the units outside ``keep`` pays for a recompilation.

  True when some group would lose at least ``min_fraction`` of its units
  (``min_fraction = 0``: whenever any unit can go; ``1``: never). Units at
  θ = 0 that wait for removal are never sampled, output exactly 0 and stay at
  0 (absorbing), so waiting changes neither the function nor the objective nor
  the path, only the cost of the steps.
  """
  if min_fraction >= 1:
    return False
  for width, k in zip(arch.widths, keep):
    removable = width - int(k.sum())
    if removable and removable >= min_fraction * width:
      return True
  return False


def removable_units(arch: Architecture, config: Config,
                    thetas: Sequence[jax.Array]) -> list[np.ndarray]:
  """Per group, the units to keep while training (the method's ``alive``), coupled."""
  alive = [METHODS[config.method].alive(t) for t in thetas]
  return shrink_lib.kept_units(arch, [a.astype(np.float32) for a in alive])


def train_epoch(trainer: Trainer, arch: Architecture, state: TrainState,
                x: jax.Array, y: jax.Array, key: jax.Array, batch_size: int,
                chunk_steps: int, shrink_fraction: float = 0.0,
                on_chunk: Callable[[int, Architecture], None] | None = None,
                before_shrink: Callable[[Architecture, TrainState, list], None] | None = None,
                ) -> tuple[Architecture, TrainState, EpochMetrics]:
  """One pass over (x, y), shrinking the network between chunks of steps.

  After each chunk of ``chunk_steps`` updates the units at θ = 0 are removed
  (:func:`ncg.parsimonious.shrink.shrink`) if :func:`worth_shrinking` says so,
  and the next chunk runs compiled for the smaller shapes, so the rest of
  training costs less.

  Args:
    trainer, arch, state: the trainer, the network and its training state.
    x, y: (N, D) float32 and (N,) int32 training data (on the device).
    key: PRNG key of this epoch (data order and gates).
    batch_size, chunk_steps: minibatch size and updates between shrink checks.
    shrink_fraction: see :func:`worth_shrinking`.
    on_chunk: called with (steps done, architecture) after every chunk.
    before_shrink: called with (architecture, state, keep) just before units
      outside ``keep`` leave the arrays (the removed-gate audit of
      experiments/prune_run.py).

  Returns:
    (architecture, state, EpochMetrics).
  """
  order_key, gate_key = jax.random.split(key)
  order = epoch_order(order_key, x.shape[0], batch_size)
  num_steps = len(order)
  step_keys = jax.random.split(gate_key, num_steps)
  chunks = -(-num_steps // chunk_steps)
  padding = chunks * chunk_steps - num_steps   # rows the last chunk's loop never reaches
  order = np.concatenate([order, np.zeros((padding, batch_size), order.dtype)])
  step_keys = jnp.concatenate([step_keys, jnp.repeat(step_keys[:1], padding, axis=0)])
  losses, shrinks = [], 0
  for chunk in range(chunks):
    start = chunk * chunk_steps
    steps = min(chunk_steps, num_steps - start)
    state, loss = chunk_fn(trainer, arch)(
        state, x, y, jnp.asarray(order[start:start + chunk_steps]),
        step_keys[start:start + chunk_steps], jnp.int32(steps))
    losses.append((float(loss), steps))
    keep = removable_units(arch, trainer.config, state.params['theta'])
    if worth_shrinking(arch, keep, shrink_fraction):
      if before_shrink is not None:
        before_shrink(arch, state, keep)
      arch, params, opt_state = shrink_lib.shrink(arch, state.params, state.opt_state,
                                                  keep)
      state = TrainState(state.step, params, opt_state)
      shrinks += 1
    if on_chunk is not None:
      on_chunk(start + steps, arch)
  mean_loss = sum(l * n for l, n in losses) / max(1, sum(n for _, n in losses))
  return arch, state, EpochMetrics(mean_loss, shrinks)


class Schedule(NamedTuple):
  """The epochs of a run.

  Attributes:
    epochs: epochs in all.
    batch_size: B.
    chunk_steps: updates between shrink checks.
    shrink_fraction: see :func:`worth_shrinking`.
    decide_epoch: if > 0, after this epoch θ is made deterministic by
      :func:`finalize` (and stops moving: ``Config.decide_step``); 0 = never,
      θ decides itself and the run ends with :func:`finalize`.
    finetune_epochs: F, the last epochs of the run that train the final
      network deterministically (:mod:`ncg.parsimonious.finetune`); 0 = none.
  """
  epochs: int
  batch_size: int
  chunk_steps: int
  shrink_fraction: float
  decide_epoch: int = 0
  finetune_epochs: int = 0


def run_epoch(trainer: Trainer, schedule: Schedule, arch: Architecture, state: TrainState,
              x: jax.Array, y: jax.Array, key: jax.Array, epoch: int,
              on_chunk: Callable[[int, Architecture], None] | None = None,
              before_shrink: Callable[[Architecture, TrainState, list], None] | None = None,
              ) -> tuple[Architecture, TrainState, EpochMetrics]:
  """Epoch ``epoch`` (1-based) of the schedule: :func:`train_epoch`, then the decision if due."""
  arch, state, metrics = train_epoch(trainer, arch, state, x, y, key, schedule.batch_size,
                                     schedule.chunk_steps, schedule.shrink_fraction, on_chunk,
                                     before_shrink)
  if schedule.decide_epoch and epoch == schedule.decide_epoch:
    arch, state = finalize(arch, trainer.config, state)
  return arch, state, metrics

"""A training epoch of an RBM: the trainer's steps scanned over a data set on the device.

:func:`run_epoch` draws the epoch's minibatches, scans ``trainer.step`` over
them (with the mode's rewiring every ``rewire_every`` steps under a
``lax.cond``), and summarises the epoch (:class:`EpochMetrics`: the added and
removed connections from the flip counts, :func:`flip_transitions`; density,
|W|, effective density). :func:`make_epoch` jits it for one model or a
population (vmapped members sharing the data).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from ncg import data as data_lib
from ncg import inputs
from ncg import rbm
from ncg.errors import check
from ncg.rbm import RBMState
from ncg.train_config import TrainConfig
from ncg.trainer import Trainer, TrainerState, make_trainer


class EpochMetrics(NamedTuple):
  """Per-epoch diagnostics (scalars, and the ladder's swap acceptance rates).

  Attributes:
    reconstruction_error: mean over the epoch's steps (bits per example).
    added, removed: connections switched on / off, summed over steps and
      rewirings.
    density: fraction of possible connections present at the epoch's end.
    mean_abs_weight: mean |W_ij| over present connections at the end.
    effective_density: mean(A ⊙ [|W| > τ]) at the end (τ =
      ``magnitude_threshold``): the density an L1-trained RBM is judged by.
    near_threshold: fraction of strengths with |α − ½| < 0.05, averaged
      over the epoch's steps.
    swap_rates: (K − 1,) for a K-rung tempering ladder: swaps accepted /
      proposed of each neighbour pair (k, k + 1) over the epoch's sweeps and
      chains (:func:`swap_rates`); a scalar 0 for CD and PCD (no ladder), so
      that every metric of those is a finite scalar as before.
    hidden_units: the hidden units on at the epoch's end (int32): H for
      ``hidden='fixed'``, the units with s′ > ½ ('ncg_h') or θ > 0 ('gated',
      the width the arrays keep; :func:`ncg.hidden_kinds.width`).
  """
  reconstruction_error: jax.Array
  added: jax.Array
  removed: jax.Array
  density: jax.Array
  mean_abs_weight: jax.Array
  effective_density: jax.Array
  near_threshold: jax.Array
  swap_rates: jax.Array
  hidden_units: jax.Array | None = None


def swap_rates(proposed: jax.Array, accepted: jax.Array) -> jax.Array:
  """Σ accepted / max(Σ proposed, 1) over the steps of (S, K − 1) swap counts:
  (K − 1,) float32 (0 for a pair never proposed), a scalar 0 when K = 1."""
  if proposed.shape[-1] == 0:
    return jnp.zeros((), jnp.float32)
  total = jnp.sum(proposed, axis=0)
  return (jnp.sum(accepted, axis=0) / jnp.maximum(total, 1)).astype(jnp.float32)


def connectivity_summary(state: RBMState) -> tuple[jax.Array, jax.Array]:
  """(density, mean |W| over present connections) of a state."""
  A = rbm.mask(state)
  present = jnp.maximum(A.sum(), 1.0)
  return A.mean(), jnp.sum(jnp.abs(state.W) * A) / present


def effective_density(state: RBMState, threshold: float) -> jax.Array:
  """Fraction of the V·H connections present with |W_ij| > threshold."""
  return jnp.mean(rbm.mask(state) * (jnp.abs(state.W) > threshold))


def flip_transitions(start_mask: jax.Array, flips: jax.Array
                     ) -> tuple[jax.Array, jax.Array]:
  """(added, removed): 0→1 and 1→0 switches behind per-connection flip counts.

  A connection's mask bit alternates, so n flips from a start bit a are
  ⌈n/2⌉ additions and ⌊n/2⌋ removals when a = 0, the reverse when a = 1:
  the exact totals of a run of steps from its start mask (V, H) and flip
  counts (V, H) alone, with no per-step count.
  """
  up = jnp.where(start_mask > 0, flips // 2, (flips + 1) // 2)
  return jnp.sum(up, dtype=jnp.int32), jnp.sum(flips - up, dtype=jnp.int32)

def run_epoch(trainer: Trainer, state: RBMState, opt_state: TrainerState,
              x: jax.Array, key: jax.Array, batch_size: int,
              magnitude_threshold: float = 0.01, first_step=None,
              batch_sharding=None
              ) -> tuple[RBMState, TrainerState, EpochMetrics]:
  """One pass over x (N, V) in a fresh random order, scanned on the device.

  Jit it with ``trainer`` and ``batch_size`` static, e.g. through
  :func:`make_epoch`. The last N mod B examples of the order are skipped.
  A rewiring trainer (SET, RigL) rewires right after every step whose global
  index t (from ``first_step``, default ``opt_state.step``) has
  (t + 1) mod ``rewire_every`` = 0 — so the interval may span epochs; with
  ``rewire_every`` = 0, after each epoch's last step — reading that step's
  minibatch. ``first_step`` must not depend on a vmapped member (the
  rewiring is then a real branch, not computed and discarded every step).
  ``batch_sharding`` (a sharding of the (steps, B, V) minibatches, e.g.
  ``P(None, 'data')``, see :mod:`ncg.distributed`) splits every minibatch
  over devices; XLA then reduces the statistics across them. ``x`` may
  also be the epoch's minibatches (N // B, B, V) already drawn from
  ``split(key)[0]`` (:func:`ncg.distributed.host_minibatches`: several
  hosts, each loading its rows); the result is then the same.
  """
  inputs.check_data(x, state.W.shape[-2], state.visible, 'the training data')
  if x.ndim == 2:
    inputs.check_batch_size(x.shape[0], batch_size)
  key_order, key_steps = jax.random.split(key)
  batches = (x if x.ndim == 3 else  # already drawn: see the docstring
             data_lib.epoch_batches(key_order, x, batch_size))
  if batch_sharding is not None:
    batches = jax.lax.with_sharding_constraint(batches, batch_sharding)
  start_mask, start_flips = rbm.mask(state), opt_state.flips
  state, opt_state, steps = scan_steps(trainer, state, opt_state, batches,
                                       key_steps, first_step)
  # Every switch of the epoch, by a step or a rewiring, is one flip count.
  added, removed = flip_transitions(start_mask, opt_state.flips - start_flips)
  density, mean_abs_weight = connectivity_summary(state)
  num_hidden = state.W.shape[-1]
  hidden_units = (trainer.hidden_width(opt_state.hidden, num_hidden)
                  if trainer.hidden_width else jnp.asarray(num_hidden, jnp.int32))
  return state, opt_state, EpochMetrics(
      jnp.mean(steps.reconstruction_error), added, removed, density,
      mean_abs_weight, effective_density(state, magnitude_threshold),
      jnp.mean(steps.near_threshold),
      swap_rates(steps.swaps_proposed, steps.swaps_accepted), hidden_units)


def scan_steps(trainer: Trainer, state: RBMState, opt_state: TrainerState,
               batches: jax.Array, key_steps: jax.Array, first_step=None):
  """``trainer``'s steps over minibatches (S, B, V) under ``lax.scan``, with
  the rewiring of :func:`run_epoch`: (state, opt_state, the stacked
  StepMetrics). Step i's key is ``split(key_steps, S)[i]``, its rewiring's
  ``fold_in(fold_in(key_steps, S), i)``."""
  num_steps = batches.shape[0]
  keys = jax.random.split(key_steps, num_steps)
  key_rewire = jax.random.fold_in(key_steps, num_steps)  # not among ``keys``
  zero = jnp.zeros((), jnp.int32)
  step_fn = trainer.epoch_step or trainer.step

  if trainer.rewire is None:
    def body(carry, inputs):
      state, opt_state = carry
      batch, step_key = inputs
      state, opt_state, metrics = step_fn(state, opt_state, batch, step_key)
      return (state, opt_state), metrics
    (state, opt_state), steps = jax.lax.scan(body, (state, opt_state),
                                             (batches, keys))
  else:
    every = trainer.rewire_every or num_steps
    if first_step is None:
      first_step = opt_state.step

    def body(carry, inputs):
      state, opt_state = carry
      batch, step_key, i = inputs
      state, opt_state, metrics = step_fn(state, opt_state, batch, step_key)
      due = (first_step + i + 1) % every == 0
      state, opt_state, _, _ = jax.lax.cond(
          due,
          lambda: trainer.rewire(state, opt_state, batch,
                                 jax.random.fold_in(key_rewire, i)),
          lambda: (state, opt_state, zero, zero))
      return (state, opt_state), metrics

    (state, opt_state), steps = jax.lax.scan(
        body, (state, opt_state),
        (batches, keys, jnp.arange(num_steps, dtype=jnp.int32)))
  return state, opt_state, steps


def make_epoch(config: TrainConfig, batch_size: int, population: bool = False,
               batch_sharding=None):
  """Jitted ``epoch(state, opt_state, x, key)`` of :func:`run_epoch`.

  With ``population=True`` it is vmapped over the leading axis of state,
  opt_state and key (x shared): one call trains every member. The members
  step in lockstep; the rewiring schedule follows the furthest member's step
  count (a member frozen after diverging lags behind and does not count).
  ``batch_sharding``: see :func:`run_epoch` (built by
  :func:`ncg.distributed.data_parallel`). Each call checks x first
  (:mod:`ncg.inputs`: binary data for binary units, features, dtype, a batch
  no larger than the data set) and raises InputError with one line.
  """
  trainer = make_trainer(config)
  check(not population or config.hidden_kind.alive is None,
        f'hidden={config.hidden!r} removes units, so its members would have '
        'different widths: train them as separate runs, not a population')

  def epoch(state, opt_state, x, key, first_step=None):
    return run_epoch(trainer, state, opt_state, x, key, batch_size,
                     config.magnitude_threshold, first_step, batch_sharding)

  if not population:
    return inputs.checked_epoch(jax.jit(epoch), batch_size)
  members = jax.vmap(epoch, in_axes=(0, 0, None, 0, None))

  def population_epoch(state, opt_state, x, key):
    return members(state, opt_state, x, key, jnp.max(opt_state.step))
  return inputs.checked_epoch(jax.jit(population_epoch), batch_size)


@jax.jit
def free_energy_gap(state: RBMState, train_x: jax.Array,
                    held_out_x: jax.Array) -> jax.Array:
  """mean F(held-out) − mean F(train), in nats: > 0 grows with overfitting.

  Z cancels, so this is the average log-likelihood of train minus held-out.
  """
  return (jnp.mean(rbm.free_energy(state, held_out_x))
          - jnp.mean(rbm.free_energy(state, train_x)))

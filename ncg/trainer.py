"""The RBM trainer: pure ``init`` / ``step`` / ``rewire`` of one training algorithm.

De Oliveira & Figueiredo's update, from the statistics (G, Δb, Δc) of a
minibatch (:mod:`ncg.phases`):

    W ← W + η · A ⊙ G                 (absent weights frozen, not zeroed)
    b ← b + η Δb,   c ← c + η Δc
    α ← clip(α + η_α · W ⊙ G, 0, 1),   A = [α > 0.5]

W ⊙ G is the network gradient of every possible connection, present or not
(W unmasked), so connections are both added and removed; the objective is
the plain RBM likelihood. Parameters and strengths get separate optax
optimizers through ``optax.partition`` (SGD by default, η_α = 5η as in the
reference; momentum or Adam selectable). What a connectivity mode adds
(learned strengths, an L1 term, a rewiring rule) is its row of
:data:`ncg.modes.MODES`; :func:`hysteresis_band` is NCG's optional band
½ ± h around the threshold. The trainer counts, per connection, how often
its mask bit flipped (:attr:`TrainerState.flips`).

The step is written for one model; ``jax.vmap`` over (state, opt_state, key)
trains a population — seeds × learning rates × initial densities — in one
call (learning rates live in the optimizer state, see :meth:`Trainer.init`).
"""

from __future__ import annotations

import functools
import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from ncg import hidden_kinds
from ncg import inputs
from ncg import phases as phases_lib
from ncg import precision
from ncg import rbm
from ncg import sampling
from ncg import strength_rules
from ncg.rbm import RBMState
from ncg.train_config import TrainConfig, check_model


NEAR_THRESHOLD_BAND = 0.05  # |α − ½| below this counts as "near the threshold"
PARAMS, STRENGTH = 'params', 'strength'


class TrainerState(NamedTuple):
  """Everything a trainer carries between steps besides the model.

  Attributes:
    optimizer: the ``optax.partition`` state (learning rates inside).
    chains: (B, V) persistent fantasy particles for PCD, (K, B, V) for a
      K-rung parallel-tempering ladder (``config.temperatures``, rung 0 at
      β = 1); None for CD.
    step: steps taken (int32 scalar; RigL's schedule reads it).
    flips: (V, H) int32, how often each connection's mask bit has flipped
      (steps and rewirings), for the connectivity analytics.
    hidden: (H,) the hidden units' gate state of ``config.hidden``
      (:mod:`ncg.hidden_kinds`: s′ for 'ncg_h', θ for 'gated'); None for
      'fixed' (and in trainer states saved before it existed).
  """
  optimizer: optax.OptState
  chains: jax.Array | None
  step: jax.Array
  flips: jax.Array
  hidden: jax.Array | None = None


class StepMetrics(NamedTuple):
  """Per-step diagnostics (scalars, and the ladder's swap counts).

  Attributes:
    reconstruction_error: mean over the batch of Σ_i (v_i − p(v_i=1|h))² with
      h ~ p(h|v): squared error of a one-step reconstruction, in bits.
    added: connections switched on by this step.
    removed: connections switched off by this step.
    near_threshold: fraction of strengths with |α − ½| < 0.05 after it.
    swaps_proposed, swaps_accepted: (K − 1,) int32, the tempering ladder's
      swaps of each neighbour pair in this step, summed over the chains
      ((0,) for CD and PCD).
  """
  reconstruction_error: jax.Array
  added: jax.Array
  removed: jax.Array
  near_threshold: jax.Array
  swaps_proposed: jax.Array | None = None
  swaps_accepted: jax.Array | None = None


class Trainer(NamedTuple):
  """Pure ``init``, ``step`` and ``rewire`` functions of one training algorithm.

  init(state, key, batch_size, learning_rate=None, strength_learning_rate=None)
      → TrainerState. Learning rates default to the config's; they may be
      traced scalars, so ``jax.vmap(trainer.init)`` builds a population with
      one learning rate per member.
  step(state, opt_state, batch (B, V), key) → (state, opt_state, StepMetrics).
  rewire(state, opt_state, batch (B, V), key) → (state, opt_state, added,
      removed): the mode's prune-and-regrow (SET, RigL); None for modes that
      do not rewire. ``rewire_every`` steps apart (0: after each epoch).
  epoch_step(state, opt_state, batch, key): ``step`` with the same state and
      trainer state, whose metrics leave ``added`` and ``removed`` None: an
      epoch derives their totals from the flip counts
      (:func:`ncg.epoch.flip_transitions`), so its step skips two passes over the V×H
      mask. None: epochs run ``step``.
  """
  init: Callable[..., TrainerState]
  step: Callable[..., tuple[RBMState, TrainerState, StepMetrics]]
  rewire: Callable[..., tuple[RBMState, TrainerState, jax.Array, jax.Array]] | None = None
  rewire_every: int = 0
  epoch_step: Callable[..., tuple[RBMState, TrainerState, StepMetrics]] | None = None
  hidden_width: Callable[..., jax.Array] | None = None


def connect_label_units(state: RBMState, label_units: int) -> RBMState:
  """Sets the strengths of the last ``label_units`` visible rows to 1."""
  if not label_units:
    return state
  return state._replace(strength=state.strength.at[-label_units:].set(1.0))


def make_optimizer(config: TrainConfig, learning_rate, strength_learning_rate
                   ) -> optax.GradientTransformation:
  """optax.partition: W, b, c on one optimizer, strengths on another."""
  def base(lr):
    if config.optimizer == 'sgd':
      return optax.inject_hyperparams(optax.sgd)(learning_rate=lr)
    if config.optimizer == 'momentum':
      return optax.inject_hyperparams(optax.sgd)(learning_rate=lr,
                                                 momentum=config.momentum)
    return optax.inject_hyperparams(optax.adam)(learning_rate=lr,
                                                b1=config.momentum)
  strength_optimizer = (base(strength_learning_rate)
                        if config.mode.learns_strength else optax.set_to_zero())
  return optax.partition(
      {PARAMS: base(learning_rate), STRENGTH: strength_optimizer},
      lambda state: type(state)(PARAMS, PARAMS, PARAMS, STRENGTH))


def near_threshold(state: RBMState) -> jax.Array:
  """Fraction of strengths with |α − ½| < NEAR_THRESHOLD_BAND."""
  return jnp.mean((jnp.abs(state.strength - 0.5)
                   < NEAR_THRESHOLD_BAND).astype(jnp.float32))


def mask_changes(old_A: jax.Array, new_A: jax.Array
                 ) -> tuple[jax.Array, jax.Array, jax.Array]:
  """(added, removed, flipped (V, H) int32) between two masks."""
  added = jnp.sum(new_A > old_A, dtype=jnp.int32)
  removed = jnp.sum(new_A < old_A, dtype=jnp.int32)
  return added, removed, (new_A != old_A).astype(jnp.int32)


def hysteresis_band(strength: jax.Array, old_mask: jax.Array,
                    h: float) -> jax.Array:
  """Strengths (V, H) after a step, with flips pushed across the band ½ ± h.

  A connection that was absent (old_mask 0) and whose strength now exceeds ½
  gets max(α, ½ + h); one that was present and dropped to ≤ ½ gets
  min(α, ½ − h). Unflipped strengths are unchanged, so h = 0 is the identity.
  """
  t = rbm.CONNECTION_THRESHOLD
  added = (strength > t) & (old_mask == 0)
  removed = (strength <= t) & (old_mask != 0)
  return jnp.where(added, jnp.maximum(strength, t + h),
                   jnp.where(removed, jnp.minimum(strength, t - h), strength))


def init(config: TrainConfig, state: RBMState, key: jax.Array, batch_size: int,
         learning_rate=None, strength_learning_rate=None) -> TrainerState:
  """:meth:`Trainer.init`: the optimizer state at these learning rates (traced
  scalars allowed; None: the config's), zero counters, and for PCD (B, V)
  chains of uniform random bits (a random one-hot label group, if any), for
  a K-rung ladder (K, B, V) of them."""
  check_model(config, state)
  lr = config.learning_rate if learning_rate is None else learning_rate
  strength_lr = (config.resolved_strength_learning_rate
                 if strength_learning_rate is None else strength_learning_rate)
  opt_state = make_optimizer(config, lr, strength_lr).init(state)
  counters = (jnp.zeros((), jnp.int32), jnp.zeros(state.W.shape, jnp.int32),
              config.hidden_kind.init(config, state.num_hidden, state.W.dtype))
  if not config.persistent:
    return TrainerState(opt_state, None, *counters)
  key_bits, key_labels = jax.random.split(key)
  shape = ((batch_size,) if config.temperatures == 1
           else (config.temperatures, batch_size))
  chains = sampling.random_visible(key_bits, math.prod(shape), state.num_visible,
                                   state.W.dtype).reshape(shape + (-1,))
  label_units = config.label_units
  if label_units:
    labels = jax.random.randint(key_labels, shape, 0, label_units)
    chains = chains.at[..., -label_units:].set(
        jax.nn.one_hot(labels, label_units, dtype=chains.dtype))
  return TrainerState(opt_state, chains, *counters)


def ascent(config: TrainConfig, state: RBMState, A: jax.Array,
           statistics: RBMState) -> RBMState:
  """The ascent direction of (W, b, c, α): (A ⊙ G [− λ sign W], Δb, Δc, the
  strength rule's direction, 0 on label rows)."""
  G, db, dc = statistics[:3]
  strength_ascent = strength_rules.RULES[config.strength_rule](state, G)
  if config.label_units:
    strength_ascent = strength_ascent.at[-config.label_units:].set(0.0)
  weight_ascent = A * G
  if config.mode.l1:
    weight_ascent = weight_ascent - config.l1_penalty * jnp.sign(state.W)
  return type(state)(weight_ascent, db, dc, strength_ascent)


def update(config: TrainConfig, optimizer: optax.GradientTransformation,
           state: RBMState, opt_state: TrainerState, batch: jax.Array,
           key: jax.Array):
  """One step's (new state, new trainer state, the phases, the old mask A).

  With hidden-unit gates s (``config.hidden``, :mod:`ncg.hidden_kinds`) the
  phases run on the gated RBM (W ⊙ A ⊙ s, c ⊙ s), its statistics are carried
  back to the ungated parameters, and the gate state takes its own step."""
  A = rbm.mask(state)
  check_model(config, state)
  kind = config.hidden_kind
  model = rbm.dense(state.W * A, state.b, state.c, state.visible)  # W ⊙ A once
  s = kind.gates(config, opt_state.hidden, key)
  if s is not None:
    s = s.astype(model.W.dtype)
  gated = model if s is None else rbm.dense(model.W * s, model.b, model.c * s,
                                            model.visible)
  p = phases_lib.phases(config, gated, batch, opt_state.chains, key,
                       opt_state.step)
  statistics = phases_lib.cd_statistics(batch, p)
  if s is not None:
    statistics = hidden_kinds.gated_statistics(statistics, s)
  hidden = opt_state.hidden
  if kind.step is not None:
    hidden = kind.step(config, hidden, model, batch, p.negatives, s, opt_state.step)
  direction = ascent(config, state, A, statistics)
  updates, new_opt = optimizer.update(jax.tree.map(jnp.negative, direction),
                                      opt_state.optimizer, state)
  updates = updates._replace(W=updates.W * A)  # absent weights stay frozen
  new_state = optax.apply_updates(state, updates)
  strength = jnp.clip(new_state.strength, 0.0, 1.0)
  if config.hysteresis:
    strength = hysteresis_band(strength, A, config.hysteresis)
  new_state = new_state._replace(strength=strength)
  flipped = (rbm.mask(new_state) != A).astype(jnp.int32)
  return new_state, TrainerState(new_opt, p.chains, opt_state.step + 1,
                                 opt_state.flips + flipped, hidden), p, A


def step(update_fn: Callable, state: RBMState, opt_state: TrainerState,
         batch: jax.Array, key: jax.Array
         ) -> tuple[RBMState, TrainerState, StepMetrics]:
  """:meth:`Trainer.step` over ``update_fn`` (:func:`update` of a config)."""
  inputs.check_data(batch, state.W.shape[-2], state.visible, 'the minibatch')
  new_state, new_opt, p, A = update_fn(state, opt_state, batch, key)
  added, removed, _ = mask_changes(A, rbm.mask(new_state))
  return new_state, new_opt, StepMetrics(
      phases_lib.reconstruction_error(batch, p), added, removed,
      near_threshold(new_state), *p.swaps)


def epoch_step(update_fn: Callable, state: RBMState, opt_state: TrainerState,
               batch: jax.Array, key: jax.Array
               ) -> tuple[RBMState, TrainerState, StepMetrics]:
  """:meth:`Trainer.epoch_step`: :func:`step` without the mask counts."""
  new_state, new_opt, p, _ = update_fn(state, opt_state, batch, key)
  return new_state, new_opt, StepMetrics(
      phases_lib.reconstruction_error(batch, p), None, None,
      near_threshold(new_state), *p.swaps)


def rewire(config: TrainConfig, state: RBMState, opt_state: TrainerState,
           batch: jax.Array, key: jax.Array):
  """:meth:`Trainer.rewire`: the mode's drop-and-grow (RigL reads the CD
  statistics of ``batch``; the chains are untouched), with the flips counted."""
  A = rbm.mask(state)
  gradient = None
  mode = config.mode
  if mode.needs_gradient:  # the CD statistics of a minibatch, chains untouched
    model = rbm.dense(state.W * A, state.b, state.c, state.visible)
    gradient = phases_lib.cd_statistics(
        batch, phases_lib.phases(config, model, batch, opt_state.chains, key,
                                 opt_state.step)).W
  new_state = mode.rewire(config, key, state, gradient, opt_state.step)
  added, removed, flipped = mask_changes(A, rbm.mask(new_state))
  return (new_state, opt_state._replace(flips=opt_state.flips + flipped),
          added, removed)


def make_trainer(config: TrainConfig) -> Trainer:
  """Builds the pure CD-k / PCD-k / PT-k trainer of ``config``."""
  optimizer = make_optimizer(config, config.learning_rate,
                             config.resolved_strength_learning_rate)
  update_fn = precision.training(config.matmul_precision)(
      functools.partial(update, config, optimizer))
  return Trainer(functools.partial(init, config),
                 functools.partial(step, update_fn),
                 functools.partial(rewire, config) if config.mode.rewire else None,
                 config.rewire_every,
                 functools.partial(epoch_step, update_fn),
                 functools.partial(hidden_kinds.width, config))

"""CD-k and PCD-k training of an RBM with network connectivity gradients (NCG).

One minibatch v (B, V) of data gives, with negatives ṽ from a k-step Gibbs
chain (started at the data for CD, at persistent chains for PCD; binary
samples, the last hidden step using probabilities), the statistics

    G  = (1/B) Σ_data v p(h=1|v)ᵀ − (1/B) Σ_neg ṽ p(h=1|ṽ)ᵀ        (V, H)
    Δb = mean(v) − mean(ṽ),     Δc = mean p(h|v) − mean p(h|ṽ),

the CD estimate of ∂ log p / ∂(W ⊙ A). De Oliveira & Figueiredo's update:

    W ← W + η · A ⊙ G                 (absent weights frozen, not zeroed)
    b ← b + η Δb,   c ← c + η Δc
    α ← clip(α + η_α · W ⊙ G, 0, 1),   A = [α > 0.5]

W ⊙ G is the *network gradient* ∂ log p / ∂A_ij of every possible connection,
present or not (W unmasked), so connections are both added and removed; the
objective is the plain RBM likelihood. Parameters and strengths get separate
optax optimizers through ``optax.partition`` (SGD by default, η_α = 5η as in
the reference; momentum or Adam selectable). Connectivity modes:

* ``'dense'``: every strength is 1 and stays 1;
* ``'fixed'``: the initial mask is frozen (sparse baselines);
* ``'ncg'``: strengths follow the network gradient.

The step is written for one model; ``jax.vmap`` over (state, opt_state, key)
trains a population — seeds × learning rates × initial densities — in one call
(learning rates live in the optimizer state, see :meth:`Trainer.init`).
"""

from __future__ import annotations

import dataclasses
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from ncg import data as data_lib
from ncg import rbm
from ncg import sampling
from ncg.errors import check
from ncg.rbm import RBMState

CONNECTIVITY_MODES = ('dense', 'fixed', 'ncg')
OPTIMIZERS = ('sgd', 'momentum', 'adam')
PARAMS, STRENGTH = 'params', 'strength'
STRENGTH_LR_FACTOR = 5.0  # η_α = 5η, hard-coded in the reference


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """Static settings of a trainer (hashable; changing one re-jits).

  Attributes:
    k: Gibbs sweeps per negative sample (k ≥ 1).
    persistent: PCD-k (persistent chains) instead of CD-k.
    connectivity: 'dense', 'fixed' or 'ncg'.
    learning_rate: η of W, b, c (default of :meth:`Trainer.init`).
    strength_learning_rate: η_α of the strengths; None means 5η.
    optimizer: 'sgd' (the reference), 'momentum' or 'adam'.
    momentum: β of 'momentum' (and β1 of 'adam').
    label_units: L one-hot label units at the end of the visible layer
      (joint classification RBM): sampled as a softmax group, always
      connected, never touched by connectivity learning.
    rng: uniforms of the Gibbs chains: 'hash' (fast on CPU, see
      :mod:`ncg.sampling`) or 'threefry' (JAX's generator).
  """
  k: int = 1
  persistent: bool = False
  connectivity: str = 'ncg'
  learning_rate: float = 0.01
  strength_learning_rate: float | None = None
  optimizer: str = 'sgd'
  momentum: float = 0.9
  label_units: int = 0
  rng: str = 'hash'

  def __post_init__(self):
    check(isinstance(self.k, int) and self.k >= 1, f'k must be an integer >= 1, got {self.k}')
    check(self.connectivity in CONNECTIVITY_MODES,
          f'unknown connectivity {self.connectivity!r}; choose one of '
          f'{CONNECTIVITY_MODES}')
    check(self.optimizer in OPTIMIZERS,
          f'unknown optimizer {self.optimizer!r}; choose one of {OPTIMIZERS}')
    check(self.learning_rate > 0,
          f'learning_rate must be positive, got {self.learning_rate}')
    check(self.strength_learning_rate is None or self.strength_learning_rate >= 0,
          'strength_learning_rate must be non-negative, got '
          f'{self.strength_learning_rate}')
    check(0 <= self.momentum < 1, f'momentum must be in [0, 1), got {self.momentum}')
    check(self.label_units >= 0, f'label_units must be >= 0, got {self.label_units}')
    check(self.rng in sampling.RNGS,
          f'unknown rng {self.rng!r}; choose one of {sampling.RNGS}')

  @property
  def resolved_strength_learning_rate(self) -> float:
    if self.strength_learning_rate is None:
      return STRENGTH_LR_FACTOR * self.learning_rate
    return self.strength_learning_rate


class TrainerState(NamedTuple):
  """Everything a trainer carries between steps besides the model.

  Attributes:
    optimizer: the ``optax.partition`` state (learning rates inside).
    chains: (C, V) persistent fantasy particles for PCD; None for CD.
  """
  optimizer: optax.OptState
  chains: jax.Array | None


class StepMetrics(NamedTuple):
  """Per-step diagnostics (scalars).

  Attributes:
    reconstruction_error: mean over the batch of Σ_i (v_i − p(v_i=1|h))² with
      h ~ p(h|v): squared error of a one-step reconstruction, in bits.
    added: connections switched on by this step.
    removed: connections switched off by this step.
  """
  reconstruction_error: jax.Array
  added: jax.Array
  removed: jax.Array


class Statistics(NamedTuple):
  """Expected sufficient statistics ⟨v hᵀ⟩ (V, H), ⟨v⟩ (V,), ⟨h⟩ (H,)."""
  vh: jax.Array
  v: jax.Array
  h: jax.Array

  def __sub__(self, other: 'Statistics') -> 'Statistics':
    return Statistics(*(a - b for a, b in zip(self, other)))


class Trainer(NamedTuple):
  """Pure ``init`` and ``step`` functions of one training algorithm.

  init(state, key, batch_size, learning_rate=None, strength_learning_rate=None)
      → TrainerState. Learning rates default to the config's; they may be
      traced scalars, so ``jax.vmap(trainer.init)`` builds a population with
      one learning rate per member.
  step(state, opt_state, batch (B, V), key) → (state, opt_state, StepMetrics).
  """
  init: Callable[..., TrainerState]
  step: Callable[..., tuple[RBMState, TrainerState, StepMetrics]]


def expected_statistics(state: RBMState, v: jax.Array,
                        weights: jax.Array | None = None) -> Statistics:
  """⟨v p(h=1|v)ᵀ⟩, ⟨v⟩, ⟨p(h=1|v)⟩ over the rows of v (N, V).

  ``weights`` (N,), summing to 1, replaces the plain mean (for exact model
  expectations by enumeration); by default each row weighs 1/N.
  """
  ph = rbm.hidden_probs(state, v)
  if weights is None:
    weights = jnp.full(v.shape[0], 1.0 / v.shape[0], v.dtype)
  weighted = v * weights[:, None]
  return Statistics(weighted.T @ ph, weighted.sum(0), weights @ ph)


def network_gradient(state: RBMState, vh_gradient: jax.Array) -> jax.Array:
  """∂ log p / ∂A_ij = W_ij · G_ij for every possible connection, (V, H).

  ``vh_gradient`` is G = ∂ log p / ∂(W ⊙ A), e.g. the CD statistics.
  """
  return state.W * vh_gradient


def connect_label_units(state: RBMState, label_units: int) -> RBMState:
  """Sets the strengths of the last ``label_units`` visible rows to 1."""
  if not label_units:
    return state
  return state._replace(strength=state.strength.at[-label_units:].set(1.0))


def _make_optimizer(config: TrainConfig, learning_rate, strength_learning_rate
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
                        if config.connectivity == 'ncg' else optax.set_to_zero())
  return optax.partition(
      {PARAMS: base(learning_rate), STRENGTH: strength_optimizer},
      RBMState(PARAMS, PARAMS, PARAMS, STRENGTH))


def make_trainer(config: TrainConfig) -> Trainer:
  """Builds the pure CD-k / PCD-k trainer of ``config``."""
  optimizer = _make_optimizer(config, config.learning_rate,
                              config.resolved_strength_learning_rate)
  label_units, rng = config.label_units, config.rng

  def init(state: RBMState, key: jax.Array, batch_size: int,
           learning_rate=None, strength_learning_rate=None) -> TrainerState:
    lr = config.learning_rate if learning_rate is None else learning_rate
    strength_lr = (config.resolved_strength_learning_rate
                   if strength_learning_rate is None else strength_learning_rate)
    opt_state = _make_optimizer(config, lr, strength_lr).init(state)
    if not config.persistent:
      return TrainerState(opt_state, None)
    key_bits, key_labels = jax.random.split(key)
    chains = sampling.random_visible(key_bits, batch_size, state.num_visible,
                                     state.W.dtype)
    if label_units:
      labels = jax.random.randint(key_labels, (batch_size,), 0, label_units)
      chains = chains.at[:, -label_units:].set(
          jax.nn.one_hot(labels, label_units, dtype=chains.dtype))
    return TrainerState(opt_state, chains)

  def step(state: RBMState, opt_state: TrainerState, batch: jax.Array,
           key: jax.Array) -> tuple[RBMState, TrainerState, StepMetrics]:
    A = rbm.mask(state)
    model = rbm.dense(state.W * A, state.b, state.c)  # W ⊙ A, mask computed once
    key_h, key_v, key_chain = jax.random.split(key, 3)
    batch_size = batch.shape[0]

    # The first half-sweep from the data gives both the reconstruction and, for
    # CD, the chain's first visible sample (2k + 3 matmuls in all for CD-k).
    ph_data = rbm.hidden_probs(model, batch)
    h_data = sampling.bernoulli(key_h, ph_data, rng)
    v_first, recon = sampling.sample_visible_from_logits(
        key_v, rbm.visible_logits(model, h_data), label_units, rng)
    if config.persistent:
      start, sweeps = opt_state.chains, config.k
    else:
      start, sweeps = v_first, config.k - 1
    if sweeps:
      negatives = sampling.sample_chains(key_chain, model, start, sweeps,
                                         label_units, rng)
    else:
      negatives = start
    ph_negatives = rbm.hidden_probs(model, negatives)

    # G = [v; ṽ]ᵀ [p(h|v); −p(h|ṽ)] / B as one matmul of inner size 2B.
    both = jnp.concatenate([batch, negatives])
    signed_ph = jnp.concatenate([ph_data, -ph_negatives])
    G = both.T @ signed_ph / batch_size
    db = (batch.sum(0) - negatives.sum(0)) / batch_size
    dc = (ph_data.sum(0) - ph_negatives.sum(0)) / batch_size

    strength_ascent = network_gradient(state, G)
    if label_units:
      strength_ascent = strength_ascent.at[-label_units:].set(0.0)
    ascent = RBMState(A * G, db, dc, strength_ascent)
    updates, new_opt = optimizer.update(jax.tree.map(jnp.negative, ascent),
                                        opt_state.optimizer, state)
    updates = updates._replace(W=updates.W * A)  # absent weights stay frozen
    new_state = optax.apply_updates(state, updates)
    new_state = new_state._replace(strength=jnp.clip(new_state.strength, 0.0, 1.0))

    new_A = rbm.mask(new_state)
    metrics = StepMetrics(
        reconstruction_error=jnp.mean(jnp.sum((batch - recon) ** 2, axis=-1)),
        added=jnp.sum((new_A > A).astype(jnp.int32)),
        removed=jnp.sum((new_A < A).astype(jnp.int32)))
    chains = negatives if config.persistent else opt_state.chains
    return new_state, TrainerState(new_opt, chains), metrics

  return Trainer(init, step)


class EpochMetrics(NamedTuple):
  """Per-epoch diagnostics (scalars).

  Attributes:
    reconstruction_error: mean over the epoch's steps (bits per example).
    added, removed: connections switched on / off, summed over steps.
    density: fraction of possible connections present at the epoch's end.
    mean_abs_weight: mean |W_ij| over present connections at the end.
  """
  reconstruction_error: jax.Array
  added: jax.Array
  removed: jax.Array
  density: jax.Array
  mean_abs_weight: jax.Array


def connectivity_summary(state: RBMState) -> tuple[jax.Array, jax.Array]:
  """(density, mean |W| over present connections) of a state."""
  A = rbm.mask(state)
  present = jnp.maximum(A.sum(), 1.0)
  return A.mean(), jnp.sum(jnp.abs(state.W) * A) / present


def run_epoch(trainer: Trainer, state: RBMState, opt_state: TrainerState,
              x: jax.Array, key: jax.Array, batch_size: int
              ) -> tuple[RBMState, TrainerState, EpochMetrics]:
  """One pass over x (N, V) in a fresh random order, scanned on the device.

  Jit it with ``trainer`` and ``batch_size`` static, e.g. through
  :func:`make_epoch`. The last N mod B examples of the order are skipped.
  """
  key_order, key_steps = jax.random.split(key)
  batches = data_lib.epoch_batches(key_order, x, batch_size)

  def body(carry, inputs):
    state, opt_state = carry
    batch, step_key = inputs
    state, opt_state, metrics = trainer.step(state, opt_state, batch, step_key)
    return (state, opt_state), metrics

  keys = jax.random.split(key_steps, batches.shape[0])
  (state, opt_state), steps = jax.lax.scan(body, (state, opt_state),
                                           (batches, keys))
  density, mean_abs_weight = connectivity_summary(state)
  return state, opt_state, EpochMetrics(
      jnp.mean(steps.reconstruction_error), jnp.sum(steps.added),
      jnp.sum(steps.removed), density, mean_abs_weight)


def make_epoch(config: TrainConfig, batch_size: int, population: bool = False):
  """Jitted ``epoch(state, opt_state, x, key)`` of :func:`run_epoch`.

  With ``population=True`` it is vmapped over the leading axis of state,
  opt_state and key (x shared): one call trains every member.
  """
  trainer = make_trainer(config)

  def epoch(state, opt_state, x, key):
    return run_epoch(trainer, state, opt_state, x, key, batch_size)

  if population:
    epoch = jax.vmap(epoch, in_axes=(0, 0, None, 0))
  return jax.jit(epoch)


@jax.jit
def free_energy_gap(state: RBMState, train_x: jax.Array,
                    held_out_x: jax.Array) -> jax.Array:
  """mean F(held-out) − mean F(train), in nats: > 0 grows with overfitting.

  Z cancels, so this is the average log-likelihood of train minus held-out.
  """
  return (jnp.mean(rbm.free_energy(state, held_out_x))
          - jnp.mean(rbm.free_energy(state, train_x)))

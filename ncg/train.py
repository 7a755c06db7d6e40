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

* ``'ncg'``: strengths follow the network gradient;
* ``'dense'``: every strength is 1 and stays 1;
* ``'fixed'``: the initial mask is frozen (a random pattern of a given size);
* ``'set'``: SET (Mocanu et al. 2018): after every epoch (or every
  ``rewire_every`` steps) the fraction ζ of present weights nearest 0 is
  dropped and as many absent connections regrow at random, with new weights
  N(0, s²) (:mod:`ncg.rewiring`);
* ``'rigl'``: RigL (Evci et al. 2020): drop by smallest |W|, regrow the
  absent connections of largest |G| (the CD statistics of one minibatch) at
  weight 0, every ``rewire_every`` steps with the cosine-decaying fraction
  ζ_t = ζ/2 (1 + cos(π t / T_end));
* ``'l1'``: dense training of −log p + λ‖W‖₁ (subgradient λ·sign(W)); its
  *effective* density is the fraction of |W_ij| above
  ``magnitude_threshold``.

Every mode reports that effective density beside the mask's, and the trainer
counts, per connection, how often its mask bit flipped (:attr:`TrainerState.flips`).

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
from ncg import inputs
from ncg import precision
from ncg import rbm
from ncg import sampling
from ncg import strength_rules
from ncg import units
from ncg.errors import check
from ncg.modes import CONNECTIVITY_MODES, DENSE_MODES, MODES, Mode  # the table (re-exported)
from ncg.rbm import RBMState


NEAR_THRESHOLD_BAND = 0.05  # |α − ½| below this counts as "near the threshold"
OPTIMIZERS = ('sgd', 'momentum', 'adam')
PARAMS, STRENGTH = 'params', 'strength'
STRENGTH_LR_FACTOR = 5.0  # η_α = 5η, hard-coded in the reference


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """Static settings of a trainer (hashable; changing one re-jits).

  Attributes:
    k: Gibbs sweeps per negative sample (k ≥ 1).
    persistent: PCD-k (persistent chains) instead of CD-k.
    connectivity: one of :data:`MODES` ('ncg', 'dense', 'fixed', 'set',
      'rigl', 'l1').
    learning_rate: η of W, b, c (default of :meth:`Trainer.init`).
    strength_learning_rate: η_α of the strengths; None means 5η.
    optimizer: 'sgd' (the reference), 'momentum' or 'adam'.
    momentum: β of 'momentum' (and β1 of 'adam').
    label_units: L one-hot label units at the end of the visible layer
      (joint classification RBM): sampled as a softmax group, always
      connected, never touched by connectivity learning.
    rng: the generator of the Gibbs chains' draws, one of
      :data:`ncg.sampling.IMPLS`: 'hash' (fast on CPU, see :mod:`ncg.sampling`)
      or 'threefry' (JAX's). A step re-types its key to that PRNG
      implementation (:func:`ncg.sampling.keyed`); keys passed in may be
      of any implementation, typed or raw (``jax.random.PRNGKey``).
    visible: the visible unit type (:mod:`ncg.units`): 'bernoulli' (binary
      data) or 'gaussian' (unit-variance Gaussian units for real-valued,
      standardised data; no label units). G, Δb, Δc and the network
      gradient W ⊙ G have the same form for both.
    rewire_fraction: ζ of 'set' and 'rigl' (RigL's initial fraction).
    rewire_every: steps between rewirings; 0 = once, after the epoch's last
      step.
    rewire_until: RigL's T_end in steps (ζ decays to 0 there); 0 = no decay.
    new_weight_scale: s of SET's new weights N(0, s²).
    l1_penalty: λ of 'l1' (per weight, in the units of the mean log p).
    magnitude_threshold: τ of the effective density mean(A ⊙ [|W| > τ]).
    hysteresis: h of a band ½ ± h around the threshold (NCG only; 0 = off,
      the reference): a strength whose step crossed ½ is moved to the far
      edge of the band (½ + h when added, ½ − h when removed), so it must
      travel back at least h before its connection can flip again.
    strength_rule: NCG's strength direction, one of
      :data:`ncg.strength_rules.RULES`: 'reference' (W ⊙ G, the paper's) or
      'normalized' (W ⊙ G · ρ_ref/ρ(W), free of the weights' global scale;
      an option for small starts, docs/ncg.md §2a).
    reconstruction: whether a PCD step also reconstructs its data for the
      ``reconstruction_error`` diagnostic. CD-k gets it free (the chain's
      first half-sweep starts from the data); PCD-k must pay a matmul of
      B·V·H and B·(V + H) random numbers for it, about 1/7 of a PCD-1 step.
      False skips that work (the metric is then NaN); the parameters and
      chains are the same either way.
    matmul_precision: the training step's matmuls (:mod:`ncg.precision`):
      'default' (the backend's: float32 on a CPU, TF32 on recent NVIDIA GPUs,
      bfloat16 passes on TPUs; the numbers of earlier runs), 'float32'
      (float32 products everywhere) or 'bfloat16' (bfloat16 operands,
      float32 accumulation; parameters and optimizer state stay float32).
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
  rewire_fraction: float = 0.3
  rewire_every: int = 0
  rewire_until: int = 0
  new_weight_scale: float = 0.05
  l1_penalty: float = 1e-4
  magnitude_threshold: float = 0.01
  visible: str = 'bernoulli'
  hysteresis: float = 0.0
  strength_rule: str = 'reference'
  reconstruction: bool = True
  matmul_precision: str = 'default'

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
    check(0 <= self.rewire_fraction <= 1,
          f'rewire_fraction must be in [0, 1], got {self.rewire_fraction}')
    check(isinstance(self.rewire_every, int) and self.rewire_every >= 0,
          f'rewire_every must be an integer >= 0, got {self.rewire_every}')
    check(isinstance(self.rewire_until, int) and self.rewire_until >= 0,
          f'rewire_until must be an integer >= 0, got {self.rewire_until}')
    check(self.new_weight_scale >= 0,
          f'new_weight_scale must be >= 0, got {self.new_weight_scale}')
    check(self.l1_penalty >= 0, f'l1_penalty must be >= 0, got {self.l1_penalty}')
    check(self.magnitude_threshold >= 0,
          f'magnitude_threshold must be >= 0, got {self.magnitude_threshold}')
    check(self.visible in units.VISIBLE,
          f'unknown visible unit type {self.visible!r}; choose one of '
          f'{tuple(units.VISIBLE)}')
    check(self.visible == 'bernoulli' or not self.label_units,
          f'label units need binary visible units, not {self.visible!r}')
    check(0 <= self.hysteresis < 0.5,
          f'hysteresis must be in [0, 0.5), got {self.hysteresis}')
    check(self.strength_rule in strength_rules.RULES,
          f'unknown strength_rule {self.strength_rule!r}; choose one of '
          f'{tuple(strength_rules.RULES)}')
    check(self.matmul_precision in precision.TRAINING_PRECISIONS,
          f'unknown matmul_precision {self.matmul_precision!r}; choose one of '
          f'{tuple(precision.TRAINING_PRECISIONS)}')

  @property
  def mode(self) -> Mode:
    return MODES[self.connectivity]

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
    step: steps taken (int32 scalar; RigL's schedule reads it).
    flips: (V, H) int32, how often each connection's mask bit has flipped
      (steps and rewirings), for the connectivity analytics.
  """
  optimizer: optax.OptState
  chains: jax.Array | None
  step: jax.Array
  flips: jax.Array


class StepMetrics(NamedTuple):
  """Per-step diagnostics (scalars).

  Attributes:
    reconstruction_error: mean over the batch of Σ_i (v_i − p(v_i=1|h))² with
      h ~ p(h|v): squared error of a one-step reconstruction, in bits.
    added: connections switched on by this step.
    removed: connections switched off by this step.
    near_threshold: fraction of strengths with |α − ½| < 0.05 after it.
  """
  reconstruction_error: jax.Array
  added: jax.Array
  removed: jax.Array
  near_threshold: jax.Array


class Statistics(NamedTuple):
  """Expected sufficient statistics ⟨v hᵀ⟩ (V, H), ⟨v⟩ (V,), ⟨h⟩ (H,)."""
  vh: jax.Array
  v: jax.Array
  h: jax.Array

  def __sub__(self, other: 'Statistics') -> 'Statistics':
    return Statistics(*(a - b for a, b in zip(self, other)))


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
      (:func:`flip_transitions`), so its step skips two passes over the V×H
      mask. None: epochs run ``step``.
  """
  init: Callable[..., TrainerState]
  step: Callable[..., tuple[RBMState, TrainerState, StepMetrics]]
  rewire: Callable[..., tuple[RBMState, TrainerState, jax.Array, jax.Array]] | None = None
  rewire_every: int = 0
  epoch_step: Callable[..., tuple[RBMState, TrainerState, StepMetrics]] | None = None


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
                        if config.mode.learns_strength else optax.set_to_zero())
  return optax.partition(
      {PARAMS: base(learning_rate), STRENGTH: strength_optimizer},
      lambda state: type(state)(PARAMS, PARAMS, PARAMS, STRENGTH))


class Phases(NamedTuple):
  """The two phases of one CD-k / PCD-k minibatch.

  Attributes:
    ph_data: (B, H) p(h=1|v) of the data.
    negatives: (B, V) the chains' visible samples ṽ after the k-th sweep.
    ph_negatives: (B, H) p(h=1|ṽ).
    reconstruction: (B, V) p(v=1|h) with h ~ p(h|v), the one-step
      reconstruction of the data; None for PCD with
      ``config.reconstruction`` off.
  """
  ph_data: jax.Array
  negatives: jax.Array
  ph_negatives: jax.Array
  reconstruction: jax.Array


def phases(config: TrainConfig, model: RBMState, batch: jax.Array,
           chains: jax.Array | None, key: jax.Array) -> Phases:
  """Positive and negative phase of one minibatch under ``model`` (W ⊙ A).

  The first half-sweep from the data gives both the reconstruction and, for
  CD, the chain's first visible sample, so CD-k costs 2k + 1 matmuls here.
  PCD continues ``chains`` (B, V) for k sweeps (2k + 1 matmuls, or 2k + 2
  with the reconstruction).
  """
  # the config's generator, as the keys' PRNG implementation (same splits)
  key_h, key_v, key_chain = jax.random.split(sampling.keyed(key, config.rng), 3)
  ph_data = rbm.hidden_probs(model, batch)
  v_first = recon = None
  if not config.persistent or config.reconstruction:
    h_data = sampling.bernoulli(key_h, ph_data)
    v_first, recon = units.VISIBLE[config.visible].sample(
        key_v, rbm.visible_logits(model, h_data), config.label_units)
  if config.persistent:
    start, sweeps = chains, config.k
  else:
    start, sweeps = v_first, config.k - 1
  if sweeps:
    negatives = sampling.sample_chains(key_chain, model, start, sweeps,
                                       config.label_units, config.visible)
  else:
    negatives = start
  return Phases(ph_data, negatives, rbm.hidden_probs(model, negatives), recon)


def cd_statistics(batch: jax.Array, p: Phases) -> RBMState:
  """(G, Δb, Δc) of a minibatch as an RBMState-shaped tree (strength = G).

  G = [v; ṽ]ᵀ [p(h|v); −p(h|ṽ)] / B as one matmul of inner size 2B,
  Δb = mean(v − ṽ), Δc = mean(p(h|v) − p(h|ṽ)).
  """
  batch_size = batch.shape[0]
  both = jnp.concatenate([batch, p.negatives])
  signed_ph = jnp.concatenate([p.ph_data, -p.ph_negatives])
  G = both.T @ signed_ph / batch_size
  db = (batch.sum(0) - p.negatives.sum(0)) / batch_size
  dc = (p.ph_data.sum(0) - p.ph_negatives.sum(0)) / batch_size
  return RBMState(G, db, dc, G)


def _reconstruction_error(batch: jax.Array, p: Phases) -> jax.Array:
  """StepMetrics.reconstruction_error (NaN when PCD skipped the reconstruction)."""
  if p.reconstruction is None:
    return jnp.full((), jnp.nan, batch.dtype)
  return jnp.mean(jnp.sum((batch - p.reconstruction) ** 2, axis=-1))


def _near_threshold(state: RBMState) -> jax.Array:
  """Fraction of strengths with |α − ½| < NEAR_THRESHOLD_BAND."""
  return jnp.mean((jnp.abs(state.strength - 0.5)
                   < NEAR_THRESHOLD_BAND).astype(jnp.float32))


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


def _mask_changes(old_A, new_A):
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


def _check_model(config: TrainConfig, state: RBMState) -> None:
  check(state.visible == config.visible,
        f'the RBM has {state.visible!r} visible units but the trainer trains '
        f'{config.visible!r} ones: build it with rbm.init(..., visible='
        f'{config.visible!r})')


def make_trainer(config: TrainConfig) -> Trainer:
  """Builds the pure CD-k / PCD-k trainer of ``config``."""
  optimizer = _make_optimizer(config, config.learning_rate,
                              config.resolved_strength_learning_rate)
  label_units, mode = config.label_units, config.mode

  def init(state: RBMState, key: jax.Array, batch_size: int,
           learning_rate=None, strength_learning_rate=None) -> TrainerState:
    _check_model(config, state)
    lr = config.learning_rate if learning_rate is None else learning_rate
    strength_lr = (config.resolved_strength_learning_rate
                   if strength_learning_rate is None else strength_learning_rate)
    opt_state = _make_optimizer(config, lr, strength_lr).init(state)
    counters = (jnp.zeros((), jnp.int32), jnp.zeros(state.W.shape, jnp.int32))
    if not config.persistent:
      return TrainerState(opt_state, None, *counters)
    key_bits, key_labels = jax.random.split(key)
    chains = sampling.random_visible(key_bits, batch_size, state.num_visible,
                                     state.W.dtype)
    if label_units:
      labels = jax.random.randint(key_labels, (batch_size,), 0, label_units)
      chains = chains.at[:, -label_units:].set(
          jax.nn.one_hot(labels, label_units, dtype=chains.dtype))
    return TrainerState(opt_state, chains, *counters)

  @precision.training(config.matmul_precision)
  def update(state: RBMState, opt_state: TrainerState, batch: jax.Array,
             key: jax.Array):
    """(new state, new trainer state, the phases, the old mask A)."""
    A = rbm.mask(state)
    _check_model(config, state)
    model = rbm.dense(state.W * A, state.b, state.c, state.visible)  # W ⊙ A once
    p = phases(config, model, batch, opt_state.chains, key)
    G, db, dc = cd_statistics(batch, p)[:3]

    strength_ascent = strength_rules.RULES[config.strength_rule](state, G)
    if label_units:
      strength_ascent = strength_ascent.at[-label_units:].set(0.0)
    weight_ascent = A * G
    if mode.l1:
      weight_ascent = weight_ascent - config.l1_penalty * jnp.sign(state.W)
    ascent = type(state)(weight_ascent, db, dc, strength_ascent)
    updates, new_opt = optimizer.update(jax.tree.map(jnp.negative, ascent),
                                        opt_state.optimizer, state)
    updates = updates._replace(W=updates.W * A)  # absent weights stay frozen
    new_state = optax.apply_updates(state, updates)
    strength = jnp.clip(new_state.strength, 0.0, 1.0)
    if config.hysteresis:
      strength = hysteresis_band(strength, A, config.hysteresis)
    new_state = new_state._replace(strength=strength)
    flipped = (rbm.mask(new_state) != A).astype(jnp.int32)
    chains = p.negatives if config.persistent else opt_state.chains
    return new_state, TrainerState(new_opt, chains, opt_state.step + 1,
                                   opt_state.flips + flipped), p, A

  def step(state: RBMState, opt_state: TrainerState, batch: jax.Array,
           key: jax.Array) -> tuple[RBMState, TrainerState, StepMetrics]:
    inputs.check_data(batch, state.W.shape[-2], state.visible, 'the minibatch')
    new_state, new_opt, p, A = update(state, opt_state, batch, key)
    added, removed, _ = _mask_changes(A, rbm.mask(new_state))
    return new_state, new_opt, StepMetrics(
        _reconstruction_error(batch, p), added, removed,
        _near_threshold(new_state))

  def epoch_step(state: RBMState, opt_state: TrainerState, batch: jax.Array,
                 key: jax.Array) -> tuple[RBMState, TrainerState, StepMetrics]:
    new_state, new_opt, p, _ = update(state, opt_state, batch, key)
    return new_state, new_opt, StepMetrics(
        _reconstruction_error(batch, p), None, None, _near_threshold(new_state))

  def rewire(state: RBMState, opt_state: TrainerState, batch: jax.Array,
             key: jax.Array):
    A = rbm.mask(state)
    gradient = None
    if mode.needs_gradient:  # the CD statistics of a minibatch, chains untouched
      model = rbm.dense(state.W * A, state.b, state.c, state.visible)
      gradient = cd_statistics(
          batch, phases(config, model, batch, opt_state.chains, key)).W
    new_state = mode.rewire(config, key, state, gradient, opt_state.step)
    added, removed, flipped = _mask_changes(A, rbm.mask(new_state))
    return (new_state, opt_state._replace(flips=opt_state.flips + flipped),
            added, removed)

  return Trainer(init, step, rewire if mode.rewire else None,
                 config.rewire_every, epoch_step)


class EpochMetrics(NamedTuple):
  """Per-epoch diagnostics (scalars).

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
  """
  reconstruction_error: jax.Array
  added: jax.Array
  removed: jax.Array
  density: jax.Array
  mean_abs_weight: jax.Array
  effective_density: jax.Array
  near_threshold: jax.Array


def connectivity_summary(state: RBMState) -> tuple[jax.Array, jax.Array]:
  """(density, mean |W| over present connections) of a state."""
  A = rbm.mask(state)
  present = jnp.maximum(A.sum(), 1.0)
  return A.mean(), jnp.sum(jnp.abs(state.W) * A) / present


def effective_density(state: RBMState, threshold: float) -> jax.Array:
  """Fraction of the V·H connections present with |W_ij| > threshold."""
  return jnp.mean(rbm.mask(state) * (jnp.abs(state.W) > threshold))


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
  num_steps = batches.shape[0]
  keys = jax.random.split(key_steps, num_steps)
  key_rewire = jax.random.fold_in(key_steps, num_steps)  # not among ``keys``
  zero = jnp.zeros((), jnp.int32)
  step_fn = trainer.epoch_step or trainer.step
  start_mask, start_flips = rbm.mask(state), opt_state.flips

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
  # Every switch of the epoch, by a step or a rewiring, is one flip count.
  added, removed = flip_transitions(start_mask, opt_state.flips - start_flips)
  density, mean_abs_weight = connectivity_summary(state)
  return state, opt_state, EpochMetrics(
      jnp.mean(steps.reconstruction_error), added, removed, density,
      mean_abs_weight, effective_density(state, magnitude_threshold),
      jnp.mean(steps.near_threshold))


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

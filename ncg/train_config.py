"""The static settings of an RBM trainer: :class:`TrainConfig`, checked in one place.

A config is a frozen, hashable dataclass: the trainer, the epoch and the
resume format are built from it, and changing a field re-jits. Every range
and name is checked in ``__post_init__`` (:class:`ncg.errors.InputError`
with one line), so nothing downstream re-checks a field;
:func:`check_model` is the one check that needs the model too.
"""

from __future__ import annotations

import dataclasses

from ncg import hidden_kinds
from ncg import precision
from ncg import sampling
from ncg import strength_rules
from ncg import units
from ncg.errors import check
from ncg.modes import CONNECTIVITY_MODES, MODES, Mode
from ncg.rbm import RBMState


OPTIMIZERS = ('sgd', 'momentum', 'adam')
STRENGTH_LR_FACTOR = 5.0  # η_α = 5η, hard-coded in the reference


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """Static settings of a trainer (hashable; changing one re-jits).

  Attributes:
    k: Gibbs sweeps per negative sample (k ≥ 1).
    persistent: PCD-k (persistent chains) instead of CD-k.
    temperatures: K, the rungs of the persistent chains' parallel-tempering
      ladder (:mod:`ncg.tempering`, docs/ncg.md §7): each of the B chains is
      a ladder of K chains at inverse temperatures 1 = β_0 > … > β_{K−1} =
      ``beta_min`` (geometric) that swap neighbours after every sweep; the
      negative phase reads rung 0. 1 (default) is plain PCD, the one-rung
      ladder. K > 1 needs ``persistent``.
    beta_min: β_{K−1}, the hottest rung's inverse temperature, in (0, 1).
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
    hidden: how the hidden units are learned, one of
      :data:`ncg.hidden_kinds.KINDS` (docs/ncg.md §8): 'fixed' (default: all H
      units, always on), 'ncg_h' (NCG-H: a continuous s′_j ∈ [0, 1] per unit
      follows the CD estimate of ∂ log p/∂s_j, unit on iff s′_j > ½; units
      stay in the arrays and can come back) or 'gated' (Bernoulli gates
      z_j ~ Bernoulli(θ_j) with the parsimonious hyper-prior, θ by projected
      SGD; a unit at θ = 0 leaves the arrays, :func:`ncg.hidden_kinds.remove_units`;
      needs flax, ``ncg[prune]``).
    hidden_learning_rate: η_s of s′ ('ncg_h') or η₀ of θ ('gated').
    hidden_init: s′ or θ of every unit at the start, in (0, 1].
    hidden_penalty: 'gated': λ/N, the price of a unit in nats per example
      (the flattening hyper-prior's gate term −λθ).
    hidden_sharpness: 'gated': γ/N of the sharpened hyper-prior (a concave
      pull of θ towards 0 or 1; 0 = the flattening hyper-prior).
    hidden_grace_steps: steps before s′ or θ moves.
    hidden_decay_steps: 'gated': τ of the Robbins–Monro step η₀/(1 + t/τ);
      0 = a constant step.
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
  temperatures: int = 1
  beta_min: float = 0.1
  hidden: str = 'fixed'
  hidden_learning_rate: float = 0.05
  hidden_init: float = 1.0
  hidden_penalty: float = 1e-3
  hidden_sharpness: float = 0.0
  hidden_grace_steps: int = 0
  hidden_decay_steps: float = 0.0

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
    check(isinstance(self.temperatures, int) and self.temperatures >= 1,
          f'temperatures must be an integer >= 1, got {self.temperatures}')
    check(self.temperatures == 1 or self.persistent,
          'parallel tempering (temperatures > 1) is a persistent negative '
          'phase: set persistent=True')
    check(0 < self.beta_min < 1, f'beta_min must be in (0, 1), got {self.beta_min}')
    check(self.matmul_precision in precision.TRAINING_PRECISIONS,
          f'unknown matmul_precision {self.matmul_precision!r}; choose one of '
          f'{tuple(precision.TRAINING_PRECISIONS)}')
    check(self.hidden in hidden_kinds.KINDS,
          f'unknown hidden {self.hidden!r}; choose one of '
          f'{tuple(hidden_kinds.KINDS)}')
    check(self.hidden_learning_rate > 0,
          f'hidden_learning_rate must be positive, got {self.hidden_learning_rate}')
    check(0 < self.hidden_init <= 1,
          f'hidden_init must be in (0, 1], got {self.hidden_init}')
    check(self.hidden_penalty >= 0,
          f'hidden_penalty must be >= 0, got {self.hidden_penalty}')
    check(self.hidden_sharpness >= 0,
          f'hidden_sharpness must be >= 0, got {self.hidden_sharpness}')
    check(isinstance(self.hidden_grace_steps, int) and self.hidden_grace_steps >= 0,
          f'hidden_grace_steps must be an integer >= 0, got {self.hidden_grace_steps}')
    check(self.hidden_decay_steps >= 0,
          f'hidden_decay_steps must be >= 0, got {self.hidden_decay_steps}')

  @property
  def mode(self) -> Mode:
    return MODES[self.connectivity]

  @property
  def hidden_kind(self) -> hidden_kinds.HiddenKind:
    return hidden_kinds.KINDS[self.hidden]

  @property
  def resolved_strength_learning_rate(self) -> float:
    if self.strength_learning_rate is None:
      return STRENGTH_LR_FACTOR * self.learning_rate
    return self.strength_learning_rate


def check_model(config: TrainConfig, state: RBMState) -> None:
  """InputError unless the model's visible type is the one ``config`` trains."""
  check(state.visible == config.visible,
        f'the RBM has {state.visible!r} visible units but the trainer trains '
        f'{config.visible!r} ones: build it with rbm.init(..., visible='
        f'{config.visible!r})')

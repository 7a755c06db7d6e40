"""The static settings of a trainer and their checks (docs/parsimonious.md §5–§8a).

:class:`Config` is hashable (part of the jit cache key); :func:`validate` is the one
place its values are checked, against the tables of methods
(:data:`ncg.parsimonious.methods.METHODS`) and θ estimators
(:data:`ncg.parsimonious.estimators.ESTIMATORS`); :func:`initial_gates` checks θ_init.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

from ncg.errors import check
from ncg.parsimonious import estimators
from ncg.parsimonious import methods
from ncg.parsimonious import models
from ncg.parsimonious.architecture import Architecture


class Config(NamedTuple):
  """Static settings of a trainer (hashable: part of the jit cache key).

  Attributes:
    learning_rate: Adam step size of the weights.
    theta_learning_rate: η₀ of the θ steps (Bernoulli gates).
    penalty: λ / N, the price of one surviving unit in nats per example.
    penalty_scale: per gate group multiplier s_g of the price.
    prior_variance: σ² of the Gaussian slab prior on the weights.
    num_train: N, the number of training examples.
    method: a row of :data:`METHODS`: 'bernoulli' (this project's method),
      'l0' (hard-concrete baseline), 'dense' (every gate fixed at 1) or
      'dropout' (the dense network under dropout at the rates ``dropout``).
    estimator: 'antithetic' (DisARM in θ), 'taylor_cv' (the same with the
      first-order Taylor expansion of ℓ around z = θ as control variate) or
      'local' ('taylor_cv' for the input pixels, the exact differences
      ℓ(z_j = 1) − ℓ(z_j = 0) for hidden units: ``NetKind.hidden_differences``,
      MLPs only).
    theta_optimizer: 'sgd' (projected SGD, the method) or 'adam' (projected
      Adam, a diagonal preconditioner; kept for comparison).
    theta_decay_steps: τ of the Robbins–Monro step, in steps.
    theta_decay_power: κ ∈ (0.5, 1].
    grace_steps: G, steps before θ moves (no unit can leave before).
    decide_step: if > 0, θ stops moving from this step on (the run rounds
      or folds θ there, see :func:`finalize`); 0 = never.
    decay_steps: if > 0, the weights' learning rate follows a cosine decay
      to 1% over this many steps (the whole run); 0 keeps it constant.
    coupled_prior: the weight prior is weighted by the gates' probabilities
      (False: plain L2 on every weight whatever θ, the previous model).
    theta_averaging: β of the exponential average of the θ-gradient estimates
      that the projected step follows (m ← β m + (1 − β) ĝ, θ ← Π(θ − η_t m));
      0 = the plain estimate.
    explore: ε; the gates are sampled from θ̃ = min(θ, 1 − ε), so a unit at
      θ = 1 is still switched off in a fraction ε of the examples and its
      one-sided derivative Δ_j is estimated (unbiased, as Δ_j does not depend
      on θ_j itself; the other gates at 1 add a bias of order ε). 0 = none.
    sharpness: γ/N (nats per example per unit) of the sharpened hyper-prior:
      J gains (γ/N) Σ_j H_ε(θ_j) (:func:`ncg.parsimonious.gates.smoothed_entropy`
      with ε = ``objective.SHARPNESS_EDGE``), a concave pull of every θ towards 0 or 1
      of at most (γ/N) log((1 − ε)/ε). 0 = the flattening hyper-prior.
    sharpness_final: r ≥ 0, the factor of γ reached at ``sharpness_end_step``:
      γ_t goes linearly from γ (at the end of the grace period) to r γ there
      and stays at r γ after (:func:`sharpness_at`; docs §7: the band of
      vertices held by the hyper-prior, |Δ_j + c_j| < 3.9 γ_t/N, follows it).
      r < 1 closes the band over the run, r > 1 sharpens late; 1 = constant γ.
    sharpness_end_step: T, the step at which the anneal reaches r γ (the run's
      last step); ignored when r = 1.
    price_macs: the price is (κ/N) E_q[MACs] (``penalty`` = κ/N per MAC,
      ``penalty_scale`` unused) instead of (λ/N) Σ_g s_g Σ_j θ_gj
      (:mod:`ncg.parsimonious.prices`).
    warmup_steps: for this many steps every gate with θ > 0 is on (a dense
      warm-up: one deterministic pass per step, θ does not move; must not
      exceed ``grace_steps``), so that the first decisions rest on weights
      trained without the gates' noise. 0 = none.
    gate_rate_factor: L0: log α steps with Adam at this multiple of the
      weights' learning rate (the paper: 1).
    gate_clamp: L0: log α is clipped to [−gate_clamp, gate_clamp] after every
      step (the authors' code: log 100); 0 = no clipping.
    penalty_ramp_steps: R > 0 raises the price linearly from 0 at the end of
      the grace period to its full value R steps later (:func:`price_factor`):
      a continuation path, so that units leave in the order of their value for
      their cost and the expected-MAC price is charged at widths near the final
      ones rather than at the start's; 0 = the full price from the start.
    difference_examples: m > 0 computes the 'local' estimator's exact
      differences on m examples of each minibatch instead of all B (unbiased;
      m/B of their cost, which dominates a gated step at wide starts: 10× the
      dense step at 784-300-100, 18× at 784-600-200); 0 = the whole batch.
    weight_ema: β > 0 keeps a debiased moving average of the weights in the
      optimizer state (:mod:`ncg.parsimonious.averaging`; the L0 paper's
      0.999), which :func:`evaluation_params` returns for evaluation and the
      final network; 0 = none.
    dropout: method 'dropout': the drop rate r_g ∈ [0, 1) of each gate group
      (inputs, then hidden units or filters), units kept with probability
      1 − r_g and scaled by 1/(1 − r_g); () for any other method.
  """
  learning_rate: float
  theta_learning_rate: float
  penalty: float
  penalty_scale: tuple[float, ...]
  prior_variance: float
  num_train: int
  method: str = 'bernoulli'
  estimator: str = 'taylor_cv'
  theta_optimizer: str = 'sgd'
  theta_decay_steps: float = 1000.0
  theta_decay_power: float = 1.0
  grace_steps: int = 0
  decide_step: int = 0
  decay_steps: int = 0
  coupled_prior: bool = True
  theta_averaging: float = 0.99
  explore: float = 0.02
  sharpness: float = 0.0
  sharpness_final: float = 1.0
  sharpness_end_step: int = 0
  price_macs: bool = False
  warmup_steps: int = 0
  gate_rate_factor: float = 10.0
  gate_clamp: float = 0.0
  weight_ema: float = 0.0
  penalty_ramp_steps: int = 0
  difference_examples: int = 0
  dropout: tuple[float, ...] = ()


THETA_OPTIMIZERS = ('sgd', 'adam')


def validate(config: Config, arch: Architecture) -> None:
  """Raises InputError for values that make no sense."""
  check(config.learning_rate > 0, f'learning_rate must be > 0, got {config.learning_rate}')
  check(config.theta_learning_rate > 0,
        f'theta_learning_rate must be > 0, got {config.theta_learning_rate}')
  check(config.penalty >= 0, f'penalty must be >= 0, got {config.penalty}')
  check(config.prior_variance > 0, f'prior_variance must be > 0, got {config.prior_variance}')
  check(config.method in methods.METHODS,
        f'unknown method {config.method!r}; choose one of {tuple(methods.METHODS)}')
  check(config.estimator in estimators.ESTIMATORS,
        f'unknown estimator {config.estimator!r}; choose one of {tuple(estimators.ESTIMATORS)}')
  check(config.estimator != 'local' or models.kind(arch).hidden_differences is not None,
        f"estimator 'local' (exact hidden-unit differences) needs an MLP, not {arch.kind!r}")
  check(config.theta_optimizer in THETA_OPTIMIZERS,
        f'unknown theta_optimizer {config.theta_optimizer!r}; choose one of {THETA_OPTIMIZERS}')
  check(0.5 < config.theta_decay_power <= 1 or config.theta_decay_power == 0,
        f'theta_decay_power must be in (0.5, 1] (or 0: constant), got {config.theta_decay_power}')
  check(config.theta_decay_steps > 0,
        f'theta_decay_steps must be > 0, got {config.theta_decay_steps}')
  check(config.grace_steps >= 0, f'grace_steps must be >= 0, got {config.grace_steps}')
  check(0 <= config.theta_averaging < 1,
        f'theta_averaging must be in [0, 1), got {config.theta_averaging}')
  check(0 <= config.explore < 0.5, f'explore must be in [0, 0.5), got {config.explore}')
  check(config.sharpness >= 0, f'sharpness must be >= 0, got {config.sharpness}')
  check(config.sharpness_final >= 0,
        f'sharpness_final must be >= 0, got {config.sharpness_final}')
  check(config.sharpness_final == 1 or config.sharpness_end_step > config.grace_steps,
        'sharpness_end_step must come after the grace period when sharpness_final < 1')
  check(0 <= config.warmup_steps <= config.grace_steps,
        f'the warm-up ({config.warmup_steps} steps) must lie inside the grace period '
        f'({config.grace_steps} steps)')
  check(config.gate_rate_factor > 0,
        f'gate_rate_factor must be > 0, got {config.gate_rate_factor}')
  check(config.difference_examples >= 0,
        f'difference_examples must be >= 0, got {config.difference_examples}')
  check(config.penalty_ramp_steps >= 0,
        f'penalty_ramp_steps must be >= 0, got {config.penalty_ramp_steps}')
  check(0 <= config.weight_ema < 1, f'weight_ema must be in [0, 1), got {config.weight_ema}')
  check(config.gate_clamp >= 0, f'gate_clamp must be >= 0, got {config.gate_clamp}')
  check(config.method != 'dropout' or len(config.dropout) == len(arch.widths),
        f"method 'dropout' needs one drop rate per gate group {models.group_names(arch)}, "
        f'got {config.dropout}')
  check(config.method == 'dropout' or not config.dropout,
        f"dropout rates are used by method 'dropout' only, not {config.method!r}")
  for rate in config.dropout:
    check(0 <= rate < 1, f'dropout rates must be in [0, 1), got {config.dropout}')
  check(len(config.penalty_scale) == len(arch.widths),
        f'penalty_scale needs one value per gate group {models.group_names(arch)}, '
        f'got {config.penalty_scale}')


def initial_gates(theta_init: float | Sequence[float], arch: Architecture) -> tuple[float, ...]:
  """θ_init per gate group: one value for all, or one per group (InputError otherwise)."""
  values = (tuple(float(t) for t in theta_init) if isinstance(theta_init, (tuple, list))
            else (float(theta_init),) * len(arch.widths))
  check(len(values) == len(arch.widths),
        f'theta_init needs one value or one per gate group {models.group_names(arch)}, '
        f'got {theta_init}')
  for t in values:
    check(0 < t <= 1, f'theta_init must be in (0, 1], got {t}')
  return values

"""The objective, the pure trainer (``init``/``step``) and a training epoch with on-line shrinking.

Per minibatch of B examples (N training examples in all) the negative ELBO per
example, after the flattening hyper-prior has been maximised out, is

    J(W, θ) = E_q[ mean_n ℓ_n(W, z_n) ] + Σ_w E_q[1(w used)] w² / (2 σ² N)
              + (λ/N) Σ_g s_g Σ_j θ_gj

(ℓ_n the cross-entropy, z_n the per-example gates, s_g a per-group weight of
the unit cost, 1 by default). A weight is *used* when every gate on its path
is on (a kernel entry (a, b): both unit a and unit b), so E_q[1(w used)] is
the product of their θ: the slab prior is paid only by weights that are
present, as in L0-style models (``Config.coupled_prior``). ``Config.penalty``
is λ/N in nats per example.

Gradients (docs/parsimonious.md §6): the W-gradient is the exact gradient of
the antithetic average ½(ℓ(b) + ℓ(b̃)) plus the prior's; the θ-gradient is the
unbiased DisARM / Taylor-control-variate estimate plus the exact gradients of
the prior and of the price. When every θ is 0 or 1 the gates are deterministic
and one forward/backward pass gives both (the Taylor estimate at the boundary
is ∂ℓ/∂z at z = θ).

θ-update: projected stochastic gradient, θ ← Π_[0,1](θ − η_t ĝ), with the
Robbins–Monro step η_t = η₀ / (1 + (t − G)/τ)^κ after a grace period of G
steps (η_t = 0 before: no unit can leave while the weights are untrained) and
0.5 < κ ≤ 1 (Σ η_t = ∞, Σ η_t² < ∞). θ = 0 is absorbing: such a unit is never
sampled, outputs 0 and is removed (:mod:`ncg.parsimonious.shrink`), so when it
is removed does not change the result. The weights use Adam (cosine decay
over the run). The L0 baseline (:mod:`ncg.parsimonious.l0`) shares all of
this except the gates: log α gets Adam with the weights' schedule, as in
Louizos et al. The dense baseline is the Bernoulli network with every θ fixed
at 1. Methods are rows of :data:`METHODS`; network kinds rows of
:data:`ncg.parsimonious.models.KINDS`.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ncg.errors import check
from ncg.parsimonious import averaging
from ncg.parsimonious import gates as gates_lib
from ncg.parsimonious import l0 as l0_lib
from ncg.parsimonious import models
from ncg.parsimonious import prices as prices_lib
from ncg.parsimonious import shrink as shrink_lib
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
      'l0' (hard-concrete baseline) or 'dense' (every gate fixed at 1).
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
      with ε = ``SHARPNESS_EDGE``), a concave pull of every θ towards 0 or 1
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


# ε of the smoothed entropy H_ε of the sharpened hyper-prior: its slope at
# θ = 0 and 1 is ±log(49) ≈ ±3.9 (a unit at 1 leaves only if Δ_j + λ/N > 3.9 γ/N).
SHARPNESS_EDGE = 0.02


class TrainState(NamedTuple):
  """params = {'weights': flax variables, 'theta': tuple of (w_g,) gate parameters}.

  The gate parameters are θ (Bernoulli) or log α (L0); ``step`` counts updates.
  """
  step: jax.Array
  params: dict
  opt_state: Any


class StepMetrics(NamedTuple):
  """loss: mean data loss of the step's gate draws (nats); objective: loss + prior + price."""
  loss: jax.Array
  objective: jax.Array


class EpochMetrics(NamedTuple):
  """loss: mean step loss over the epoch (nats); shrinks: times the arrays were rebuilt."""
  loss: float
  shrinks: int


THETA_OPTIMIZERS = ('sgd', 'adam')
ESTIMATORS = ('antithetic', 'taylor_cv', 'local')


def validate(config: Config, arch: Architecture) -> None:
  """Raises InputError for values that make no sense."""
  check(config.learning_rate > 0, f'learning_rate must be > 0, got {config.learning_rate}')
  check(config.theta_learning_rate > 0,
        f'theta_learning_rate must be > 0, got {config.theta_learning_rate}')
  check(config.penalty >= 0, f'penalty must be >= 0, got {config.penalty}')
  check(config.prior_variance > 0, f'prior_variance must be > 0, got {config.prior_variance}')
  check(config.method in METHODS, f'unknown method {config.method!r}; choose one of {tuple(METHODS)}')
  check(config.estimator in ESTIMATORS,
        f'unknown estimator {config.estimator!r}; choose one of {ESTIMATORS}')
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
  check(len(config.penalty_scale) == len(arch.widths),
        f'penalty_scale needs one value per gate group {models.group_names(arch)}, '
        f'got {config.penalty_scale}')


def theta_step_size(config: Config, step: jax.Array) -> jax.Array:
  """η_t: 0 during the grace period and after ``decide_step``, else η₀/(1 + (t − G)/τ)^κ."""
  t = jnp.asarray(step, jnp.float32) - config.grace_steps
  rate = config.theta_learning_rate / (1.0 + jnp.maximum(t, 0.0) / config.theta_decay_steps
                                       ) ** config.theta_decay_power
  rate = jnp.where(t < 0, 0.0, rate)
  if config.decide_step:
    rate = jnp.where(step >= config.decide_step, 0.0, rate)
  return rate


def per_example_loss(arch: Architecture, weights: dict, x: jax.Array,
                     y: jax.Array, gates: Sequence[jax.Array]) -> jax.Array:
  """Cross-entropy (B,) in nats."""
  logits = models.apply(arch, weights, x, gates)
  return optax.softmax_cross_entropy_with_integer_labels(logits, y)


def weight_prior(arch: Architecture, config: Config, weights: dict,
                 probs: Sequence[jax.Array]) -> jax.Array:
  """Σ_w P(w used) w² / (2 σ² N): the slab prior's negative log density per example.

  P(w used) is the product of the on-probabilities ``probs`` (per group
  (w_g,)) of the gates indexing the weight (``NetKind.unit_axes``); weights
  no gate indexes (the output bias) count fully. With
  ``config.coupled_prior = False`` every weight counts fully.
  """
  axes: dict[tuple[str, str], list[tuple[int, int]]] = {}
  if config.coupled_prior:
    for group, triples in enumerate(models.kind(arch).unit_axes(arch)):
      for layer, name, axis in triples:
        axes.setdefault((layer, name), []).append((axis, group))
  total = 0.0
  for layer, leaves in weights['params'].items():
    for name, w in leaves.items():
      square = w ** 2
      for axis, group in axes.get((layer, name), []):
        shape = [1] * w.ndim
        shape[axis] = w.shape[axis]
        square = square * jnp.reshape(probs[group], shape)
      total = total + jnp.sum(square)
  return total / (2 * config.prior_variance * config.num_train)


def price_factor(config: Config, step: jax.Array | int | None) -> jax.Array | float:
  """clip((t − G)/R, 0, 1) with R = ``penalty_ramp_steps`` (1 if R = 0 or ``step`` is None)."""
  if not config.penalty_ramp_steps or step is None:
    return 1.0
  t = jnp.asarray(step, jnp.float32) - config.grace_steps
  return jnp.clip(t / config.penalty_ramp_steps, 0.0, 1.0)


def price(arch: Architecture, config: Config, probs: Sequence[jax.Array],
          step: jax.Array | int | None = None) -> jax.Array:
  """(λ/N) Σ_g s_g Σ_j P(z_gj ≠ 0), or (κ/N) E_q[MACs] (``price_macs``; :mod:`prices`),
  times :func:`price_factor` at ``step`` (the full price when ``step`` is None)."""
  return price_factor(config, step) * prices_lib.term(
      arch, config.penalty, config.penalty_scale, config.price_macs, probs)


def sharpness_at(config: Config, step: jax.Array | int | None) -> jax.Array:
  """γ_t/N = (γ/N) (1 − (1 − r) clip((t − G)/(T − G), 0, 1)): the annealed sharpness.

  Constant γ/N when r = ``sharpness_final`` = 1 or ``step`` is None.
  """
  if config.sharpness_final == 1 or step is None:
    return jnp.asarray(config.sharpness, jnp.float32)
  span = config.sharpness_end_step - config.grace_steps
  progress = jnp.clip((jnp.asarray(step, jnp.float32) - config.grace_steps) / span, 0.0, 1.0)
  return config.sharpness * (1.0 - (1.0 - config.sharpness_final) * progress)


def sharpening(config: Config, thetas: Sequence[jax.Array],
               step: jax.Array | int | None = None) -> jax.Array:
  """(γ_t/N) Σ_j H_ε(θ_j): the sharpened hyper-prior's concave term of J (0 if γ = 0).

  γ_t is :func:`sharpness_at` of ``step`` (constant γ if ``step`` is None).
  """
  if not config.sharpness:
    return jnp.zeros(())
  return sharpness_at(config, step) * sum(jnp.sum(gates_lib.smoothed_entropy(t, SHARPNESS_EDGE))
                                for t in thetas)


def theta_gradient_estimate(arch: Architecture, config: Config, weights: dict,
                            thetas: Sequence[jax.Array], x: jax.Array, y: jax.Array,
                            b: Sequence[jax.Array], b_tilde: Sequence[jax.Array],
                            loss: jax.Array | None = None,
                            loss_tilde: jax.Array | None = None) -> list[jax.Array]:
  """Unbiased estimate of ∂ E_q[mean_n ℓ_n] / ∂θ from one antithetic gate pair.

  'antithetic': :func:`ncg.parsimonious.gates.theta_gradient` of ℓ.
  'taylor_cv': control variate c_n(z) = Σ_j g_nj z_nj with g_n = ∂ℓ_n/∂z at
  z = θ (the mean-field network), a vector fixed before z is drawn. For any
  fixed g, E_θ[ℓ] = E_θ[ℓ − c] + g·θ, so ∂E[ℓ]/∂θ_j = ∂E[ℓ − c]/∂θ_j + g_j
  and the DisARM estimate of the first term keeps the sum unbiased, while
  ℓ − c has only the non-linear part of ℓ left to add noise.

  Args:
    weights: flax variables; thetas: per group (w_g,).
    x, y: (B, D) inputs and (B,) labels.
    b, b_tilde: per group (B, w_g) antithetic gates.
    loss, loss_tilde: (B,) losses under b and b̃ if already computed.

  Returns:
    Per group (w_g,) gradient estimates (prior and price not included). At
    θ_j ∈ {0, 1} 'antithetic' returns 0; 'taylor_cv' returns g_j, the
    first-order estimate of the one-sided derivative.
  """
  if loss is None:
    loss = per_example_loss(arch, weights, x, y, b)
    loss_tilde = per_example_loss(arch, weights, x, y, b_tilde)
  if config.estimator == 'antithetic':
    return gates_lib.theta_gradient(loss, loss_tilde, b, b_tilde, thetas)
  weights = jax.lax.stop_gradient(weights)
  mean_gates = [jnp.broadcast_to(t, (x.shape[0],) + t.shape) for t in thetas]
  taylor = jax.grad(lambda g: jnp.sum(per_example_loss(arch, weights, x, y, g)))(mean_gates)
  linear = lambda gates: sum(jnp.sum(t * g, axis=1) for t, g in zip(taylor, gates))
  grads = gates_lib.theta_gradient(loss - linear(b), loss_tilde - linear(b_tilde),
                                   b, b_tilde, thetas)
  grads = [g + jnp.mean(t, axis=0) for g, t in zip(grads, taylor)]
  if config.estimator == 'local':   # hidden groups: exact differences, both draws averaged
    pairs = zip(_differences(arch, config, weights, x, y, b),
                _differences(arch, config, weights, x, y, b_tilde))
    grads = grads[:1] + [0.5 * (d.mean(0) + dt.mean(0)) for d, dt in pairs]
  return grads


def _differences(arch, config, weights, x, y, gates):
  """``NetKind.hidden_differences`` on the first ``difference_examples`` rows of the batch
  (all if 0): the minibatch is a uniform random draw, so its first m rows are one too and
  the mean difference stays unbiased, at m/B of the cost (the (B, H_l, D_{l+1}) arrays)."""
  m = config.difference_examples
  if m and m < x.shape[0]:
    x, y, gates = x[:m], y[:m], [g[:m] for g in gates]
  return models.kind(arch).hidden_differences(arch, weights, x, y, gates)


def sampling_probabilities(config: Config, thetas: Sequence[jax.Array],
                           step: jax.Array | int | None = None) -> list[jax.Array]:
  """θ̃ = min(θ, 1 − ε) for θ > 0 (θ = 0 stays 0): the gates' sampling probabilities.

  During the warm-up (``step < config.warmup_steps``) every gate with θ > 0 is on.
  """
  probs = list(thetas)
  if config.explore:
    probs = [jnp.minimum(t, 1.0 - config.explore) for t in probs]
  if config.warmup_steps and step is not None:
    warm = step < config.warmup_steps
    probs = [jnp.where(warm, (t > 0).astype(p.dtype), p) for t, p in zip(thetas, probs)]
  return probs


def _bernoulli_data_gradients(arch, config, weights, thetas, x, y, key, step=None):
  """(∂/∂W, ∂/∂θ, loss) of E_q̃[mean ℓ]: one pass if every θ̃ is 0 or 1, else three."""
  batch = x.shape[0]
  thetas = sampling_probabilities(config, thetas, step)

  def deterministic(_):
    gates = [jnp.broadcast_to(t, (batch,) + t.shape) for t in thetas]
    f = lambda w, g: per_example_loss(arch, w, x, y, g).mean()
    loss, (grad_w, grad_z) = jax.value_and_grad(f, argnums=(0, 1))(weights, gates)
    if config.estimator == 'antithetic':
      grad_t = [jnp.zeros_like(t) for t in thetas]
    else:   # Taylor at the boundary: g_j = mean_n ∂ℓ_n/∂z_nj at z = θ
      grad_t = [jnp.sum(g, axis=0) for g in grad_z]
    if config.estimator == 'local':   # exact one-sided differences of the hidden units
      grad_t = grad_t[:1] + [d.mean(0) for d in _differences(
          arch, config, jax.lax.stop_gradient(weights), x, y, gates)]
    return grad_w, list(grad_t), loss

  def stochastic(_):
    b, b_tilde = gates_lib.antithetic_gates(key, thetas, batch)

    def data(w):
      loss = per_example_loss(arch, w, x, y, b)
      loss_tilde = per_example_loss(arch, w, x, y, b_tilde)
      return 0.5 * (loss.mean() + loss_tilde.mean()), (loss, loss_tilde)
    (value, (loss, loss_tilde)), grad_w = jax.value_and_grad(data, has_aux=True)(weights)
    grad_t = theta_gradient_estimate(arch, config, weights, thetas, x, y, b, b_tilde,
                                     loss, loss_tilde)
    return grad_w, list(grad_t), value

  decided = jnp.all(jnp.stack([jnp.all((t == 0) | (t == 1)) for t in thetas]))
  return jax.lax.cond(decided, deterministic, stochastic, None)


def _bernoulli_gradients(arch, config, params, x, y, key, step=None):
  weights, thetas = params['weights'], params['theta']
  grad_w, grad_t, loss = _bernoulli_data_gradients(arch, config, weights, thetas, x, y, key,
                                                     step)
  rest = lambda w, t: (weight_prior(arch, config, w, t) + price(arch, config, t, step)
                       + sharpening(config, t, step))
  extra, (extra_w, extra_t) = jax.value_and_grad(rest, argnums=(0, 1))(weights, tuple(thetas))
  grads = {'weights': jax.tree.map(jnp.add, grad_w, extra_w),
           'theta': tuple(g + e for g, e in zip(grad_t, extra_t))}
  return grads, StepMetrics(loss, loss + extra)


def _l0_gradients(arch, config, params, x, y, key, step=None):
  def objective(weights, log_alphas):
    z = l0_lib.sample(key, log_alphas, x.shape[0])
    loss = per_example_loss(arch, weights, x, y, z).mean()
    probs = [l0_lib.prob_nonzero(a) for a in log_alphas]
    return (loss + weight_prior(arch, config, weights, probs)
            + price(arch, config, probs, step)), loss
  (value, loss), (grad_w, grad_a) = jax.value_and_grad(objective, argnums=(0, 1),
                                                       has_aux=True)(params['weights'],
                                                                     params['theta'])
  return {'weights': grad_w, 'theta': tuple(grad_a)}, StepMetrics(loss, value)


def _bernoulli_project(config, old, new):
  """Clip to [0, 1]; θ = 0 is absorbing (the unit is out for good)."""
  del config
  return tuple(jnp.where(o == 0, 0.0, gates_lib.project(n)) for o, n in zip(old, new))


class Method(NamedTuple):
  """How one kind of gate is parameterised, trained and made deterministic.

  Attributes:
    init_gate: (theta_init, width) → (width,) initial gate parameters
      (InputError for a theta_init the method cannot start from).
    gradients: (arch, config, params, x, y, key, step) → (grads like params, StepMetrics).
    theta_optimizer: (config, weight learning rate schedule) → optax transform.
    project: (config, old, new gate parameters) → feasible new gate parameters.
    final_gate: gate parameters → deterministic gate values in [0, 1] (0 = removed).
    alive: gate parameters → whether the unit can still be on (False: removable now).
    one: the gate parameter of a unit that is always on.
    probability: gate parameters → (w_g,) values in [0, 1] whose 0 and 1 say
      the gate is decided (θ; L0: the test gate, P(z ≠ 0) is never 0 or 1).
    gated: False for the dense network (no gate ever moves).
    passes: forward passes per step counted in the training cost while some
      gate is undecided (1 once every gate is decided).
    decisions: whether the Δ_j check of :mod:`ncg.parsimonious.analysis`
      applies (Bernoulli gates at vertices).
    fixed: (Config field, value) pairs the method pins (:func:`method_config`):
      settings it does not use, so that summaries say what ran.
  """
  init_gate: Callable[[float, int], jax.Array]
  gradients: Callable
  theta_optimizer: Callable[[Config, Any], optax.GradientTransformation]
  project: Callable
  final_gate: Callable[[jax.Array], jax.Array]
  alive: Callable[[jax.Array], np.ndarray]
  one: float
  probability: Callable[[jax.Array], np.ndarray]
  gated: bool = True
  passes: int = 1
  decisions: bool = False
  fixed: tuple[tuple[str, Any], ...] = ()


def _bernoulli_optimizer(config, weight_schedule):
  del weight_schedule
  rate = functools.partial(theta_step_size, config)
  base = getattr(optax, config.theta_optimizer)(rate)
  if not config.theta_averaging:
    return base
  return optax.chain(optax.ema(config.theta_averaging, debias=True), base)


def _l0_init_gate(theta: float, width: int) -> jax.Array:
  check(theta < 1, 'the L0 baseline needs theta_init < 1 (log α finite)')
  return jnp.full((width,), l0_lib.log_alpha_for(theta), jnp.float32)


def _scaled(schedule, factor):
  return (lambda count: factor * schedule(count)) if callable(schedule) else factor * schedule


def _l0_project(config, old, new):
  """log α clipped to [−c, c] when ``gate_clamp`` = c > 0 (the authors' code: c = log 100)."""
  del old
  if not config.gate_clamp:
    return tuple(new)
  return tuple(jnp.clip(a, -config.gate_clamp, config.gate_clamp) for a in new)


# The default log α rate of the L0 gates is 10× the weights' (``Config.gate_rate_factor``):
# Louizos et al. train 200 epochs at 10⁻³ with factor 1, the short runs here 20-60 epochs.
L0_RATE_FACTOR = 10.0
MODE_THRESHOLD = 0.5   # θ ≥ ½: kept by the final (mode) network, θ folded in
NEVER = 2 ** 30        # grace_steps of the dense method: θ's step size stays 0

METHODS: dict[str, Method] = {
    'bernoulli': Method(
        init_gate=lambda theta, width: jnp.full((width,), theta, jnp.float32),
        gradients=_bernoulli_gradients,
        theta_optimizer=_bernoulli_optimizer,
        project=_bernoulli_project,
        final_gate=lambda t: jnp.where(t >= MODE_THRESHOLD, t, 0.0),
        alive=lambda t: np.asarray(t) > 0,
        one=1.0,
        probability=np.asarray,
        passes=3,          # two antithetic, one mean-field (the Taylor control variate)
        decisions=True),
    'l0': Method(
        init_gate=_l0_init_gate,
        gradients=_l0_gradients,
        theta_optimizer=lambda config, weight_schedule: optax.adam(
            _scaled(weight_schedule, config.gate_rate_factor)),
        project=_l0_project,
        final_gate=l0_lib.test_gate,
        alive=lambda a: np.ones(np.shape(a), bool),   # no removal while training
        one=20.0,                                     # test gate min(1, 1.2σ(20) − 0.1) = 1
        probability=lambda a: np.asarray(l0_lib.test_gate(a))),
    # The unpruned baseline: the Bernoulli network with every θ at 1 and a
    # grace period that never ends (one deterministic pass per step: θ at a
    # vertex, no exploration; θ never moves; no price, no sharpening).
    'dense': Method(
        init_gate=lambda theta, width: jnp.ones((width,), jnp.float32),
        gradients=_bernoulli_gradients,
        theta_optimizer=_bernoulli_optimizer,
        project=_bernoulli_project,
        final_gate=lambda t: jnp.where(t >= MODE_THRESHOLD, t, 0.0),
        alive=lambda t: np.asarray(t) > 0,
        one=1.0,
        probability=np.asarray,
        gated=False,
        fixed=(('penalty', 0.0), ('explore', 0.0), ('sharpness', 0.0),
               ('sharpness_final', 1.0), ('grace_steps', NEVER), ('warmup_steps', 0),
               ('estimator', 'taylor_cv'), ('price_macs', False))),
}


def method_config(config: Config) -> Config:
  """``config`` as its method runs it: the fields the method pins (``Method.fixed``) set.

  InputError for an unknown method. :func:`make_trainer` applies it; a caller
  that reports settings applies it too.
  """
  check(config.method in METHODS,
        f'unknown method {config.method!r}; choose one of {tuple(METHODS)}')
  return config._replace(**dict(METHODS[config.method].fixed))


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


class Trainer(NamedTuple):
  """init(key, arch, num_inputs, theta_init, init_scheme, init_scale) → TrainState;
  step(arch, state, x, y, key) → (TrainState, StepMetrics). Pure; the optax
  transformation is built once per config."""
  config: Config
  tx: optax.GradientTransformation
  init: Callable[..., TrainState]
  step: Callable[..., tuple[TrainState, StepMetrics]]


@functools.lru_cache(maxsize=16)
def make_trainer(config: Config) -> Trainer:
  """The trainer of a config: Adam on the weights, the method's optimizer on the gates.

  ``Trainer.config`` is :func:`method_config` of ``config``.
  """
  config = method_config(config)
  method = METHODS[config.method]
  weight_schedule = (optax.cosine_decay_schedule(config.learning_rate, config.decay_steps, 0.01)
                     if config.decay_steps > 0 else config.learning_rate)
  labels = lambda params: {'weights': jax.tree.map(lambda _: 'weights', params['weights']),
                           'theta': tuple('theta' for _ in params['theta'])}
  weight_tx = optax.adam(weight_schedule)
  if config.weight_ema:
    weight_tx = optax.chain(weight_tx, averaging.weight_average(config.weight_ema))
  tx = optax.partition({'weights': weight_tx,
                        'theta': method.theta_optimizer(config, weight_schedule)}, labels)

  def init(key: jax.Array, arch: Architecture, num_inputs: int,
           theta_init: float | Sequence[float], init_scheme: str = 'lecun',
           init_scale: float = 1.0) -> TrainState:
    per_group = initial_gates(theta_init, arch)
    weights = models.init_weights(key, arch, num_inputs, init_scheme, init_scale)
    thetas = tuple(method.init_gate(t, w) for t, w in zip(per_group, arch.widths))
    params = {'weights': weights, 'theta': thetas}
    return TrainState(jnp.zeros((), jnp.int32), params, tx.init(params))

  def step(arch: Architecture, state: TrainState, x: jax.Array, y: jax.Array,
           key: jax.Array) -> tuple[TrainState, StepMetrics]:
    grads, metrics = method.gradients(arch, config, state.params, x, y, key, state.step)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    params = {'weights': params['weights'],
              'theta': method.project(config, state.params['theta'], params['theta'])}
    return TrainState(state.step + 1, params, opt_state), metrics

  return Trainer(config, tx, init, step)


_CHUNK_CACHE: dict = {}


def _chunk_fn(trainer: Trainer, arch: Architecture) -> Callable:
  """Compiled loop of ``trainer.step`` over up to ``len(batch_index)`` minibatches.

  The number of steps is a traced argument (a ``fori_loop`` with a dynamic trip
  count), so one compilation per (architecture, config) serves every chunk
  length, the last partial chunk of an epoch included.
  """
  cache_key = (arch, trainer.config)
  if cache_key not in _CHUNK_CACHE:
    def run(state, x_all, y_all, batch_index, keys, num_steps):
      def body(i, carry):
        s, loss_sum = carry
        index = batch_index[i]
        s, metrics = trainer.step(arch, s, x_all[index], y_all[index], keys[i])
        return s, loss_sum + metrics.loss.astype(jnp.float32)
      state, loss_sum = jax.lax.fori_loop(0, num_steps, body,
                                          (state, jnp.zeros((), jnp.float32)))
      return state, loss_sum / num_steps
    if len(_CHUNK_CACHE) > 64:
      _CHUNK_CACHE.clear()
    _CHUNK_CACHE[cache_key] = jax.jit(run)
  return _CHUNK_CACHE[cache_key]


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
    state, loss = _chunk_fn(trainer, arch)(
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


def final_gates(config: Config, thetas: Sequence[jax.Array]) -> list[jax.Array]:
  """Per group the deterministic gate values (Bernoulli: θ if θ ≥ ½ else 0; L0: test gate)."""
  return [METHODS[config.method].final_gate(t) for t in thetas]


def fold_gates(arch: Architecture, weights: dict, values: Sequence[jax.Array]) -> dict:
  """Weights whose network with all gates 1 equals the network with gates ``values`` > 0.

  A hidden unit's or filter's value v is folded into its own kernel column and
  bias (exact: ReLU and max pooling are positively homogeneous, v·relu(u) =
  relu(v·u)); a group without its own layer (input pixels, flattened
  features) scales the rows it feeds.
  """
  # On the host (numpy): eager jnp ops would compile once per new shape.
  new = jax.tree.map(np.asarray, weights)
  values = [np.asarray(v) for v in values]
  for group, triples in enumerate(models.kind(arch).unit_axes(arch)):
    own = [t for t in triples if t[1] == 'bias']
    if own:
      layer = own[0][0]
      targets = [t for t in triples if t[0] == layer]
    else:
      targets = triples
    for layer, name, axis in targets:
      w = new['params'][layer][name]
      shape = [1] * w.ndim
      shape[axis] = w.shape[axis]
      new['params'][layer][name] = w * np.reshape(values[group], shape)
  return jax.tree.map(jnp.asarray, new)


def finalize(arch: Architecture, config: Config,
             state: TrainState) -> tuple[Architecture, TrainState]:
  """The deterministic network: units with final gate value 0 removed, the values
  of the others folded into the weights (:func:`fold_gates`), every gate set to
  always-on. For Bernoulli gates at 0 or 1 this changes nothing but the shapes."""
  method = METHODS[config.method]
  values = final_gates(config, state.params['theta'])
  keep = shrink_lib.kept_units(arch, values)
  params = {'weights': fold_gates(arch, state.params['weights'], values),
            'theta': state.params['theta']}
  arch, params, opt_state = shrink_lib.shrink(arch, params, state.opt_state, keep)
  params = {'weights': params['weights'],
            'theta': tuple(jnp.full_like(t, method.one) for t in params['theta'])}
  return arch, TrainState(state.step, params, opt_state)


def evaluation_params(config: Config, state: TrainState) -> dict:
  """The parameters to evaluate and finalize: the debiased weight average when
  ``config.weight_ema`` > 0 (:mod:`ncg.parsimonious.averaging`), else ``state.params``."""
  if not config.weight_ema:
    return state.params
  return {'weights': averaging.averaged(state.opt_state, state.params['weights'],
                                        config.weight_ema),
          'theta': state.params['theta']}


def gate_probabilities(config: Config, thetas: Sequence[jax.Array]) -> list[np.ndarray]:
  """Per group the values that say whether a gate is decided (``Method.probability``):
  θ (Bernoulli, dense) or the test-time gate (L0; its P(z ≠ 0) is never exactly 0 or 1)."""
  return [METHODS[config.method].probability(t) for t in thetas]


def undecided(thetas: Sequence[Any]) -> int:
  """Number of gates strictly inside (0, 1)."""
  return int(sum(np.sum((np.asarray(t) > 0) & (np.asarray(t) < 1)) for t in thetas))


_EVAL_CACHE: dict = {}


def error_rate(arch: Architecture, config: Config, params: dict, x: jax.Array,
               y: jax.Array, batch_size: int = 1000) -> float:
  """Error (fraction) of the deterministic network (:func:`final_gates`)."""
  cache_key = (arch, config.method)
  if cache_key not in _EVAL_CACHE:
    def wrong(weights, thetas, xb, yb):
      logits = models.apply(arch, weights, xb, final_gates(config, thetas))
      return jnp.sum(jnp.argmax(logits, -1) != yb)
    if len(_EVAL_CACHE) > 64:
      _EVAL_CACHE.clear()
    _EVAL_CACHE[cache_key] = jax.jit(wrong)
  wrong = _EVAL_CACHE[cache_key]
  total = 0
  for start in range(0, x.shape[0], batch_size):
    total += int(wrong(params['weights'], params['theta'],
                       x[start:start + batch_size], y[start:start + batch_size]))
  return total / max(1, x.shape[0])


def theta_histogram(thetas: Sequence[jax.Array], bins: int = 10) -> list[list[int]]:
  """Per group, counts of θ in [0, 0.1), ..., [0.9, 1) and θ = 1 exactly (bins + 1 numbers)."""
  out = []
  for t in thetas:
    t = np.asarray(t)
    counts, _ = np.histogram(t[t < 1], bins=bins, range=(0.0, 1.0))
    out.append([int(c) for c in counts] + [int(np.sum(t >= 1))])
  return out

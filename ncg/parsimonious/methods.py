"""The kinds of gate as a table (:data:`METHODS`): how each is parameterised, trained
and made deterministic (docs/parsimonious.md §6, §7, §10).

* 'bernoulli' (this project's method): θ ∈ [0, 1] by projected SGD with the
  Robbins–Monro step η_t = η₀ / (1 + (t − G)/τ)^κ after a grace period of G steps
  (η_t = 0 before: no unit can leave while the weights are untrained) and
  0.5 < κ ≤ 1 (Σ η_t = ∞, Σ η_t² < ∞). θ = 0 is absorbing: such a unit is never
  sampled, outputs 0 and is removed (:mod:`ncg.parsimonious.shrink`). The
  W-gradient is the exact gradient of the antithetic average ½(ℓ(b) + ℓ(b̃)) plus
  the prior's; the θ-gradient the row of :data:`ncg.parsimonious.estimators.ESTIMATORS`
  plus the exact gradients of the prior and the price. When every θ is 0 or 1 the
  gates are deterministic and one forward/backward pass gives both.
* 'l0' (the hard-concrete baseline, :mod:`ncg.parsimonious.l0`): log α with Adam
  at the weights' schedule, as in Louizos et al.
* 'dense': the Bernoulli network with every θ fixed at 1.
* 'dropout': the dense network trained under inverted dropout at fixed rates per
  gate group (``Config.dropout``; Srivastava et al. 2014): every unit of group g
  is kept with probability 1 − r_g and scaled by 1/(1 − r_g), so the evaluated
  network (every gate 1) is the mean network. The regularised deterministic
  phase (:mod:`ncg.parsimonious.finetune`) and a regularised dense baseline.

``config`` is a :class:`ncg.parsimonious.config.Config`.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple, Sequence, TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ncg.parsimonious import estimators
from ncg.parsimonious import gates as gates_lib
from ncg.parsimonious import l0 as l0_lib
from ncg.parsimonious.objective import StepMetrics, per_example_loss, price, sharpening
from ncg.parsimonious.objective import weight_prior
from ncg.errors import check

if TYPE_CHECKING:
  from ncg.parsimonious.config import Config


def theta_step_size(config: Config, step: jax.Array) -> jax.Array:
  """η_t: 0 during the grace period and after ``decide_step``, else η₀/(1 + (t − G)/τ)^κ."""
  t = jnp.asarray(step, jnp.float32) - config.grace_steps
  rate = config.theta_learning_rate / (1.0 + jnp.maximum(t, 0.0) / config.theta_decay_steps
                                       ) ** config.theta_decay_power
  rate = jnp.where(t < 0, 0.0, rate)
  if config.decide_step:
    rate = jnp.where(step >= config.decide_step, 0.0, rate)
  return rate


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
  estimator = estimators.ESTIMATORS[config.estimator]

  def deterministic(_):
    gates = [jnp.broadcast_to(t, (batch,) + t.shape) for t in thetas]
    f = lambda w, g: per_example_loss(arch, w, x, y, g).mean()
    loss, (grad_w, grad_z) = jax.value_and_grad(f, argnums=(0, 1))(weights, gates)
    grad_t = estimator.boundary(arch, config, weights, thetas, x, y, gates, grad_z)
    return grad_w, list(grad_t), loss

  def stochastic(_):
    b, b_tilde = gates_lib.antithetic_gates(key, thetas, batch)

    def data(w):
      loss = per_example_loss(arch, w, x, y, b)
      loss_tilde = per_example_loss(arch, w, x, y, b_tilde)
      return 0.5 * (loss.mean() + loss_tilde.mean()), (loss, loss_tilde)
    (value, (loss, loss_tilde)), grad_w = jax.value_and_grad(data, has_aux=True)(weights)
    grad_t = estimators.theta_gradient_estimate(arch, config, weights, thetas, x, y, b,
                                                b_tilde, loss, loss_tilde)
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


def dropout_gates(key: jax.Array, rates: Sequence[float], widths: Sequence[int],
                  batch: int) -> list[jax.Array]:
  """Per group (B, w_g) gates b/(1 − r_g), b ~ Bernoulli(1 − r_g) (mean 1; r_g = 0: all 1)."""
  keys = jax.random.split(key, len(widths))
  gates = []
  for k, rate, width in zip(keys, rates, widths):
    if not rate:
      gates.append(jnp.ones((batch, width), jnp.float32))
      continue
    keep = jax.random.bernoulli(k, 1.0 - rate, (batch, width))
    gates.append(keep.astype(jnp.float32) / (1.0 - rate))
  return gates


def _dropout_gradients(arch, config, params, x, y, key, step=None):
  """The dense network's (∂/∂W, 0) of mean ℓ under one draw of dropout masks, plus the prior."""
  del step
  weights, thetas = params['weights'], params['theta']
  gates = dropout_gates(key, config.dropout, [t.shape[0] for t in thetas], x.shape[0])

  def objective(w):
    loss = per_example_loss(arch, w, x, y, gates).mean()
    return loss + weight_prior(arch, config, w, thetas), loss
  (value, loss), grad_w = jax.value_and_grad(objective, has_aux=True)(weights)
  return ({'weights': grad_w, 'theta': tuple(jnp.zeros_like(t) for t in thetas)},
          StepMetrics(loss, value))


def bernoulli_project(config, old, new):
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

_BERNOULLI = Method(
    init_gate=lambda theta, width: jnp.full((width,), theta, jnp.float32),
    gradients=_bernoulli_gradients,
    theta_optimizer=_bernoulli_optimizer,
    project=bernoulli_project,
    final_gate=lambda t: jnp.where(t >= MODE_THRESHOLD, t, 0.0),
    alive=lambda t: np.asarray(t) > 0,
    one=1.0,
    probability=np.asarray,
    passes=3,          # two antithetic, one mean-field (the Taylor control variate)
    decisions=True)

# The unpruned baseline: the Bernoulli network with every θ at 1 and a
# grace period that never ends (one deterministic pass per step: θ at a
# vertex, no exploration; θ never moves; no price, no sharpening).
_DENSE = _BERNOULLI._replace(
    init_gate=lambda theta, width: jnp.ones((width,), jnp.float32),
    gated=False, passes=1, decisions=False,
    fixed=(('penalty', 0.0), ('explore', 0.0), ('sharpness', 0.0),
           ('sharpness_final', 1.0), ('grace_steps', NEVER), ('warmup_steps', 0),
           ('estimator', 'taylor_cv'), ('price_macs', False)))

METHODS: dict[str, Method] = {
    'bernoulli': _BERNOULLI,
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
    'dense': _DENSE,
    'dropout': _DENSE._replace(gradients=_dropout_gradients),   # dense under dropout
}


def method_config(config: Config) -> Config:
  """``config`` as its method runs it: the fields the method pins (``Method.fixed``) set.

  InputError for an unknown method. :func:`make_trainer` applies it; a caller
  that reports settings applies it too.
  """
  check(config.method in METHODS,
        f'unknown method {config.method!r}; choose one of {tuple(METHODS)}')
  return config._replace(**dict(METHODS[config.method].fixed))

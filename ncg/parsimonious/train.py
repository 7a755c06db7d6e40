"""The objective, the projected update and a training epoch with on-line shrinking.

Per minibatch of B examples (N training examples in all) the negative ELBO per
example, after the flattening hyper-prior has been maximised out, is

    J(W, θ) = E_q[ mean_n ℓ_n(W, z_n) ] + ||W||² / (2 σ² N) + (λ/N) Σ_g s_g Σ_j θ_gj

(ℓ_n the cross-entropy, z_n the per-example gates, s_g a per-group weight of
the unit cost, 1 by default). ``config.penalty`` is λ/N in nats per example.
The W-gradient is the exact gradient of the antithetic average
½(ℓ(b) + ℓ(b̃)); the θ-gradient is :func:`ncg.parsimonious.gates.theta_gradient`
plus (λ/N) s_g. Weights and θ have separate optimizers joined by
``optax.partition``; after each update θ is projected onto [0, 1].
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ncg.errors import check
from ncg.parsimonious import gates as gates_lib
from ncg.parsimonious import models
from ncg.parsimonious import shrink as shrink_lib


class Hyper(NamedTuple):
  """Hyper-parameters of the update (hashable: part of the jit cache key).

  Attributes:
    learning_rate: Adam step size of the weights.
    theta_learning_rate: SGD step size of θ (projected SGD).
    penalty: λ / N, the price of one surviving unit in nats per example.
    penalty_scale: per gate group multiplier s_g of the penalty.
    prior_variance: σ² of the Gaussian slab prior on the weights.
    num_train: N, the number of training examples.
    theta_optimizer: 'sgd' (projected SGD) or 'adam' (projected Adam: a
      diagonal preconditioner; for a box the projection in any diagonal metric
      is the same clipping, so it is still a projected-gradient method).
    freeze_theta: θ is fixed (after :func:`finalize`, all θ = 1): one
      deterministic forward/backward per step, weights only.
    decay_steps: if > 0, the weights' learning rate follows a cosine decay to
      1% over this many steps (the whole run); 0 keeps it constant.
    estimator: 'antithetic' (DisARM in θ) or 'taylor_cv' (the same with the
      first-order Taylor expansion of ℓ around z = θ as control variate, one
      extra forward/backward pass; still unbiased).
  """
  learning_rate: float
  theta_learning_rate: float
  penalty: float
  penalty_scale: tuple[float, ...]
  prior_variance: float
  num_train: int
  estimator: str = 'taylor_cv'
  theta_optimizer: str = 'adam'
  freeze_theta: bool = False
  decay_steps: int = 0


THETA_OPTIMIZERS = ('sgd', 'adam')
ESTIMATORS = ('antithetic', 'taylor_cv')


class TrainState(NamedTuple):
  """params = {'weights': flax variables, 'theta': tuple of (w_g,) arrays}."""
  step: jax.Array
  params: dict
  opt_state: Any


def validate(hyper: Hyper, arch: models.Architecture) -> None:
  """Raises InputError for values that make no sense."""
  check(hyper.learning_rate > 0, f'learning_rate must be > 0, got {hyper.learning_rate}')
  check(hyper.theta_learning_rate > 0,
        f'theta_learning_rate must be > 0, got {hyper.theta_learning_rate}')
  check(hyper.penalty >= 0, f'penalty must be >= 0, got {hyper.penalty}')
  check(hyper.prior_variance > 0, f'prior_variance must be > 0, got {hyper.prior_variance}')
  check(hyper.estimator in ESTIMATORS,
        f'unknown estimator {hyper.estimator!r}; choose one of {ESTIMATORS}')
  check(hyper.theta_optimizer in THETA_OPTIMIZERS,
        f'unknown theta_optimizer {hyper.theta_optimizer!r}; choose one of {THETA_OPTIMIZERS}')
  check(len(hyper.penalty_scale) == len(arch.widths),
        f'penalty_scale needs one value per gate group {arch.group_names}, '
        f'got {hyper.penalty_scale}')


def optimizer(hyper: Hyper) -> optax.GradientTransformation:
  """Adam on the weights, SGD or Adam on θ, joined by ``optax.partition``."""
  def labels(params):
    return {'weights': jax.tree.map(lambda _: 'weights', params['weights']),
            'theta': jax.tree.map(lambda _: 'theta', params['theta'])}
  learning_rate = (optax.cosine_decay_schedule(hyper.learning_rate, hyper.decay_steps, 0.01)
                   if hyper.decay_steps > 0 else hyper.learning_rate)
  return optax.partition({'weights': optax.adam(learning_rate),
                          'theta': getattr(optax, hyper.theta_optimizer)(
                              hyper.theta_learning_rate)}, labels)


def init_state(key: jax.Array, arch: models.Architecture, hyper: Hyper,
               num_inputs: int, theta_init: float) -> TrainState:
  """Fresh weights, θ = theta_init everywhere, optimizer state."""
  check(0 < theta_init <= 1, f'theta_init must be in (0, 1], got {theta_init}')
  weights = models.init_weights(key, arch, num_inputs)
  thetas = tuple(jnp.full((w,), theta_init, jnp.float32) for w in arch.widths)
  params = {'weights': weights, 'theta': thetas}
  return TrainState(jnp.zeros((), jnp.int32), params, optimizer(hyper).init(params))


def per_example_loss(arch: models.Architecture, weights: dict, x: jax.Array,
                     y: jax.Array, gates: Sequence[jax.Array]) -> jax.Array:
  """Cross-entropy (B,) in nats."""
  logits = models.apply(arch, weights, x, gates)
  return optax.softmax_cross_entropy_with_integer_labels(logits, y)


def weight_penalty(weights: dict, hyper: Hyper) -> jax.Array:
  """−log p(W) / N up to a constant: ||W||² / (2 σ² N)."""
  squares = sum(jnp.sum(w ** 2) for w in jax.tree.leaves(weights))
  return squares / (2 * hyper.prior_variance * hyper.num_train)


def theta_gradient_estimate(arch: models.Architecture, hyper: Hyper, weights: dict,
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
    Per group (w_g,) gradient estimates (penalty not included). At θ_j ∈ {0, 1}
    'antithetic' returns 0; 'taylor_cv' returns g_j, the first-order estimate
    of the one-sided derivative (biased there, exact if ℓ is affine in z_j).
  """
  if loss is None:
    loss = per_example_loss(arch, weights, x, y, b)
    loss_tilde = per_example_loss(arch, weights, x, y, b_tilde)
  if hyper.estimator == 'antithetic':
    return gates_lib.theta_gradient(loss, loss_tilde, b, b_tilde, thetas)
  weights = jax.lax.stop_gradient(weights)
  mean_gates = [jnp.broadcast_to(t, (x.shape[0],) + t.shape) for t in thetas]
  taylor = jax.grad(lambda g: jnp.sum(per_example_loss(arch, weights, x, y, g)))(mean_gates)
  linear = lambda gates: sum(jnp.sum(t * g, axis=1) for t, g in zip(taylor, gates))
  grads = gates_lib.theta_gradient(loss - linear(b), loss_tilde - linear(b_tilde),
                                   b, b_tilde, thetas)
  return [g + jnp.mean(t, axis=0) for g, t in zip(grads, taylor)]


def gradients(arch: models.Architecture, hyper: Hyper, params: dict,
              x: jax.Array, y: jax.Array, key: jax.Array) -> tuple[dict, dict]:
  """Unbiased estimates of ∂J/∂W and ∂J/∂θ from one antithetic pair.

  Returns:
    (grads with the structure of params, metrics {'loss': mean ½(ℓ(b)+ℓ(b̃))}).
  """
  thetas = params['theta']
  if hyper.freeze_theta:
    def deterministic(weights):
      loss = per_example_loss(arch, weights, x, y, gates_lib.mode_gates(thetas)).mean()
      return loss + weight_penalty(weights, hyper), loss
    (value, loss), weight_grads = jax.value_and_grad(
        deterministic, has_aux=True)(params['weights'])
    return ({'weights': weight_grads, 'theta': tuple(jnp.zeros_like(t) for t in thetas)},
            {'loss': loss, 'objective': value})
  b, b_tilde = gates_lib.antithetic_gates(key, thetas, x.shape[0])

  def objective(weights):
    loss = per_example_loss(arch, weights, x, y, b)
    loss_tilde = per_example_loss(arch, weights, x, y, b_tilde)
    value = 0.5 * (loss.mean() + loss_tilde.mean()) + weight_penalty(weights, hyper)
    return value, (loss, loss_tilde)

  (value, (loss, loss_tilde)), weight_grads = jax.value_and_grad(
      objective, has_aux=True)(params['weights'])
  theta_grads = theta_gradient_estimate(arch, hyper, params['weights'], thetas, x, y,
                                        b, b_tilde, loss, loss_tilde)
  theta_grads = tuple(g + hyper.penalty * s
                      for g, s in zip(theta_grads, hyper.penalty_scale))
  return ({'weights': weight_grads, 'theta': theta_grads},
          {'loss': 0.5 * (loss.mean() + loss_tilde.mean()), 'objective': value})


def update(arch: models.Architecture, hyper: Hyper, state: TrainState,
           x: jax.Array, y: jax.Array, key: jax.Array) -> tuple[TrainState, dict]:
  """One projected stochastic-gradient step: θ ← Π_[0,1](θ − η_θ ĝ_θ)."""
  grads, metrics = gradients(arch, hyper, state.params, x, y, key)
  tx = optimizer(hyper)
  updates, opt_state = tx.update(grads, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  thetas = (state.params['theta'] if hyper.freeze_theta
            else tuple(gates_lib.project(t) for t in params['theta']))
  params = {'weights': params['weights'], 'theta': thetas}
  return TrainState(state.step + 1, params, opt_state), metrics


_CHUNK_CACHE: dict = {}


def _chunk_fn(arch: models.Architecture, hyper: Hyper) -> Callable:
  """Compiled loop of :func:`update` over up to ``len(batch_index)`` minibatches.

  The number of steps is a traced argument (a ``fori_loop`` with a dynamic trip
  count), so one compilation per (architecture, hyper) serves every chunk
  length, the last partial chunk of an epoch included.
  """
  cache_key = (arch, hyper)
  if cache_key not in _CHUNK_CACHE:
    def run(state, x_all, y_all, batch_index, keys, num_steps):
      def body(i, carry):
        s, loss_sum = carry
        index = batch_index[i]
        s, metrics = update(arch, hyper, s, x_all[index], y_all[index], keys[i])
        return s, loss_sum + metrics['loss']
      state, loss_sum = jax.lax.fori_loop(0, num_steps, body,
                                          (state, jnp.zeros((), jnp.float32)))
      return state, {'loss': loss_sum / num_steps}
    _CHUNK_CACHE.clear() if len(_CHUNK_CACHE) > 64 else None
    _CHUNK_CACHE[cache_key] = jax.jit(run)
  return _CHUNK_CACHE[cache_key]


def epoch_order(key: jax.Array, num_examples: int, batch_size: int) -> np.ndarray:
  """(steps, B) example indices of one epoch (a fresh permutation, last partial batch dropped)."""
  steps = num_examples // batch_size
  order = np.asarray(jax.random.permutation(key, num_examples))
  return order[:steps * batch_size].reshape(steps, batch_size)


def worth_shrinking(arch: models.Architecture, keep: Sequence[np.ndarray],
                    min_fraction: float) -> bool:
  """Whether removing the units outside ``keep`` pays for a recompilation.

  True when some group would lose at least ``min_fraction`` of its units
  (``min_fraction = 0``: whenever any unit can go). Units at θ = 0 that wait
  for removal are never sampled and output exactly 0, so waiting changes
  neither the function nor the objective, only the cost of the steps (and,
  with the 'taylor_cv' estimator, whose boundary estimate is g_j, a waiting
  unit may still leave 0 before it is removed). With a fraction f the network
  takes at most about log(w_start/w_end)/log(1/(1−f)) shapes per group over a
  whole run instead of one per chunk.
  """
  for width, k in zip(arch.widths, keep):
    removable = width - int(k.sum())
    if removable and removable >= min_fraction * width:
      return True
  return False


def train_epoch(arch: models.Architecture, hyper: Hyper, state: TrainState,
                x: jax.Array, y: jax.Array, key: jax.Array, batch_size: int,
                chunk_steps: int, shrink_fraction: float = 0.0,
                on_chunk: Callable[[int, models.Architecture], None] | None = None,
                ) -> tuple[models.Architecture, TrainState, dict]:
  """One pass over (x, y), shrinking the network between chunks of steps.

  After each chunk of ``chunk_steps`` updates the units at θ = 0 are removed
  (:func:`ncg.parsimonious.shrink.shrink`) if :func:`worth_shrinking` says so,
  and the next chunk runs compiled for the smaller shapes, so the rest of
  training costs less.

  Args:
    arch, hyper, state: the network, its hyper-parameters and training state.
    x, y: (N, D) float32 and (N,) int32 training data (on the device).
    key: PRNG key of this epoch (data order and gates).
    batch_size, chunk_steps: minibatch size and updates between shrink checks.
    shrink_fraction: see :func:`worth_shrinking`.
    on_chunk: called with (steps done, architecture) after every chunk.

  Returns:
    (architecture, state, {'loss': mean loss, 'shrinks': number of shrinks}).
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
    state, metrics = _chunk_fn(arch, hyper)(
        state, x, y, jnp.asarray(order[start:start + chunk_steps]),
        step_keys[start:start + chunk_steps], jnp.int32(steps))
    losses.append((float(metrics['loss']), steps))
    keep = shrink_lib.kept_units(arch, state.params['theta'])
    if worth_shrinking(arch, keep, shrink_fraction):
      arch, params, opt_state = shrink_lib.shrink(arch, state.params, state.opt_state,
                                                  keep)
      state = TrainState(state.step, params, opt_state)
      shrinks += 1
    if on_chunk is not None:
      on_chunk(start + steps, arch)
  mean_loss = sum(l * n for l, n in losses) / max(1, sum(n for _, n in losses))
  return arch, state, {'loss': mean_loss, 'shrinks': shrinks}


MODE_THRESHOLD = float(np.nextafter(0.5, 0))   # θ > this, i.e. θ ≥ ½: kept by the mode


def finalize(arch: models.Architecture, hyper: Hyper,
             state: TrainState) -> tuple[models.Architecture, TrainState]:
  """The deterministic network: keeps the posterior mode (θ ≥ ½), sets θ to 0/1."""
  keep = shrink_lib.kept_units(arch, state.params['theta'], threshold=MODE_THRESHOLD)
  arch, params, opt_state = shrink_lib.shrink(arch, state.params, state.opt_state, keep)
  params = {'weights': params['weights'],
            'theta': tuple(jnp.ones_like(t) for t in params['theta'])}
  return arch, TrainState(state.step, params, opt_state)


_EVAL_CACHE: dict = {}


def error_rate(arch: models.Architecture, params: dict, x: jax.Array, y: jax.Array,
               batch_size: int = 1000) -> float:
  """Test error (fraction) of the deterministic (mode) network."""
  if arch not in _EVAL_CACHE:
    def wrong(weights, thetas, xb, yb):
      logits = models.apply(arch, weights, xb, gates_lib.mode_gates(thetas))
      return jnp.sum(jnp.argmax(logits, -1) != yb)
    _EVAL_CACHE.clear() if len(_EVAL_CACHE) > 64 else None
    _EVAL_CACHE[arch] = jax.jit(wrong)
  wrong = _EVAL_CACHE[arch]
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

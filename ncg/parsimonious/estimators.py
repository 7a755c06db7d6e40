"""Estimators of the θ-gradient of the data term, ∂ E_q[mean_n ℓ_n] / ∂θ (docs/parsimonious.md §6).

A table of estimators (:data:`ESTIMATORS`, ``Config.estimator`` names a row), each a
pair of functions: ``stochastic`` estimates the gradient from one antithetic gate
pair while some gate is undecided, ``boundary`` gives it when every θ is 0 or 1
and one deterministic pass has ∂ℓ/∂z at z = θ:

* 'antithetic': DisARM in θ (:func:`ncg.parsimonious.gates.theta_gradient`);
  0 at the boundary.
* 'taylor_cv': the same with the first-order Taylor expansion of ℓ around
  z = θ (the mean-field network) as control variate; at the boundary g_j, the
  first-order estimate of the one-sided derivative.
* 'local': 'taylor_cv' for the input pixels, the exact differences
  ℓ(z_j = 1) − ℓ(z_j = 0) for the hidden units (``NetKind.hidden_differences``,
  MLPs only), on ``Config.difference_examples`` rows of the batch.

Prior and price gradients are not included (exact: :mod:`ncg.parsimonious.methods`).
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Sequence, TYPE_CHECKING

import jax
import jax.numpy as jnp

from ncg.parsimonious import gates as gates_lib
from ncg.parsimonious import models
from ncg.parsimonious.architecture import Architecture
from ncg.parsimonious.objective import per_example_loss

if TYPE_CHECKING:
  from ncg.parsimonious.config import Config


class Estimator(NamedTuple):
  """One row of :data:`ESTIMATORS`.

  Attributes:
    stochastic: (arch, config, weights, thetas, x, y, b, b_tilde, loss, loss_tilde)
      → per group (w_g,) estimates from the antithetic gates b, b̃ (B, w_g) and
      their losses (B,).
    boundary: (arch, config, weights, thetas, x, y, gates, grad_z) → per group
      (w_g,) gradients when every θ is 0 or 1; ``gates`` (B, w_g) are θ
      broadcast, ``grad_z`` (B, w_g) the loss's derivatives at them.
  """
  stochastic: Callable[..., list]
  boundary: Callable[..., list]


def differences(arch: Architecture, config: Config, weights: dict, x: jax.Array,
                y: jax.Array, gates: Sequence[jax.Array]) -> list[jax.Array]:
  """``NetKind.hidden_differences`` on the first ``difference_examples`` rows of the batch
  (all if 0): the minibatch is a uniform random draw, so its first m rows are one too and
  the mean difference stays unbiased, at m/B of the cost (the (B, H_l, D_{l+1}) arrays)."""
  m = config.difference_examples
  if m and m < x.shape[0]:
    x, y, gates = x[:m], y[:m], [g[:m] for g in gates]
  return models.kind(arch).hidden_differences(arch, weights, x, y, gates)


def _antithetic(arch, config, weights, thetas, x, y, b, b_tilde, loss, loss_tilde):
  del arch, config, weights, x, y
  return gates_lib.theta_gradient(loss, loss_tilde, b, b_tilde, thetas)


def _taylor_cv(arch, config, weights, thetas, x, y, b, b_tilde, loss, loss_tilde):
  """Control variate c_n(z) = Σ_j g_nj z_nj with g_n = ∂ℓ_n/∂z at z = θ, a vector fixed
  before z is drawn. For any fixed g, E_θ[ℓ] = E_θ[ℓ − c] + g·θ, so ∂E[ℓ]/∂θ_j =
  ∂E[ℓ − c]/∂θ_j + g_j and the DisARM estimate of the first term keeps the sum
  unbiased, while ℓ − c has only the non-linear part of ℓ left to add noise."""
  del config
  weights = jax.lax.stop_gradient(weights)
  mean_gates = [jnp.broadcast_to(t, (x.shape[0],) + t.shape) for t in thetas]
  taylor = jax.grad(lambda g: jnp.sum(per_example_loss(arch, weights, x, y, g)))(mean_gates)
  linear = lambda gates: sum(jnp.sum(t * g, axis=1) for t, g in zip(taylor, gates))
  grads = gates_lib.theta_gradient(loss - linear(b), loss_tilde - linear(b_tilde),
                                   b, b_tilde, thetas)
  return [g + jnp.mean(t, axis=0) for g, t in zip(grads, taylor)]


def _local(arch, config, weights, thetas, x, y, b, b_tilde, loss, loss_tilde):
  """'taylor_cv' for the pixels; the hidden groups' exact differences, both draws averaged."""
  grads = _taylor_cv(arch, config, weights, thetas, x, y, b, b_tilde, loss, loss_tilde)
  weights = jax.lax.stop_gradient(weights)
  pairs = zip(differences(arch, config, weights, x, y, b),
              differences(arch, config, weights, x, y, b_tilde))
  return grads[:1] + [0.5 * (d.mean(0) + dt.mean(0)) for d, dt in pairs]


def _zero_at_boundary(arch, config, weights, thetas, x, y, gates, grad_z):
  del arch, config, weights, x, y, gates, grad_z
  return [jnp.zeros_like(t) for t in thetas]


def _taylor_at_boundary(arch, config, weights, thetas, x, y, gates, grad_z):
  """g_j = mean_n ∂ℓ_n/∂z_nj at z = θ."""
  del arch, config, weights, thetas, x, y, gates
  return [jnp.sum(g, axis=0) for g in grad_z]


def _local_at_boundary(arch, config, weights, thetas, x, y, gates, grad_z):
  """Taylor for the pixels; the exact one-sided differences of the hidden units."""
  grads = _taylor_at_boundary(arch, config, weights, thetas, x, y, gates, grad_z)
  return grads[:1] + [d.mean(0) for d in differences(
      arch, config, jax.lax.stop_gradient(weights), x, y, gates)]


ESTIMATORS: dict[str, Estimator] = {
    'antithetic': Estimator(_antithetic, _zero_at_boundary),
    'taylor_cv': Estimator(_taylor_cv, _taylor_at_boundary),
    'local': Estimator(_local, _local_at_boundary),
}


def theta_gradient_estimate(arch: Architecture, config: Config, weights: dict,
                            thetas: Sequence[jax.Array], x: jax.Array, y: jax.Array,
                            b: Sequence[jax.Array], b_tilde: Sequence[jax.Array],
                            loss: jax.Array | None = None,
                            loss_tilde: jax.Array | None = None) -> list[jax.Array]:
  """Unbiased estimate of ∂ E_q[mean_n ℓ_n] / ∂θ from one antithetic gate pair
  (the ``stochastic`` function of ``config.estimator``'s row).

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
  return list(ESTIMATORS[config.estimator].stochastic(
      arch, config, weights, thetas, x, y, b, b_tilde, loss, loss_tilde))

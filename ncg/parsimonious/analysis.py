"""Checking the decisions against the pruning condition: Δ_j measured exactly.

For a gate j at a vertex (θ_j ∈ {0, 1}) the exact one-sided derivative of the
expected loss is Δ_j = L(z_j = 1) − L(z_j = 0) with the other gates as they
are (docs/parsimonious.md §7); the stable vertices of the projected ODE are
θ_j = 1 iff Δ_j + c_j < 0 and θ_j = 0 iff Δ_j + c_j > 0, c_j the unit's price
(λ/N) s_g, plus, with the coupled weight prior, ∂prior/∂θ_j. On held-out data
this says whether the decision the run made is the one the condition makes.
"""

from __future__ import annotations

import functools
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ncg.parsimonious import train as train_lib
from ncg.parsimonious.architecture import Architecture


def marginal_losses(arch: Architecture, weights: dict, thetas: Sequence[jax.Array],
                    x: jax.Array, y: jax.Array) -> list[np.ndarray]:
  """Per group (w_g,) Δ_j = mean ℓ(z_j = 1) − mean ℓ(z_j = 0), others at z = θ.

  Exact when every gate is at 0 or 1 (then z = θ is the only configuration);
  with undecided gates it is the mean-field value (z = θ for the others, and
  θ_j itself replaced by the flip 0 ↔ 1 of its rounding). One forward pass over
  (x, y) per gate (the unflipped value is shared).
  """
  thetas = tuple(jnp.asarray(t, jnp.float32) for t in thetas)
  return [np.asarray(d) for d in _marginal_fn(arch)(weights, thetas, x, y)]


@functools.lru_cache(maxsize=16)
def _marginal_fn(arch: Architecture):
  """The compiled Δ_j computation of an architecture (one compilation per shape)."""

  @jax.jit
  def run(weights, thetas, x, y):
    mean_loss = lambda gates: train_lib.per_example_loss(arch, weights, x, y, gates).mean()
    base = mean_loss(thetas)
    out = []
    for g, theta in enumerate(thetas):
      def flipped(j, g=g, theta=theta):
        gates = list(thetas)
        gates[g] = theta.at[j].set(jnp.where(theta[j] < 0.5, 1.0, 0.0))
        return mean_loss(gates)
      losses = jax.lax.map(flipped, jnp.arange(theta.shape[0]))
      out.append(jnp.where(theta < 0.5, losses - base, base - losses))
    return out
  return run


def flip_losses(arch: Architecture, weights: dict, thetas: Sequence[jax.Array],
                x: jax.Array, y: jax.Array,
                indices: Sequence[np.ndarray]) -> list[np.ndarray]:
  """Δ_j as :func:`marginal_losses` gives it, for the units ``indices[g]`` of each group only.

  One forward pass per listed unit; the index lists are padded to powers of two so
  that a run compiles few shapes.
  """
  thetas = tuple(jnp.asarray(t, jnp.float32) for t in thetas)
  padded = []
  for index in indices:
    index = np.asarray(index, np.int32)
    size = 1 << max(0, int(np.ceil(np.log2(max(1, len(index))))))
    padded.append(np.concatenate([index, np.zeros(size - len(index), np.int32)]))
  out = _flip_fn(arch, tuple(len(p) for p in padded))(
      weights, thetas, x, y, tuple(jnp.asarray(p) for p in padded))
  return [np.asarray(d)[:len(i)] for d, i in zip(out, indices)]


@functools.lru_cache(maxsize=32)
def _flip_fn(arch: Architecture, sizes: tuple[int, ...]):
  del sizes   # part of the cache key: one compilation per padded length

  @jax.jit
  def run(weights, thetas, x, y, indices):
    mean_loss = lambda gates: train_lib.per_example_loss(arch, weights, x, y, gates).mean()
    base = mean_loss(thetas)
    out = []
    for g, (theta, index) in enumerate(zip(thetas, indices)):
      def flipped(j, g=g, theta=theta):
        gates = list(thetas)
        gates[g] = theta.at[j].set(jnp.where(theta[j] < 0.5, 1.0, 0.0))
        return mean_loss(gates)
      losses = jax.lax.map(flipped, index)
      out.append(jnp.where(theta[index] < 0.5, losses - base, base - losses))
    return out
  return run


def unit_costs(arch: Architecture, config: train_lib.Config, weights: dict,
               thetas: Sequence[np.ndarray], step: int | None = None
               ) -> tuple[list[np.ndarray], list[np.ndarray]]:
  """Per group (w_g,) c_j of the price (∂price/∂θ_j: λ s_g/N, or the MACs the unit
  costs at the current widths for the expected-MAC price; the price in force at
  ``step``, the full one if None) and ∂prior/∂θ_j."""
  thetas = tuple(jnp.asarray(t, jnp.float32) for t in thetas)
  prices = jax.grad(lambda t: train_lib.price(arch, config, t, step))(thetas)
  prior = jax.jit(jax.grad(lambda w, t: train_lib.weight_prior(arch, config, w, t),
                           argnums=1))(weights, thetas)
  return [np.asarray(p) for p in prices], [np.asarray(p) for p in prior]


def removal_audit(arch: Architecture, config: train_lib.Config, params: dict,
                  keep: Sequence[np.ndarray], x: jax.Array, y: jax.Array,
                  step: int | None = None) -> dict:
  """Whether the units about to leave the arrays should leave, measured on (x, y).

  For each unit outside ``keep`` (θ_j = 0, about to be removed) Δ_j =
  L(z_j = 1) − L(z_j = 0) with the other gates at z = θ (exact when they are
  decided, mean-field otherwise; :func:`marginal_losses`), and the removal
  agrees with the pruning condition when Δ_j + c_j > 0 (c_j: the unit's price
  and ∂prior/∂θ_j at ``step``, :func:`unit_costs`): the unit is worth less than it
  costs.

  Returns:
    A JSON-safe dict: ``removed`` and ``agree`` per group and in all, and the
    median Δ_j (nats per example; negative: the unit lowered the loss) of the
    removed units that disagree.
  """
  thetas = [np.asarray(t) for t in params['theta']]
  leaving = [np.flatnonzero(~np.asarray(k, bool)) for k in keep]
  deltas = flip_losses(arch, params['weights'], thetas, x, y, leaving)
  prices, prior = unit_costs(arch, config, params['weights'], thetas, step)
  removed, agree, disagreeing = [], [], []
  for index, delta, price, d_prior in zip(leaving, deltas, prices, prior):
    margin = delta + price[index] + d_prior[index]
    removed.append(int(len(index)))
    agree.append(int(np.sum(margin > 0)))
    disagreeing += list(delta[margin <= 0])
  return {'examples': int(x.shape[0]), 'removed': sum(removed), 'agree': sum(agree),
          'removed_per_group': removed, 'agree_per_group': agree,
          'median_delta_of_disagreeing': float(np.median(disagreeing)) if disagreeing else 0.0}


def decision_agreement(arch: Architecture, config: train_lib.Config, params: dict,
                       x: jax.Array, y: jax.Array) -> dict:
  """How often the decided gates sit at the vertex the pruning condition picks.

  Returns a JSON-safe dict: for the gates at θ = 1 (kept) and at θ = 0 still in
  the arrays (removed), counts and the fraction agreeing with
  sign(Δ_j + λ_g/N) (``price_only``) and with sign(Δ_j + λ_g/N + ∂prior/∂θ_j)
  (``with_prior``), per group, plus the median |Δ_j + c_j| of the disagreeing
  gates (nats per example). With the sharpened hyper-prior (γ/N > 0) a vertex
  is stable inside a band: θ_j = 1 iff Δ_j + c_j < (γ/N) L and θ_j = 0 iff
  Δ_j + c_j > −(γ/N) L, L = log((1 − ε)/ε) the edge slope of H_ε
  (``agree_sharpened``: the fraction of decided gates at a vertex stable in this
  sense; equal to ``agree_with_prior`` when γ = 0). Only meaningful for the
  Bernoulli method.
  """
  thetas = [np.asarray(t) for t in params['theta']]
  deltas = marginal_losses(arch, params['weights'], thetas, x, y)
  prices, prior_grad = unit_costs(arch, config, params['weights'], thetas)
  groups = []
  totals = {'kept': [0, 0, 0], 'removed': [0, 0, 0]}   # gates, agree (price), agree (prior)
  band = float(train_lib.sharpness_at(config, config.sharpness_end_step)) * float(np.log((1 - train_lib.SHARPNESS_EDGE)
                                         / train_lib.SHARPNESS_EDGE))
  stable = 0
  disagreeing = []
  for g, (theta, delta, d_prior) in enumerate(zip(thetas, deltas, prior_grad)):
    price = prices[g]
    with_prior = delta + price + np.asarray(d_prior)
    row = {}
    for name, mask, sign in (('kept', theta == 1, -1), ('removed', theta == 0, 1)):
      n = int(mask.sum())
      agree_price = int(np.sum(sign * (delta + price)[mask] > 0))
      agree_prior = int(np.sum(sign * with_prior[mask] > 0))
      row[name] = {'gates': n, 'agree_price_only': agree_price,
                   'agree_with_prior': agree_prior}
      totals[name] = [a + b for a, b in zip(totals[name], (n, agree_price, agree_prior))]
      stable += int(np.sum(sign * with_prior[mask] + band > 0))
      disagreeing += list(np.abs(with_prior[mask][sign * with_prior[mask] <= 0]))
    groups.append(row)
  decided = totals['kept'][0] + totals['removed'][0]
  return {
      'examples': int(x.shape[0]),
      'decided_gates': decided,
      'agree_price_only': (totals['kept'][1] + totals['removed'][1]) / max(1, decided),
      'agree_with_prior': (totals['kept'][2] + totals['removed'][2]) / max(1, decided),
      'agree_sharpened': stable / max(1, decided),
      'kept': dict(zip(('gates', 'agree_price_only', 'agree_with_prior'), totals['kept'])),
      'removed': dict(zip(('gates', 'agree_price_only', 'agree_with_prior'),
                          totals['removed'])),
      'median_margin_of_disagreeing': float(np.median(disagreeing)) if disagreeing else 0.0,
      'per_group': groups,
  }

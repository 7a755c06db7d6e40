"""An exponential moving average of the weights, kept in the optimizer state.

Louizos et al.'s L0 MLP evaluates the average of the weights over training
(β = 0.999, debiased: a_t = β a_{t−1} + (1 − β) w_t, reported weights
a_t / (1 − β^t)). :func:`weight_average` is an optax transformation that passes
its updates through unchanged and records the average of the parameters they
produce, so it chains after any optimizer, is saved and restored with the
optimizer state, and is sliced with it when units are removed
(:func:`ncg.parsimonious.shrink.slice_state_like_params` matches it by path and
shape, like Adam's moments).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax


class WeightAverageState(NamedTuple):
  """count: updates seen (int32 scalar); average: β-average of the parameters (like params)."""
  count: jax.Array
  average: Any


def weight_average(decay: float) -> optax.GradientTransformation:
  """Records a_t = β a_{t−1} + (1 − β)(w_{t−1} + u_t) of the new parameters; updates unchanged."""

  def init(params):
    return WeightAverageState(jnp.zeros((), jnp.int32), jax.tree.map(jnp.zeros_like, params))

  def update(updates, state, params=None):
    if params is None:
      raise ValueError('weight_average needs the parameters')
    new = jax.tree.map(lambda p, u: p + u, params, updates)
    average = jax.tree.map(lambda a, w: decay * a + (1.0 - decay) * w, state.average, new)
    return updates, WeightAverageState(state.count + 1, average)

  return optax.GradientTransformation(init, update)


def averaged(opt_state: Any, weights: Any, decay: float) -> Any:
  """The debiased average a_t / (1 − β^t) found in ``opt_state`` (``weights`` if none, or t = 0).

  Args:
    opt_state: an optimizer state holding one :class:`WeightAverageState`.
    weights: the current weights (the average has their structure, masked
      partitions aside).
    decay: β.
  """
  found = [s for s in jax.tree.leaves(opt_state, is_leaf=lambda x: isinstance(x, WeightAverageState))
           if isinstance(s, WeightAverageState)]
  if not found or int(found[0].count) == 0:
    return weights
  state = found[0]
  average = state.average['weights'] if isinstance(state.average, dict) and 'weights' in state.average \
      else state.average
  scale = 1.0 / (1.0 - decay ** int(state.count))
  return jax.tree.map(lambda a: a * scale, average)

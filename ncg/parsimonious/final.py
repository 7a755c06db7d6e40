"""The deterministic network and its evaluation (docs/parsimonious.md §7).

:func:`finalize` removes the units whose final gate value is 0 and folds the
others' values into the weights; :func:`error_rate` evaluates the deterministic
network (compiled once per architecture and method); the rest summarise the gates.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ncg.parsimonious import averaging
from ncg.parsimonious import models
from ncg.parsimonious import shrink as shrink_lib
from ncg.parsimonious.architecture import Architecture
from ncg.parsimonious.config import Config
from ncg.parsimonious.methods import METHODS
from ncg.parsimonious.trainer import TrainState


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


@functools.lru_cache(maxsize=64)
def _wrong_count(arch: Architecture, method: str) -> Callable:
  """Compiled count of misclassified examples of the deterministic network (per
  architecture and method: one compilation for every batch of the same shape)."""
  def wrong(weights, thetas, xb, yb):
    logits = models.apply(arch, weights, xb,
                          [METHODS[method].final_gate(t) for t in thetas])
    return jnp.sum(jnp.argmax(logits, -1) != yb)
  return jax.jit(wrong)


def error_rate(arch: Architecture, config: Config, params: dict, x: jax.Array,
               y: jax.Array, batch_size: int = 1000) -> float:
  """Error (fraction) of the deterministic network (:func:`final_gates`)."""
  wrong = _wrong_count(arch, config.method)
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

"""The pure trainer of a config: ``make_trainer(config)`` → ``Trainer(init, step)``.

Adam on the weights (cosine decay over the run, optionally with the debiased
weight average of :mod:`ncg.parsimonious.averaging`), the method's optimizer on
the gate parameters (:data:`ncg.parsimonious.methods.METHODS`), partitioned with
optax; ``step`` is the method's gradients, the update and the projection.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import optax

from ncg.parsimonious import averaging
from ncg.parsimonious import models
from ncg.parsimonious.architecture import Architecture
from ncg.parsimonious.config import Config, initial_gates
from ncg.parsimonious.methods import METHODS, method_config
from ncg.parsimonious.objective import StepMetrics


class TrainState(NamedTuple):
  """params = {'weights': flax variables, 'theta': tuple of (w_g,) gate parameters}.

  The gate parameters are θ (Bernoulli) or log α (L0); ``step`` counts updates.
  """
  step: jax.Array
  params: dict
  opt_state: Any


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

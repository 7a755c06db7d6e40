"""The NCG strength rules against enumeration, and both starts in every mode.

The network gradient W ⊙ G is ∂ log p / ∂A_ij when G is the exact gradient
∂ log p / ∂(W ⊙ A); here G and ∂ log p / ∂A come from enumerating a 4×3 RBM,
the latter by differentiating the exact log-likelihood in a continuous A.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import rbm_run
from experiments.configs import default
from ncg import estimators
from ncg import rbm
from ncg import strength_rules
from ncg import train
from tests.conftest import all_binary, jit_call, tiny_rbm

DATA = jnp.array([[1., 0., 1., 1.], [0., 1., 1., 0.], [1., 1., 0., 0.]])


def _exact_G(state):
  """∂ mean log p(DATA) / ∂(W ⊙ A): data minus model statistics, enumerated."""
  model = rbm.dense(rbm.effective_weights(state), state.b, state.c)
  vs = all_binary(state.num_visible)
  log_z = estimators.exact_log_partition(model)
  p = jnp.exp(-rbm.free_energy(model, vs) - log_z)
  return (train.expected_statistics(model, DATA).vh
          - train.expected_statistics(model, vs, weights=p).vh)


def _exact_dlogp_dA(state):
  """∂ mean log p(DATA) / ∂A at A = mask, with A continuous, by autodiff."""
  def mean_log_p(A):
    model = rbm.dense(state.W * A, state.b, state.c)
    return jnp.mean(estimators.log_likelihood(
        model, DATA, estimators.exact_log_partition(model)))
  return jax.grad(mean_log_p)(rbm.mask(state))


@pytest.mark.parametrize('scale', [1.0, 0.01])
def test_rules_against_enumeration(scale):
  state = tiny_rbm(jax.random.key(3), scale=scale)
  G, dA = jax.jit(_exact_G)(state), jax.jit(_exact_dlogp_dA)(state)
  np.testing.assert_allclose(jit_call(strength_rules.RULES['reference'], state, G), dA,
                             rtol=1e-9, atol=1e-14)
  rho = float(jnp.sqrt(jnp.mean(state.W ** 2)))
  np.testing.assert_allclose(jit_call(strength_rules.RULES['normalized'], state, G),
                             dA * strength_rules.REFERENCE_RMS / rho,
                             rtol=1e-9, atol=1e-14)


def test_normalized_rule_is_free_of_the_global_scale():
  state = tiny_rbm(jax.random.key(4))
  G = jax.random.normal(jax.random.key(5), state.W.shape, jnp.float64)
  rule = strength_rules.RULES['normalized']
  for s in (0.01, 7.0):
    np.testing.assert_allclose(rule(state._replace(W=s * state.W), G),
                               rule(state, G), rtol=1e-12)
  zero = state._replace(W=jnp.zeros_like(state.W))
  assert not np.any(np.isnan(rule(zero, G)))


def test_trainer_step_follows_the_chosen_rule():
  """One CD step, same key: Δα(normalized) = (ρ_ref / ρ(W)) Δα(reference)."""
  state = tiny_rbm(jax.random.key(6), scale=0.05)
  state = state._replace(strength=jnp.full_like(state.W, 0.6))  # no clipping
  steps = {}
  for rule in strength_rules.RULES:
    config = train.TrainConfig(k=2, strength_rule=rule, learning_rate=0.1)
    trainer = train.make_trainer(config)
    opt = jit_call(trainer.init, state, jax.random.key(0), batch_size=3)
    new, _, _ = jit_call(trainer.step, state, opt, DATA, jax.random.key(7))
    steps[rule] = new.strength - state.strength
    np.testing.assert_array_equal(new.W, steps.get('W', new.W))
    steps['W'] = new.W  # the weights do not depend on the rule
  rho = float(jnp.sqrt(jnp.mean(state.W ** 2)))
  assert float(jnp.max(jnp.abs(steps['reference']))) > 0
  np.testing.assert_allclose(steps['normalized'],
                             steps['reference'] * strength_rules.REFERENCE_RMS / rho,
                             rtol=1e-6, atol=1e-12)


def test_unknown_rule_is_refused():
  with pytest.raises(Exception, match='strength_rule'):
    train.TrainConfig(strength_rule='nope')


STARTS = {  # name: (weight_init, weight_scale, base_rate_bias)
    'reference': ('uniform', 1.0, False),
    'small': ('normal', 0.01, True),
}


@pytest.mark.parametrize('start', STARTS)
@pytest.mark.parametrize('mode', train.CONNECTIVITY_MODES)
def test_every_mode_honours_both_starts(mode, start):
  weight_init, scale, base_rate = STARTS[start]
  config = default.get_config()
  config.model.num_hidden = 50
  config.model.density = 0.3
  config.train.connectivity = mode
  config.model.weight_init, config.model.weight_scale = weight_init, scale
  config.model.base_rate_bias = base_rate
  x = jnp.asarray(np.random.default_rng(0).random((40, 30)) < 0.3, jnp.float32)
  state = rbm_run.initial_state(config, x, 0, jax.random.key(1))
  W = np.asarray(state.W)
  if start == 'reference':
    assert np.abs(W).max() <= 1.0 and np.abs(W).max() > 0.9
    assert abs(W.std() - 1 / np.sqrt(3)) < 0.03
    np.testing.assert_array_equal(state.b, 0.0)
  else:
    assert abs(W.std() - 0.01) < 0.001
    np.testing.assert_allclose(state.b, rbm.base_rate_visible_bias(x), rtol=1e-6)
  np.testing.assert_array_equal(state.c, 0.0)
  expected = 1.0 if mode in train.DENSE_MODES else 0.3
  assert abs(float(rbm.density(state)) - expected) < 0.05

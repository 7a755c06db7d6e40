"""ncg.hidden_units: the gradient of the exact log-likelihood with respect to a
hidden unit's gate, against central finite differences on tiny RBMs, and a
switched-off unit leaving the distribution of the rest unchanged (float64,
enumeration)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ncg import hidden_units, rbm
from tests.conftest import all_binary, tiny_rbm


def _log_p(state, vs):
  """log p(v) of every row of vs (all states), by enumeration."""
  f = rbm.free_energy(state, vs)
  return -f - jax.scipy.special.logsumexp(-f)


def _mean_log_likelihood(state, s, data):
  vs = all_binary(state.num_visible)
  model = hidden_units.gated(state, s)
  return jnp.mean(-rbm.free_energy(model, data)) - jax.scipy.special.logsumexp(
      -rbm.free_energy(model, vs))


@pytest.mark.parametrize('gates', ['ones', 'mixed'])
def test_the_unit_gradient_is_the_finite_difference_of_the_exact_likelihood(gates):
  """5 visible × 3 hidden, a sparse mask; at s = 1 and at s = (1, 0, 0.3): the
  closed form equals central differences (h = 1e-5) to 1e-7."""
  state = tiny_rbm(jax.random.key(0), num_visible=5, num_hidden=3, density=0.6,
                   scale=1.5)
  data = all_binary(5)[jnp.array([1, 7, 12, 20, 31, 31, 6])]
  s = jnp.ones(3) if gates == 'ones' else jnp.array([1.0, 0.0, 0.3])
  vs = all_binary(5)
  weights = jnp.exp(_log_p(hidden_units.gated(state, s), vs))
  closed = hidden_units.expected_unit_gradient(
      state, data, vs, weights, None if gates == 'ones' else s)
  h = 1e-5
  numeric = [(_mean_log_likelihood(state, s.at[j].add(h), data)
              - _mean_log_likelihood(state, s.at[j].add(-h), data)) / (2 * h)
             for j in range(3)]
  np.testing.assert_allclose(closed, numeric, rtol=1e-6, atol=1e-7)
  # the CD form is the same difference with the negatives' plain mean
  np.testing.assert_allclose(
      hidden_units.cd_unit_gradient(state, data, vs, s),
      hidden_units.expected_unit_gradient(state, data, vs,
                                          jnp.full(32, 1 / 32), s), rtol=1e-12)


def test_a_switched_off_unit_leaves_the_distribution_of_the_rest_unchanged():
  """s_j = 0: p_s(v) equals p(v) of the RBM with unit j deleted, and p_s(h_{-j} | v)
  that RBM's conditionals, for every v (4 visible × 3 hidden)."""
  state = tiny_rbm(jax.random.key(1), num_visible=4, num_hidden=3, density=0.8,
                   scale=2.0)
  vs = all_binary(4)
  off = jax.jit(hidden_units.gated)(state, jnp.array([1.0, 0.0, 1.0]))
  keep = jnp.array([0, 2])
  deleted = state._replace(W=state.W[:, keep], c=state.c[keep],
                           strength=state.strength[:, keep])
  p = jax.jit(lambda s, v: jnp.exp(_log_p(s, v)))     # one program per width
  np.testing.assert_allclose(p(off, vs), p(deleted, vs), rtol=1e-12, atol=1e-15)
  hidden_probs = jax.jit(rbm.hidden_probs)
  np.testing.assert_allclose(hidden_probs(off, vs)[:, keep],
                             hidden_probs(deleted, vs), rtol=1e-12)
  np.testing.assert_allclose(hidden_probs(off, vs)[:, 1], 0.5)

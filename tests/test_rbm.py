"""ncg.rbm against brute-force enumeration of a tiny RBM."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ncg import rbm
from ncg.errors import InputError
from tests.conftest import all_binary, brute_force_joint, jit_call, tiny_rbm


def test_free_energy_is_minus_log_sum_over_hidden():
  state = tiny_rbm(jax.random.key(0))
  vs, hs = all_binary(4), all_binary(3)
  log_sum = jax.scipy.special.logsumexp(
      -rbm.energy(state, vs[:, None, :], hs[None]), axis=1)
  np.testing.assert_allclose(rbm.free_energy(state, vs), -log_sum, rtol=1e-12)


def test_hidden_free_energy_is_minus_log_sum_over_visible():
  state = tiny_rbm(jax.random.key(1))
  vs, hs = all_binary(4), all_binary(3)
  log_sum = jax.scipy.special.logsumexp(
      -rbm.energy(state, vs[:, None, :], hs[None]), axis=0)
  np.testing.assert_allclose(rbm.hidden_free_energy(state, hs), -log_sum,
                             rtol=1e-12)


def test_conditionals_match_enumeration():
  state = tiny_rbm(jax.random.key(2))
  vs, hs, P = brute_force_joint(state)
  # p(h_j = 1 | v) = Σ_h h_j p(v, h) / Σ_h p(v, h)
  np.testing.assert_allclose(rbm.hidden_probs(state, vs),
                             (P @ hs) / P.sum(1, keepdims=True), rtol=1e-10)
  np.testing.assert_allclose(rbm.visible_probs(state, hs),
                             (P.T @ vs) / P.sum(0)[:, None], rtol=1e-10)


def test_log_likelihood_from_free_energy_matches_enumeration():
  state = tiny_rbm(jax.random.key(3))
  vs, _, P = brute_force_joint(state)
  log_z = jax.scipy.special.logsumexp(-rbm.free_energy(state, vs))
  np.testing.assert_allclose(-rbm.free_energy(state, vs) - log_z,
                             np.log(P.sum(1)), rtol=1e-10)


def test_only_masked_weights_enter_the_model():
  state = tiny_rbm(jax.random.key(4), density=0.5)
  A = np.asarray(rbm.mask(state))
  assert 0 < A.sum() < A.size
  changed = state._replace(W=state.W + 10.0 * (1 - A))  # move absent weights
  v = all_binary(4)
  np.testing.assert_array_equal(rbm.free_energy(state, v),
                                rbm.free_energy(changed, v))


@pytest.mark.parametrize('p', [0.0, 0.1, 0.5, 1.0])
def test_init_density_and_strength_ranges(p):
  state = rbm.init(jax.random.key(5), 300, 200, density=p)
  A = np.asarray(rbm.mask(state))
  s = np.asarray(state.strength)
  assert abs(A.mean() - p) < 0.01  # 60,000 Bernoulli(p) draws: σ ≤ 0.002
  assert np.all((s >= 0.5) & (s < 1.0) | (A == 0))
  assert np.all((s >= 0.0) & (s < 0.5) | (A == 1))
  W = np.asarray(state.W)
  assert W.min() >= -1 and W.max() <= 1 and abs(W.mean()) < 0.01
  assert abs(np.abs(W).mean() - 0.5) < 0.01  # E|U[-1, 1]| = 1/2
  assert not np.any(state.b) and not np.any(state.c)


def test_init_normal_weights_and_base_rate_bias():
  data = (jax.random.uniform(jax.random.key(6), (1000, 5)) <
          jnp.array([0.1, 0.3, 0.5, 0.9, 0.0])).astype(jnp.float32)
  state = jit_call(rbm.init, jax.random.key(7), 5, 4000, weight_init='normal',
                   weight_scale=0.01,
                   visible_bias=jit_call(rbm.base_rate_visible_bias, data))
  assert abs(float(jnp.std(state.W)) - 0.01) < 0.0005
  np.testing.assert_allclose(jax.nn.sigmoid(state.b)[:4], data.mean(0)[:4],
                             atol=1e-6)
  assert float(jax.nn.sigmoid(state.b[4])) == pytest.approx(1e-3)  # clipped
  always_on = rbm.base_rate_visible_bias(jnp.ones((10, 2)), eps=0.01)
  np.testing.assert_allclose(jax.nn.sigmoid(always_on), 0.99, rtol=1e-6)


def test_dense_state_and_invalid_init():
  W = jnp.ones((3, 2))
  b, c = jnp.array([1.0, 2.0, 3.0]), jnp.array([4.0, 5.0])
  state = rbm.dense(W, b, c)
  assert float(rbm.density(state)) == 1.0
  for got, want in zip(state, (W, b, c, jnp.ones((3, 2)))):
    np.testing.assert_array_equal(got, want)
  with pytest.raises(InputError, match='density'):
    rbm.init(jax.random.key(0), 3, 2, density=1.5)
  with pytest.raises(InputError, match='weight_init'):
    rbm.init(jax.random.key(0), 3, 2, weight_init='xavier')


def test_any_leading_batch_dims_and_dtypes():
  # One vector, a batch and a batch of batches give the same numbers.
  state = tiny_rbm(jax.random.key(8))
  vs, hs = all_binary(4), all_binary(3)
  for fn, x in [(rbm.free_energy, vs), (rbm.hidden_probs, vs),
                (rbm.hidden_free_energy, hs), (rbm.visible_probs, hs)]:
    fn = jax.jit(fn)                                 # one program per shape
    batch = fn(state, x)
    np.testing.assert_allclose(fn(state, x[3]), batch[3], rtol=1e-12)
    np.testing.assert_allclose(fn(state, x.reshape((2, -1) + x.shape[1:])),
                               batch.reshape((2, -1) + batch.shape[1:]),
                               rtol=1e-12)
  # The state and the mask keep the requested dtype (x64 is on here).
  for dtype in (jnp.float32, jnp.float64):
    state = jit_call(rbm.init, jax.random.key(9), 4, 3, density=0.5, dtype=dtype)
    assert all(a.dtype == dtype for a in state)
    assert rbm.mask(state).dtype == dtype

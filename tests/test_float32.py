"""The production precision: estimator and trainer accuracy with x64 off.

conftest.py turns float64 on for every other in-process test; real runs use
float32 (and AIS's compensated float32 sum). Here every test runs inside
``jax.enable_x64(False)`` and checks the float32 results against float64
numpy references, with these tolerances (float32 ε = 1.2e-7):

* exact log Z: 2e-5 nats for 2^4–2^7 terms, 2e-4 nats for the 2^18-term
  chunked sum (|log Z| ≈ 20–60, a few ε per term and per chunk);
* log-likelihoods, pseudo-likelihoods, class posteriors: 2e-5;
* AIS with the base-rate base: within 0.04 nats of the exact log Z (as in
  float64; measured errors ≤ 0.011 nats, a one-temperature shift gives
  0.09–0.13) and within 2e-3 nats of the same run in float64;
* one CD step against numpy: 2e-6 on W, b, c and the strengths (|W| ≤ 1);
* bars and stripes: the same NLL drop as in float64.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ncg import classification
from ncg import estimators
from ncg import rbm
from tests import test_estimators as float64_estimators
from tests import test_train_independent as float64_train
from tests.conftest import all_binary


@pytest.fixture(autouse=True)
def float32_only():
  with jax.enable_x64(False):
    yield


def f32_rbm(num_visible, num_hidden, seed, scale=1.5, density=0.7):
  """A float32 RBM with non-zero biases (like conftest.tiny_rbm)."""
  k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
  state = rbm.init(k1, num_visible, num_hidden, density=density,
                   weight_scale=scale)
  return state._replace(b=0.5 * jax.random.normal(k2, (num_visible,)),
                        c=0.5 * jax.random.normal(k3, (num_hidden,)))


def numpy_neg_free_energy(state, v):
  W = np.asarray(rbm.effective_weights(state), np.float64)
  b, c = np.asarray(state.b, np.float64), np.asarray(state.c, np.float64)
  return v @ b + np.logaddexp(0, v @ W + c).sum(-1)


def numpy_log_z(state):
  vs = np.asarray(all_binary(state.num_visible), np.float64)
  return float(np.logaddexp.reduce(numpy_neg_free_energy(state, vs)))


@pytest.mark.parametrize('num_visible,num_hidden', [(4, 7), (7, 4)])
def test_exact_log_z_in_float32(num_visible, num_hidden):
  state = f32_rbm(num_visible, num_hidden, seed=num_visible)
  log_z = estimators.exact_log_partition(state)
  assert log_z.dtype == jnp.float32
  assert float(log_z) == pytest.approx(numpy_log_z(state), abs=2e-5)


def test_chunked_exact_log_z_in_float32():
  state = f32_rbm(40, 18, seed=5, scale=0.3)
  W = np.asarray(rbm.effective_weights(state), np.float64)
  b, c = np.asarray(state.b, np.float64), np.asarray(state.c, np.float64)
  hs = ((np.arange(2 ** 18)[:, None] >> np.arange(18)) & 1).astype(np.float64)
  expected = np.logaddexp.reduce(hs @ c + np.logaddexp(0, hs @ W.T + b).sum(1))
  assert float(estimators.exact_log_partition(state)) == pytest.approx(
      expected, abs=2e-4)


def test_likelihoods_in_float32():
  state = f32_rbm(5, 3, seed=8, scale=2.0)
  vs = all_binary(5)
  v64 = np.asarray(vs, np.float64)
  log_p = estimators.log_likelihood(state, vs,
                                    estimators.exact_log_partition(state))
  np.testing.assert_allclose(
      log_p, numpy_neg_free_energy(state, v64) - numpy_log_z(state), atol=2e-5)
  # Pseudo-likelihood: Σ_i log p(v_i | v_−i) from the float64 free energies.
  flips = np.abs(v64[:, None, :] - np.eye(5)[None])                # (32, 5, 5)
  own = numpy_neg_free_energy(state, v64)[:, None]
  other = numpy_neg_free_energy(state, flips)
  expected = np.sum(own - np.logaddexp(own, other), axis=1)
  np.testing.assert_allclose(
      estimators.pseudo_log_likelihood(state, vs, batch_size=7), expected,
      atol=2e-5)


def test_class_posterior_in_float32():
  state = f32_rbm(7, 3, seed=0, scale=2.0, density=0.8)
  x = np.asarray(all_binary(4), np.float64)
  scores = np.stack([numpy_neg_free_energy(
      state, np.concatenate([x, np.tile(np.eye(3)[y], (16, 1))], 1))
                     for y in range(3)], 1)
  expected = scores - np.logaddexp.reduce(scores, axis=1, keepdims=True)
  np.testing.assert_allclose(
      classification.label_log_probs(state, jnp.asarray(x, jnp.float32), 3),
      expected, atol=2e-5)


@pytest.mark.parametrize('label_units', [0, 4])
def test_ais_in_float32(label_units):
  if label_units:
    state = float64_estimators.joint_target()
  else:
    state = float64_estimators.random_target()
  exact = float(estimators.exact_log_partition(state, label_units))
  with jax.enable_x64(True):  # the float64 reference run, same key
    exact64 = float(estimators.exact_log_partition(state, label_units))
    base = float64_estimators.marginal_base(state, label_units)
    ref = estimators.ais_log_partition(
        jax.random.key(3), state, num_runs=64, betas=1000,
        label_units=label_units, base_visible_bias=base)
  assert exact == pytest.approx(exact64, abs=1e-4)
  result = estimators.ais_log_partition(
      jax.random.key(3), state, num_runs=64, betas=1000,
      label_units=label_units, base_visible_bias=jnp.asarray(base, jnp.float32))
  assert result.log_weights.dtype == jnp.float32
  float64_estimators.check_ais(state, exact64, result)
  assert float(result.log_z) == pytest.approx(float(ref.log_z), abs=2e-3)


def test_cd_step_in_float32():
  float64_train.check_cd_step(2, 'hash', jnp.float32, atol=2e-6)


def test_bars_and_stripes_in_float32():
  float64_train.check_bars_and_stripes('ncg', 'sgd', False, 0.1,
                                       jnp.float32, 1e-4)

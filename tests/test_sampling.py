"""Gibbs chains of ncg.sampling reach the exact distribution of a tiny RBM."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ncg import rbm
from ncg import sampling
from tests.conftest import brute_force_joint, jit_call, tiny_rbm


def _empirical(samples, num_visible):
  index = np.asarray(samples).astype(int) @ (2 ** np.arange(num_visible)[::-1])
  return np.bincount(index, minlength=2 ** num_visible) / len(index)


@pytest.mark.parametrize('rng', sampling.RNGS)
def test_long_gibbs_chains_match_exact_distribution(rng):
  state = tiny_rbm(jax.random.key(0), num_visible=5, num_hidden=3, scale=1.5)
  _, _, P = brute_force_joint(state)
  exact = P.sum(1)  # p(v) in the order of all_binary(5)

  def run(key, v0):  # one chain: 100 burn-in sweeps, then 400 kept sweeps
    key = sampling.keyed(key, rng)   # the generator is the key's type
    v = sampling.gibbs_chain(key, state, v0, 100)
    def body(v, key):
      v = sampling.gibbs_sweep(key, state, v)
      return v, v
    _, trace = jax.lax.scan(body, v, jax.random.split(key, 400))
    return trace

  keys = jax.random.split(jax.random.key(1), 100)
  v0 = jnp.zeros((100, 5))
  samples = jax.jit(jax.vmap(run))(keys, v0).reshape(-1, 5)  # 40,000 states
  tv = 0.5 * np.abs(_empirical(samples, 5) - exact).sum()
  assert tv < 0.05, tv


def test_label_units_are_sampled_as_one_softmax_group():
  state = tiny_rbm(jax.random.key(2), num_visible=5, num_hidden=2)
  h = jnp.array([1.0, 0.0])
  draws, probs = jit_call(sampling.sample_visible, jax.random.key(3), state,
                          jnp.tile(h, (20000, 1)), label_units=3)
  labels = np.asarray(draws[:, 2:])
  np.testing.assert_array_equal(labels.sum(1), 1)  # exactly one label on
  logits = np.asarray(state.b[2:] + (state.W * (state.strength > 0.5))[2:] @ h)
  expected = np.exp(logits) / np.exp(logits).sum()
  np.testing.assert_allclose(probs[0, 2:], expected, rtol=1e-6)
  np.testing.assert_allclose(labels.mean(0), expected, atol=0.015)  # 4σ
  # The binary units keep their sigmoid conditionals.
  bits = np.asarray(draws[:, :2]).mean(0)
  np.testing.assert_allclose(bits, probs[0, :2], atol=0.015)


# Chains and trajectories, replayed exactly in numpy: tests/test_sampling_exact.py.


def test_hash_uniforms_look_uniform():
  u = np.asarray(sampling.hash_uniforms(
      jnp.array([123, 456], jnp.uint32), (200, 500)))
  assert u.min() >= 0.0 and u.max() < 1.0
  assert abs(u.mean() - 0.5) < 3 * np.sqrt(1 / 12 / u.size) * 2
  counts, _ = np.histogram(u, bins=20, range=(0, 1))
  expected = u.size / 20
  chi2 = np.sum((counts - expected) ** 2 / expected)
  assert chi2 < 45  # 19 degrees of freedom: p ≈ 0.001
  # Neighbouring elements and neighbouring keys are uncorrelated.
  flat = u.reshape(-1)
  assert abs(np.corrcoef(flat[:-1], flat[1:])[0, 1]) < 0.01
  other = np.asarray(sampling.hash_uniforms(
      jnp.array([124, 456], jnp.uint32), (200, 500))).reshape(-1)
  assert abs(np.corrcoef(flat, other)[0, 1]) < 0.01


def _lowbias32(x):
  """C. Wellons' lowbias32 on numpy uint32 (wrapping multiplications)."""
  x = x ^ (x >> np.uint32(16))
  x = x * np.uint32(0x21F0AAAD)
  x = x ^ (x >> np.uint32(15))
  x = x * np.uint32(0x735A2D97)
  return x ^ (x >> np.uint32(15))


@pytest.mark.parametrize('shape', [(7,), (3, 5), (2, 3, 4)])
def test_hash_uniforms_follow_the_documented_formula(shape):
  # u_i = ⌊mix(mix(i·φ + k_0) ⊕ k_1) / 2^8⌋ · 2^−24, i the row-major index.
  key = np.array([0xDEADBEEF, 12345], np.uint32)
  i = np.arange(int(np.prod(shape)), dtype=np.uint32)
  with np.errstate(over='ignore'):
    x = _lowbias32(i * np.uint32(0x9E3779B9) + key[0])
    x = _lowbias32(x ^ key[1])
  expected = (x >> np.uint32(8)).astype(np.float64) * 2.0 ** -24
  got = sampling.hash_uniforms(jnp.asarray(key), shape, jnp.float64)
  np.testing.assert_array_equal(np.asarray(got).reshape(-1), expected)


def test_random_visible_and_mean_field_image():
  v = np.asarray(sampling.random_visible(jax.random.key(8), 4000, 4))
  assert v.shape == (4000, 4) and set(np.unique(v)) == {0.0, 1.0}
  assert np.all(np.abs(v.mean(0) - 0.5) < 0.04)   # 4000 fair bits: σ = 0.008
  state = tiny_rbm(jax.random.key(9))
  key = jax.random.key(10)
  h, _ = sampling.sample_hidden(key, state, jnp.asarray(v[:6]))
  np.testing.assert_allclose(
      sampling.mean_field_image(key, state, jnp.asarray(v[:6])),
      jax.nn.sigmoid(np.asarray(h) @ np.asarray(rbm.effective_weights(state)).T
                     + np.asarray(state.b)), atol=1e-12)

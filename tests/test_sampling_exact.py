"""ncg.sampling draw by draw: with fixed keys, every sample equals a numpy recomputation.

The uniforms come from the same keys (threefry, or the documented hash); the
maths on top of them (the conditionals, the strict ``u < p`` threshold, the
key splits, the number of sweeps, the label softmax group, dtypes) is
recomputed here in plain numpy, so any change of a formula changes a sample.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ncg import sampling
from tests.conftest import jit_call, tiny_rbm


def _sigmoid(x):
  return 1.0 / (1.0 + np.exp(-x))


_hash_uniforms = jax.jit(sampling.hash_uniforms, static_argnums=(1, 2))  # a program per shape


def _uniforms(key, shape, rng, dtype=jnp.float64):
  """The uniforms ncg.sampling draws from ``keyed(key, rng)`` (key: a threefry
  key) for (shape, dtype), as numpy: for the hash, the documented hash of two
  threefry words of the key."""
  if rng == 'hash':
    words = jax.random.bits(key, (2,), jnp.uint32)
    return np.asarray(_hash_uniforms(words, shape, dtype))
  return np.asarray(jax.random.uniform(sampling.keyed(key, rng), shape, dtype))


def _state():
  state = tiny_rbm(jax.random.key(11), num_visible=5, num_hidden=3,
                   density=0.6, scale=1.5)
  aw = np.asarray(state.W) * (np.asarray(state.strength) > 0.5)
  return state, aw, np.asarray(state.b), np.asarray(state.c)


@pytest.mark.parametrize('rng', sampling.RNGS)
def test_bernoulli_is_a_strict_threshold_of_the_keyed_uniforms(rng):
  key = jax.random.key(1)
  u = _uniforms(key, (3, 4), rng)
  # p = u exactly must give 0 (P(u < p) = p needs a strict <; p = 0 never
  # fires even for u = 0); p just above u gives 1.
  probs = np.where(np.arange(12).reshape(3, 4) % 2 == 0, u,
                   np.nextafter(u, 2.0))
  got = sampling.bernoulli(sampling.keyed(key, rng), jnp.asarray(probs))
  assert got.dtype == jnp.float64
  np.testing.assert_array_equal(got, (u < probs).astype(float))
  np.testing.assert_array_equal(sampling.uniform(sampling.keyed(key, rng), (3, 4), jnp.float64), u)
  # float32 probabilities: float32 draws, float32 output.
  u32 = _uniforms(key, (3, 4), rng, jnp.float32)
  got32 = sampling.bernoulli(sampling.keyed(key, rng), jnp.asarray(u32))
  assert got32.dtype == jnp.float32
  np.testing.assert_array_equal(got32, 0.0)


def test_hash_uniforms_default_dtype_is_float32_with_the_same_24_bits():
  words = jnp.array([7, 9], jnp.uint32)
  u32 = sampling.hash_uniforms(words, (2, 3))
  assert u32.dtype == jnp.float32
  np.testing.assert_array_equal(
      u32, np.asarray(sampling.hash_uniforms(words, (2, 3), jnp.float64)))
  u = sampling.uniform(jax.random.key(2), (4,))
  assert u.dtype == jnp.float32   # threefry is the default stream


@pytest.mark.parametrize('rng', ['hash'])  # not jax's default: the key's type is passed on
def test_conditionals_and_draws_match_numpy(rng):
  state, aw, b, c = _state()
  v = np.array([[1., 0., 1., 1., 0.], [0., 1., 0., 0., 1.]])
  key = jax.random.key(3)
  h, ph = jit_call(sampling.sample_hidden, sampling.keyed(key, rng), state, jnp.asarray(v))
  expected_ph = _sigmoid(v @ aw + c)
  np.testing.assert_allclose(ph, expected_ph, rtol=1e-12)
  np.testing.assert_array_equal(h, _uniforms(key, (2, 3), rng) < expected_ph)
  hh = np.array([[1., 0., 1.], [0., 1., 1.]])
  v1, pv = jit_call(sampling.sample_visible, sampling.keyed(key, rng), state, jnp.asarray(hh))
  expected_pv = _sigmoid(hh @ aw.T + b)
  np.testing.assert_allclose(pv, expected_pv, rtol=1e-12)
  np.testing.assert_array_equal(v1, _uniforms(key, (2, 5), rng) < expected_pv)


@pytest.mark.parametrize('rng', ['hash'])  # not jax's default: the key's type is passed on
def test_label_group_uses_its_own_key_and_the_softmax_of_the_last_rows(rng):
  logits = np.array([[0.3, -1.2, 2.0, 0.5, -0.4], [1.5, 0.1, -2.0, 0.0, 3.0]])
  key = jax.random.key(4)
  v, p = jit_call(sampling.sample_visible_from_logits, sampling.keyed(key, rng),
                  jnp.asarray(logits), 3)
  key_bits, key_label = jax.random.split(key)
  bit_p = _sigmoid(logits[:, :2])
  z = np.exp(logits[:, 2:])
  label_p = z / z.sum(1, keepdims=True)
  np.testing.assert_allclose(p, np.concatenate([bit_p, label_p], 1), rtol=1e-12)
  np.testing.assert_array_equal(v[:, :2], _uniforms(key_bits, (2, 2), rng) < bit_p)
  label = np.asarray(jax.random.categorical(sampling.keyed(key_label, rng),
                                            jnp.asarray(logits[:, 2:])))
  np.testing.assert_array_equal(v[:, 2:], np.eye(3)[label])
  assert v.dtype == jnp.float64
  # One label unit: a softmax over one unit is always on.
  v1, p1 = jit_call(sampling.sample_visible_from_logits, sampling.keyed(key, rng),
                    jnp.asarray(logits), 1)
  np.testing.assert_array_equal(v1[:, 4], 1.0)
  np.testing.assert_allclose(p1[:, :4], _sigmoid(logits[:, :4]), rtol=1e-12)


def _sweep(key, state, aw, b, c, v, rng='threefry', label_units=0):
  """One numpy Gibbs sweep from the same keys (no label units)."""
  key_h, key_v = jax.random.split(key)
  h = (_uniforms(key_h, aw.shape[1:], rng) < _sigmoid(v @ aw + c)).astype(float)
  return (_uniforms(key_v, aw.shape[:1], rng) < _sigmoid(aw @ h + b)).astype(float)


@pytest.mark.parametrize('rng', ['hash'])  # not jax's default: the key's type is passed on
def test_sweeps_chains_and_trajectories_follow_their_keys(rng):
  state, aw, b, c = _state()
  v0 = np.array([1., 0., 0., 1., 1.])
  key = jax.random.key(5)
  # One sweep; the chain keeps v's dtype (float32 v, float64 state).
  got = jit_call(sampling.gibbs_sweep, sampling.keyed(key, rng), state,
                 jnp.asarray(v0, jnp.float32))
  assert got.dtype == jnp.float32
  np.testing.assert_array_equal(got, _sweep(key, state, aw, b, c, v0, rng))
  # Three sweeps: one split key per sweep, in order.
  v = v0
  for k in jax.random.split(key, 3):
    v = _sweep(k, state, aw, b, c, v, rng)
  np.testing.assert_array_equal(
      jit_call(sampling.gibbs_chain, sampling.keyed(key, rng), state, jnp.asarray(v0), 3), v)
  # Chains: row i runs from v[i] with the i-th split key.
  starts = np.array([[1., 0., 0., 1., 1.], [0., 1., 1., 0., 0.]])
  chains = jit_call(sampling.sample_chains, sampling.keyed(key, rng), state, jnp.asarray(starts),
                    2)
  for i, k in enumerate(jax.random.split(key, 2)):
    v = starts[i]
    for kk in jax.random.split(k, 2):
      v = _sweep(kk, state, aw, b, c, v, rng)
    np.testing.assert_array_equal(chains[i], v)


def test_trajectory_frames_are_sample_chains_every_few_sweeps():
  state, _, _, _ = _state()
  # The last 2 units a label group: every frame keeps one label on.
  starts = jnp.array([[1., 0., 0., 1., 0.], [0., 1., 1., 0., 1.]])
  key = jax.random.key(6)
  traj = sampling.chain_trajectory(key, state, starts, 5, every=2,
                                   label_units=2)
  assert traj.shape == (2, 2, 5)   # ⌊5 / 2⌋ frames
  np.testing.assert_array_equal(np.asarray(traj)[..., -2:].sum(-1), 1.0)
  v = starts
  for i, k in enumerate(jax.random.split(key, 2)):
    v = sampling.sample_chains(k, state, v, 2, label_units=2)
    np.testing.assert_array_equal(traj[i], v)


def test_random_visible_is_a_fair_coin_threshold():
  key = jax.random.key(7)
  got = sampling.random_visible(key, 3, 4)
  assert got.dtype == jnp.float32
  np.testing.assert_array_equal(
      got, np.asarray(jax.random.uniform(key, (3, 4), jnp.float32)) < 0.5)
  got64 = sampling.random_visible(key, 3, 4, jnp.float64)
  np.testing.assert_array_equal(
      got64, np.asarray(jax.random.uniform(key, (3, 4), jnp.float64)) < 0.5)


def test_normal_draws_and_gaussian_visible_units_follow_their_formulas():
  key = jax.random.key(8)
  # hash: Box–Muller z = √(−2 ln(1 − u₁)) cos(2π u₂) on a (2, ...) draw.
  hkey = sampling.keyed(key, 'hash')
  u = _uniforms(key, (2, 2, 3), 'hash')
  z = np.sqrt(-2 * np.log1p(-u[0])) * np.cos(2 * np.pi * u[1])
  np.testing.assert_allclose(jit_call(sampling.normal, hkey, (2, 3), jnp.float64),
                             z, rtol=1e-12)
  np.testing.assert_array_equal(sampling.normal(key, (2, 3), jnp.float64),
                                jax.random.normal(key, (2, 3), jnp.float64))
  assert sampling.normal(key, (2,)).dtype == jnp.float32
  # Gaussian visible units: v = mean + N(0, 1), the mean b + (W ⊙ A)h.
  logits = jnp.asarray([[0.5, -1.0, 2.0], [0.0, 0.3, -0.7]])
  v, mean = jit_call(sampling.sample_gaussian_from_logits, hkey, logits, 0)
  np.testing.assert_array_equal(mean, logits)
  np.testing.assert_allclose(v, np.asarray(logits) + z, rtol=1e-12)
  # One Gaussian–Bernoulli sweep from the same keys.
  state, aw, b, c = _state()
  v0 = np.array([0.3, -1.2, 0.8, 0.0, 2.1])
  key_h, key_v = jax.random.split(key)
  h = (_uniforms(key_h, (3,), 'hash') < _sigmoid(v0 @ aw + c)).astype(float)
  noise = np.asarray(jit_call(sampling.normal, sampling.keyed(key_v, 'hash'), (5,), jnp.float64))
  np.testing.assert_allclose(
      jit_call(sampling.gibbs_sweep, hkey, state, jnp.asarray(v0), visible='gaussian'),
      aw @ h + b + noise, rtol=1e-12)


def test_the_hash_is_a_jax_prng_implementation_with_threefrys_key_tree():
  """sampling.HASH: keys split and fold in exactly as threefry's (so re-typing a
  key changes only the draws), random_bits is the documented hash of two
  threefry words at every width, and plain jax.random works on its keys."""
  key = jax.random.key(5)
  hkey = sampling.keyed(key, 'hash')
  assert sampling.is_hash(hkey) and not sampling.is_hash(key)
  assert sampling.keyed(hkey, 'hash') is hkey
  for derived, reference in ((jax.random.split(hkey, 4), jax.random.split(key, 4)),
                             (jax.random.fold_in(hkey, 7), jax.random.fold_in(key, 7))):
    np.testing.assert_array_equal(jax.random.key_data(derived),
                                  jax.random.key_data(reference))
  words = jax.random.bits(key, (2,), jnp.uint32)
  bits32 = np.asarray(sampling.hash_bits(words, (3, 5)))
  np.testing.assert_array_equal(jax.random.bits(hkey, (3, 5), jnp.uint32), bits32)
  np.testing.assert_array_equal(jax.random.bits(hkey, (3, 5), jnp.uint8), bits32 & 0xFF)
  pair = np.asarray(sampling.hash_bits(words, (3, 2))).astype(np.uint64)
  np.testing.assert_array_equal(jax.random.bits(hkey, (3,), jnp.uint64),  # x64: conftest
                                (pair[:, 0] << np.uint64(32)) | pair[:, 1])
  # 24-bit uniforms from the same words; jax.random's own uniform on the key
  # has U(0, 1)'s moments (10⁶ draws: 5 standard errors).
  np.testing.assert_array_equal(sampling.uniform(hkey, (3, 5)),
                                sampling.hash_uniforms(words, (3, 5)))
  u = np.asarray(jax.random.uniform(hkey, (1_000_000,)), np.float64)
  assert abs(u.mean() - 0.5) < 5 * np.sqrt(1 / 12 / 1e6)
  assert abs(u.var() - 1 / 12) < 5 * np.sqrt(1 / 180 / 1e6)
  # A key of another width (rbg's four words) is drawn from the key.
  assert jax.random.key_data(sampling.keyed(jax.random.split(key, 3), 'rbg')).shape == (3, 4)

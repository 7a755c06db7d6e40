"""ncg.estimators against exact answers: closed forms and brute-force enumeration.

AIS tolerances: the estimate must lie within its own ±3σ interval of the exact
log Z and within 0.04 nats of it (fixed keys, 1000 temperatures so CI stays
fast). The base model is the exact base-rate model of the target (the
independent model with the target's marginals p(v_i = 1)), never the target's
own biases: with it the measured errors are ≤ 0.011 nats, while AIS run one
temperature behind (increment and hidden draw at β_{k−1}) is off by 0.09-0.13
nats on the same models.
"""

from __future__ import annotations

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ncg import data as data_lib
from ncg import estimators
from ncg import rbm
from ncg.errors import InputError
from tests.conftest import all_binary, brute_force_joint, tiny_rbm


def softplus(x):
  return np.logaddexp(0.0, np.asarray(x, np.float64))


def brute_log_z(state, label_units=0):
  """log Σ_{v,h} e^{−E(v,h)} over both layers (labels one-hot), float64."""
  num_visible = state.num_visible
  vs = np.asarray(all_binary(num_visible))
  if label_units:
    vs = vs[vs[:, num_visible - label_units:].sum(1) == 1]
  hs = all_binary(state.num_hidden)
  return float(_log_sum_exp_of_minus_energy(state, jnp.asarray(vs), hs))


@jax.jit
def _log_sum_exp_of_minus_energy(state, vs, hs):
  """log Σ_{v ∈ vs, h ∈ hs} e^{−E(v,h)}: one program per shape."""
  return jax.scipy.special.logsumexp(-rbm.energy(state, vs[:, None, :], hs[None, :, :]))


def joint_rbm(key, num_bits, num_labels, num_hidden, scale=1.0):
  state = tiny_rbm(key, num_bits + num_labels, num_hidden, density=0.8,
                   scale=scale)
  return state


# ----------------------------------------------------------------------------
# Exact log Z.


@pytest.mark.parametrize('num_visible,num_hidden', [(3, 7), (7, 3)])
def test_exact_with_zero_weights_is_the_closed_form(num_visible, num_hidden):
  state = tiny_rbm(jax.random.key(0), num_visible, num_hidden)
  state = state._replace(W=jnp.zeros_like(state.W))
  expected = softplus(state.b).sum() + softplus(state.c).sum()
  assert float(estimators.exact_log_partition(state)) == pytest.approx(
      expected, abs=1e-12)


@pytest.mark.parametrize('num_visible,num_hidden,seed',
                         [(4, 3, 0), (3, 6, 1), (1, 5, 3)])
def test_exact_matches_brute_force_over_both_layers(num_visible, num_hidden,
                                                    seed):
  state = tiny_rbm(jax.random.key(seed), num_visible, num_hidden, scale=2.0)
  assert float(estimators.exact_log_partition(state)) == pytest.approx(
      brute_log_z(state), abs=1e-10)


@pytest.mark.parametrize('num_bits,num_hidden', [(3, 6), (6, 2)])
def test_exact_with_label_units_respects_the_one_hot_group(num_bits,
                                                           num_hidden):
  # Both branches: (3, 6) sums over visible, (6, 2) over hidden.
  state = joint_rbm(jax.random.key(4), num_bits, 3, num_hidden, scale=1.5)
  layer, _ = estimators.count_configurations(state, 3)
  assert layer == ('visible' if num_hidden == 6 else 'hidden')
  assert float(estimators.exact_log_partition(state, label_units=3)) == (
      pytest.approx(brute_log_z(state, label_units=3), abs=1e-10))


def test_exact_chunks_many_configurations():
  # 2^18 hidden configurations → several chunks of the running log-sum-exp.
  key = jax.random.key(5)
  state = tiny_rbm(key, 40, 18, scale=0.3)
  exact = float(estimators.exact_log_partition(state))
  # Sum over the visible layer in closed form per hidden group as a check:
  # split the hidden layer in two halves and enumerate each with numpy.
  W = np.asarray(rbm.effective_weights(state))
  b, c = np.asarray(state.b), np.asarray(state.c)
  hs = ((np.arange(2 ** 18)[:, None] >> np.arange(18)) & 1).astype(np.float64)
  neg_f = hs @ c + softplus(hs @ W.T + b).sum(1)
  assert exact == pytest.approx(float(np.logaddexp.reduce(neg_f)), abs=1e-9)


def test_exact_refuses_too_many_configurations():
  state = rbm.init(jax.random.key(0), 40, 30)
  with pytest.raises(InputError, match='use AIS'):
    estimators.exact_log_partition(state)


# ----------------------------------------------------------------------------
# Likelihoods.


def test_log_likelihood_normalises():
  state = tiny_rbm(jax.random.key(6), 5, 4, scale=2.0)
  vs = all_binary(5)
  log_p = estimators.log_likelihood(
      state, vs, estimators.exact_log_partition(state))
  assert float(jnp.sum(jnp.exp(log_p))) == pytest.approx(1.0, abs=1e-12)
  _, _, P = brute_force_joint(state)
  np.testing.assert_allclose(np.exp(log_p), P.sum(1), atol=1e-12)


def test_log_likelihood_of_a_joint_rbm_sums_out_the_label():
  state = joint_rbm(jax.random.key(7), 4, 3, 3)
  log_z = estimators.exact_log_partition(state, label_units=3)
  x = all_binary(4)
  marginal = estimators.log_likelihood(state, x, log_z, label_units=3)
  joint = jnp.stack([estimators.log_likelihood(
      state, jnp.concatenate([x, jnp.broadcast_to(jax.nn.one_hot(y, 3),
                                                  (16, 3))], 1),
      log_z, label_units=3) for y in range(3)], axis=1)
  np.testing.assert_allclose(marginal, jax.scipy.special.logsumexp(joint, 1),
                             atol=1e-12)
  assert float(jnp.sum(jnp.exp(marginal))) == pytest.approx(1.0, abs=1e-12)


def test_pseudo_log_likelihood_matches_brute_force_conditionals():
  state = tiny_rbm(jax.random.key(8), 5, 3, scale=2.0)
  vs = all_binary(5)
  _, _, P = brute_force_joint(state)
  p_v = P.sum(1)
  index = {tuple(v): i for i, v in enumerate(np.asarray(vs))}
  expected = []
  for v in np.asarray(vs):
    total = 0.0
    for i in range(5):
      flipped = v.copy()
      flipped[i] = 1 - flipped[i]
      total += np.log(p_v[index[tuple(v)]] /
                      (p_v[index[tuple(v)]] + p_v[index[tuple(flipped)]]))
    expected.append(total)
  got = estimators.pseudo_log_likelihood(state, vs, batch_size=7)
  np.testing.assert_allclose(got, expected, atol=1e-10)


def test_pseudo_log_likelihood_of_a_joint_rbm_treats_labels_as_one_variable():
  state = joint_rbm(jax.random.key(9), 3, 3, 2)
  v = jnp.array([[1.0, 0.0, 1.0, 0.0, 1.0, 0.0]])
  full = float(estimators.pseudo_log_likelihood(state, v, label_units=3)[0])
  # Brute force over the visible configurations that keep one label.
  def log_p(v):  # unnormalised
    return float(-rbm.free_energy(state, jnp.asarray(v, jnp.float64)))
  base = np.asarray(v[0])
  total = 0.0
  for i in range(3):
    flipped = base.copy()
    flipped[i] = 1 - flipped[i]
    total += log_p(base) - np.logaddexp(log_p(base), log_p(flipped))
  labels = [np.concatenate([base[:3], np.eye(3)[y]]) for y in range(3)]
  total += log_p(base) - np.logaddexp.reduce([log_p(l) for l in labels])
  assert full == pytest.approx(total, abs=1e-10)


def test_reconstruction_error_is_the_mean_field_formula():
  state = tiny_rbm(jax.random.key(10), 6, 4)
  v = all_binary(6)[::7]
  recon = rbm.visible_probs(state, rbm.hidden_probs(state, v))
  np.testing.assert_allclose(estimators.reconstruction_error(state, v),
                             np.sum((np.asarray(v) - recon) ** 2, 1),
                             atol=1e-12)


# ----------------------------------------------------------------------------
# AIS.


def test_schedules():
  full = estimators.ais_betas()
  assert len(full) == 14501 and full[0] == 0.0 and full[-1] == 1.0
  assert np.all(np.diff(full) > 0)
  np.testing.assert_allclose(np.diff(full)[[0, 600, -1]], [1e-3, 1e-4, 1e-5])
  for n in (2, 3, 4, 5, 100, 1000):
    betas = estimators.ais_betas(n)
    assert len(betas) == n and betas[0] == 0.0 and betas[-1] == 1.0
    assert np.all(np.diff(betas) > 0)
    if n >= 4:  # at least one step in each of the three segments
      assert {0.5, 0.9} <= set(betas.tolist())


@pytest.mark.parametrize('n', [100, 1001, 14501])
def test_schedule_shape_follows_the_authors(n):
  # Segments [0, 0.5], [0.5, 0.9], [0.9, 1] with 500 : 4000 : 10000 of the
  # steps (±1 for rounding), each evenly spaced; n = 14501 is the authors'.
  betas = estimators.ais_betas(n)
  steps = n - 1
  for low, high, share in [(0.0, 0.5, 500), (0.5, 0.9, 4000), (0.9, 1.0, 10000)]:
    inside = np.diff(betas)[(betas[:-1] >= low) & (betas[1:] <= high)]
    assert len(inside) == pytest.approx(steps * share / 14500, abs=1)
    np.testing.assert_allclose(inside, (high - low) / len(inside), rtol=1e-9)
  if n == 14501:
    np.testing.assert_allclose(betas, estimators.ais_betas(), atol=1e-12)


@pytest.mark.parametrize('bad', [np.array([0.0, 0.5]), np.array([0.1, 1.0]),
                                 np.array([0.0, 0.6, 0.5, 1.0]),
                                 np.array([0.0, np.nan, 1.0]), 1])
def test_ais_refuses_bad_schedules(bad):
  state = tiny_rbm(jax.random.key(0), 4, 3)
  with pytest.raises(InputError):
    estimators.ais_log_partition(jax.random.key(0), state, betas=bad,
                                 base_visible_bias=jnp.full(4, 0.1))


def test_ais_refuses_bad_settings():
  state = tiny_rbm(jax.random.key(0), 4, 3)
  with pytest.raises(InputError, match='runs'):
    estimators.ais_log_partition(jax.random.key(0), state, num_runs=1,
                                 base_visible_bias=jnp.full(4, 0.1))
  with pytest.raises(InputError, match='rng'):
    estimators.ais_log_partition(jax.random.key(0), state, rng='mt19937',
                                 base_visible_bias=jnp.full(4, 0.1))
  with pytest.raises(InputError, match='base_visible_bias'):
    estimators.ais_log_partition(jax.random.key(0), state,
                                 base_visible_bias=jnp.zeros(3))


def test_ais_is_exact_without_weights():
  # With W = 0 and the base model's biases equal to b, every run has the
  # same weight: log Z is exact and the interval has zero width.
  state = tiny_rbm(jax.random.key(11), 6, 5)
  state = state._replace(W=jnp.zeros_like(state.W))
  result = estimators.ais_log_partition(jax.random.key(0), state, num_runs=8,
                                        betas=50, base_visible_bias=state.b)
  expected = softplus(state.b).sum() + softplus(state.c).sum()
  assert float(result.log_z) == pytest.approx(expected, abs=1e-9)
  assert float(result.log_z_high) == pytest.approx(expected, abs=1e-9)
  assert float(jnp.std(result.log_weights)) < 1e-9


def check_ais(state, exact, result, tol=0.04):
  log_z, low, high = (float(result.log_z), float(result.log_z_low),
                      float(result.log_z_high))
  assert low <= exact <= high, (exact, low, log_z, high)
  assert abs(log_z - exact) < tol, (exact, log_z)
  # The interval is the one of the returned weights (mean ± 3 sd/√M).
  w = np.exp(np.asarray(result.log_weights, np.float64)
             - float(np.max(result.log_weights)))
  spread = 3 * np.std(w, ddof=1) / np.sqrt(len(w))
  shift = float(np.max(result.log_weights)) + float(result.log_z_base)
  assert high == pytest.approx(np.log(w.mean() + spread) + shift, abs=1e-5)
  assert low == pytest.approx(np.log(w.mean() - spread) + shift, abs=1e-5)


def marginal_base(state, label_units=0):
  """Visible biases of the target's exact base-rate model, float64 numpy.

  b_A,i = logit p(v_i = 1) for the bits and, for a one-hot label group,
  b_A,y = log p(y), by enumerating the hidden layer:
  p(v_i = 1) = Σ_h p(h) σ(b_i + (W ⊙ A)_i h).
  """
  W = np.asarray(rbm.effective_weights(state), np.float64)
  b, c = np.asarray(state.b, np.float64), np.asarray(state.c, np.float64)
  hs = np.asarray(all_binary(W.shape[1]), np.float64)
  logits = hs @ W.T + b
  bits = logits[:, :logits.shape[1] - label_units]
  neg_f = hs @ c + softplus(bits).sum(1)
  if label_units:
    labels = logits[:, -label_units:]
    lse = np.logaddexp.reduce(labels, axis=1)
    neg_f = neg_f + lse
  p = np.exp(neg_f - np.logaddexp.reduce(neg_f))
  rate = p @ (1 / (1 + np.exp(-bits)))
  base = np.log(rate) - np.log1p(-rate)
  if label_units:
    base = np.concatenate([base, np.log(p @ np.exp(labels - lse[:, None]))])
  return base


def random_target(num_visible=24, num_hidden=14, seed=12, scale=0.6):
  """A 24×14 RBM with random biases (float32 W, as in real runs)."""
  state = rbm.init(jax.random.key(seed), num_visible, num_hidden, density=0.6,
                   weight_scale=scale, weight_init='normal')
  return state._replace(
      b=0.5 * jax.random.normal(jax.random.key(seed + 1), (num_visible,)),
      c=0.5 * jax.random.normal(jax.random.key(seed + 2), (num_hidden,)))


def joint_target():
  """A 20×12 RBM whose last 4 visible units are a one-hot label."""
  return random_target(20, 12, seed=13, scale=0.8)


@pytest.mark.parametrize('rng', ['hash', 'threefry'])
def test_ais_on_a_random_rbm(rng):
  state = random_target()
  exact = float(estimators.exact_log_partition(state))
  base = marginal_base(state)
  assert np.max(np.abs(base - np.asarray(state.b))) > 0.3  # not the target's b
  result = estimators.ais_log_partition(jax.random.key(3), state, num_runs=64,
                                        betas=1000, rng=rng,
                                        base_visible_bias=base)
  assert result.log_weights.shape == (64,)
  assert result.log_weights.dtype == jnp.float64  # x64 is on in the tests
  assert float(result.log_z_base) == pytest.approx(
      14 * np.log(2) + softplus(base).sum(), abs=1e-4)   # b_A in float32
  check_ais(state, exact, result)


def test_ais_on_a_joint_rbm_with_label_units():
  state = joint_target()
  exact = float(estimators.exact_log_partition(state, label_units=4))
  assert exact == pytest.approx(brute_force_hidden_sum(state, 4), abs=1e-4)
  base = marginal_base(state, 4)
  result = estimators.ais_log_partition(jax.random.key(4), state, num_runs=64,
                                        betas=1000, label_units=4,
                                        base_visible_bias=base)
  assert float(result.log_z_base) == pytest.approx(
      12 * np.log(2) + softplus(base[:-4]).sum()
      + np.logaddexp.reduce(base[-4:]), abs=1e-4)
  check_ais(state, exact, result)


def brute_force_hidden_sum(state, label_units):
  W = np.asarray(rbm.effective_weights(state), np.float64)
  b, c = np.asarray(state.b, np.float64), np.asarray(state.c, np.float64)
  hs = np.asarray(list(itertools.product((0.0, 1.0), repeat=W.shape[1])))
  logits = hs @ W.T + b
  neg_f = (hs @ c + softplus(logits[:, :-label_units]).sum(1)
           + np.logaddexp.reduce(logits[:, -label_units:], axis=1))
  return float(np.logaddexp.reduce(neg_f))


@functools.lru_cache(maxsize=None)
def trained_mnist_rbm(num_hidden=16, epochs=8, lr=0.05):
  """CD-1 on the embedded MNIST digits (float32), a few seconds."""
  x = jnp.asarray(data_lib.load('embedded').train.x)
  state = rbm.init(jax.random.key(0), 784, num_hidden, weight_init='normal',
                   weight_scale=0.01,
                   visible_bias=rbm.base_rate_visible_bias(x))

  @jax.jit
  def epoch(state, key):
    def step(state, inputs):
      v, key = inputs
      k1, k2 = jax.random.split(key)
      ph = rbm.hidden_probs(state, v)
      h = (jax.random.uniform(k1, ph.shape) < ph).astype(v.dtype)
      pv = rbm.visible_probs(state, h)
      v1 = (jax.random.uniform(k2, pv.shape) < pv).astype(v.dtype)
      ph1 = rbm.hidden_probs(state, v1)
      n = v.shape[0]
      return state._replace(
          W=state.W + lr * (v.T @ ph - v1.T @ ph1) / n,
          b=state.b + lr * jnp.mean(v - v1, 0),
          c=state.c + lr * jnp.mean(ph - ph1, 0)), None
    batches = x[:3500].reshape(35, 100, 784)
    return jax.lax.scan(step, state, (batches, jax.random.split(key, 35)))[0]

  for e in range(epochs):
    state = epoch(state, jax.random.key(e))
  return state, x


@pytest.mark.slow
def test_ais_on_a_trained_mnist_rbm():
  state, x = trained_mnist_rbm()
  exact = float(estimators.exact_log_partition(state))
  result = estimators.ais_log_partition(
      jax.random.key(5), state, num_runs=100, betas=1500,
      base_visible_bias=rbm.base_rate_visible_bias(x))
  check_ais(state, exact, result)
  # The model learned something: better than the base-rate model.
  ll = float(jnp.mean(estimators.log_likelihood(state, x[:500], exact)))
  b_a = rbm.base_rate_visible_bias(x)
  base_ll = float(jnp.mean(x[:500] @ b_a - jnp.sum(jax.nn.softplus(b_a))))
  assert ll > base_ll + 10

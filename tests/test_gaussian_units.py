"""Gaussian–Bernoulli visible units against enumeration and numerical integration.

A 2-visible model is integrated on a grid (the integrands are Gaussians times
smooth bounded factors, so a Riemann sum with step 0.05 on [−12, 12]² is
exact to ~1e-12: the error of the rule falls as exp(−2π²/step²)); hidden
configurations are enumerated.
"""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ncg import data
from ncg import estimators
from ncg import rbm
from ncg import sampling
from ncg import train
from ncg import units
from ncg.errors import InputError
from tests.conftest import jit_call

STEP = 0.05
GRID = np.arange(-12.0, 12.0 + STEP / 2, STEP)


def _model(num_visible=2, num_hidden=3, seed=0, scale=0.8):
  """A float64 RBM with some absent connections and non-zero biases."""
  key_w, key_b, key_c = jax.random.split(jax.random.key(seed), 3)
  state = rbm.init(key_w, num_visible, num_hidden, density=0.7,
                   weight_init='normal', weight_scale=scale, dtype=jnp.float64)
  state = state._replace(
      b=0.5 * jax.random.normal(key_b, (num_visible,), jnp.float64),
      c=0.5 * jax.random.normal(key_c, (num_hidden,), jnp.float64))
  assert 0 < float(rbm.density(state)) < 1 or num_visible * num_hidden < 4
  return state


def _energy(state, v, h):
  """E(v, h) = ½‖v − b‖² − cᵀh − vᵀ(W ⊙ A)h in numpy, v (..., V), h (H,)."""
  w = np.asarray(rbm.effective_weights(state))
  b, c = np.asarray(state.b), np.asarray(state.c)
  return 0.5 * np.sum((v - b) ** 2, -1) - c @ h - (v @ w) @ h


def _hidden_states(num_hidden):
  return np.array(list(itertools.product((0.0, 1.0), repeat=num_hidden)))


def _grid_points():
  v1, v2 = np.meshgrid(GRID, GRID, indexing='ij')
  return np.stack([v1.ravel(), v2.ravel()], -1)   # (G², 2)


def test_free_energies_conditionals_and_log_z_against_quadrature():
  state = _model()
  hs = _hidden_states(3)
  points = _grid_points()
  # F(h) = −log ∫ e^{−E(v,h)} dv, and E[v | h], by quadrature.
  integrals = []
  hidden_free_energy = jax.jit(units.gaussian_hidden_free_energy)   # one program each
  visible_mean = jax.jit(lambda s, h: units.VISIBLE['gaussian'].mean(rbm.visible_logits(s, h)))
  for h in hs:
    weights = np.exp(-_energy(state, points, h))
    integral = weights.sum() * STEP ** 2
    integrals.append(integral)
    np.testing.assert_allclose(
        float(hidden_free_energy(state, jnp.asarray(h))),
        -np.log(integral), rtol=0, atol=1e-9)
    mean = (weights[:, None] * points).sum(0) * STEP ** 2 / integral
    np.testing.assert_allclose(visible_mean(state, jnp.asarray(h)),
                               mean, rtol=0, atol=1e-9)
  # F(v) = −log Σ_h e^{−E(v,h)} and p(h_j = 1 | v) by enumeration.
  vs = np.array([[0.0, 0.0], [1.3, -0.7], [-2.5, 3.1]])
  energies = np.stack([_energy(state, vs, h) for h in hs], -1)   # (3, 8)
  free_energy = jax.jit(units.gaussian_free_energy)
  np.testing.assert_allclose(free_energy(state, jnp.asarray(vs)),
                             -np.log(np.exp(-energies).sum(-1)), atol=1e-12)
  posterior = np.exp(-energies) / np.exp(-energies).sum(-1, keepdims=True)
  np.testing.assert_allclose(jax.jit(rbm.hidden_probs)(state, jnp.asarray(vs)),
                             posterior @ hs, atol=1e-12)
  # log Z three ways: enumeration of h, ∫ e^{−F(v)} dv, Σ_h ∫ e^{−E} dv.
  log_z = float(units.gaussian_exact_log_partition(state))
  free = np.asarray(free_energy(state, jnp.asarray(points)))
  np.testing.assert_allclose(log_z, np.log(np.exp(-free).sum() * STEP ** 2),
                             atol=1e-9)
  np.testing.assert_allclose(log_z, np.log(np.sum(integrals)), atol=1e-9)
  assert units.get('gaussian').exact_log_partition is units.gaussian_exact_log_partition
  with pytest.raises(InputError):
    units.get('poisson')


def test_gaussian_sampler_moments():
  """v ~ N(mean, I) from hash uniforms (Box–Muller): per-unit mean and
  variance within 5 standard errors, and P(|z| < 1) = 0.6827 (n = 200,000
  draws per unit). ('threefry' is jax.random.normal.)"""
  n = 200_000
  mean = jnp.array([-1.5, 0.0, 2.0], jnp.float32)
  v, returned_mean = jit_call(sampling.sample_gaussian_from_logits,
                             sampling.keyed(jax.random.key(3), 'hash'),
                             jnp.broadcast_to(mean, (n, 3)), 0)
  z = np.asarray(v, np.float64) - np.asarray(mean)
  np.testing.assert_array_equal(returned_mean[0], mean)
  assert np.all(np.abs(z.mean(0)) < 5 / np.sqrt(n))
  assert np.all(np.abs(z.var(0) - 1) < 5 * np.sqrt(2 / n))
  inside = np.mean(np.abs(z) < 1, axis=0)
  p = 0.682689492
  assert np.all(np.abs(inside - p) < 5 * np.sqrt(p * (1 - p) / n))


def test_gibbs_chains_reach_the_exact_mean():
  """Chains of sample_chains(visible='gaussian') after 30 sweeps against
  E[v] = Σ_h p(h)(b + (W ⊙ A)h), p(h) ∝ e^{−F(h)}: within 5 standard errors
  (4,000 independent chains; Var v_i = 1 + Var_h (b + (W ⊙ A)h)_i)."""
  state = _model(num_visible=3, num_hidden=4, seed=1)
  hs = jnp.asarray(_hidden_states(4))
  log_p = -units.gaussian_hidden_free_energy(state, hs)
  p_h = np.asarray(jax.nn.softmax(log_p))
  means = np.asarray(rbm.visible_logits(state, hs))           # (16, 3)
  exact = p_h @ means
  variance = 1.0 + p_h @ (means - exact) ** 2
  chains = 4000
  start = jnp.zeros((chains, 3), jnp.float64)
  v = sampling.sample_chains(sampling.keyed(jax.random.key(4), 'hash'), state, start, 30, 0,
                             'gaussian')
  error = np.abs(np.asarray(v).mean(0) - exact)
  assert np.all(error < 5 * np.sqrt(variance / chains)), (error, exact)


def test_ais_against_exact_log_z():
  """float32 AIS (hash generator, 100 runs, 1,000 temperatures), as a
  training run calls it, against the float64 enumeration."""
  state = _model(num_visible=6, num_hidden=5, seed=2, scale=0.6)
  exact = float(units.gaussian_exact_log_partition(state))
  result = units.VISIBLE['gaussian'].ais_log_partition(
      jax.random.key(6), jax.tree.map(lambda a: a.astype(jnp.float32), state),
      num_runs=100, betas=1000)
  assert abs(float(result.log_z) - exact) < 0.05, (float(result.log_z), exact)
  assert float(result.log_z_low) <= exact <= float(result.log_z_high)


def _toy_data():
  """200 points in ℝ⁴ from two clusters ±(1.5, 1.5, −1.5, −1.5), noise 0.5."""
  rng = np.random.default_rng(0)
  centre = np.array([1.5, 1.5, -1.5, -1.5])
  signs = rng.choice([-1.0, 1.0], size=(200, 1))
  return (signs * centre + 0.5 * rng.standard_normal((200, 4))).astype(np.float32)


def test_cd_lowers_the_exact_nll():
  """CD-2 with NCG connectivity on Gaussian units (the first visible sample
  and one sweep of sample_chains): the exact average negative log-likelihood
  of the training data falls from 8.6 by more than 1.5 nats in 10 epochs
  (to 5.6 when written; a Gaussian mixture of the data's own parameters
  scores 3.6), and the strengths move along W ⊙ G. (PCD runs the same
  sample_chains.)"""
  x = jnp.asarray(_toy_data())
  state = rbm.init(jax.random.key(7), 4, 3, density=0.5, weight_init='normal',
                   weight_scale=0.1, visible_bias=x.mean(0), visible='gaussian')
  config = train.TrainConfig(k=2, connectivity='ncg',
                             learning_rate=0.1, visible='gaussian')
  opt_state = train.make_trainer(config).init(state, jax.random.key(8),
                                              batch_size=20)
  epoch = train.make_epoch(config, batch_size=20)

  def nll(s):
    log_z = units.gaussian_exact_log_partition(s)
    return -float(jnp.mean(units.log_likelihood(s, x, log_z, 'gaussian')))

  before, new = nll(state), state
  for e in range(10):
    new, opt_state, metrics = epoch(new, opt_state, x, jax.random.key(100 + e))
  after = nll(new)
  assert after < before - 1.5, (before, after)
  assert np.isfinite(float(metrics.reconstruction_error))
  assert float(jnp.max(jnp.abs(new.strength - state.strength))) > 0


def test_config_and_data_path():
  with pytest.raises(InputError, match='visible unit type'):
    train.TrainConfig(visible='poisson')
  with pytest.raises(InputError, match='label units'):
    train.TrainConfig(visible='gaussian', label_units=10)
  with pytest.raises(InputError, match='standardize'):
    data.load('bars_and_stripes', standardize=True)
  dataset = data.load('embedded', binarization='none', standardize=True)
  x = dataset.train.x
  mean, scale = data.standardization(
      data.load('embedded', binarization='none').train.x)
  assert x.dtype == np.float32 and x.shape == (3500, 784)
  assert np.max(np.abs(x.mean(0))) < 1e-4
  varying = scale > data.STANDARDIZE_MIN_SCALE
  np.testing.assert_allclose(x.std(0)[varying], 1.0, atol=1e-4)
  assert np.all(x.std(0)[~varying] <= 1.0 + 1e-6)
  # Held-out splits use the training statistics.
  raw = data.load('embedded', binarization='none').test.x
  np.testing.assert_allclose(dataset.test.x, (raw - mean) / scale, atol=1e-6)

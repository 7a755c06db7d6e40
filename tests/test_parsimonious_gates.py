"""The θ-gradient estimators, the gate sampler, the hyper-prior and the projection.

Exact answers: the expected loss is enumerated over every gate configuration
z ∈ {0,1}^J, and the estimators' expectations over every region of the
antithetic uniforms u (three regions per unit), on a tiny network.
"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ncg.parsimonious import gates, models, train



@pytest.fixture(autouse=True)
def _float32():
  """These tests exercise float32 code; tests/conftest.py turns x64 on globally."""
  with jax.enable_x64(False):
    yield


def _tiny_problem(estimator):
  arch = models.mlp(3, (2,), num_classes=3)           # gates: 3 inputs + 2 hidden
  hyper = train.Hyper(1e-3, 0.1, 0.0, (1.0, 1.0), 1.0, 100, estimator)
  weights = models.init_weights(jax.random.key(1), arch, 3)
  weights = jax.tree.map(lambda w: 2.0 * w + 0.3, weights)   # not near-linear
  x = jax.random.normal(jax.random.key(2), (4, 3))
  y = jnp.array([0, 1, 2, 1])
  thetas = (jnp.array([0.3, 0.7, 0.5]), jnp.array([0.9, 0.15]))
  return arch, hyper, weights, x, y, thetas


def _split(flat, widths):
  return [flat[a:b] for a, b in zip(np.cumsum((0,) + widths[:-1]), np.cumsum(widths))]


def _exact_expected_loss(arch, weights, x, y, thetas):
  """E_q[mean_n ℓ_n] by enumerating all z (a function of θ, differentiable)."""
  widths = tuple(int(t.shape[0]) for t in thetas)
  flat_theta = jnp.concatenate(thetas)
  total = 0.0
  for z in itertools.product((0.0, 1.0), repeat=sum(widths)):
    z = jnp.array(z)
    prob = jnp.prod(jnp.where(z > 0, flat_theta, 1 - flat_theta))
    g = [jnp.broadcast_to(part, (x.shape[0],) + part.shape) for part in _split(z, widths)]
    total = total + prob * train.per_example_loss(arch, weights, x, y, g).mean()
  return total


def _regions(theta):
  """(probability, b_j, b̃_j) of the three regions of u_j for one unit."""
  m = min(theta, 1 - theta)
  if theta <= 0.5:   # u < θ: (1, 0); θ ≤ u < 1−θ: (0, 0); u ≥ 1−θ: (0, 1)
    return [(m, 1.0, 0.0), (1 - 2 * m, 0.0, 0.0), (m, 0.0, 1.0)]
  return [(m, 1.0, 0.0), (1 - 2 * m, 1.0, 1.0), (m, 0.0, 1.0)]


@pytest.mark.parametrize('estimator', ['antithetic', 'taylor_cv'])
def test_estimator_expectation_is_the_exact_gradient(estimator):
  arch, hyper, weights, x, y, thetas = _tiny_problem(estimator)
  widths = tuple(int(t.shape[0]) for t in thetas)
  exact_theta = jax.grad(lambda th: _exact_expected_loss(arch, weights, x, y, th))(thetas)
  exact_w = jax.grad(lambda w: _exact_expected_loss(arch, w, x, y, thetas))(weights)

  estimate = jax.jit(lambda b, bt: train.theta_gradient_estimate(
      arch, hyper, weights, thetas, x, y, b, bt))
  w_estimate = jax.jit(jax.grad(lambda w, b, bt: 0.5 * (
      train.per_example_loss(arch, w, x, y, b).mean()
      + train.per_example_loss(arch, w, x, y, bt).mean())))
  flat_theta = [float(t) for t in jnp.concatenate(thetas)]
  mean = [np.zeros(w) for w in widths]
  mean_w = jax.tree.map(jnp.zeros_like, weights)
  total_prob = 0.0
  for combo in itertools.product(*[_regions(t) for t in flat_theta]):
    prob = float(np.prod([c[0] for c in combo]))
    if prob == 0:
      continue
    total_prob += prob
    b = [jnp.broadcast_to(p, (x.shape[0],) + p.shape)
         for p in _split(jnp.array([c[1] for c in combo]), widths)]
    bt = [jnp.broadcast_to(p, (x.shape[0],) + p.shape)
          for p in _split(jnp.array([c[2] for c in combo]), widths)]
    for g, e in zip(estimate(b, bt), range(len(widths))):
      mean[e] += prob * np.asarray(g)
    mean_w = jax.tree.map(lambda a, g: a + prob * g, mean_w, w_estimate(weights, b, bt))
  assert total_prob == pytest.approx(1.0)
  for got, want in zip(mean, exact_theta):
    np.testing.assert_allclose(got, np.asarray(want), rtol=1e-4, atol=1e-6)
  for got, want in zip(jax.tree.leaves(mean_w), jax.tree.leaves(exact_w)):
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
  # The gradient is not trivially small: the test can fail.
  assert max(np.abs(np.asarray(g)).max() for g in exact_theta) > 1e-2


def test_taylor_control_variate_reduces_variance():
  """With many gates flipping at once (784-64-32 on real digits, θ = ½) the
  linear part of ℓ dominates the antithetic difference; the control variate
  removes it (here about half the variance at initialisation; about 16-fold
  on LeNet-300-100 after two epochs)."""
  from ncg import data
  digits = data.load('embedded', binarization='none').train
  arch = models.mlp(784, (64, 32))
  hyper = train.Hyper(1e-3, 0.1, 0.0, (1.0,) * 3, 1.0, 100, 'antithetic')
  weights = models.init_weights(jax.random.key(1), arch, 784)
  x, y = jnp.asarray(digits.x[:64]), jnp.asarray(digits.y[:64])
  thetas = tuple(jnp.full((w,), 0.5) for w in arch.widths)
  def spread(estimator):
    h = hyper._replace(estimator=estimator)
    f = jax.jit(lambda k: jnp.concatenate(train.theta_gradient_estimate(
        arch, h, weights, thetas, x, y, *gates.antithetic_gates(k, thetas, x.shape[0]))))
    samples = jnp.stack([f(jax.random.key(i)) for i in range(300)])
    return float(jnp.mean(jnp.var(samples, axis=0)))
  assert spread('taylor_cv') < 0.75 * spread('antithetic')   # measured: 0.5


def test_estimator_is_zero_at_the_boundary():
  loss, loss_t = jnp.array([1.0, 2.0]), jnp.array([3.0, 0.5])
  theta = jnp.array([0.0, 1.0])
  b, bt = gates.antithetic_gates(jax.random.key(0), [theta], 2)
  np.testing.assert_array_equal(b[0], bt[0])           # never sampled
  np.testing.assert_array_equal(b[0], jnp.array([[0.0, 1.0]] * 2))
  np.testing.assert_array_equal(gates.theta_gradient(loss, loss_t, b, bt, [theta])[0], 0.0)


def test_antithetic_gates_have_bernoulli_marginals():
  theta = jnp.array([0.1, 0.5, 0.8, 0.97])
  b, bt = gates.antithetic_gates(jax.random.key(3), [theta], 20000)
  for sample in (b[0], bt[0]):
    np.testing.assert_allclose(sample.mean(0), theta, atol=0.015)
  # Antithetic: the pair differs with probability 2 min(θ, 1 − θ).
  np.testing.assert_allclose((b[0] != bt[0]).mean(0), 2 * jnp.minimum(theta, 1 - theta),
                             atol=0.015)


@pytest.mark.parametrize('lam', [0.5, 3.0, 20.0])
def test_flattening_hyperprior_closed_forms(lam):
  s = np.linspace(-60.0, 60.0, 600001)          # π = sigmoid(s): fine near 0 and 1
  pi64 = 1 / (1 + np.exp(-s))
  density = np.exp(np.asarray(gates.log_hyperprior(jnp.asarray(pi64), lam), np.float64))
  assert np.trapezoid(density * pi64 * (1 - pi64), s) == pytest.approx(1.0, abs=2e-3)
  pi = np.asarray(jax.nn.sigmoid(jnp.linspace(-40.0, 40.0, 400001)))
  pi = pi[(pi > 0) & (pi < 1)]
  for theta in (0.0, 0.2, 0.5, 0.9, 1.0):
    term = np.asarray(gates.gate_elbo_term(jnp.full_like(pi, theta), jnp.asarray(pi), lam))
    best = np.argmax(term)
    # the maximum over π is −λθ (linear in θ), attained at the closed-form π*
    assert term[best] == pytest.approx(-lam * theta, abs=1e-3 * max(1, lam))
    if 0 < theta < 1:
      want = float(gates.optimal_prior(theta, lam))
      assert pi[best] == pytest.approx(want, rel=1e-2)


def test_projected_update_keeps_theta_in_the_unit_box():
  arch = models.mlp(6, (5, 4), num_classes=3)
  hyper = train.Hyper(1e-2, 50.0, 0.05, (1.0, 1.0, 1.0), 1.0, 64, 'taylor_cv')
  state = train.init_state(jax.random.key(0), arch, hyper, 6, 0.5)
  x = jax.random.normal(jax.random.key(1), (64, 6))
  y = jax.random.randint(jax.random.key(2), (64,), 0, 3)
  step = jax.jit(lambda s, k: train.update(arch, hyper, s, x, y, k)[0])
  seen = []
  for i in range(30):
    state = step(state, jax.random.key(10 + i))
    seen.append(np.concatenate([np.asarray(t) for t in state.params['theta']]))
  seen = np.stack(seen)
  assert seen.min() >= 0.0 and seen.max() <= 1.0
  assert (seen == 0.0).any() or (seen == 1.0).any()   # the projection was active

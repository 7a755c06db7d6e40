"""The θ-gradient estimators, the gate sampler, the hyper-prior, the weight prior and the projection.

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

from ncg.errors import InputError
from ncg.parsimonious import gates, models, train


@pytest.fixture(autouse=True)
def _float32():
  """These tests exercise float32 code; tests/conftest.py turns x64 on globally."""
  with jax.enable_x64(False):
    yield


def _config(estimator='taylor_cv', penalty=0.0, scale=(1.0, 1.0), **kw):
  return train.Config(1e-3, 0.1, penalty, scale, 0.5, 100, estimator=estimator, **kw)


def _tiny_problem(estimator, penalty=0.0):
  arch = models.mlp(3, (2,), num_classes=3)           # gates: 3 inputs + 2 hidden
  config = _config(estimator, penalty, (1.0, 3.0))
  weights = models.init_weights(jax.random.key(1), arch, 3)
  weights = jax.tree.map(lambda w: 2.0 * w + 0.3, weights)   # not near-linear
  x = jax.random.normal(jax.random.key(2), (4, 3))
  y = jnp.array([0, 1, 2, 1])
  thetas = (jnp.array([0.3, 0.7, 0.5]), jnp.array([0.9, 0.15]))
  return arch, config, weights, x, y, thetas


def _split(flat, widths):
  return [flat[a:b] for a, b in zip(np.cumsum((0,) + widths[:-1]), np.cumsum(widths))]


def _configurations(thetas):
  """(probabilities (2^J,) (a function of θ), per-group gate vectors (2^J, w_g)) of
  every z ∈ {0,1}^J, stacked: the enumeration is vmapped, one small program."""
  widths = tuple(int(t.shape[0]) for t in thetas)
  z = jnp.array(list(itertools.product((0.0, 1.0), repeat=sum(widths))))
  flat_theta = jnp.concatenate(thetas)
  return (jnp.prod(jnp.where(z > 0, flat_theta, 1 - flat_theta), axis=1),
          _split(z.T, widths))


def _exact_expected_loss(arch, weights, x, y, thetas):
  """E_q[mean_n ℓ_n] by enumerating all z (a function of θ, differentiable)."""
  probs, zs = _configurations(thetas)

  def loss(*z):
    g = [jnp.broadcast_to(part, (x.shape[0],) + part.shape) for part in z]
    return train.per_example_loss(arch, weights, x, y, g).mean()
  return jnp.sum(probs * jax.vmap(loss)(*[part.T for part in zs]))


def _exact_expected_prior(arch, config, weights, thetas):
  """E_q[Σ_w 1(w used) w²] / (2σ²N): each configuration's present weights, enumerated.

  A weight is used when the gates of every unit it connects are on; with z
  fixed that is the plain L2 of the effective weights (gated rows/columns zeroed).
  """
  probs, zs = _configurations(thetas)
  # θ = z ∈ {0, 1}: 1(used)
  effective = jax.vmap(lambda *z: train.weight_prior(arch, config, weights, z))(
      *[part.T for part in zs])
  return jnp.sum(probs * effective)


def _regions(theta):
  """(probability, b_j, b̃_j) of the three regions of u_j for one unit."""
  m = min(theta, 1 - theta)
  if theta <= 0.5:   # u < θ: (1, 0); θ ≤ u < 1−θ: (0, 0); u ≥ 1−θ: (0, 1)
    return [(m, 1.0, 0.0), (1 - 2 * m, 0.0, 0.0), (m, 0.0, 1.0)]
  return [(m, 1.0, 0.0), (1 - 2 * m, 1.0, 1.0), (m, 0.0, 1.0)]


@pytest.mark.parametrize('estimator', ['antithetic', 'taylor_cv', 'local'])
def test_estimator_expectation_is_the_exact_gradient(estimator):
  arch, config, weights, x, y, thetas = _tiny_problem(estimator)
  widths = tuple(int(t.shape[0]) for t in thetas)
  exact_w, exact_theta = jax.jit(jax.grad(
      lambda w, th: _exact_expected_loss(arch, w, x, y, th), argnums=(0, 1)))(weights, thetas)

  estimate = jax.jit(lambda b, bt: train.theta_gradient_estimate(
      arch, config, weights, thetas, x, y, b, bt))
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


def test_weight_prior_is_the_expected_l2_of_the_weights_in_use():
  """The θ-weighted prior equals E_q[Σ 1(w used) w²]/(2σ²N) by enumeration, and
  without coupling it is the plain L2."""
  arch, config, weights, x, y, thetas = _tiny_problem('taylor_cv')
  got = train.weight_prior(arch, config, weights, thetas)
  want = _exact_expected_prior(arch, config, weights, thetas)
  assert float(got) == pytest.approx(float(want), rel=1e-5)
  plain = sum(float(jnp.sum(w ** 2)) for w in jax.tree.leaves(weights)) / (2 * 0.5 * 100)
  uncoupled = config._replace(coupled_prior=False)
  assert float(train.weight_prior(arch, uncoupled, weights, thetas)) == pytest.approx(plain,
                                                                                    rel=1e-5)
  assert float(got) < 0.8 * plain      # θ < 1 really discounts the prior


@pytest.mark.parametrize('estimator', ['antithetic', 'taylor_cv'])
def test_full_theta_gradient_with_prior_and_price_is_unbiased(estimator):
  """The trainer's θ-gradient (data estimate + prior + price) averaged over every
  antithetic region equals ∂J/∂θ of the enumerated objective
  J = E_q[ℓ] + E_q[prior] + (λ/N) Σ_g s_g Σ θ, and the weight gradient ∂J/∂W."""
  arch, config, weights, x, y, thetas = _tiny_problem(estimator, penalty=0.03)
  widths = tuple(int(t.shape[0]) for t in thetas)

  def objective(w, th):
    return (_exact_expected_loss(arch, w, x, y, th) + _exact_expected_prior(arch, config, w, th)
            + 0.03 * (jnp.sum(th[0]) + 3.0 * jnp.sum(th[1])))
  exact_w, exact_theta = jax.jit(jax.grad(objective, argnums=(0, 1)))(weights, thetas)
  params = {'weights': weights, 'theta': thetas}
  flat_theta = [float(t) for t in jnp.concatenate(thetas)]
  regions = list(itertools.product(*[_regions(t) for t in flat_theta]))

  # Drive gates_lib.antithetic_gates through its uniforms: a u in each region.
  def u_of(combo):
    us = []
    for (p, bj, btj), t in zip(combo, flat_theta):
      m = min(t, 1 - t)
      us.append(m / 2 if (bj, btj) == (1.0, 0.0) else 1 - m / 2 if (bj, btj) == (0.0, 1.0)
                else 0.5)
    return jnp.array(us)
  grads_of = jax.jit(lambda u: train.METHODS['bernoulli'].gradients(
      arch, config, params, x, y, u)[0])
  original = gates.antithetic_gates
  mean = None
  try:
    def fixed_gates(u, thetas_, batch):
      flat = []
      b, bt = [], []
      for part, t in zip(_split(u, widths), thetas_):
        uu = jnp.broadcast_to(part, (batch,) + part.shape)
        b.append((uu < t).astype(jnp.float32))
        bt.append((1.0 - uu < t).astype(jnp.float32))
      del flat
      return b, bt
    gates.antithetic_gates = fixed_gates
    for combo in regions:
      prob = float(np.prod([c[0] for c in combo]))
      if prob == 0:
        continue
      g = grads_of(u_of(combo))
      mean = (jax.tree.map(lambda a: prob * a, g) if mean is None
              else jax.tree.map(lambda a, b: a + prob * b, mean, g))
  finally:
    gates.antithetic_gates = original
  for got, want in zip(mean['theta'], exact_theta):
    np.testing.assert_allclose(got, np.asarray(want), rtol=1e-4, atol=1e-6)
  for got, want in zip(jax.tree.leaves(mean['weights']), jax.tree.leaves(exact_w)):
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
  # flipping the sign of the price would move every θ-gradient by 2λ s_g: caught
  assert min(np.abs(np.asarray(g)).min() for g in exact_theta) > 0


def _estimator_spread(estimators, groups=slice(None), samples=200):
  """Mean per-gate variance of each estimator's θ-gradient (groups ``groups``) over
  ``samples`` antithetic draws, on a 784-64-32 net at θ = ½ and 64 real digits."""
  from ncg import data
  digits = data.load('embedded', binarization='none').train
  arch = models.mlp(784, (64, 32))
  config = train.Config(1e-3, 0.1, 0.0, (1.0,) * 3, 1.0, 100)
  weights = models.init_weights(jax.random.key(1), arch, 784)
  x, y = jnp.asarray(digits.x[:64]), jnp.asarray(digits.y[:64])
  thetas = tuple(jnp.full((w,), 0.5) for w in arch.widths)
  out = []
  for estimator in estimators:
    c = config._replace(estimator=estimator)
    f = jax.jit(lambda k, c=c: jnp.concatenate(train.theta_gradient_estimate(
        arch, c, weights, thetas, x, y, *gates.antithetic_gates(k, thetas, x.shape[0]))[groups]))
    estimates = jnp.stack([f(jax.random.key(i)) for i in range(samples)])
    out.append(float(jnp.mean(jnp.var(estimates, axis=0))))
  return out


def test_taylor_control_variate_reduces_variance():
  """With many gates flipping at once the linear part of ℓ dominates the antithetic
  difference; the control variate removes it (here about half the variance at
  initialisation)."""
  taylor, antithetic = _estimator_spread(('taylor_cv', 'antithetic'))
  assert taylor < 0.75 * antithetic   # measured: 0.5


def test_local_estimator_has_less_variance_on_the_hidden_units():
  """The exact differences remove the unit's own coin from the noise of its
  θ-gradient (measured: 1% of taylor_cv's variance on the hidden units)."""
  local, taylor = _estimator_spread(('local', 'taylor_cv'), groups=slice(1, None), samples=50)
  assert local < 0.1 * taylor


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


@pytest.mark.parametrize('lam, gamma', [(3.0, 0.5), (20.0, 4.0)])
def test_sharpened_hyperprior_closed_forms(lam, gamma):
  """max_π of the gate term is −λθ − γH(θ), attained at π* = σ((1 + γ) logit θ − λ),
  and the hyper-prior is a proper (bounded, normalisable) density."""
  s = np.linspace(-60.0, 60.0, 600001)
  pi64 = 1 / (1 + np.exp(-s))
  density = np.exp(np.asarray(gates.log_sharpened_hyperprior(jnp.asarray(pi64), lam, gamma),
                              np.float64))
  assert np.all(np.isfinite(density)) and density.max() <= 1.0 + 1e-9
  assert 0 < np.trapezoid(density * pi64 * (1 - pi64), s) < 1
  pi = np.asarray(jax.nn.sigmoid(jnp.linspace(-200.0, 200.0, 400001)))
  pi = pi[(pi > 0) & (pi < 1)]        # θ = 0, 1: the supremum is approached as π → 0, 1
  for theta in (0.0, 0.2, 0.5, 0.9, 1.0):
    term = np.asarray(gates.gate_elbo_term(jnp.full_like(pi, theta), jnp.asarray(pi), lam,
                                           gamma))
    best = np.argmax(term)
    entropy = -sum(p * np.log(p) for p in (theta, 1 - theta) if p > 0)
    assert term[best] == pytest.approx(-lam * theta - gamma * entropy, abs=1e-3 * max(1, lam))
    if 0 < theta < 1:
      assert pi[best] == pytest.approx(float(gates.optimal_prior(theta, lam, gamma)), rel=1e-2)
  # γ = 0 is the flattening hyper-prior (same optimum, same shape)
  np.testing.assert_allclose(gates.optimal_prior(jnp.asarray([0.3, 0.7]), lam, 0.0),
                             [0.3 / (0.3 + np.exp(lam) * 0.7), 0.7 / (0.7 + np.exp(lam) * 0.3)],
                             rtol=1e-5)


def test_smoothed_entropy_is_the_entropy_continued_by_its_tangents():
  edge = 0.02
  theta = jnp.asarray([0.0, 0.01, 0.02, 0.3, 0.5, 0.98, 0.99, 1.0])
  h = np.asarray(gates.smoothed_entropy(theta, edge))
  exact = lambda t: -(t * np.log(t) + (1 - t) * np.log(1 - t))
  np.testing.assert_allclose(h[2:6], exact(np.asarray(theta[2:6])), rtol=1e-5)
  slope = np.log((1 - edge) / edge)
  np.testing.assert_allclose(h[:2], exact(edge) + slope * (np.asarray(theta[:2]) - edge),
                             rtol=1e-5)
  np.testing.assert_allclose(h[6:], exact(edge) - slope * (np.asarray(theta[6:]) - 1 + edge),
                             rtol=1e-5)
  grad = np.asarray(jax.vmap(jax.grad(lambda t: gates.smoothed_entropy(t, edge)))(theta))
  np.testing.assert_allclose(grad[[0, 1, 7]], [slope, slope, -slope], rtol=1e-5)
  assert np.all(np.diff(grad) <= 1e-6)                 # concave: the slope never rises


def test_robbins_monro_step_size():
  config = _config(theta_decay_steps=10.0, theta_decay_power=0.75, grace_steps=5,
                   decide_step=40)
  rate = lambda t: float(train.theta_step_size(config, jnp.int32(t)))
  assert rate(0) == rate(4) == 0.0                      # grace period
  assert rate(5) == pytest.approx(0.1)
  assert rate(25) == pytest.approx(0.1 / 3.0 ** 0.75, rel=1e-6)
  assert rate(40) == 0.0                                # θ decided


def test_annealed_sharpness_schedule_and_gradient():
  """γ_t/N: γ/N through the grace period, linear to r γ/N at T, r γ/N after;
  the θ-gradient of the sharpening term is γ_t/N times H_ε'(θ) at every step."""
  config = _config(grace_steps=10, sharpness=2e-3, sharpness_final=0.25,
                   sharpness_end_step=30)
  at = lambda t: float(train.sharpness_at(config, jnp.int32(t)))
  assert at(0) == at(10) == pytest.approx(2e-3)
  assert at(20) == pytest.approx(2e-3 * (1 - 0.75 * 0.5))
  assert at(30) == at(1000) == pytest.approx(5e-4)
  constant = config._replace(sharpness_final=1.0)
  assert float(train.sharpness_at(constant, jnp.int32(25))) == pytest.approx(2e-3)
  theta = (jnp.array([0.0, 0.3, 0.5, 0.9, 1.0], jnp.float32),)
  slope = jax.grad(lambda t: jnp.sum(gates.smoothed_entropy(t, train.SHARPNESS_EDGE)))(theta[0])
  for step in (0, 20, 30):
    grad = jax.grad(lambda t: train.sharpening(config, t, jnp.int32(step)))(theta)[0]
    np.testing.assert_allclose(grad, at(step) * slope, rtol=1e-5)
  with pytest.raises(InputError, match='sharpness_end_step'):   # T must follow the grace
    train.validate(config._replace(sharpness_end_step=10), models.mlp(3, (2,), num_classes=3))

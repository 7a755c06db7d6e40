"""The pieces of the competitive recipe: prices that follow cost, the dense warm-up, the
deterministic phase, the removed-gate audit and the L0 options (clamp, weight average)."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from ncg.parsimonious import analysis, averaging, finetune, l0, methods, models, prices, train
from tests.conftest import jit_call


@pytest.fixture(autouse=True)
def _float32():
  with jax.enable_x64(False):
    yield


def _config(arch, num_train=40, **kw):
  settings = dict(learning_rate=1e-2, theta_learning_rate=0.05, penalty=0.0,
                  penalty_scale=(1.0,) * len(arch.widths), prior_variance=1.0,
                  num_train=num_train)
  return train.Config(**{**settings, **kw})


def test_fanout_and_mac_prices_equal_a_hand_count_at_the_start():
  """784-300-100-10 style on a 7-5-3-2 net: a pixel feeds 5 weights of the next layer,
  a first-layer unit 3, a second-layer unit 2 (the L0 price per outgoing weight);
  removing a pixel saves 5 MACs, a first-layer unit 7 + 3, a second-layer unit 5 + 2
  (relative to the last group's 7)."""
  arch = models.mlp(7, (5, 3), num_classes=2)
  assert prices.fanout_prices(arch, 7) == (5.0, 3.0, 2.0)
  assert prices.mac_prices(arch, 7) == pytest.approx((5 / 7, 10 / 7, 1.0))
  assert prices.scales('fanout', arch, 7, (0.1, 1.0, 2.0)) == pytest.approx((0.5, 3.0, 4.0))
  # LeNet-5: a conv0 filter feeds 5·5·conv1 weights of conv1
  lenet = models.lenet5(3, 4, 6)
  assert prices.fanout_prices(lenet, 784)[0] == 25 * 4


def test_expected_mac_price_is_exact_and_its_gradient_is_the_cost_at_current_widths():
  """E_q[MACs] over all 2^J gate patterns of a 3-2-2-2 net equals the MACs at the
  expected widths, and ∂/∂θ_j is the unit's fan-in + fan-out at the expected widths."""
  arch = models.mlp(3, (2, 2), num_classes=2)
  thetas = (jnp.array([0.2, 0.7, 1.0]), jnp.array([0.5, 0.9]), jnp.array([0.3, 0.6]))
  flat = np.concatenate([np.asarray(t, np.float64) for t in thetas])
  want = 0.0
  for on in itertools.product((0, 1), repeat=7):
    on = np.array(on)
    p = np.prod(np.where(on == 1, flat, 1 - flat))
    w = (on[:3].sum(), on[3:5].sum(), on[5:].sum())
    want += p * (w[0] * w[1] + w[1] * w[2] + w[2] * 2)
  assert float(prices.expected_macs(arch, thetas)) == pytest.approx(want, rel=1e-6)
  config = _config(arch, penalty=0.01, price_macs=True)
  grads = jax.grad(lambda t: train.price(arch, config, t))(thetas)
  e = [float(jnp.sum(t)) for t in thetas]
  np.testing.assert_allclose(grads[0], 0.01 * e[1], rtol=1e-6)               # pixel: fan-out
  np.testing.assert_allclose(grads[1], 0.01 * (e[0] + e[2]), rtol=1e-6)      # in + out
  np.testing.assert_allclose(grads[2], 0.01 * (e[1] + 2), rtol=1e-6)         # in + classes


def test_dense_warm_up_samples_every_live_gate_on():
  """During the warm-up every gate with θ > 0 is on (a deterministic pass), after it θ̃."""
  arch = models.mlp(4, (3,), num_classes=2)
  config = _config(arch, explore=0.02, warmup_steps=5, grace_steps=5)
  thetas = (jnp.array([0.5, 0.0, 1.0, 0.3]), jnp.array([0.5, 0.5, 0.0]))
  warm = train.sampling_probabilities(config, thetas, jnp.int32(4))
  after = train.sampling_probabilities(config, thetas, jnp.int32(5))
  np.testing.assert_array_equal(warm[0], [1, 0, 1, 1])
  np.testing.assert_array_equal(warm[1], [1, 1, 0])
  np.testing.assert_allclose(after[0], [0.5, 0, 0.98, 0.3])
  with pytest.raises(Exception, match='warm-up'):
    train.validate(_config(arch, warmup_steps=6, grace_steps=5), arch)


def test_deterministic_phase_keeps_the_architecture_and_lowers_the_training_loss():
  """finetune.start drops the θ = 0 units, folds the rest and starts a fresh dense
  trainer; training then never changes the widths and lowers the mean loss."""
  rng = np.random.RandomState(0)
  x = jnp.asarray(rng.uniform(-1, 1, (64, 6)).astype(np.float32))
  y = jnp.asarray((np.asarray(x)[:, 0] - np.asarray(x)[:, 1] > 0).astype(np.int32))
  arch = models.mlp(6, (5,), num_classes=2)
  config = _config(arch, num_train=64, explore=0.0)
  trainer = train.make_trainer(config)
  state = trainer.init(jax.random.key(0), arch, 6, 1.0)
  thetas = (state.params['theta'][0].at[4].set(0.0), state.params['theta'][1].at[2].set(0.0))
  state = state._replace(params={**state.params, 'theta': thetas})
  ft_trainer = train.make_trainer(finetune.finetune_config(config, 40))
  assert ft_trainer.config.method == 'dense' and ft_trainer.config.decay_steps == 40
  final_arch, ft_state = finetune.start(arch, config, state, ft_trainer)
  assert final_arch.widths == (5, 4)
  assert int(ft_state.step) == 0
  losses = []
  for epoch in range(5):
    final_arch, ft_state, info = train.train_epoch(ft_trainer, final_arch, ft_state, x, y,
                                                   jax.random.key(epoch), 8, chunk_steps=8)
    assert final_arch.widths == (5, 4)
    losses.append(info.loss)
  assert losses[-1] < losses[0]
  assert all(np.all(np.asarray(t) == 1) for t in ft_state.params['theta'])


def test_dropout_gates_have_mean_one_and_the_stated_keep_rate():
  """b/(1 − r) with b ~ Bernoulli(1 − r): 20,000 draws per unit, the kept fraction within
  4 standard errors of 1 − r and every value 0 or 1/(1 − r); r = 0 gives all ones."""
  gates = methods.dropout_gates(jax.random.key(0), (0.0, 0.2, 0.5), (3, 4, 5), 20000)
  np.testing.assert_array_equal(gates[0], 1.0)
  for g, rate in zip(gates[1:], (0.2, 0.5)):
    g = np.asarray(g)
    assert set(np.unique(g)) <= {0.0, np.float32(1 / (1 - rate))}
    kept = (g > 0).mean(axis=0)
    se = np.sqrt(rate * (1 - rate) / len(g))
    assert np.all(np.abs(kept - (1 - rate)) < 4 * se)


def test_dropout_method_is_the_dense_gradient_of_the_dropped_network():
  """Method 'dropout': the weights' gradient is that of the mean loss of the network
  with the step's dropout gates plus the prior (θ never moves); at rates 0 it is the
  dense method's step exactly. The deterministic phase trains under dropout when
  rates are given, and the rates are checked per gate group."""
  arch = models.mlp(4, (3,), num_classes=2)
  x = jax.random.uniform(jax.random.key(1), (16, 4))
  y = jax.random.randint(jax.random.key(2), (16,), 0, 2)
  config = _config(arch, method='dropout', dropout=(0.2, 0.5))
  trainer = train.make_trainer(train.method_config(config))
  state = trainer.init(jax.random.key(0), arch, 4, 1.0)
  key = jax.random.key(7)
  grads, _ = jit_call(methods.METHODS['dropout'].gradients, arch,
                      train.method_config(config), state.params, x, y, key)
  gates = methods.dropout_gates(key, (0.2, 0.5), arch.widths, 16)
  want = jit_call(jax.grad(lambda w, theta: train.per_example_loss(arch, w, x, y, gates).mean()
                           + train.weight_prior(arch, config, w, theta)),
                  state.params['weights'], state.params['theta'])
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7),
               grads['weights'], want)
  assert all(np.all(np.asarray(g) == 0) for g in grads['theta'])
  no_drop = train.method_config(config._replace(dropout=(0.0, 0.0)))
  dense = train.method_config(config._replace(method='dense', dropout=()))
  g0, _ = jit_call(methods.METHODS['dropout'].gradients, arch, no_drop, state.params, x, y, key)
  g1, _ = jit_call(methods.METHODS['dense'].gradients, arch, dense, state.params, x, y, key)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7),
               g0['weights'], g1['weights'])
  ft = finetune.finetune_config(_config(arch), 10, (0.1, 0.3))
  assert (ft.method, ft.dropout) == ('dropout', (0.1, 0.3))
  assert finetune.finetune_config(_config(arch), 10, (0.0, 0.0)).method == 'dense'
  for bad in ((0.2,), (0.2, 1.0)):
    with pytest.raises(Exception, match='drop'):
      train.validate(config._replace(dropout=bad), arch)
  with pytest.raises(Exception, match='dropout'):
    train.validate(_config(arch, dropout=(0.1, 0.1)), arch)


def test_removal_audit_reproduces_a_hand_delta():
  """The audit's verdict for a unit at θ = 0 is sign(Δ_j + c_j) with Δ_j computed by
  two forward passes by hand."""
  arch = models.mlp(4, (3,), num_classes=2)
  config = _config(arch, penalty=0.05, coupled_prior=False)
  weights = models.init_weights(jax.random.key(3), arch, 4)
  thetas = (jnp.array([1.0, 0.0, 1.0, 1.0]), jnp.array([1.0, 1.0, 0.0]))
  x = jax.random.uniform(jax.random.key(4), (30, 4))
  y = jax.random.randint(jax.random.key(5), (30,), 0, 2)
  keep = [np.array([True, False, True, True]), np.array([True, True, False])]
  audit = analysis.removal_audit(arch, config, {'weights': weights, 'theta': thetas}, keep, x, y)

  def loss(gates):
    g = [jnp.broadcast_to(t, (30,) + t.shape) for t in gates]
    return float(train.per_example_loss(arch, weights, x, y, g).mean())
  base = loss(thetas)
  delta_pixel = loss((thetas[0].at[1].set(1.0), thetas[1])) - base
  delta_unit = loss((thetas[0], thetas[1].at[2].set(1.0))) - base
  agree = [int(delta_pixel + 0.05 > 0), int(delta_unit + 0.05 > 0)]
  assert audit['removed_per_group'] == [1, 1]
  assert audit['agree_per_group'] == agree
  assert audit['removed'] == 2 and audit['agree'] == sum(agree)


def test_l0_clamp_rate_factor_and_per_group_keep_probabilities():
  """The L0 options of the paper's protocol: log α clipped to ±log 100 after each
  step, Adam on log α at the given multiple of the weights' rate, keep-probabilities
  0.8 on pixels and 0.5 on hidden units at the start (log α = log(p/(1−p)) so that
  the expected test gate σ(log α) = p), and the fan-out price's expected penalty
  (λ/N) Σ_g s_g Σ_j P(z ≠ 0) with P(z ≠ 0) = σ(log α − β log(−γ/ζ))."""
  arch = models.mlp(4, (3,), num_classes=2)
  config = _config(arch, method='l0', gate_clamp=float(np.log(100.0)), gate_rate_factor=1.0,
                   penalty=0.1, penalty_scale=prices.fanout_prices(arch, 4))
  trainer = train.make_trainer(config)
  state = trainer.init(jax.random.key(0), arch, 4, (0.8, 0.5))
  np.testing.assert_allclose(state.params['theta'][0], np.log(0.8 / 0.2), rtol=1e-6)
  np.testing.assert_allclose(state.params['theta'][1], 0.0, atol=1e-7)
  clipped = train.METHODS['l0'].project(config, None, (jnp.array([9.0, -9.0, 1.0]),))
  np.testing.assert_allclose(clipped[0], [np.log(100), -np.log(100), 1.0], rtol=1e-6)
  log_alphas = (jnp.array([0.3, -1.0, 2.0, 0.0]), jnp.array([1.0, -0.5, 0.2]))
  probs = [l0.prob_nonzero(a) for a in log_alphas]
  want = sum(s * sum(1 / (1 + np.exp(-(np.asarray(a, np.float64) - l0.BETA * np.log(-l0.GAMMA / l0.ZETA)))))
             for s, a in zip((3.0, 2.0), log_alphas))
  assert float(train.price(arch, config, probs)) == pytest.approx(0.1 * want, rel=1e-5)


def test_weight_average_is_the_debiased_ema_of_the_iterates():
  """a_t = β a_{t−1} + (1 − β) w_t with a_0 = 0, reported as a_t / (1 − β^t)."""
  tx = optax.chain(optax.sgd(0.5), averaging.weight_average(0.9))
  params = {'weights': {'w': jnp.array([1.0, -2.0])}}
  state = tx.init(params)
  iterates, a = [], np.zeros(2)
  for t in range(1, 4):
    grads = {'weights': {'w': jnp.array([0.2 * t, 1.0])}}
    updates, state = tx.update(grads, state, params)
    params = optax.apply_updates(params, updates)
    iterates.append(np.asarray(params['weights']['w']))
    a = 0.9 * a + 0.1 * iterates[-1]
  got = averaging.averaged(state, params['weights'], 0.9)
  np.testing.assert_allclose(got['w'], a / (1 - 0.9 ** 3), rtol=1e-6)


def test_price_ramp_rises_linearly_after_the_grace():
  """price_factor: 0 through the grace, (t − G)/R after it, 1 from G + R on; the full
  price when no step is given (analysis) or without a ramp."""
  arch = models.mlp(3, (2,), num_classes=2)
  config = _config(arch, penalty=0.2, grace_steps=10, penalty_ramp_steps=20)
  probs = (jnp.ones(3), jnp.ones(2))
  full = 0.2 * 5
  for step, factor in ((0, 0.0), (10, 0.0), (15, 0.25), (30, 1.0), (99, 1.0)):
    assert float(train.price(arch, config, probs, jnp.int32(step))) == pytest.approx(
        factor * full, rel=1e-6)
  assert float(train.price(arch, config, probs)) == pytest.approx(full, rel=1e-6)


def test_differences_on_a_subsample_of_the_batch():
  """difference_examples = m: the hidden groups' θ-gradient is the exact differences'
  mean over the batch's first m rows (a uniform subsample of a shuffled batch)."""
  arch = models.mlp(5, (4, 3), num_classes=2)
  weights = models.init_weights(jax.random.key(0), arch, 5)
  x = jax.random.uniform(jax.random.key(1), (8, 5))
  y = jax.random.randint(jax.random.key(2), (8,), 0, 2)
  thetas = [jnp.ones(5), jnp.ones(4), jnp.ones(3)]
  config = _config(arch, estimator='local', explore=0.0, difference_examples=3)
  gates = [jnp.ones((8, w)) for w in arch.widths]     # one draw at θ = 1, used twice
  grads = jit_call(train.theta_gradient_estimate, arch, config, weights, thetas, x, y, gates,
                   gates)
  gates = [g[:3] for g in gates]
  want = jit_call(models.kind(arch).hidden_differences, arch, weights, x[:3], y[:3], gates)
  for got, d in zip(grads[1:], want):
    np.testing.assert_allclose(got, d.mean(0), rtol=1e-5, atol=1e-7)

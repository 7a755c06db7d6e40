"""ncg.train: the network gradient, the update rules, and populations."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ncg import data as data_lib
from ncg import rbm
from ncg import train
from ncg.errors import InputError
from tests.conftest import all_binary, jit_call, tiny_rbm


def _exact_log_likelihood(W, b, c, A, data):
  """Mean log p(v) over data of the RBM with effective weights W ⊙ A."""
  model = rbm.dense(W * A, b, c)
  log_z = jax.scipy.special.logsumexp(
      -rbm.free_energy(model, all_binary(W.shape[0])))
  return jnp.mean(-rbm.free_energy(model, data)) - log_z


def test_network_gradient_is_gradient_of_likelihood_wrt_relaxed_mask():
  state = tiny_rbm(jax.random.key(0), num_visible=5, num_hidden=3, density=0.5)
  data = all_binary(5)[jnp.array([1, 7, 12, 20, 31, 31, 6])]
  A = rbm.mask(state)
  autodiff, dW = jax.jit(jax.grad(_exact_log_likelihood, argnums=(3, 0)))(
      state.W, state.b, state.c, A, data)
  # G = ⟨v p(h|v)ᵀ⟩_data − ⟨v p(h|v)ᵀ⟩_model with the model's exact p(v).
  vs = all_binary(5)

  def gradients(state, data, vs):
    log_p = -rbm.free_energy(state, vs)
    p_model = jnp.exp(log_p - jax.scipy.special.logsumexp(log_p))
    G = (train.expected_statistics(state, data)
         - train.expected_statistics(state, vs, p_model)).vh
    return G, train.network_gradient(state, G)
  G, ncg = jax.jit(gradients)(state, data, vs)
  np.testing.assert_allclose(ncg, autodiff, rtol=1e-9, atol=1e-12)
  # Absent connections get a non-zero gradient too (W is unmasked).
  assert np.all(np.abs(np.asarray(ncg)[np.asarray(A) == 0]) > 0)
  # And A ⊙ G is the likelihood gradient w.r.t. W.
  np.testing.assert_allclose(A * G, dW, rtol=1e-9, atol=1e-12)


def _one_step(config, state, batch, key=jax.random.key(1), steps=1):
  trainer = train.make_trainer(config)
  opt_state = trainer.init(state, jax.random.key(2), batch.shape[0])
  step = jax.jit(trainer.step)
  for i in range(steps):
    state, opt_state, metrics = step(state, opt_state, batch,
                                     jax.random.fold_in(key, i))
  return state, metrics


def _batch(n=32, v=12, seed=3):
  return (jax.random.uniform(jax.random.key(seed), (n, v)) < 0.4).astype(
      jnp.float32)


@pytest.mark.parametrize('strength_lr', [None, 0.07, 0.0])
def test_separate_learning_rates_are_honoured(strength_lr):
  lr = 0.01
  state = rbm.init(jax.random.key(0), 12, 6, density=0.5)
  config = train.TrainConfig(k=1, learning_rate=lr,
                             strength_learning_rate=strength_lr)
  new, _ = _one_step(config, state, _batch())
  A = np.asarray(rbm.mask(state)) == 1
  G = np.asarray(new.W - state.W)[A] / lr  # ΔW = η A ⊙ G on present edges
  d_strength = np.asarray(new.strength - state.strength)
  expected = (5 * lr if strength_lr is None else strength_lr)
  inside = (np.asarray(new.strength)[A] > 0) & (np.asarray(new.strength)[A] < 1)
  np.testing.assert_allclose(d_strength[A][inside],
                             expected * (np.asarray(state.W)[A] * G)[inside],
                             rtol=2e-3, atol=1e-7)
  if strength_lr == 0.0:
    np.testing.assert_array_equal(new.strength, state.strength)


@pytest.mark.parametrize('optimizer', ['sgd', 'momentum', 'adam'])
def test_absent_weights_frozen_and_strengths_in_unit_interval(optimizer):
  state = rbm.init(jax.random.key(0), 12, 6, density=0.5)
  config = train.TrainConfig(k=2, learning_rate=0.05, strength_learning_rate=5.0,
                             optimizer=optimizer)
  trainer = train.make_trainer(config)
  opt_state = trainer.init(state, jax.random.key(2), 32)
  step = jax.jit(trainer.step)
  for i in range(20):
    A = np.asarray(rbm.mask(state)) == 1
    new, opt_state, _ = step(state, opt_state, _batch(seed=i), jax.random.key(i))
    np.testing.assert_array_equal(np.asarray(new.W)[~A], np.asarray(state.W)[~A])
    s = np.asarray(new.strength)
    assert s.min() >= 0.0 and s.max() <= 1.0
    state = new
  assert s.min() == 0.0 and s.max() == 1.0  # the projection was active


def test_dense_and_fixed_modes_keep_their_masks():
  state = rbm.init(jax.random.key(0), 12, 6, density=0.4)
  for mode in ('dense', 'fixed'):
    start = rbm.dense(state.W, state.b, state.c) if mode == 'dense' else state
    new, m = _one_step(train.TrainConfig(connectivity=mode), start, _batch(),
                       steps=5)
    np.testing.assert_array_equal(new.strength, start.strength)
    assert int(m.added) == int(m.removed) == 0


def test_label_units_stay_connected():
  state = train.connect_label_units(rbm.init(jax.random.key(0), 12, 6,
                                             density=0.0), 3)
  batch = _batch()
  batch = batch.at[:, -3:].set(jax.nn.one_hot(jnp.arange(32) % 3, 3, dtype=batch.dtype))
  config = train.TrainConfig(k=1, label_units=3, persistent=True,
                             strength_learning_rate=10.0)
  new, _ = _one_step(config, state, batch, steps=10)
  np.testing.assert_array_equal(np.asarray(new.strength)[-3:], 1.0)
  assert float(rbm.mask(new)[:-3].mean()) > 0  # the pixels' edges grew


@pytest.fixture(scope='module')
def embedded_x():
  return jnp.asarray(data_lib.load('embedded').train.x)


@pytest.mark.slow
def test_real_run_adds_and_removes_connections(embedded_x):
  state = rbm.init(jax.random.key(0), 784, 64, density=0.5)
  config = train.TrainConfig(k=1)
  opt_state = train.make_trainer(config).init(state, jax.random.key(1), 50)
  epoch = train.make_epoch(config, 50)
  state, opt_state, m = epoch(state, opt_state, embedded_x, jax.random.key(2))
  assert int(m.added) > 100 and int(m.removed) > 100
  # Learning: the second epoch reconstructs better than the first (118.6 →
  # 75.1 bits measured; the best constant predictor, the pixel means, has
  # Σ_i p_i(1 − p_i) = 67.5).
  _, _, m2 = epoch(state, opt_state, embedded_x, jax.random.key(3))
  assert float(m2.reconstruction_error) < 0.9 * float(m.reconstruction_error)


@pytest.mark.slow
def test_empty_start_grows(embedded_x):
  state = rbm.init(jax.random.key(0), 784, 64, density=0.0)
  assert float(rbm.density(state)) == 0.0
  config = train.TrainConfig(k=1)
  opt_state = train.make_trainer(config).init(state, jax.random.key(1), 50)
  state, _, m = train.make_epoch(config, 50)(state, opt_state, embedded_x,
                                             jax.random.key(2))
  assert float(m.density) > 0.01 and int(m.added) > 0


@pytest.mark.slow
def test_pcd_population_with_own_learning_rates_equals_separate_runs(embedded_x):
  x = embedded_x[:100]
  config = train.TrainConfig(k=2, persistent=True)
  trainer = train.make_trainer(config)
  seeds = jnp.arange(2)
  lrs = jnp.array([0.01, 0.05])
  densities = jnp.array([0.1, 0.9])
  keys = jax.vmap(jax.random.key)(seeds)
  states = jax.jit(jax.vmap(lambda k, p: rbm.init(k, 784, 32, density=p)))(keys, densities)
  opt_states = jax.jit(jax.vmap(lambda s, k, lr: trainer.init(s, k, 25, lr)))(
      states, keys, lrs)
  pop = train.make_epoch(config, 25, population=True)
  pop_states, _, pop_metrics = pop(states, opt_states, x, keys)

  single = train.make_epoch(config, 25)
  for i in range(2):
    state = jit_call(rbm.init, keys[i], 784, 32, density=float(densities[i]))
    opt_state = jit_call(trainer.init, state, keys[i], 25, float(lrs[i]))
    state, _, metrics = single(state, opt_state, x, keys[i])
    for a, b in zip(state, pop_states):
      np.testing.assert_allclose(a, b[i], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(metrics.density, pop_metrics.density[i])


@pytest.mark.parametrize('kwargs, message', [
    (dict(k=0), 'k must be'),
    (dict(learning_rate=-0.1), 'learning_rate'),
    (dict(connectivity='sparse'), 'connectivity'),
    (dict(optimizer='lbfgs'), 'optimizer'),
])
def test_invalid_config_is_refused(kwargs, message):
  with pytest.raises(InputError, match=message):
    train.TrainConfig(**kwargs)


def test_free_energy_gap_is_difference_of_mean_log_likelihoods():
  state = tiny_rbm(jax.random.key(0))
  vs = all_binary(4)

  @jax.jit
  def gap_and_want(state, vs):
    log_z = jax.scipy.special.logsumexp(-rbm.free_energy(state, vs))
    ll = -rbm.free_energy(state, vs) - log_z
    return train.free_energy_gap(state, vs[:5], vs[5:]), ll[:5].mean() - ll[5:].mean()
  gap, want = gap_and_want(state, vs)
  np.testing.assert_allclose(gap, want, rtol=1e-10)


def test_pcd_without_reconstruction_trains_the_same_and_skips_the_metric():
  """The data's reconstruction is a PCD diagnostic only: switching it off
  changes no parameter and no chain (same keys), and the metric is NaN."""
  state = tiny_rbm(jax.random.key(5), num_visible=6, num_hidden=4)
  batch = (jax.random.uniform(jax.random.key(6), (8, 6)) < 0.4).astype(jnp.float64)
  out = []
  for reconstruction in (True, False):
    trainer = train.make_trainer(train.TrainConfig(
        k=2, persistent=True, learning_rate=0.1, reconstruction=reconstruction))
    opt_state = jit_call(trainer.init, state, jax.random.key(7), 8)
    s, o = state, opt_state
    step = jax.jit(trainer.step)
    for i in range(3):
      s, o, metrics = step(s, o, batch, jax.random.key(10 + i))
    out.append((s, o.chains, metrics.reconstruction_error))
  (s1, c1, r1), (s2, c2, r2) = out
  for a, b in zip(jax.tree.leaves((s1, c1)), jax.tree.leaves((s2, c2))):
    np.testing.assert_array_equal(a, b)
  assert np.isfinite(r1) and 0 < r1 < 6 and np.isnan(r2)
  # CD-k ignores the switch: its chain starts from the reconstruction.
  cd = [jit_call(train.make_trainer(train.TrainConfig(k=1, reconstruction=r)).step,
                 state, jit_call(train.make_trainer(train.TrainConfig(k=1)).init, state, None, 8),
                 batch, jax.random.key(3)) for r in (True, False)]
  np.testing.assert_array_equal(cd[0][2].reconstruction_error,
                                cd[1][2].reconstruction_error)


def test_flip_transitions_recover_the_added_and_removed_totals():
  """The epoch's added/removed come from the flip counts and the start mask
  alone (no per-step count): equal to counting every 0→1 and 1→0 switch."""
  rng = np.random.default_rng(0)
  masks = rng.random((9, 7, 5)) < 0.5          # 8 steps of a 7×5 mask
  flips = np.sum(masks[1:] != masks[:-1], axis=0)
  added, removed = train.flip_transitions(jnp.asarray(masks[0], jnp.float32),
                                          jnp.asarray(flips, jnp.int32))
  assert int(added) == np.sum(masks[1:] & ~masks[:-1]) > 0
  assert int(removed) == np.sum(~masks[1:] & masks[:-1]) > 0

"""The parts of ncg.train that test_train_independent.py does not reach, exactly.

Label units (PCD chain start, frozen label strengths), the step's counters
(flips, step, near-threshold fraction), the epoch's bookkeeping against its
own steps replayed one by one (key splits, sums and means, the rewiring
schedule and its keys), the trainer's rewire (SET and RigL with the cosine
fraction at the step count) and the summaries, against numpy.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ncg import data as data_lib
from ncg import rbm
from ncg import rewiring
from ncg import sampling
from ncg import train
from tests.test_train_independent import cd_statistics
from tests.test_train_independent import numpy_model
from tests.test_train_independent import replay_negatives
from tests.test_train_independent import start_state

B, V, H, L = 8, 6, 4, 2


def test_label_units_start_one_hot_and_keep_their_strengths():
  lr, lr_s = 0.1, 30.0
  state = train.connect_label_units(start_state(5), L)
  np.testing.assert_array_equal(np.asarray(state.strength)[-L:], 1.0)
  np.testing.assert_array_equal(np.asarray(state.strength)[:-L],
                                np.asarray(start_state(5).strength)[:-L])
  config = train.TrainConfig(k=1, persistent=True, label_units=L,
                             learning_rate=lr, strength_learning_rate=lr_s)
  trainer = train.make_trainer(config)
  key = jax.random.key(3)
  opt = trainer.init(state, key, B)
  key_bits, key_labels = jax.random.split(key)
  chains = np.asarray(opt.chains)
  np.testing.assert_array_equal(
      chains[:, :-L], np.asarray(sampling.random_visible(key_bits, B, V,
                                                         jnp.float64))[:, :-L])
  labels = np.asarray(jax.random.randint(key_labels, (B,), 0, L))
  np.testing.assert_array_equal(chains[:, -L:], np.eye(L)[labels])
  assert opt.chains.dtype == jnp.float64
  batch = (jax.random.uniform(jax.random.key(1), (B, V)) < 0.5).astype(jnp.float64)
  batch = batch.at[:, -L:].set(jax.nn.one_hot(jnp.arange(B) % L, L,
                                              dtype=jnp.float64))
  new, new_opt, metrics = jax.jit(trainer.step)(state, opt, batch,
                                                jax.random.key(4))
  negatives = np.asarray(new_opt.chains)
  np.testing.assert_array_equal(negatives[:, -L:].sum(1), 1.0)  # one label each
  G, db, dc = cd_statistics(state, batch, negatives)
  m = numpy_model(state)
  np.testing.assert_allclose(new.W, m['W'] + lr * m['A'] * G, atol=1e-12)
  np.testing.assert_allclose(new.b, m['b'] + lr * db, atol=1e-12)
  expected = np.clip(m['strength'] + lr_s * m['W'] * G, 0.0, 1.0)
  expected[-L:] = 1.0                       # label rows: no strength ascent
  np.testing.assert_allclose(new.strength, expected, atol=1e-12)
  # Counters: one step, each changed mask bit counted once.
  new_A = expected > 0.5
  np.testing.assert_array_equal(new_opt.flips, new_A != (m['A'] == 1))
  assert int(new_opt.flips.sum()) == int(metrics.added) + int(metrics.removed) > 0
  assert int(new_opt.step) == 1
  assert float(metrics.near_threshold) == pytest.approx(
      np.mean(np.abs(expected - 0.5) < 0.05), abs=1e-7)


def test_expected_statistics_plain_and_weighted():
  state = start_state(6)
  m = numpy_model(state)
  v = np.array([[1., 0., 1., 1., 0., 0.], [0., 1., 1., 0., 0., 1.],
                [1., 1., 0., 0., 1., 0.]])
  ph = 1 / (1 + np.exp(-(v @ m['Weff'] + m['c'])))
  for weights in (None, np.array([0.5, 0.2, 0.3])):
    w = np.full(3, 1 / 3) if weights is None else weights
    got = train.expected_statistics(state, jnp.asarray(v),
                                    None if weights is None else jnp.asarray(w))
    np.testing.assert_allclose(got.vh, (v * w[:, None]).T @ ph, atol=1e-12)
    np.testing.assert_allclose(got.v, w @ v, atol=1e-12)
    np.testing.assert_allclose(got.h, w @ ph, atol=1e-12)
  diff = got - got
  np.testing.assert_array_equal(diff.vh, 0.0)


def test_summaries_against_numpy():
  state = start_state(7, density=0.5)
  m = numpy_model(state)
  density, mean_abs = train.connectivity_summary(state)
  assert float(density) == pytest.approx(m['A'].mean(), abs=1e-12)
  assert float(mean_abs) == pytest.approx(
      np.sum(np.abs(m['W']) * m['A']) / m['A'].sum(), abs=1e-12)
  tau = float(np.median(np.abs(m['W'])))
  assert float(train.effective_density(state, tau)) == pytest.approx(
      np.mean(m['A'] * (np.abs(m['W']) > tau)), abs=1e-12)
  empty = state._replace(strength=jnp.zeros_like(state.strength))
  assert float(train.connectivity_summary(empty)[1]) == 0.0  # no 0/0


def _replay_epoch(trainer, state, opt, x, key, batch_size, first_step=None):
  """run_epoch by hand: its documented key splits, step by step."""
  key_order, key_steps = jax.random.split(key)
  batches = data_lib.epoch_batches(key_order, x, batch_size)
  n = batches.shape[0]
  keys = jax.random.split(key_steps, n)
  key_rewire = jax.random.fold_in(key_steps, n)
  every = trainer.rewire_every or n
  t0 = int(opt.step) if first_step is None else first_step
  step, rewire = jax.jit(trainer.step), jax.jit(trainer.rewire)
  recon, near, added, removed = [], [], 0, 0
  for i in range(n):
    state, opt, metrics = step(state, opt, batches[i], keys[i])
    recon.append(float(metrics.reconstruction_error))
    near.append(float(metrics.near_threshold))
    added += int(metrics.added)
    removed += int(metrics.removed)
    if trainer.rewire is not None and (t0 + i + 1) % every == 0:
      state, opt, a, r = rewire(state, opt, batches[i],
                                        jax.random.fold_in(key_rewire, i))
      added, removed = added + int(a), removed + int(r)
  return state, opt, np.mean(recon), np.mean(near), added, removed


def test_epoch_equals_its_steps_replayed():
  x = jnp.asarray(data_lib.bars_and_stripes(3), jnp.float64)[:11]  # 3 steps of 3
  config = train.TrainConfig(k=1, connectivity='set', learning_rate=0.1,
                             rewire_every=2,
                             rewire_fraction=0.4, magnitude_threshold=0.05)
  trainer = train.make_trainer(config)
  state = rbm.init(jax.random.key(0), 9, 4, density=0.5, dtype=jnp.float64)
  opt = trainer.init(state, jax.random.key(1), 3)
  epoch = train.make_epoch(config, 3)
  for e in range(2):    # the second epoch starts at step 3: a shifted schedule
    key = jax.random.key(10 + e)
    want, want_opt, recon, near, added, removed = _replay_epoch(
        trainer, state, opt, x, key, 3)
    state, opt, metrics = epoch(state, opt, x, key)
    for a, b in zip(jax.tree.leaves((state, opt)), jax.tree.leaves((want, want_opt))):
      np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    assert int(metrics.added) == added and int(metrics.removed) == removed
    assert added + removed > 0
    assert float(metrics.reconstruction_error) == pytest.approx(recon, abs=1e-12)
    assert float(metrics.near_threshold) == pytest.approx(near, abs=1e-7)
    m = numpy_model(state)
    assert float(metrics.density) == pytest.approx(m['A'].mean(), abs=1e-12)
    assert float(metrics.mean_abs_weight) == pytest.approx(
        np.sum(np.abs(m['W']) * m['A']) / m['A'].sum(), abs=1e-12)
    assert float(metrics.effective_density) == pytest.approx(
        np.mean(m['A'] * (np.abs(m['W']) > 0.05)), abs=1e-12)
  assert int(opt.step) == 6


@pytest.mark.parametrize('until', [0, 10])
def test_trainer_rewire_uses_a_minibatch_gradient_and_the_cosine_fraction(until):
  zeta = 0.5
  config = train.TrainConfig(k=1, connectivity='rigl', rewire_fraction=zeta,
                             rewire_until=until, rng='threefry')
  trainer = train.make_trainer(config)
  assert trainer.rewire_every == 0
  state = start_state(8, density=0.5)
  opt = trainer.init(state, jax.random.key(0), B)._replace(
      step=jnp.asarray(5, jnp.int32))
  batch = (jax.random.uniform(jax.random.key(2), (B, V)) < 0.5).astype(jnp.float64)
  key = jax.random.key(9)
  new, new_opt, added, removed = trainer.rewire(state, opt, batch, key)
  negatives, _ = replay_negatives(state, batch, key, 1, 'threefry')
  G, _, _ = cd_statistics(state, batch, negatives)
  fraction = zeta / 2 if until else zeta      # ζ/2 (1 + cos(π 5/10)) = ζ/2
  want = rewiring.rigl_rewire(state, jnp.asarray(G), fraction)
  for a, b in zip(new, want):
    np.testing.assert_array_equal(a, b)
  old_A, new_A = np.asarray(rbm.mask(state)), np.asarray(rbm.mask(new))
  assert int(added) == int(np.sum(new_A > old_A)) == int(np.sum(new_A < old_A)) \
      == int(removed) == int(np.floor(fraction * old_A.sum()))
  np.testing.assert_array_equal(new_opt.flips, (new_A != old_A).astype(int))
  assert int(new_opt.step) == 5 and new_opt.chains is None


def test_set_rewire_through_the_trainer():
  config = train.TrainConfig(connectivity='set', rewire_fraction=0.3,
                             new_weight_scale=0.2, label_units=L)
  trainer = train.make_trainer(config)
  state = train.connect_label_units(start_state(9, density=0.5), L)
  opt = trainer.init(state, jax.random.key(0), B)
  key = jax.random.key(4)
  new, _, added, _ = trainer.rewire(state, opt, jnp.zeros((B, V)), key)
  want = rewiring.set_rewire(key, state, 0.3, 0.2, L)
  for a, b in zip(new, want):
    np.testing.assert_array_equal(a, b)
  assert int(added) > 0
  assert train.make_trainer(train.TrainConfig()).rewire is None


def test_pcd_chains_of_gaussian_visible_units_sweep_as_gaussians():
  k = 2
  config = train.TrainConfig(k=k, persistent=True, visible='gaussian',
                             learning_rate=0.01, rng='hash')
  trainer = train.make_trainer(config)
  state = rbm.as_visible(start_state(11), 'gaussian')
  opt = trainer.init(state, jax.random.key(0), B)
  batch = jax.random.normal(jax.random.key(1), (B, V), jnp.float64)
  key = jax.random.key(2)
  _, new_opt, _ = jax.jit(trainer.step)(state, opt, batch, key)
  # Replay: k sweeps h ~ σ(vWA + c), v = (WA)h + b + N(0, 1) per chain.
  m = numpy_model(state)
  key_chain = jax.random.split(key, 3)[2]
  for i, chain_key in enumerate(jax.random.split(key_chain, B)[:2]):
    v = np.asarray(opt.chains[i])
    for sweep_key in jax.random.split(chain_key, k):
      kh, kv = jax.random.split(sweep_key)
      u = np.asarray(sampling.uniform(sampling.keyed(kh, 'hash'), (H,), jnp.float64))
      h = (u < 1 / (1 + np.exp(-(v @ m['Weff'] + m['c'])))).astype(float)
      v = m['Weff'] @ h + m['b'] + np.asarray(
          sampling.normal(sampling.keyed(kv, 'hash'), (V,), jnp.float64))
    np.testing.assert_allclose(new_opt.chains[i], v, rtol=1e-12, atol=1e-12)

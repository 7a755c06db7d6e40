"""The sparse baselines (SET, RigL, L1), populations of every mode, analytics."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import rbm_run
from experiments.configs import tiny
from ncg import analytics
from ncg import data
from ncg import rbm
from ncg import rewiring
from ncg import train
from ncg.errors import InputError
from tests.conftest import jit_call


def _state(key=0, V=12, H=7, density=0.4):
  return rbm.init(jax.random.key(key), V, H, density=density)


def _present(state):
  return np.asarray(rbm.mask(state)).astype(bool)


@pytest.mark.parametrize('label_units', [0, 3])
def test_set_swaps_the_smallest_weights_for_random_absent_ones(label_units):
  state = jit_call(train.connect_label_units, _state(), label_units)
  before, W = _present(state), np.asarray(state.W)
  free = np.arange(12)[:, None] < 12 - label_units
  n_present = (before & free).sum()
  k = int(np.floor(0.3 * n_present))
  after_state = jit_call(rewiring.set_rewire, jax.random.key(5), state, 0.3, 0.05,
                         label_units)
  after = _present(after_state)
  dropped, grown = before & ~after, after & ~before
  assert dropped.sum() == grown.sum() == k > 0
  assert after.sum() == before.sum()                     # density kept
  assert not (dropped & ~free).any() and not (grown & ~free).any()
  # The dropped ones are the k present rewirable weights of smallest |W|.
  candidates = np.sort(np.abs(W[before & free]))
  np.testing.assert_allclose(np.sort(np.abs(W[dropped])), candidates[:k])
  # New weights: N(0, 0.05²); old present ones untouched; dropped set to 0.
  new_W = np.asarray(after_state.W)
  assert np.all(np.abs(new_W[grown]) < 0.05 * 5)
  kept = before & after
  np.testing.assert_array_equal(new_W[kept], W[kept])
  np.testing.assert_array_equal(new_W[dropped], 0.0)


def test_rigl_grows_the_absent_connections_of_largest_gradient():
  state = _state(1)
  before = _present(state)
  G = jax.random.normal(jax.random.key(2), state.W.shape)
  after_state = rewiring.rigl_rewire(state, G, 0.25)
  after = _present(after_state)
  grown = after & ~before
  k = int(np.floor(0.25 * before.sum()))
  assert grown.sum() == k
  absent_scores = np.sort(np.abs(np.asarray(G))[~before])[::-1]
  np.testing.assert_allclose(np.sort(np.abs(np.asarray(G))[grown])[::-1],
                             absent_scores[:k])
  np.testing.assert_array_equal(np.asarray(after_state.W)[grown], 0.0)
  assert after.sum() == before.sum()


def test_rigl_cosine_fraction():
  f = lambda t: float(rewiring.cosine_fraction(t, 0.3, 100))
  assert f(0) == pytest.approx(0.3)
  assert f(50) == pytest.approx(0.15)
  assert f(25) == pytest.approx(0.15 * (1 + np.cos(np.pi / 4)))
  assert f(100) == 0.0 and f(150) == 0.0


def test_num_swaps_never_exceeds_the_absent_connections():
  state = _state(3, density=0.9)
  absent = (~_present(state)).sum()
  assert int(rewiring.num_swaps(state, 0.5)) == min(
      int(np.floor(0.5 * _present(state).sum())), absent)


def test_l1_step_adds_the_subgradient_to_the_dense_step():
  state = _state(4, density=1.0)
  batch = (jax.random.uniform(jax.random.key(6), (5, 12)) < 0.5).astype(jnp.float32)
  key = jax.random.key(7)
  results = {}
  for mode in ('dense', 'l1'):
    config = train.TrainConfig(k=1, connectivity=mode, learning_rate=0.1,
                               l1_penalty=0.02)
    trainer = train.make_trainer(config)
    results[mode], _, _ = jit_call(
        trainer.step, state, jit_call(trainer.init, state, key, 5), batch, key)
  np.testing.assert_allclose(
      results['l1'].W - results['dense'].W,
      -0.1 * 0.02 * np.sign(np.asarray(state.W)), atol=1e-6)
  np.testing.assert_allclose(results['l1'].c, results['dense'].c, atol=1e-7)


# The config and shapes of test_every_mode_trains_as_a_population_equal_to_
# separate_runs below (9 visible, 5 hidden, batch 3, rewiring every 3 steps
# until step 10): the single-run epochs compiled there and here are the same
# programs, compiled once (the session's persistent compilation cache).
def _mode_config(mode):
  return train.TrainConfig(k=2, connectivity=mode, learning_rate=0.05,
                           rewire_every=3, rewire_until=10)


def test_rewiring_epochs_keep_density_and_count_every_flip():
  x = jnp.asarray(data.load('bars_and_stripes', bars_size=3).train.x)
  for mode, expect_changes in (('set', True), ('rigl', True), ('fixed', False)):
    config = _mode_config(mode)
    state = _state(8, V=9, H=5, density=0.5)
    trainer = train.make_trainer(config)
    opt_state = trainer.init(state, jax.random.key(0), 3)
    epoch = train.make_epoch(config, 3)
    density0 = float(rbm.density(state))
    total = 0
    for e in range(3):                    # steps 1-4, 5-8, 9-12: rewired at 3, 6, 9
      state, opt_state, m = epoch(state, opt_state, x, jax.random.key(e))
      assert float(m.density) == pytest.approx(density0)
      total += int(m.added) + int(m.removed)
    assert (total > 0) == expect_changes
    assert int(opt_state.flips.sum()) == total   # every flip counted once
    assert int(opt_state.step) == 3 * (len(x) // 3)


@pytest.mark.parametrize('mode', train.CONNECTIVITY_MODES)
def test_every_mode_trains_as_a_population_equal_to_separate_runs(mode):
  x = jnp.asarray(data.load('bars_and_stripes', bars_size=3).train.x)
  config = _mode_config(mode)
  trainer = train.make_trainer(config)
  states = jax.vmap(lambda k, p: rbm.init(k, 9, 5, density=p))(
      jax.random.split(jax.random.key(0), 2), jnp.array([0.3, 0.7]))
  opts = jax.vmap(trainer.init, in_axes=(0, 0, None))(
      states, jax.random.split(jax.random.key(1), 2), 3)
  keys = jax.random.split(jax.random.key(2), 2)
  together, opt_together, _ = train.make_epoch(config, 3, population=True)(
      states, opts, x, keys)
  single = train.make_epoch(config, 3)
  for i in range(2):
    alone, opt_alone, _ = single(jax.tree.map(lambda a: a[i], states),
                                 jax.tree.map(lambda a: a[i], opts), x, keys[i])
    for a, b in zip(jax.tree.leaves(alone), jax.tree.leaves(together)):
      np.testing.assert_allclose(a, b[i], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(opt_alone.flips, opt_together.flips[i])


def test_degrees_sum_to_the_present_connections():
  state = train.connect_label_units(_state(9), 2)
  A = _present(state)[:-2]
  vdeg = np.asarray(analytics.visible_degree(state, 2))
  hdeg = np.asarray(analytics.hidden_degree(state, 2))
  assert vdeg.shape == (10,) and hdeg.shape == (7,)
  assert vdeg.sum() == hdeg.sum() == A.sum()
  np.testing.assert_array_equal(vdeg, A.sum(1))


def test_flip_statistics():
  flips = np.array([[0, 1], [2, 0], [5, 0]])
  s = analytics.flip_statistics(flips)
  assert s['ever_flipped'] == pytest.approx(3 / 6)
  assert s['flipped_repeatedly'] == pytest.approx(2 / 6)
  assert s['mean_flips_of_flipped'] == pytest.approx(8 / 3)
  assert s['median_flips_of_flipped'] == 2 and s['max_flips'] == 5


def test_density_from_reads_a_run_or_a_population(tmp_path):
  config = tiny.get_config()
  run = tmp_path / 'run'
  run.mkdir()
  (run / 'summary.json').write_text(json.dumps({'density': 0.2345}))
  with config.unlocked():
    config.model.density_from = str(run)
  assert rbm_run.resolve_density_from(config).model.density == 0.2345
  (run / 'summary.json').write_text(json.dumps(
      {'members': [{'density': 0.2}, {'density': 0.4}]}))
  assert rbm_run.resolve_density_from(config).model.density == pytest.approx(0.3)
  with config.unlocked():
    config.model.density_from = str(tmp_path / 'missing')
  with pytest.raises(InputError, match='density_from'):
    rbm_run.resolve_density_from(config)


def test_rewiring_interval_spans_epochs():
  x = jnp.asarray(data.load('bars_and_stripes', bars_size=3).train.x)  # 7 steps of 2
  config = train.TrainConfig(k=1, connectivity='set', learning_rate=0.05,
                             rewire_every=10)
  state = _state(8, V=9, H=6, density=0.5)
  trainer = train.make_trainer(config)
  opt_state = trainer.init(state, jax.random.key(0), 2)
  epoch = train.make_epoch(config, 2)
  swaps = []
  for e in range(3):                      # steps 1-7, 8-14, 15-21
    state, opt_state, m = epoch(state, opt_state, x, jax.random.key(e))
    swaps.append(int(m.added))
  k = int(np.floor(0.3 * 0.5 * 54))
  assert swaps[0] == 0 and swaps[1] > 0 and swaps[2] > 0
  assert max(swaps) <= k + 2              # one rewiring (after steps 10, 20) each


def test_hysteresis_band_moves_only_flipped_strengths_to_the_far_edge():
  old = jnp.array([[0.0, 1.0, 0.0, 1.0, 0.0, 1.0]])         # old mask A
  s = jnp.array([[0.52, 0.49, 0.45, 0.55, 0.70, 0.20]])      # after a step
  band = np.asarray(train.hysteresis_band(s, old, 0.1))
  #   added → ½+h; removed → ½−h; unflipped (2 absent, 3 present) untouched;
  #   a flip already past the edge (0.70 added, 0.20 removed) is kept.
  np.testing.assert_allclose(band, [[0.6, 0.4, 0.45, 0.55, 0.70, 0.20]])
  np.testing.assert_array_equal(train.hysteresis_band(s, old, 0.0), s)


def test_hysteresis_step_leaves_every_flipped_connection_outside_the_band():
  state = _state(3, V=16, H=9, density=0.5)
  state = state._replace(strength=0.5 + 0.02 * jax.random.normal(
      jax.random.key(4), state.W.shape))                     # all near ½
  batch = jax.random.bernoulli(jax.random.key(6), 0.4, (8, 16)).astype(state.W.dtype)
  h = 0.05
  plain, band = (train.make_trainer(train.TrainConfig(
      k=1, learning_rate=0.5, hysteresis=x)) for x in (0.0, h))
  key = jax.random.key(7)
  s0, _, _ = jit_call(plain.step, state, jit_call(plain.init, state, key, 8), batch, key)
  s1, _, m1 = jit_call(band.step, state, jit_call(band.init, state, key, 8), batch, key)
  old = _present(state)
  flipped = _present(s1) != old
  assert flipped.sum() == int(m1.added + m1.removed) > 0
  # Same parameters and the same flips as without the band; only the flipped
  # strengths moved, each to at least h from ½ on its new side.
  np.testing.assert_array_equal(flipped, _present(s0) != old)
  np.testing.assert_allclose(s1.W, s0.W)
  a1 = np.asarray(s1.strength)
  assert np.all(np.abs(a1[flipped] - 0.5) >= h - 1e-12)
  np.testing.assert_array_equal(a1[~flipped], np.asarray(s0.strength)[~flipped])


def test_a_population_trained_in_chunks_equals_the_whole_population():
  from experiments import sweep_run  # pylint: disable=g-import-not-at-top
  # The population of test_every_mode_trains_as_a_population_equal_to_separate_
  # runs[rigl]: the whole population's epoch is the program compiled there.
  config = _mode_config('rigl')
  x = jnp.asarray(data.load('bars_and_stripes', bars_size=3).train.x)
  states = jax.vmap(lambda k, p: rbm.init(k, 9, 5, density=p))(
      jax.random.split(jax.random.key(0), 2), jnp.array([0.3, 0.7]))
  trainer = train.make_trainer(config)
  opts = jax.vmap(trainer.init, in_axes=(0, 0, None))(
      states, jax.random.split(jax.random.key(1), 2), 3)
  keys = jax.random.split(jax.random.key(2), 2)
  epoch = train.make_epoch(config, 3, population=True)
  whole = epoch(states, opts, x, keys)
  chunked = sweep_run.chunked_epoch(epoch, 1, 2)(states, opts, x, keys)
  for a, b in zip(jax.tree.leaves(whole), jax.tree.leaves(chunked)):
    np.testing.assert_array_equal(np.asarray(a), b)
  assert int(np.asarray(whole[2].added).sum()) > 0  # rewiring happened

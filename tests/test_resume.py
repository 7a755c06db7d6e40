"""ncg.resume: the whole training state saved and loaded through the API.

Every connectivity mode × optimizer × CD/PCD round-trips bit for bit (every
leaf filled with distinct random values first, so nothing passes by being
zero), and a run resumed from a saved state equals the uninterrupted run bit
for bit, for one model and for a population.
"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ncg import checkpoint, rbm, resume, train
from ncg.errors import InputError

V, H, B = 6, 4, 4


@pytest.fixture(autouse=True)
def _float32():
  with jax.enable_x64(False):
    yield


def _x(n=16):
  return (np.random.RandomState(0).rand(n, V) < 0.4).astype(np.float32)


def _randomized(tree, seed):
  """Every leaf replaced by distinct random values of its shape and dtype."""
  leaves, treedef = jax.tree.flatten(tree)
  rng = np.random.RandomState(seed)
  out = []
  for leaf in leaves:
    leaf = np.asarray(leaf)
    if np.issubdtype(leaf.dtype, np.integer):
      out.append(rng.randint(0, 1000, leaf.shape).astype(leaf.dtype))
    else:
      out.append(rng.standard_normal(leaf.shape).astype(leaf.dtype))
  return jax.tree.unflatten(treedef, [jnp.asarray(a) for a in out])


def _assert_identical(a, b):
  assert jax.tree.structure(a) == jax.tree.structure(b)
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    x, y = np.asarray(x), np.asarray(y)
    assert x.dtype == y.dtype and x.shape == y.shape
    np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize('mode, optimizer, persistent', list(itertools.product(
    train.CONNECTIVITY_MODES, train.OPTIMIZERS, (False, True))))
def test_every_mode_optimizer_and_chain_round_trips(tmp_path, mode, optimizer,
                                                    persistent):
  config = train.TrainConfig(connectivity=mode, optimizer=optimizer,
                             persistent=persistent, learning_rate=0.05,
                             strength_learning_rate=0.2, label_units=2)
  state = rbm.init(jax.random.key(0), V, H, density=0.5)
  opt = train.make_trainer(config).init(state, jax.random.key(1), B)
  state, opt = _randomized((state, opt), seed=len(mode) + persistent)
  resume.save(str(tmp_path / 's'), config, state, opt, epoch=3, metadata={'note': 'x'})
  loaded = resume.load(str(tmp_path / 's'))
  assert loaded.config == config
  assert loaded.metadata['epoch'] == 3 and loaded.metadata['note'] == 'x'
  assert (loaded.opt_state.chains is None) == (not persistent)
  _assert_identical((loaded.state, loaded.opt_state), (state, opt))


def _resumed_equals_uninterrupted(tmp_path, config, population):
  state = rbm.init(jax.random.key(0), V, H, density=0.5,
                   visible=config.visible)
  trainer = train.make_trainer(config)
  opt = trainer.init(state, jax.random.key(1), B)
  if population:   # two members with their own learning rates
    states = jax.vmap(lambda k: rbm.init(k, V, H, density=0.5))(
        jax.random.split(jax.random.key(0), 2))
    state = states
    opt = jax.vmap(trainer.init, in_axes=(0, 0, None, 0))(
        states, jax.random.split(jax.random.key(1), 2), B, jnp.asarray([0.05, 0.1]))
  epoch = train.make_epoch(config, B, population=population)
  x, key = _x(), jax.random.key(5)

  def run(state, opt, epochs):
    for e in epochs:
      k = jax.random.fold_in(key, e)
      state, opt, _ = epoch(state, opt, x, jax.random.split(k, 2) if population else k)
    return state, opt

  whole = run(state, opt, range(4))
  half = run(state, opt, range(2))
  resume.save(str(tmp_path / 'r'), config, *half, epoch=2)
  loaded = resume.load(str(tmp_path / 'r'))
  assert loaded.metadata['epoch'] == 2
  resumed = run(loaded.state, loaded.opt_state,
                range(loaded.metadata['epoch'], 4))
  _assert_identical(resumed, whole)
  assert not np.array_equal(np.asarray(whole[0].W), np.asarray(half[0].W))


@pytest.mark.parametrize('settings', [
    dict(connectivity='ncg', optimizer='adam', persistent=True),
    dict(connectivity='rigl', optimizer='momentum', rewire_every=3),
    dict(connectivity='ncg', visible='gaussian', persistent=True),
], ids=['ncg-adam-pcd', 'rigl-momentum-cd', 'gaussian-pcd'])
def test_a_resumed_run_equals_the_uninterrupted_one(tmp_path, settings):
  config = train.TrainConfig(learning_rate=0.05, **settings)
  _resumed_equals_uninterrupted(tmp_path, config, population=False)


def test_a_resumed_population_equals_the_uninterrupted_one(tmp_path):
  config = train.TrainConfig(learning_rate=0.05, persistent=True, optimizer='adam')
  _resumed_equals_uninterrupted(tmp_path, config, population=True)


def test_what_does_not_fit_is_an_input_error(tmp_path):
  state = rbm.init(jax.random.key(0), V, H)
  cd = train.TrainConfig()
  opt = train.make_trainer(cd).init(state, jax.random.key(1), B)
  with pytest.raises(InputError, match='not made by this config'):
    resume.save(str(tmp_path / 'a'), train.TrainConfig(persistent=True), state, opt)
  with pytest.raises(InputError, match='needs the TrainConfig'):
    resume.save(str(tmp_path / 'a'), {'k': 1}, state, opt)
  checkpoint.save(str(tmp_path / 'model'), state)
  with pytest.raises(InputError, match='not a training state'):
    resume.load(str(tmp_path / 'model'))
  with pytest.raises(InputError, match='ncg.resume.save'):  # was an orbax traceback
    checkpoint.save(str(tmp_path / 'b'), opt)

"""Raw ``jax.random.PRNGKey`` keys work wherever a key enters the public API.

Every public function that takes a key runs with ``jax.random.key(0)`` (a
typed key) and with ``jax.random.PRNGKey(0)`` (raw uint32[2] key data, the
idiom of most JAX code): both are the same threefry key, so the results must
be bit-identical, the same again on a second call (determinism), and differ
for another seed (the key is used). ``ncg.sampling.as_key`` re-types a raw
key once where the code needs a typed one (``keyed``: the trainer's and AIS's
generator); everything else goes through ``jax.random``, which takes both.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ncg import classification, data, distributed, estimators, rbm, rewiring
from ncg import sampling, train, units
from ncg.errors import InputError

V, H, B = 6, 4, 4


def _x(n=12, v=V):
  return (jax.random.uniform(jax.random.key(7), (n, v)) < 0.4).astype(jnp.float32)


def _state(v=V):
  return rbm.init(jax.random.key(8), v, H, density=0.6)


def _trainer_case(function, **settings):
  """``function(config, trainer, state, opt)`` → ``key → results``, built once
  (so that a case compiles once per kind of key)."""
  config = train.TrainConfig(learning_rate=0.1, **settings)
  trainer = train.make_trainer(config)
  state = rbm.as_visible(_state(), config.visible)
  opt = trainer.init(state, jax.random.key(9), B)
  return function(config, trainer, state, opt)


def _eager_step(config, trainer, state, opt):
  del config
  return lambda key: trainer.step(state, opt, _x()[:B], key)


def _rewire(config, trainer, state, opt):
  del config
  rewire = jax.jit(trainer.rewire)
  return lambda key: rewire(state, opt, _x()[:B], key)


def _make_epoch(config, trainer, state, opt):
  del trainer
  epoch = train.make_epoch(config, B)
  return lambda key: epoch(state, opt, _x(), key)


def _stack(tree):
  return jax.tree.map(lambda a: jnp.stack([a, a]), tree)


def _data_parallel(config, trainer, state, opt):
  del trainer
  epoch = distributed.data_parallel(config, B, distributed.make_mesh(1, 1),
                                    population=True)
  return lambda key: epoch(_stack(state), _stack(opt), _x(), jax.random.split(key, 2))


def _init_pcd(key):
  trainer = train.make_trainer(train.TrainConfig(persistent=True, label_units=2))
  return trainer.init(_state(), key, B).chains


def _gaussian_ais(key):
  state = _state()._replace(W=0.1 * _state().W)
  return units.gaussian_ais_log_partition(key, state, num_runs=4, betas=20)[:3]


def _ais(rng, label_units=0):
  def case(key):
    return estimators.ais_log_partition(
        key, _state(), num_runs=4, betas=20, base_visible_bias='uniform',
        label_units=label_units, rng=rng)[:3]
  return case


def _probe(key):
  x, y = _x(16), jnp.arange(16) % 2
  return classification.linear_probe(key, _state(), x, y, x, y, num_classes=2,
                                     epochs=2, batch_size=4).params


def _sharded_ais(key):
  return distributed.sharded_ais(distributed.make_mesh(1, 1), key, _state(),
                                 num_runs=4, betas=20,
                                 base_visible_bias=jnp.zeros(V))[:3]


def _host_minibatches(key):
  return distributed.host_minibatches(key, np.asarray(_x()), B,
                                      distributed.make_mesh(1, 1))


CASES = {
    'rbm.init': lambda key: rbm.init(key, V, H, density=0.5),
    'sampling.as_key': lambda key: jax.random.key_data(sampling.as_key(key)),
    'sampling.keyed(hash)': lambda key: jax.random.key_data(sampling.keyed(key, 'hash')),
    'sampling.keyed(rbg)': lambda key: jax.random.key_data(sampling.keyed(key, 'rbg')),
    'sampling.uniform': lambda key: sampling.uniform(key, (5,)),
    'sampling.normal': lambda key: sampling.normal(key, (5,)),
    'sampling.bernoulli': lambda key: sampling.bernoulli(key, jnp.full((9,), 0.5)),
    'sampling.sample_hidden': lambda key: sampling.sample_hidden(key, _state(), _x()),
    'sampling.sample_visible': lambda key: sampling.sample_visible(
        key, _state(), jnp.ones((3, H)), label_units=2),
    'sampling.sample_gaussian_from_logits':
        lambda key: sampling.sample_gaussian_from_logits(key, jnp.zeros((3, V))),
    'sampling.gibbs_sweep': lambda key: sampling.gibbs_sweep(
        key, _state(), _x()[0], visible='gaussian'),
    # jitted (an eager scan retraces on every call); it runs sample_chains,
    # which vmaps gibbs_chain over split keys
    'sampling.chain_trajectory (sample_chains, gibbs_chain)': jax.jit(
        lambda key: sampling.chain_trajectory(key, _state(), _x(), 4, 2)),
    'sampling.mean_field_image':
        lambda key: sampling.mean_field_image(key, _state(), _x()),
    'sampling.random_visible': lambda key: sampling.random_visible(key, 3, V),
    'Trainer.init (PCD, labels)': _init_pcd,
    # (PCD chains with a raw key: the data_parallel case; keyed(raw, 'threefry'):
    # the threefry AIS case)
    'Trainer.step (CD, hash, gaussian, not jitted)':
        _trainer_case(_eager_step, visible='gaussian'),
    'Trainer.rewire (rigl)': _trainer_case(_rewire, connectivity='rigl'),
    # run_epoch: epoch_step and SET's Trainer.rewire inside
    'make_epoch (set)': _trainer_case(_make_epoch, connectivity='set', rewire_every=2),
    # jitted (one program per key kind instead of its primitives one by one)
    'rewiring.set_rewire': jax.jit(lambda key: rewiring.set_rewire(key, _state(), 0.5, 0.05)),
    'data.epoch_batches': lambda key: data.epoch_batches(key, _x(), B),
    'ais_log_partition (hash)': _ais('hash'),
    'ais_log_partition (threefry, labels)': _ais('threefry', label_units=2),
    'gaussian_ais_log_partition': _gaussian_ais,
    'classification.linear_probe': _probe,
    # make_epoch(population=True) under shard_members
    'distributed.data_parallel (population, PCD)':
        _trainer_case(_data_parallel, persistent=True),
    'distributed.sharded_ais': _sharded_ais,
    'distributed.host_minibatches': _host_minibatches,
}


def _leaves(tree):
  return [np.asarray(jax.random.key_data(a) if sampling.is_typed_key(a) else a)
          for a in jax.tree.leaves(tree)]


def _same(a, b) -> bool:
  a, b = _leaves(a), _leaves(b)
  return len(a) == len(b) and all(
      x.shape == y.shape and x.dtype == y.dtype and np.array_equal(x, y, equal_nan=True)
      for x, y in zip(a, b))


@pytest.fixture(autouse=True)
def _float32():
  """The library's default float32 (tests/conftest.py turns x64 on)."""
  with jax.enable_x64(False):
    yield


@pytest.mark.parametrize('name', list(CASES))
def test_raw_and_typed_keys_give_the_same_bits(name):
  case = CASES[name]
  raw = case(jax.random.PRNGKey(0))
  assert _same(raw, case(jax.random.key(0)))       # the same key, either kind
  assert _same(raw, case(jax.random.PRNGKey(0)))   # deterministic
  assert not _same(raw, case(jax.random.PRNGKey(1)))  # and the key is used


def test_parsimonious_entries_take_raw_keys():
  """The pruning library's keyed entries (its trainer's step hands its key
  to the gate samplers below; it costs two more compilations, checked by
  hand)."""
  pytest.importorskip('flax')
  from ncg.parsimonious import gates, l0, models  # pylint: disable=g-import-not-at-top
  from ncg.parsimonious import train as p_train  # pylint: disable=g-import-not-at-top
  thetas = [jnp.full((3,), 0.5)]
  arch = models.mlp(V, (3,), num_classes=2)
  trainer = p_train.make_trainer(p_train.Config(1e-2, 0.05, 0.0, (1.0, 1.0), 1.0, 12))

  def run(key):
    k1, k2, k3 = jax.random.split(key, 3)
    return (trainer.init(k1, arch, V, 0.9).params, gates.antithetic_gates(k2, thetas, 5),
            l0.sample(k3, thetas, 5), p_train.epoch_order(key, 12, 4))
  raw = run(jax.random.PRNGKey(0))
  assert _same(raw, run(jax.random.key(0)))
  assert _same(raw, run(jax.random.PRNGKey(0)))
  assert not _same(raw, run(jax.random.PRNGKey(1)))


def test_as_key_wraps_raw_data_as_the_same_key():
  for seed in (0, 3):
    typed = jax.random.key(seed)
    assert jax.random.key_impl(sampling.as_key(jax.random.PRNGKey(seed))) == (
        jax.random.key_impl(typed))
    np.testing.assert_array_equal(
        jax.random.key_data(sampling.as_key(jax.random.PRNGKey(seed))),
        jax.random.key_data(typed))
  assert sampling.as_key(typed) is typed
  batch = sampling.as_key(jax.random.split(jax.random.PRNGKey(0), 3))
  assert batch.shape == (3,)


@pytest.mark.parametrize('bad', [0, np.float32(1.5), np.zeros((3,), np.uint32),
                                 np.zeros((2,), np.int32)])
def test_what_is_not_a_key_is_an_input_error(bad):
  with pytest.raises(InputError, match='PRNG key') as info:
    sampling.keyed(bad, 'hash')
  assert '\n' not in str(info.value)
  trainer = train.make_trainer(train.TrainConfig())
  state = _state()
  with pytest.raises(InputError, match='PRNG key'):
    trainer.step(state, trainer.init(state, jax.random.key(0), B), _x()[:B], bad)

"""No silent wrong answers: the model knows its visible type, inputs are checked.

An RBMState records its visible unit type (static pytree data), so the
estimators pick the Gaussian or binary formulas from the model itself; the
trainer and the estimators refuse a model of the other type; training data
that do not fit (non-binary for binary units, integers, wrong width, a batch
larger than the data set, NaN for Gaussian units) raise InputError with one
line before anything runs.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ncg import checkpoint, estimators, rbm, train, units
from ncg.errors import InputError

V, H, B = 5, 3, 4


def _gaussian():
  return rbm.init(jax.random.key(0), V, H, weight_init='normal', weight_scale=0.4,
                  visible='gaussian', dtype=jnp.float64)._replace(
                      b=jnp.linspace(-1.0, 1.0, V))


def _binary_x(n=12):
  return (np.random.RandomState(0).rand(n, V) < 0.4).astype(np.float32)


def test_estimators_use_the_models_own_formulas():
  """The issue's wrong answer: log p of a Gaussian–Bernoulli model through
  ncg.estimators used F(v) of binary units. Now it is the Gaussian density:
  −F(v) − log Z with F(v) = ½‖v − b‖² − Σ softplus(c + vW) and log Z over the
  2^H hidden states, which integrates to 1 (checked on a grid for V = 1)."""
  g = _gaussian()
  x = jax.random.normal(jax.random.key(1), (7, V), jnp.float64)
  log_z = estimators.exact_log_partition(g)
  np.testing.assert_allclose(log_z, units.gaussian_exact_log_partition(g), rtol=1e-12)
  log_p = estimators.log_likelihood(g, x, log_z)
  w = np.asarray(rbm.effective_weights(g))
  free = (0.5 * np.sum((x - g.b) ** 2, -1)
          - np.sum(np.logaddexp(0, x @ w + g.c), -1))
  np.testing.assert_allclose(log_p, -free - float(log_z), rtol=1e-10)
  binary = rbm.as_visible(g, 'bernoulli')
  assert np.all(np.abs(np.asarray(estimators.log_likelihood(binary, x, log_z)) - log_p) > 1e-3)
  np.testing.assert_allclose(units.log_likelihood(g, x, log_z), log_p, rtol=1e-12)
  # one visible unit: the density integrates to 1 over a fine grid
  one = rbm.init(jax.random.key(2), 1, 2, weight_init='normal', weight_scale=0.8,
                 visible='gaussian', dtype=jnp.float64)
  grid = jnp.linspace(-12.0, 12.0, 4001, dtype=jnp.float64)[:, None]
  density = jnp.exp(estimators.log_likelihood(one, grid, estimators.exact_log_partition(one)))
  assert abs(float(jnp.sum(density) * (grid[1, 0] - grid[0, 0])) - 1.0) < 1e-6
  # the reconstruction's mean is E[v | h] = b + (W ⊙ A)h, not a sigmoid
  h = rbm.hidden_probs(g, x)
  np.testing.assert_allclose(
      estimators.reconstruction_error(g, x),
      np.sum((x - (h @ w.T + g.b)) ** 2, -1), rtol=1e-10)


def test_the_visible_type_travels_with_the_model(tmp_path):
  g = _gaussian()
  assert len(jax.tree.leaves(g)) == 4 and isinstance(g, rbm.RBMState)
  assert jax.jit(lambda s: s)(g).visible == 'gaussian'
  assert jax.tree.map(jnp.negative, g).visible == 'gaussian'
  stacked = jax.vmap(lambda k: rbm.init(k, V, H, visible='gaussian'))(
      jax.random.split(jax.random.key(3), 2))
  assert stacked.visible == 'gaussian' and stacked.W.shape == (2, V, H)
  config = train.TrainConfig(visible='gaussian', persistent=True, learning_rate=0.01)
  trainer = train.make_trainer(config)
  opt = trainer.init(g, jax.random.key(4), B)
  x = jax.random.normal(jax.random.key(5), (12, V))
  new, _, _ = train.make_epoch(config, B)(g, opt, x, jax.random.key(6))
  assert new.visible == 'gaussian'
  checkpoint.save(str(tmp_path / 'model'), new)
  loaded, _ = checkpoint.load(str(tmp_path / 'model'))
  assert loaded.visible == 'gaussian'
  for a, b in zip(jax.tree.leaves(loaded), jax.tree.leaves(new)):
    np.testing.assert_array_equal(a, b)
  assert rbm.init(jax.random.key(0), V, H).visible == 'bernoulli'
  assert rbm.dense(g.W, g.b, g.c).visible == 'bernoulli'


def _refusals():
  g, b = _gaussian(), rbm.init(jax.random.key(0), V, H)
  key = jax.random.key(0)
  gaussian_trainer = train.make_trainer(train.TrainConfig(visible='gaussian'))
  return {
      'binary model, Gaussian trainer': (
          lambda: gaussian_trainer.init(b, key, B), "has 'bernoulli' visible units"),
      'Gaussian model, binary trainer': (
          lambda: train.make_trainer(train.TrainConfig()).init(g, key, B),
          "has 'gaussian' visible units"),
      'binary AIS of a Gaussian model': (
          lambda: estimators.ais_log_partition(key, g, num_runs=4, betas=10,
                                               base_visible_bias='uniform'),
          'gaussian_ais_log_partition'),
      'pseudo-likelihood of a Gaussian model': (
          lambda: estimators.pseudo_log_likelihood(g, jnp.zeros((2, V))),
          'binary visible units'),
      'label units on Gaussian units': (
          lambda: estimators.exact_log_partition(g, label_units=2), 'label units'),
      'log_likelihood of the other type': (
          lambda: units.log_likelihood(b, jnp.zeros((2, V)), 0.0, 'gaussian'),
          "'bernoulli' visible units"),
      'non-binary data to a binary model': (
          lambda: units.log_likelihood(b, jnp.full((2, V), 0.5), 0.0), 'not binary'),
      'unknown visible type': (
          lambda: rbm.init(key, V, H, visible='poisson'), 'unknown visible unit type'),
  }


@pytest.mark.parametrize('name', list(_refusals()))
def test_a_model_of_the_other_type_is_refused(name):
  call, match = _refusals()[name]
  with pytest.raises(InputError, match=match) as info:
    call()
  assert '\n' not in str(info.value)


def _data_cases():
  x = _binary_x()
  return {
      'non-binary numpy': (x * 0.5, 'bernoulli', B, 'not binary'),
      'non-binary on the device': (jnp.asarray(x) * 0.5, 'bernoulli', B, 'not binary'),
      'integers': (x.astype(np.int32), 'bernoulli', B, 'int32'),
      'wrong width': (x[:, :V - 1], 'bernoulli', B, f'{V - 1} features'),
      'one example as a vector': (x[0], 'bernoulli', B, 'must be a'),
      'batch larger than the data set': (x, 'bernoulli', len(x) + 1, 'larger than the 12'),
      'NaN for Gaussian units': (np.where(x > 0, np.nan, 0.0).astype(np.float32),
                                 'gaussian', B, 'NaN'),
  }


@pytest.mark.parametrize('population', [False, True])
@pytest.mark.parametrize('name', list(_data_cases()))
def test_training_data_that_do_not_fit_are_refused(name, population):
  x, visible, batch_size, match = _data_cases()[name]
  config = train.TrainConfig(visible=visible)
  trainer = train.make_trainer(config)
  state = rbm.init(jax.random.key(0), V, H, visible=visible)
  opt = trainer.init(state, jax.random.key(1), B)
  key = jax.random.key(2)
  if population:
    stack = lambda t: jax.tree.map(lambda a: a[None], t)
    state, opt, key = stack(state), stack(opt), key[None]
  epoch = train.make_epoch(config, batch_size, population=population)
  with pytest.raises(InputError, match=match) as info:
    epoch(state, opt, x, key)
  assert '\n' not in str(info.value)


def test_the_step_checks_its_minibatch_and_good_data_train():
  config = train.TrainConfig()
  trainer = train.make_trainer(config)
  state = rbm.init(jax.random.key(0), V, H)
  opt = trainer.init(state, jax.random.key(1), B)
  x = _binary_x()
  with pytest.raises(InputError, match='the minibatch is not binary'):
    trainer.step(state, opt, x[:B] * 0.5, jax.random.key(2))
  with pytest.raises(InputError, match='int32'):  # static: also under jit
    jax.jit(trainer.step)(state, opt, x[:B].astype(np.int32), jax.random.key(2))
  new, _, metrics = train.make_epoch(config, B)(state, opt, x, jax.random.key(3))
  assert np.isfinite(float(metrics.reconstruction_error))
  assert not np.array_equal(new.W, state.W)
  # a one-hot label block is binary data too; Gaussian units take real data
  g_config = train.TrainConfig(visible='gaussian')
  g = rbm.init(jax.random.key(0), V, H, visible='gaussian')
  g_opt = train.make_trainer(g_config).init(g, jax.random.key(1), B)
  train.make_epoch(g_config, B)(g, g_opt, x * 0.3 - 1.0, jax.random.key(3))

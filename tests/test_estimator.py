"""ncg.RBM: the scikit-learn-style estimator over the functional API.

scikit-learn's own estimator checks (all that apply to a transformer: they
feed it real-valued data, so the instance binarizes at 0.5), fit = repeated
partial_fit bit for bit, the functional API's numbers, exact versus AIS
scores, save/load, the callback and a Pipeline. The estimator also works
without scikit-learn (tests/test_packaging.py fits one with it blocked).
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ncg
from ncg import estimators, rbm, train, units
from ncg.errors import InputError

sklearn = pytest.importorskip('sklearn')
from sklearn.utils.estimator_checks import parametrize_with_checks  # pylint: disable=g-import-not-at-top,wrong-import-position


@pytest.fixture(autouse=True)
def _float32():
  with jax.enable_x64(False):
    yield


def _x(n=40, v=10, seed=0):
  return (np.random.RandomState(seed).rand(n, v) < 0.35).astype(np.float32)


@parametrize_with_checks([ncg.RBM(3, epochs=1, batch_size=8, binarize=0.5)])
def test_scikit_learn_estimator_checks(estimator, check):
  with warnings.catch_warnings():
    warnings.simplefilter('ignore')
    with jax.enable_x64(False):
      check(estimator)


def test_fit_equals_partial_fit_epochs_and_the_functional_api():
  x = _x()
  fitted = ncg.RBM(5, epochs=3, batch_size=8, persistent=True, seed=4).fit(x)
  stepped = ncg.RBM(5, epochs=99, batch_size=8, persistent=True, seed=4)
  for _ in range(3):
    stepped.partial_fit(x)
  assert stepped.n_iter_ == fitted.n_iter_ == 3 and len(fitted.history_) == 3
  np.testing.assert_array_equal(stepped.components_, fitted.components_)
  np.testing.assert_array_equal(stepped.strength_, fitted.strength_)
  # the same three epochs through the functional API
  config = train.TrainConfig(k=1, persistent=True, learning_rate=0.05)
  key_init, key_chains = jax.random.split(jax.random.key(4))
  state = rbm.init(key_init, 10, 5, weight_init='normal', weight_scale=0.01,
                   visible_bias=rbm.base_rate_visible_bias(jnp.asarray(x)))
  opt = train.make_trainer(config).init(state, key_chains, 8)
  epoch = train.make_epoch(config, 8)
  for e in range(3):
    state, opt, m = epoch(state, opt, jnp.asarray(x), jax.random.fold_in(jax.random.key(5), e))
  np.testing.assert_array_equal(fitted.components_, np.asarray(rbm.effective_weights(state)).T)
  assert fitted.history_[-1]['density'] == float(m.density)
  np.testing.assert_allclose(fitted.transform(x), rbm.hidden_probs(state, jnp.asarray(x)),
                             rtol=0, atol=0)


def test_scores_say_how_they_were_computed():
  x = _x()
  small = ncg.RBM(6, epochs=2, batch_size=8).fit(x)
  log_p = small.score_samples(x)
  assert small.score_method_ == 'exact'
  exact = estimators.exact_log_partition(small.state_)
  np.testing.assert_allclose(log_p, estimators.log_likelihood(small.state_, jnp.asarray(x),
                                                              exact), rtol=1e-6)
  np.testing.assert_allclose(small.score_samples(x[:7]), log_p[:7], rtol=0, atol=0)
  ais = ncg.RBM(6, epochs=2, batch_size=8, exact_max_log2=2, ais_runs=32,
                ais_temperatures=200).fit(x)
  ais_log_p = ais.score_samples(x)
  assert ais.score_method_ == 'ais'
  assert abs(ais.log_partition_ - small.log_partition_) < 0.05   # same model, AIS vs exact
  assert abs(float(np.mean(ais_log_p)) - small.score(x)) < 0.05
  gaussian = ncg.RBM(3, epochs=2, batch_size=8, visible='gaussian',
                     learning_rate=0.01).fit(np.random.RandomState(1).randn(40, 4))
  assert gaussian.state_.visible == 'gaussian'
  g_log_p = gaussian.score_samples(np.zeros((2, 4)))
  assert gaussian.score_method_ == 'exact' and np.all(np.isfinite(g_log_p))
  np.testing.assert_allclose(   # a Gaussian density: −F(v) − log Z of Gaussian units
      g_log_p, units.log_likelihood(gaussian.state_, jnp.zeros((2, 4)),
                                        units.gaussian_exact_log_partition(
                                            gaussian.state_)), rtol=1e-5)


def test_save_load_callback_sample_and_errors(tmp_path):
  x = _x()
  seen = []

  def stop_after_two(estimator, epoch, metrics):
    seen.append((epoch, metrics['density']))
    return epoch < 2
  model = ncg.RBM(5, epochs=5, batch_size=8, connectivity='ncg', density=0.5,
                  callback=stop_after_two).fit(x)
  assert [e for e, _ in seen] == [1, 2] and model.n_iter_ == 2
  model.save(str(tmp_path / 'm'))
  loaded = ncg.RBM.load(str(tmp_path / 'm'))
  np.testing.assert_array_equal(loaded.transform(x), model.transform(x))
  assert loaded.history_ == model.history_ and loaded.get_params()['density'] == 0.5
  loaded.partial_fit(x)
  model.partial_fit(x)                             # training resumes identically
  np.testing.assert_array_equal(loaded.components_, model.components_)
  samples = model.sample(6, steps=20)
  assert samples.shape == (6, 10) and set(np.unique(samples)) <= {0.0, 1.0}
  np.testing.assert_array_equal(samples, model.sample(6, steps=20))
  with pytest.raises(InputError, match='not binary'):
    ncg.RBM(3).fit(x * 0.5)
  with pytest.raises(InputError, match='fewer than the batch size'):
    model.partial_fit(x[:3])


def test_in_a_pipeline():
  """A Pipeline (RBM → logistic regression) fits, predicts as its two steps
  do by hand, and clones (get_params/set_params round-trip)."""
  from sklearn.base import clone  # pylint: disable=g-import-not-at-top
  from sklearn.linear_model import LogisticRegression  # pylint: disable=g-import-not-at-top
  from sklearn.pipeline import make_pipeline  # pylint: disable=g-import-not-at-top
  x = _x()
  y = (x[:, 0] + x[:, 1] > 0).astype(int)
  pipe = make_pipeline(ncg.RBM(5, epochs=2, batch_size=8), LogisticRegression()).fit(x, y)
  features = pipe[0].transform(x)
  np.testing.assert_array_equal(pipe.predict(x), pipe[1].predict(features))
  twin = clone(pipe).set_params(rbm__num_hidden=5).fit(x, y)
  np.testing.assert_array_equal(twin[0].components_, pipe[0].components_)

"""experiments/beside.py: the baseline's config, its start, its checks."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from experiments import beside
from experiments import rbm_run
from experiments.configs import default, tiny
from ncg import rbm
from ncg.errors import InputError


def test_the_dense_baseline_starts_where_the_run_starts():
  config = tiny.get_config()
  dense = beside.baseline_config(config, 'dense')
  assert dense.train.connectivity == 'dense' and dense.train.baseline == ''
  assert dense.model.density == 1.0 and config.model.density == 0.5  # a copy
  x = jax.numpy.asarray((np.random.RandomState(0).rand(20, 784) < 0.3), jax.numpy.float32)
  key = jax.random.key(config.train.seed)
  ncg_start = rbm_run.initial_state(config, x, 0, key)
  dense_start = rbm_run.initial_state(dense, x, 0, key)
  for a, b in ((ncg_start.W, dense_start.W), (ncg_start.b, dense_start.b),
               (ncg_start.c, dense_start.c)):
    np.testing.assert_array_equal(a, b)               # the same weights and biases
  assert float(rbm.density(dense_start)) == 1.0 and float(rbm.density(ncg_start)) < 0.6


def test_which_baseline():
  assert default.get_config().train.baseline == 'dense'   # the default run's
  assert tiny.get_config().train.baseline == ''
  config = default.get_config()
  with config.unlocked():
    config.train.connectivity = 'dense'
  assert beside.baseline_mode(config) == ''          # nothing to compare with
  config.train.baseline = 'sparse'
  with pytest.raises(InputError, match='train.baseline must be'):
    beside.baseline_mode(config)

"""The uniform AIS base model is a deliberate choice, never a silent default."""

import jax
import pytest

from ncg import estimators
from ncg import rbm
from ncg.errors import InputError


def test_ais_without_a_base_warns_and_uniform_is_explicit():
  state = rbm.init(jax.random.key(0), 10, 4)
  with pytest.warns(estimators.UniformBaseWarning, match='base_rate_visible_bias'):
    implicit = estimators.ais_log_partition(jax.random.key(1), state,
                                            num_runs=4, betas=50)
  explicit = estimators.ais_log_partition(jax.random.key(1), state, num_runs=4,
                                          betas=50, base_visible_bias='uniform')
  assert float(implicit.log_z) == float(explicit.log_z)
  with pytest.raises(InputError, match="'uniform'"):
    estimators.ais_log_partition(jax.random.key(1), state, num_runs=4,
                                 betas=50, base_visible_bias='data')

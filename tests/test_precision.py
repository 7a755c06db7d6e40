"""The estimators' matmuls carry HIGHEST precision in the lowered program.

A CPU ignores the setting, so the check reads the program, not the numbers;
the training step keeps the backend default.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ncg import ais_kernels
from ncg import classification
from ncg import errors
from ncg import estimators
from ncg import precision
from ncg import rbm
from ncg import train
from ncg import units

HIGHEST = 'precision = [HIGHEST, HIGHEST]'


def _dots(text):
  return [l for l in text.splitlines() if 'dot_general' in l]


def _all_highest(lowered):
  dots = _dots(lowered.as_text())
  assert dots, 'no matmul in the program'
  return all(HIGHEST in d for d in dots)


def _state():
  return rbm.init(jax.random.key(0), 6, 4, density=0.7)


def test_estimators_lower_every_matmul_at_highest_precision():
  state = _state()
  v = jnp.ones((3, 6))
  assert _all_highest(estimators.exact_log_partition.lower(state))
  assert _all_highest(estimators.log_likelihood.lower(state, v, 0.0))
  assert _all_highest(estimators.pseudo_log_likelihood.lower(state, v))
  betas = jnp.asarray(estimators.ais_betas(10))
  assert _all_highest(ais_kernels.bernoulli_log_weights.lower(
      jax.random.key(1), state, betas.astype(jnp.float32), jnp.zeros(6, jnp.float32), num_runs=4, label_units=0))
  joint = train.connect_label_units(_state(), 2)
  assert _all_highest(classification.label_log_probs.lower(joint, v[:, :4], 2))
  gauss = _state()
  assert _all_highest(units.gaussian_exact_log_partition.lower(gauss))
  assert _all_highest(ais_kernels.gaussian_log_weights.lower(
      jax.random.key(1), gauss, betas.astype(jnp.float32), num_runs=4))
  # Whatever the caller asks for around it.
  with jax.default_matmul_precision('bfloat16'):
    assert _all_highest(jax.jit(estimators.exact_log_partition).lower(state))


def _step_dots(**config):
  state = _state()
  trainer = train.make_trainer(train.TrainConfig(k=1, **config))
  lowered = jax.jit(trainer.step).lower(
      state, trainer.init(state, jax.random.key(0), 3), jnp.ones((3, 6)),
      jax.random.key(2))
  dots = _dots(lowered.as_text())
  assert dots, 'no matmul in the step'
  return dots


def test_the_training_step_keeps_the_backend_default():
  dots = _step_dots()
  assert not any('HIGHEST' in d or 'algorithm' in d for d in dots)


def test_training_precision_is_selectable():
  # bfloat16 operands, float32 accumulation and float32 arrays in and out.
  bf16 = 'lhs_precision_type = bf16, rhs_precision_type = bf16, accumulation_type = f32'
  assert all(bf16 in d and '-> tensor' in d and 'xf32>' in d.split('->')[-1]
             for d in _step_dots(matmul_precision='bfloat16'))
  assert all(HIGHEST in d for d in _step_dots(matmul_precision='float32'))
  with pytest.raises(errors.InputError, match='matmul_precision'):
    train.TrainConfig(matmul_precision='tf32')


def test_environment_names_backend_versions_and_precision():
  env = precision.environment()
  assert env['backend'] == jax.default_backend()
  assert env['jax_version'] == jax.__version__
  assert env['estimator_matmul_precision'] == 'highest'
  assert np.isfinite(float(estimators.exact_log_partition(_state())))

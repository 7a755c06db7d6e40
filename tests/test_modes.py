"""ncg.modes: every connectivity mode describes itself consistently.

The table's descriptive columns agree with what the trainer does (a dense
mask means training from density 1 keeps every connection; a mode that
records a setting reads it), and the report label is built from the row.
"""

from __future__ import annotations

import jax
import pytest

from ncg import modes
from ncg import rbm
from ncg import train


def test_the_table_is_the_trainers_and_its_derived_lists_follow_it():
  assert train.MODES is modes.MODES and train.Mode is modes.Mode
  assert train.CONNECTIVITY_MODES == tuple(modes.MODES)
  assert modes.DENSE_MODES == ('dense', 'l1')
  assert modes.RECORDED == ('rewire_fraction', 'l1_penalty')
  for name, mode in modes.MODES.items():
    assert mode.label, name
    assert not mode.needs_gradient or mode.rewire is not None, name
    assert not mode.spans_run or mode.rewire is not None, name
    assert set(mode.records) <= set(f for f, _ in mode.shows), name
    for field in mode.records + tuple(f for f, _ in mode.shows):
      assert hasattr(train.TrainConfig(), field), (name, field)


@pytest.mark.parametrize('name', modes.CONNECTIVITY_MODES)
def test_a_dense_mask_mode_trains_with_every_connection(name):
  config = train.TrainConfig(connectivity=name, k=1, learning_rate=0.1,
                             rewire_fraction=0.3)
  trainer = train.make_trainer(config)
  state = rbm.init(jax.random.key(0), 6, 4, density=1.0)
  trainer_state = trainer.init(state, jax.random.key(2), 8)
  x = (jax.random.uniform(jax.random.key(1), (8, 6)) < 0.5).astype('float32')
  for i in range(3):
    state, trainer_state, _ = trainer.step(state, trainer_state, x, jax.random.key(i))
    if trainer.rewire is not None:
      state, trainer_state, _, _ = trainer.rewire(state, trainer_state, x,
                                                  jax.random.key(10 + i))
    assert trainer.rewire is None or not modes.MODES[name].dense_mask
  if modes.MODES[name].dense_mask:
    assert float(rbm.density(state)) == 1.0


def test_recorded_settings_and_labels():
  config = train.TrainConfig(connectivity='l1', l1_penalty=0.01, rewire_fraction=0.3)
  assert modes.recorded_settings('l1', config) == {
      'rewire_fraction': None, 'l1_penalty': 0.01}
  assert modes.recorded_settings('rigl', config) == {
      'rewire_fraction': 0.3, 'l1_penalty': None}
  assert modes.recorded_settings('ncg', config) == {
      'rewire_fraction': None, 'l1_penalty': None}
  assert modes.label('set', {'rewire_fraction': 0.3}) == (
      "SET at NCG's final density (ζ = 0.3)")
  assert modes.label('l1', {'l1_penalty': 1e-3, 'magnitude_threshold': 0.01}) == (
      'dense + L1 (λ = 0.001, τ = 0.01)')
  assert modes.label('l1', {'l1_penalty': None}) == 'dense + L1'
  assert modes.label('ncg', {}) == 'NCG'

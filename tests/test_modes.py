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
from tests.conftest import jit_call


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
  state = jit_call(rbm.init, jax.random.key(0), 6, 4, density=1.0)
  trainer_state = jit_call(trainer.init, state, jax.random.key(2), 8)
  x = (jax.random.uniform(jax.random.key(1), (8, 6)) < 0.5).astype('float32')
  step = jax.jit(trainer.step)                     # one program for the three steps
  rewire = None if trainer.rewire is None else jax.jit(trainer.rewire)
  for i in range(3):
    state, trainer_state, _ = step(state, trainer_state, x, jax.random.key(i))
    if rewire is not None:
      state, trainer_state, _, _ = rewire(state, trainer_state, x, jax.random.key(10 + i))
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


def test_the_run_layer_reads_the_table():
  """The summary's mode settings, extensibility and the cross-study names
  come from the rows (experiments/rbm_run.py, experiments/rbm_readings.py)."""
  from experiments import rbm_readings, rbm_run  # pylint: disable=g-import-not-at-top
  from experiments.configs import default  # pylint: disable=g-import-not-at-top
  config = default.get_config()
  record = {'epoch': 1, 'density': 0.5, 'added': 0, 'removed': 0, 'seconds': 1.0}
  for name, mode in modes.MODES.items():
    assert mode.short and mode.label.startswith(mode.short.split()[0]), name
    with config.unlocked():
      config.train.connectivity = name
    summary = rbm_run.summary_record(config, [record])
    for field in modes.RECORDED:
      assert summary[field] == (config.train[field] if field in mode.records
                                else None), (name, field)
    assert (rbm_run.growable_fields(config) == ()) == mode.spans_run, name
    run = {'connectivity': name, 'density0': 0.1, 'learning_rate': 0.1,
           'l1_penalty': 1e-3, 'weight_init': 'normal'}
    assert rbm_readings.family(run).startswith(mode.short), name
  assert [rbm_readings.family({'connectivity': n, 'density0': 0.1,
                               'learning_rate': 0.1, 'l1_penalty': 1e-3,
                               'density_from': 'x'})
          for n in modes.MODES] == [
      'NCG from p = 0.1', 'dense', "fixed random mask at NCG's density",
      "SET at NCG's density", "RigL at NCG's density", 'dense + L1 (λ = 0.001)']

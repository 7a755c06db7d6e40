"""ncg/checkpoint.py: a model saved, moved elsewhere and loaded without any
template or data gives identical arrays, types and metadata."""

from __future__ import annotations

import json
import os
import shutil

import jax
import numpy as np
import pytest

from ncg import checkpoint
from ncg import rbm
from ncg.errors import InputError


def test_saved_model_loads_elsewhere_with_identical_parameters(tmp_path):
  state = rbm.init(jax.random.key(3), 12, 5, density=0.4)
  path = checkpoint.save(str(tmp_path / 'a' / 'model'), state,
                         {'label_units': 2, 'config': {'model': {'num_hidden': 5}}})
  # Saving again replaces the model in place (no temporary left beside it).
  other = state._replace(c=state.c + 1)
  checkpoint.save(path, other, {'label_units': 2})
  assert sorted(os.listdir(tmp_path / 'a')) == ['model']
  moved = str(tmp_path / 'elsewhere')
  shutil.move(path, moved)

  loaded, metadata = checkpoint.load(moved)
  assert isinstance(loaded, rbm.RBMState)
  for name in rbm.RBMState._fields:
    a, b = np.asarray(getattr(other, name)), np.asarray(getattr(loaded, name))
    assert a.dtype == b.dtype and np.array_equal(a, b), name
  assert metadata['label_units'] == 2 and 'config' not in metadata
  assert metadata['shapes'] == {'W': [12, 5], 'b': [12], 'c': [5], 'strength': [12, 5]}
  assert metadata['state_type'] == 'ncg.rbm.RBMState'
  assert metadata['versions']['jax'] == jax.__version__


def test_nested_dicts_and_lists_round_trip(tmp_path):
  tree = {'theta': [np.arange(3, dtype=np.float32), np.zeros(2, np.float32)],
          'dense': {'w': np.eye(2, dtype=np.float32), 'step': np.int32(7)}}
  loaded, metadata = checkpoint.load(checkpoint.save(str(tmp_path / 'm'), tree))
  assert isinstance(loaded['theta'], list) and len(loaded['theta']) == 2
  assert np.array_equal(loaded['theta'][0], tree['theta'][0])
  assert np.array_equal(loaded['dense']['w'], tree['dense']['w'])
  assert int(loaded['dense']['step']) == 7 and metadata['state_type'] is None


def test_not_a_model_is_input_error(tmp_path):
  with pytest.raises(InputError, match='not a saved model'):
    checkpoint.load(str(tmp_path))
  (tmp_path / 'metadata.json').write_text(json.dumps({'shapes': {'W': [2, 2]},
                                                      'dtypes': {'W': 'float32'}}))
  with pytest.raises(InputError, match='cannot restore'):
    checkpoint.load(str(tmp_path))
  with pytest.raises(InputError, match='NamedTuple or a non-empty dict'):
    checkpoint.save(str(tmp_path / 'x'), np.zeros(3))

"""Data read too kindly (issue 27, class 6): each is an InputError naming the value.

A LIBSVM value other than 0/1 in a binary data set, intensities outside
[0, 1] given to a binarization, NaN or Inf given to the standardization,
and a directory in the working directory named like a packaged config.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from experiments import configs
from ncg import data
from ncg.errors import InputError


def _libsvm(path, rows):
  with open(path, 'w') as f:
    f.writelines(f'{label} ' + ' '.join(f'{j}:{v}' for j, v in feats) + '\n'
                 for label, feats in rows)


@pytest.mark.parametrize('value', ['2', '0.5', '-1'])
def test_a_libsvm_value_other_than_0_or_1_is_refused(tmp_path, value):
  path = str(tmp_path / 'm.libsvm')
  _libsvm(path, [(1, [(1, 1), (5, 1)]), (2, [(3, 1), (7, value)])])
  with pytest.raises(InputError, match=f'example 2 has the value {float(value):g} '
                     'for feature 7; mushrooms is a data set of one-hot binary'):
    data.load('mushrooms', path=path)


def test_binarization_reads_intensities_in_0_1_only():
  for bad in (1.5, -0.25, np.nan):
    x = np.full((3, 4), 0.5, np.float32)
    x[1, 2] = bad
    for method in ('stochastic', 'threshold'):
      with pytest.raises(InputError, match=r'reads intensities in \[0, 1\].*'
                         r'\(example 1, feature 2\)'):
        data.binarize(x, method, 0)
  x = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
  assert data.is_binary(data.binarize(x, 'stochastic', 0))


def test_standardization_refuses_nan_and_inf():
  for bad in (np.nan, np.inf, -np.inf):
    x = np.ones((5, 3), np.float32)
    x[4, 0] = bad
    with pytest.raises(InputError, match='cannot standardize data holding NaN '
                       r'or Inf: the value .* \(example 4, feature 0\)'):
      data.standardization(x)


def test_a_directory_does_not_shadow_a_packaged_config(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  os.makedirs('mnist')  # the data, beside --config=mnist
  argv = configs.resolve_argv(['train', '--config=mnist', '--config=mnist:x'])
  assert argv[1:] == [f'--config={configs.path("mnist")}',
                      f'--config={configs.path("mnist")}:x']
  open('uci', 'w').close()  # a file of that name is the user's config
  assert configs.resolve_argv(['t', '--config=uci']) == ['t', '--config=uci']

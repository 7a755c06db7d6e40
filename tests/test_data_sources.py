"""ncg.data.SOURCES: the one table of data sets, and the lists written from it.

Pure table checks (no data set is read): the table's names are the module
docstring's list, the default config's comment and the error message; the
run's "needs its files" hints come from the rows.
"""

from __future__ import annotations

import os
import re

import pytest

from experiments import rbm_run
from ncg import data
from ncg.errors import InputError


def test_the_docs_list_is_the_table():
  doc = data.__doc__.split('Sources (')[1].split('Validation examples')[0]
  bullets = re.findall(r'^\* (.*?``):', doc, re.M)  # the names before a bullet's colon
  listed = [name for bullet in bullets
            for name in re.findall(r"``'([^`]+)'``", bullet)]
  assert tuple(listed) == data.SOURCE_NAMES


def test_the_default_configs_comment_is_the_table():
  path = os.path.join(os.path.dirname(rbm_run.__file__), 'configs', 'default.py')
  line = next(l for l in open(path, encoding='utf-8') if 'config.data.name =' in l)
  assert tuple(n.strip() for n in line.split('#')[1].split('|')) == (
      data.SOURCE_NAMES)


def test_the_error_lists_every_name_and_each_name_finds_its_row():
  with pytest.raises(InputError) as error:
    data.source('cifar')
  assert str(error.value) == (
      "unknown data set 'cifar'; choose embedded, mnist_idx, tfds:NAME, "
      'mushrooms, connect4 or bars_and_stripes')
  for name, row in data.SOURCES.items():
    assert data.source(name + ('mnist' if row.prefix else '')) is row
  assert data.source('tfds:fashion_mnist') is data.SOURCES['tfds:']


def test_the_runs_path_hints_are_the_rows():
  assert rbm_run.NEEDS_PATH == {
      'mnist_idx': 'DIR (the four MNIST IDX files)',
      'mushrooms': 'FILE (mushrooms.libsvm)',
      'connect4': 'FILE (connect-4.libsvm[.gz])'}
  for name in rbm_run.NEEDS_PATH:  # a source that needs files refuses none
    with pytest.raises(InputError, match='needs a path'):
      data.load(name)


def test_both_sides_read_the_data_options_alike():
  from experiments.configs import default, prune_tiny  # pylint: disable=g-import-not-at-top
  assert data.options_from(default.get_config().data) == {
      'path': None, 'binarization': 'stochastic', 'seed': 0,
      'validation_size': None, 'bars_size': 4, 'bars_reference_set': False}
  assert data.options_from(prune_tiny.get_config().data, binarization='none') == {
      'path': None, 'validation_size': None, 'binarization': 'none'}

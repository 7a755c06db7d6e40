"""Installed, not only cloned: what a user of the console scripts sees.

Workdir files follow the umask (no 0600 files from temporary-file renames);
JSON files hold null, not 'inf' strings or NaN tokens; packaged configs find
their data through NCG_DATA (or a clone's ../shared/data) and otherwise say
what to pass; config mistakes name the field and the packaged configs; help
texts name the console scripts.
"""

from __future__ import annotations

import json
import math
import os
import stat

import numpy as np
import pytest

from experiments import configs
from experiments import evaluation
from experiments import workdir as workdir_lib
from experiments.configs import mnist, uci
from ncg import checkpoint, rbm


def _mode(path):
  return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize('umask, file_mode, dir_mode', [
    (0o022, 0o644, 0o755), (0o077, 0o600, 0o700), (0o002, 0o664, 0o775)])
def test_written_files_follow_the_umask(tmp_path, umask, file_mode, dir_mode):
  import jax  # pylint: disable=g-import-not-at-top
  old = os.umask(umask)
  try:
    summary = workdir_lib.write_json(str(tmp_path), 'summary.json', {'a': 1})
    result = evaluation.write_new_json(str(tmp_path), 'eval.json', {'b': 2})
    model = checkpoint.save(str(tmp_path / 'model'),
                            rbm.init(jax.random.key(0), 3, 2))
  finally:
    os.umask(old)
  assert _mode(summary) == file_mode and _mode(result) == file_mode
  assert _mode(model) == dir_mode
  assert _mode(os.path.join(model, checkpoint.METADATA_FILE)) == file_mode


def _strict(text):
  def refuse(token):
    raise ValueError(f'non-standard JSON token {token}')
  return json.loads(text, parse_constant=refuse)


def test_json_files_hold_null_for_non_finite_numbers(tmp_path):
  record = {'high': math.inf, 'low': -math.inf, 'nan': math.nan,
            'curve': [1.0, math.nan], 'nested': {'x': -math.inf}, 'ok': 2.5}
  path = workdir_lib.write_json(str(tmp_path), 'summary.json', record)
  text = open(path).read()
  assert '"inf"' not in text and '"-inf"' not in text
  assert _strict(text) == {'high': None, 'low': None, 'nan': None,
                           'curve': [1.0, None], 'nested': {'x': None}, 'ok': 2.5}
  path = evaluation.write_new_json(str(tmp_path), 'eval.json', record)
  assert _strict(open(path).read())['curve'] == [1.0, None]
  assert evaluation.json_safe(-math.inf) is None and evaluation.json_safe(1.5) == 1.5
  # the headline reads a null upper end (and an older file's 'inf') as unbounded
  for high in (None, 'inf'):
    line = evaluation.headline({'test_log_likelihood_ais': -80.0,
                                'test_log_likelihood_ais_low': -85.0,
                                'test_log_likelihood_ais_high': high})
    assert '(≥ -85.0 at 3σ, unbounded above)' in line
    assert 'tighten it: ncg-evaluate' in line


def test_packaged_configs_find_their_data_or_leave_it_unset(tmp_path, monkeypatch):
  monkeypatch.delenv(configs.DATA_VARIABLE, raising=False)
  monkeypatch.chdir(tmp_path)                       # no ../shared/data here
  assert uci.get_config().data.path == '' and mnist.get_config().data.path == ''
  for name in configs.names():
    text = json.dumps(_config(name).to_dict(), default=str)
    assert 'shared' not in text, name
  monkeypatch.setenv(configs.DATA_VARIABLE, str(tmp_path / 'data'))
  assert uci.get_config().data.path == str(tmp_path / 'data' / 'uci' / 'mushrooms.libsvm')
  assert mnist.get_config().data.path == str(tmp_path / 'data' / 'mnist')
  monkeypatch.delenv(configs.DATA_VARIABLE)
  os.makedirs(tmp_path / 'clone')
  os.makedirs(tmp_path / 'shared' / 'data' / 'mnist')
  monkeypatch.chdir(tmp_path / 'clone')              # a clone beside shared/
  assert mnist.get_config().data.path == os.path.join('..', 'shared', 'data', 'mnist')


def _config(name):
  import importlib  # pylint: disable=g-import-not-at-top
  return importlib.import_module(f'experiments.configs.{name}').get_config()


def test_config_mistakes_name_the_field_and_the_packaged_configs():
  error = AttributeError(KeyError('\'epochz\'\nDid you mean "epochs" instead of "epochz"?'))
  assert configs.unknown_field(error) == ('epochz', 'epochs')
  assert configs.unknown_field(KeyError('nope')) == ('nope', None)
  text = configs.describe_missing('mnsit')
  assert 'mnsit is neither a file nor a packaged config' in text
  assert all(name in text for name in ('default', 'mnist', 'uci', 'tiny'))


def test_help_texts_name_the_console_scripts():
  """--help prints the entry module's docstring (read here without importing
  the module, which would define its flags)."""
  import ast  # pylint: disable=g-import-not-at-top
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  for module, script in (('train', 'ncg-train'), ('sweep', 'ncg-sweep'),
                         ('evaluate', 'ncg-evaluate')):
    with open(os.path.join(root, 'experiments', f'{module}.py')) as f:
      doc = ast.get_docstring(ast.parse(f.read()))
    assert script in doc
    assert 'experiments/configs/' not in doc and '../shared' not in doc


def test_filters_figure_is_legible(tmp_path):
  """64 filters of 28×28 at 1 inch and 150 dpi: ≥ 100 pixels per filter."""
  from experiments import figures  # pylint: disable=g-import-not-at-top
  from experiments import sinks  # pylint: disable=g-import-not-at-top
  w = np.random.RandomState(0).standard_normal((64, 784)) * np.linspace(0.01, 1, 64)[:, None]
  path = figures.image_grid(str(tmp_path / 'f.png'), w, (28, 28), symmetric=True,
                            per_image=True, cell_inches=1.0, dpi=150)
  height, width = sinks.png_size(open(path, 'rb').read())
  assert width >= 8 * 100 and height >= 8 * 100

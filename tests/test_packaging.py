"""Packaging: the core needs jax, optax and numpy only; the console scripts resolve.

A fresh virtual environment per test would take minutes, so the core test
runs in a subprocess whose import system refuses every package outside the
core's dependencies (an import hook): ``import ncg``, every core module, a
training epoch, exact and AIS log Z and the embedded digits must work there.
"""

import ast
import importlib.util
import json
import os
import subprocess
import sys
import tomllib

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORE = ('jax', 'optax', 'numpy')

# Importable in the real environment, forbidden in the core subprocess: every
# package of the extras (and what they pull in). absl-py is not here: optax
# requires it.
NOT_CORE = ('ml_collections', 'orbax', 'matplotlib',
            'tensorflow_datasets', 'tensorflow', 'sklearn', 'mlxtend', 'flax',
            'tqdm', 'pandas', 'pyarrow', 'tensorstore', 'PIL', 'hypothesis',
            'pytest', 'etils', 'array_record', 'experiments', 'tests')

CORE_SCRIPT = r'''
import importlib.abc, json, pkgutil, sys
BLOCKED = set(sys.argv[1].split(','))

class Block(importlib.abc.MetaPathFinder):
  def find_spec(self, name, path=None, target=None):
    if name.split('.')[0] in BLOCKED:
      raise ImportError(f'{name} is not a core dependency of ncg')
    return None

sys.meta_path.insert(0, Block())
import jax
import jax.numpy as jnp
import numpy as np
import ncg
modules = sorted(m.name for m in pkgutil.walk_packages(ncg.__path__, 'ncg.')
                 if not m.name.startswith('ncg.parsimonious'))
for name in modules:
  __import__(name)
from ncg import data, estimators, rbm, train

key = jax.random.key(0)
x = jnp.asarray(data.load('bars_and_stripes', bars_size=3).train.x)  # (14, 9)
state = rbm.init(key, 9, 4, density=0.5)
config = train.TrainConfig(k=1, connectivity='ncg', learning_rate=0.1)
opt_state = train.make_trainer(config).init(state, key, batch_size=7)
epoch = train.make_epoch(config, batch_size=7)
state, opt_state, metrics = epoch(state, opt_state, x, jax.random.key(1))
exact = float(estimators.exact_log_partition(state))
ais = estimators.ais_log_partition(jax.random.key(2), state, num_runs=16,
                                   betas=estimators.ais_betas(200),
                                   base_visible_bias='uniform')
digits = data.load('embedded')
estimator = ncg.RBM(3, epochs=1, batch_size=7).fit(np.asarray(x))  # no scikit-learn
features = estimator.transform(np.asarray(x)).shape
try:
  import ncg.parsimonious
  prune_error = None
except ImportError as e:
  prune_error = str(e)
loaded = sorted({m.split('.')[0] for m in sys.modules} & BLOCKED)
print(json.dumps({'version': ncg.__version__, 'modules': modules,
                  'exact': exact, 'ais': float(ais.log_z),
                  'density': float(metrics.density),
                  'digits': list(digits.train.x.shape), 'loaded': loaded,
                  'features': list(features), 'params': sorted(estimator.get_params()),
                  'prune_error': prune_error}))
'''


def _pyproject():
  with open(os.path.join(ROOT, 'pyproject.toml'), 'rb') as f:
    return tomllib.load(f)


def test_core_runs_without_any_extra(tmp_path):
  result = subprocess.run(
      [sys.executable, '-c', CORE_SCRIPT, ','.join(NOT_CORE)], cwd=tmp_path,
      capture_output=True, text=True, timeout=300,
      env={**os.environ, 'JAX_PLATFORMS': 'cpu'})
  assert result.returncode == 0, result.stderr[-3000:]
  out = json.loads(result.stdout.strip().splitlines()[-1])
  assert out['loaded'] == []
  assert {'ncg.rbm', 'ncg.train', 'ncg.estimators', 'ncg.data',
          'ncg.classification', 'ncg.sampling'} <= set(out['modules'])
  # AIS against the exact value on a 9×4 model (16 runs, 200 temperatures).
  assert abs(out['ais'] - out['exact']) < 0.5, out
  assert 0.0 < out['density'] <= 1.0
  assert out['digits'] == [3500, 784]
  assert out['features'] == [14, 3] and 'num_hidden' in out['params']  # ncg.RBM
  assert out['prune_error'] == "ncg.parsimonious needs flax: pip install 'ncg[prune]'"
  assert out['version'] == _pyproject_version()


def _pyproject_version():
  tree = ast.parse(open(os.path.join(ROOT, 'ncg', '__init__.py')).read())
  for node in tree.body:
    if (isinstance(node, ast.Assign) and
        getattr(node.targets[0], 'id', None) == '__version__'):
      return node.value.value
  raise AssertionError('ncg/__init__.py defines no __version__')


def test_metadata_core_dependencies_and_extras():
  project = _pyproject()['project']
  names = [d.split('>')[0].split('=')[0].split('[')[0].strip()
           for d in project['dependencies']]
  assert sorted(names) == sorted(CORE)
  extras = project['optional-dependencies']
  assert {'data', 'experiments', 'prune', 'peers', 'all', 'dev'} <= set(extras)
  assert any('ncg[' in d and 'experiments' in d for d in extras['all'])
  assert 'ncg[all]' in extras['dev']
  assert project['license'] == 'Apache-2.0'
  for name in ('LICENSE', 'CITATION.cff', os.path.join('ncg', 'embedded', 'mnist_5k.npz')):
    assert os.path.isfile(os.path.join(ROOT, name)), name


def test_console_scripts_resolve_and_default_configs_ship():
  """Every console script names a function of an entry module; default configs
  are absolute paths inside the package (no cwd dependence)."""
  scripts = _pyproject()['project']['scripts']
  assert set(scripts) == {'ncg-train', 'ncg-sweep', 'ncg-evaluate',
                          'ncg-prune', 'ncg-report', 'ncg-benchmark'}
  for script, target in scripts.items():
    module, function = target.split(':')
    spec = importlib.util.find_spec(module)
    assert spec is not None, script
    tree = ast.parse(open(spec.origin).read())
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert function in functions, (script, target)
    # `python -m` runs the same function.
    assert f'{function}()' in ast.unparse(tree.body[-1]), script
    for call in ast.walk(tree):
      if (isinstance(call, ast.Call) and
          ast.unparse(call.func) == 'configs.define_flag'):
        name = call.args[0].value
        from experiments import configs  # pylint: disable=g-import-not-at-top
        assert os.path.isabs(configs.path(name))
        assert os.path.isfile(configs.path(name)), (script, name)
  from experiments import configs  # pylint: disable=g-import-not-at-top
  argv = configs.resolve_argv(['x', '--config=mnist', '--config.train.k=1',
                               '--config=no_such_config'])
  assert argv[1] == '--config=' + configs.path('mnist')
  assert argv[2:] == ['--config.train.k=1', '--config=no_such_config']


def test_installed_console_script_runs_from_elsewhere(tmp_path):
  """The installed ncg-train, run from an empty directory, loads its default
  config from the package: an unknown field is reported against it (exit 2)."""
  script = os.path.join(os.path.dirname(sys.executable), 'ncg-train')
  if not os.path.isfile(script):
    pytest.skip('ncg-train is not installed (pip install -e .)')
  result = subprocess.run([script, '--config.train.no_such_field=1'],
                          cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
  assert result.returncode == 2, result.stderr[-2000:]
  assert result.stderr.strip() == (
      "error: unknown config field 'no_such_field' in "
      '--config.train.no_such_field=1; --help lists the fields that exist')
  assert os.listdir(tmp_path) == []

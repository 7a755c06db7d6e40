"""Bad input at every entry point: one `error:` line, exit 2, nothing changed on disk.

A table of mistyped flags, out-of-range or mistyped config values, missing or
broken config files, unknown fields, damaged data files, unusable workdirs and
foreign checkpoints, run through experiments/train.py, evaluate.py, sweep.py
and prune.py. To stay fast, one
process imports the libraries once and forks a child per case that runs
``python -m <entry point> <flags>`` as a shell would (``runpy``).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import struct
import subprocess
import sys

import jax.numpy as jnp
import pytest

from experiments import workdir as workdir_lib
from experiments.configs import bars_and_stripes
from experiments.configs import prune_tiny
from tests.conftest import ROOT

# Runs every case as `python -m <module> <argv>` would, in a child forked from
# one process that imported the heavy libraries once (no JAX computation runs
# before the fork, so the children start JAX afresh).
DRIVER = os.path.join(ROOT, 'tests', 'entry_driver.py')

BARS = 'experiments/configs/bars_and_stripes.py'
PRUNE = 'experiments/configs/prune_tiny.py'


def _train(*args, workdir='{case}/w'):
  return ('experiments.train', [f'--config={BARS}', *args, f'--workdir={workdir}'])


def _sweep(*args):
  return ('experiments.sweep', [f'--config={BARS}', *args, '--workdir={case}/w'])


def _prune(*args):
  return ('experiments.prune', [f'--config={PRUNE}', *args, '--workdir={case}/w'])


def _evaluate(*args, workdir='{case}/w'):
  return ('experiments.evaluate', [f'--workdir={workdir}', '--ais_runs=4',
                                   '--ais_temperatures=10', *args])


# ---- files the cases start from (written into the case's directory) ----

def _mnist_dir(case, images: bytes, name='train-images-idx3-ubyte.gz'):
  d = os.path.join(case, 'mnist')
  os.makedirs(d)
  with open(os.path.join(d, name), 'wb') as f:
    f.write(images)
  return d


def truncated_gzip_idx(case):
  body = struct.pack('>4I', 2051, 2, 28, 28) + bytes(2 * 784)
  _mnist_dir(case, gzip.compress(body)[:-12])


def corrupt_gzip_idx(case):
  data = bytearray(gzip.compress(struct.pack('>4I', 2051, 2, 28, 28) + bytes(1568)))
  data[20] ^= 0xFF
  _mnist_dir(case, bytes(data))


def empty_idx(case):
  _mnist_dir(case, b'', name='train-images-idx3-ubyte')


def truncated_raw_idx(case):
  _mnist_dir(case, struct.pack('>4I', 2051, 2, 28, 28) + bytes(100),
             name='train-images-idx3-ubyte')


def empty_libsvm(case):
  open(os.path.join(case, 'm.libsvm'), 'wb').close()


def garbage_libsvm(case):
  with open(os.path.join(case, 'm.libsvm'), 'wb') as f:
    f.write(b'1 1:1 2:x\n0 3:1\n')


def damaged_gzip_libsvm(case):
  with open(os.path.join(case, 'm.libsvm.gz'), 'wb') as f:
    f.write(gzip.compress(b'1 1:1\n' * 50)[:-7])


def broken_config_file(case):
  with open(os.path.join(case, 'broken.py'), 'w') as f:
    f.write('def get_config(:\n')


def config_without_get_config(case):
  with open(os.path.join(case, 'c.py'), 'w') as f:
    f.write('x = 1\n')


def config_returning_a_number(case):
  with open(os.path.join(case, 'c.py'), 'w') as f:
    f.write('def get_config():\n  return 3\n')


def _config_json(case, **model):
  config = bars_and_stripes.get_config()
  config.model.update(model)
  os.makedirs(os.path.join(case, 'w'))
  with open(os.path.join(case, 'w', 'config.json'), 'w') as f:
    json.dump(workdir_lib.config_to_dict(config), f, indent=2, sort_keys=True)


def workdir_other_config(case):
  _config_json(case, num_hidden=8)
  with open(os.path.join(case, 'w', 'metrics.jsonl'), 'w') as f:
    f.write('{"epoch": 1}\n')


def workdir_damaged_config(case):
  os.makedirs(os.path.join(case, 'w'))
  with open(os.path.join(case, 'w', 'config.json'), 'w') as f:
    f.write('{"data": {"name": ')


def _foreign_checkpoint(case):
  manager = workdir_lib.checkpoint_manager(os.path.join(case, 'w'))
  workdir_lib.save_checkpoint(manager, 3, {'params': jnp.zeros((5, 2))})
  manager.close()


def workdir_foreign_checkpoint(case):
  _config_json(case)
  _foreign_checkpoint(case)


def workdir_checkpoint_without_config(case):
  _foreign_checkpoint(case)


def workdir_damaged_metrics(case):
  _config_json(case)
  with open(os.path.join(case, 'w', 'metrics.jsonl'), 'w') as f:
    f.write('{"epoch": 1}\n{"epoch": 2, oops\n{"epoch": 3}\n')


def workdir_config_only(case):
  _config_json(case)


def workdir_prune_config(case):
  os.makedirs(os.path.join(case, 'w'))
  with open(os.path.join(case, 'w', 'config.json'), 'w') as f:
    json.dump(workdir_lib.config_to_dict(prune_tiny.get_config()), f)


def workdir_is_a_file(case):
  open(os.path.join(case, 'w'), 'w').close()


def empty_dir(case):
  os.makedirs(os.path.join(case, 'w'))


NO_SETUP = None

CASES = [
    # (id, setup, (module, argv), words the error line must contain)
    ('negative weight scale', NO_SETUP, _train('--config.model.weight_scale=-1'),
     'model.weight_scale must be a number > 0'),
    ('zero weight scale', NO_SETUP, _train('--config.model.weight_scale=0'),
     'model.weight_scale'),
    ('no hidden units', NO_SETUP, _train('--config.model.num_hidden=0'), 'model.num_hidden'),
    ('density above 1', NO_SETUP, _train('--config.model.density=1.5'), 'model.density'),
    ('negative learning rate', NO_SETUP, _train('--config.train.learning_rate=-0.1'),
     'train.learning_rate'),
    ('momentum 1', NO_SETUP, _train('--config.train.momentum=1.0'), 'train.momentum'),
    ('zero data shards', NO_SETUP, _train('--config.train.data_shards=0'),
     'train.data_shards must be an integer >= 1'),
    ('k = 0', NO_SETUP, _train('--config.train.k=0'), 'train.k'),
    ('batch 0', NO_SETUP, _train('--config.train.batch_size=0'), 'train.batch_size'),
    ('batch above data', NO_SETUP, _train('--config.train.batch_size=100000'), 'batch_size'),
    ('zero epochs', NO_SETUP, _train('--config.train.epochs=0'), 'train.epochs'),
    ('checkpoint every 0', NO_SETUP, _train('--config.train.checkpoint_every=0'),
     'train.checkpoint_every'),
    ('negative checkpoint minutes', NO_SETUP,
     _train('--config.train.checkpoint_minutes=-5'), 'train.checkpoint_minutes'),
    ('free-energy subset 0', NO_SETUP, _train('--config.train.free_energy_examples=0'),
     'train.free_energy_examples'),
    ('one AIS run', NO_SETUP, _train('--config.eval.ais_runs=1'), 'eval.ais_runs'),
    ('one AIS temperature', NO_SETUP, _train('--config.eval.ais_temperatures=1'),
     'eval.ais_temperatures must be an integer >= 2 or 0, got 1'),
    ('negative eval interval', NO_SETUP, _train('--config.eval.every=-1'), 'eval.every'),
    ('negative data seed', NO_SETUP, _train('--config.data.seed=-1'), 'data.seed'),
    ('1x1 bars', NO_SETUP, _train('--config.data.bars_size=1'), 'data.bars_size'),
    ('unknown data set', NO_SETUP, _train('--config.data.name=cifar'), 'unknown data set'),
    ('grey levels for an RBM', NO_SETUP,
     _train('--config.data.name=embedded', '--config.data.binarization=none'),
     'not binary'),
    ('visible units mismatch', NO_SETUP, _train('--config.model.num_visible=100'),
     'does not match'),
    ('unknown connectivity', NO_SETUP, _train('--config.train.connectivity=bogus'),
     'connectivity'),
    ('unknown optimizer', NO_SETUP, _train('--config.train.optimizer=bogus'), 'optimizer'),
    ('unknown weight init', NO_SETUP, _train('--config.model.weight_init=bogus'),
     'weight_init'),
    ('missing MNIST directory', NO_SETUP,
     _train('--config.data.name=mnist_idx', '--config.data.path={case}/nope'), 'not found'),
    ('truncated gzip IDX', truncated_gzip_idx,
     _train('--config.data.name=mnist_idx', '--config.data.path={case}/mnist'),
     'damaged or truncated gzip'),
    ('corrupt gzip IDX', corrupt_gzip_idx,
     _train('--config.data.name=mnist_idx', '--config.data.path={case}/mnist'),
     'damaged or truncated gzip'),
    ('empty IDX', empty_idx,
     _train('--config.data.name=mnist_idx', '--config.data.path={case}/mnist'), 'is empty'),
    ('truncated raw IDX', truncated_raw_idx,
     _train('--config.data.name=mnist_idx', '--config.data.path={case}/mnist'),
     'but its header says'),
    ('empty LIBSVM', empty_libsvm,
     _train('--config.data.name=mushrooms', '--config.data.path={case}/m.libsvm'),
     'no examples'),
    ('garbage LIBSVM', garbage_libsvm,
     _train('--config.data.name=mushrooms', '--config.data.path={case}/m.libsvm'),
     'not a valid LIBSVM file'),
    ('truncated gzip LIBSVM', damaged_gzip_libsvm,
     _train('--config.data.name=mushrooms', '--config.data.path={case}/m.libsvm.gz'),
     'damaged or truncated gzip'),
    ('missing config file', NO_SETUP,
     ('experiments.train', ['--config={case}/nope.py', '--workdir={case}/w']),
     'cannot load the config file'),
    ('broken config file', broken_config_file,
     ('experiments.train', ['--config={case}/broken.py', '--workdir={case}/w']),
     'cannot load the config file'),
    ('config file without get_config', config_without_get_config,
     ('experiments.train', ['--config={case}/c.py', '--workdir={case}/w']),
     "has no attribute 'get_config'"),
    ('config file returning a number', config_returning_a_number,
     ('experiments.train', ['--config={case}/c.py', '--workdir={case}/w']),
     'must return a ConfigDict'),
    ('unknown config field', NO_SETUP, _train('--config.train.nope=1'),
     "unknown config field 'nope' in --config.train.nope=1"),
    ('unknown baseline mode', NO_SETUP, _train('--config.train.baseline=sparse'),
     "train.baseline must be empty or one of"),
    ('misspelt config field', NO_SETUP, _train('--config.train.epochz=1'),
     "unknown config field 'epochz' in --config.train.epochz=1 (did you mean 'epochs'?)"),
    ('misspelt packaged config', NO_SETUP,
     ('experiments.train', ['--config=mnsit', '--workdir={case}/w']),
     'packaged configs: bars_and_stripes,'),
    ('packaged config without its data', NO_SETUP,
     ('experiments.train', ['--config=uci', '--config.data.path=', '--workdir={case}/w']),
     "data set 'mushrooms' needs its files: pass --config.data.path=FILE"),
    ('text for an integer', NO_SETUP, _train('--config.train.epochs=abc'),
     'invalid literal'),
    ('float for an integer', NO_SETUP, _train('--config.train.epochs=2.5'),
     '--config.train.epochs'),
    ('not a boolean', NO_SETUP, _train('--config.model.labels=maybe'), 'Non-boolean'),
    ('unknown flag', NO_SETUP, _train('--epochs=3'), "Unknown command line flag 'epochs'"),
    ('extra argument', NO_SETUP, _train('again'), 'unexpected arguments: again'),
    ('workdir is a file', workdir_is_a_file, _train(), 'is a file'),
    ('workdir under a file', workdir_is_a_file, _train(workdir='{case}/w/sub'),
     'cannot create --workdir'),
    ('workdir of another config', workdir_other_config, _train(),
     'different config (differs in: model.num_hidden)'),
    ('damaged config.json', workdir_damaged_config, _train(), 'not readable JSON'),
    ('checkpoint of another model', workdir_foreign_checkpoint, _train(),
     'does not fit this run'),
    ('checkpoints without config.json', workdir_checkpoint_without_config, _train(),
     'has checkpoints but no config.json'),
    ('damaged metrics.jsonl', workdir_damaged_metrics, _train(), 'line 2 is not JSON'),
    ('evaluate: no such workdir', NO_SETUP, _evaluate(workdir='{case}/nope'),
     'is not a directory'),
    ('evaluate: not a workdir', empty_dir, _evaluate(), 'not a workdir'),
    ('evaluate: no checkpoint', workdir_config_only, _evaluate(), 'no checkpoint'),
    ('evaluate: foreign checkpoint', workdir_foreign_checkpoint, _evaluate(),
     'does not fit this run'),
    ('evaluate: one AIS run', workdir_config_only, _evaluate('--ais_runs=1'),
     '--ais_runs must be >= 2'),
    ('evaluate: one temperature', workdir_config_only, _evaluate('--ais_temperatures=1'),
     '--ais_temperatures'),
    ('evaluate: negative seed', workdir_config_only, _evaluate('--seed=-1'), '--seed'),
    ('evaluate: negative PL examples', workdir_config_only,
     _evaluate('--pl_examples=-2'), '--pl_examples'),
    ('evaluate: text for a number', workdir_config_only, _evaluate('--ais_runs=many'),
     'invalid literal'),
    ('evaluate: --member of a single run', workdir_config_only, _evaluate('--member=0'),
     '--member is for sweep workdirs'),
    ('evaluate: a prune workdir', workdir_prune_config, _evaluate(),
     'not an RBM workdir'),
    ('train: fewer epochs on resume', workdir_config_only,
     _train('--config.train.epochs=400'), 'train.epochs may only grow'),
    ('sweep: density above 1', NO_SETUP, _sweep('--densities=2'),
     'densities must be in [0, 1]'),
    ('sweep: negative learning rate', NO_SETUP, _sweep('--learning_rates=-1'),
     'learning rates must be positive'),
    ('sweep: seed not a number', NO_SETUP, _sweep('--seeds=a'), '--seeds must be integers'),
    ('sweep: no seeds', NO_SETUP, _sweep('--seeds='), '--seeds must list one or more'),
    ('sweep: infinite learning rate', NO_SETUP, _sweep('--learning_rates=inf'),
     'positive and finite'),
    ('sweep: negative weight scale', NO_SETUP, _sweep('--config.model.weight_scale=-2'),
     'model.weight_scale'),
    ('sweep: unknown config field', NO_SETUP, _sweep('--config.model.nope=2'),
     'unknown config field'),
    ('prune: negative penalty', NO_SETUP, _prune('--config.train.penalty=-1'), 'penalty'),
    ('prune: zero prior variance', NO_SETUP, _prune('--config.train.prior_variance=0'),
     'prior_variance'),
    ('prune: theta_init 0', NO_SETUP, _prune('--config.train.theta_init=0'), 'theta_init'),
    ('prune: unknown net', NO_SETUP, _prune('--config.model.net=resnet'), 'net'),
    ('prune: unknown config field', NO_SETUP, _prune('--config.train.nope=1'),
     "unknown config field 'nope'"),
    ('prune: exploration above 1', NO_SETUP, _prune('--config.train.explore=2'),
     'train.explore must be'),
    ('prune: extra argument', NO_SETUP, _prune('again'), 'unexpected arguments'),
    ('prune: negative learning rate', NO_SETUP, _prune('--config.train.learning_rate=-1'),
     'learning_rate'),
    ('prune: unknown data set', NO_SETUP, _prune('--config.data.name=nope'), 'unknown data set'),
    ('prune: unknown method', NO_SETUP, _prune('--config.train.method=l1'), 'unknown method'),
    ('prune: decay power 0.4', NO_SETUP, _prune('--config.train.theta_decay_power=0.4'),
     'theta_decay_power'),
    ('prune: gated=False with L0', NO_SETUP,
     _prune('--config.train.gated=False', '--config.train.method=l0'), 'train.gated=False'),
]


def _snapshot(directory: str) -> dict[str, str]:
  files = {}
  for root, _, names in os.walk(directory):
    for name in names:
      path = os.path.join(root, name)
      with open(path, 'rb') as f:
        files[os.path.relpath(path, directory)] = hashlib.sha256(f.read()).hexdigest()
  return files


@pytest.fixture(scope='module')
def outcomes(tmp_path_factory):
  """{case id: (exit code, stderr, files before, files after)}."""
  root = tmp_path_factory.mktemp('bad_inputs')
  cases, before = [], {}
  for i, (name, setup, (module, argv), _) in enumerate(CASES):
    case = str(root / f'case{i}')
    os.makedirs(case)
    if setup:
      setup(case)
    before[name] = _snapshot(case)
    cases.append((name, case, (module, [a.replace('{case}', case) for a in argv])))
  logs = str(root / 'logs')
  os.makedirs(logs)
  jobs = [(module, argv, os.path.join(logs, f'{i}.txt'))
          for i, (_, _, (module, argv)) in enumerate(cases)]
  run = subprocess.run([sys.executable, DRIVER, json.dumps(jobs)],
                       cwd=ROOT, capture_output=True, text=True, timeout=900)
  line = [l for l in run.stdout.splitlines() if l.startswith('RESULTS')]
  assert line, run.stderr[-3000:]
  results = {}
  for (name, case, _), (_, _, log), (code, _) in zip(
      cases, jobs, json.loads(line[0][len('RESULTS'):])):
    with open(log) as f:
      results[name] = (code, f.read(), before[name], _snapshot(case))
  return results


def test_the_table_covers_every_entry_point():
  assert len(CASES) >= 40
  assert {m for _, _, (m, _), _ in CASES} == {
      'experiments.train', 'experiments.evaluate', 'experiments.sweep',
      'experiments.prune'}


@pytest.mark.parametrize('name, words', [(c[0], c[3]) for c in CASES],
                         ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(outcomes, name, words):
  code, stderr, before, after = outcomes[name]
  errors = [l for l in stderr.splitlines() if l.startswith('error: ')]
  assert code == 2 and len(errors) == 1, stderr[-3000:]
  assert words in errors[0], errors[0]
  assert 'Traceback' not in stderr
  assert after == before, 'files changed'

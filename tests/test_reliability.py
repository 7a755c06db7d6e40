"""Preemption safety and divergence guards of the entry points (issue 10).

One chain of interruptions on one workdir — SIGTERM, SIGKILL at a random
moment of training, SIGKILL in the middle of a checkpoint save, a metrics line
cut short — then a final rerun must end bit-identical to an uninterrupted run.
A NaN stops a run with the message, exit code 3 and the last good checkpoint;
a population keeps training when one member diverges.
"""

from __future__ import annotations

import errno
import glob
import json
import os
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from experiments import divergence
from experiments import preemption
from experiments import rbm_run
from experiments import workdir as workdir_lib
from experiments.configs import bars_and_stripes
from ncg.errors import EXIT_DIVERGED, InputError
from tests.conftest import ROOT

BARS = 'experiments/configs/bars_and_stripes.py'
EPOCHS = 40  # enough that a busy machine cannot finish before the signals
ARGS = [f'--config={BARS}', f'--config.train.epochs={EPOCHS}',
        '--config.train.checkpoint_every=3', '--config.eval.final=False',
        '--config.figures.gibbs_steps=5', '--config.figures.num_samples=4']

# Runs experiments/train.py, but SIGKILLs itself when orbax renames the
# finished temporary directory of checkpoint $KILL_AT_SAVE into place: the
# checkpoint's files are written, the commit is not.
KILL_DURING_SAVE = '''
import os, runpy, signal, sys
step, rename = os.environ['KILL_AT_SAVE'], os.rename
def killing_rename(src, dst, *args, **kwargs):
  if 'orbax-checkpoint-tmp' in str(src) and os.path.basename(str(dst)) == step:
    os.kill(os.getpid(), signal.SIGKILL)
  return rename(src, dst, *args, **kwargs)
os.rename = killing_rename
sys.argv = ['train'] + sys.argv[1:]
runpy.run_module('experiments.train', run_name='__main__')
'''


# Subprocesses share a persistent compilation cache: the runs after the first
# load the compiled epoch instead of compiling it (half of their CPU time).
# The executable is the same, so results stay bit-identical.
CACHE = {'JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS': '0',
         'JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES': '0'}


@pytest.fixture(scope='module')
def env(tmp_path_factory):
  return {**os.environ, **CACHE,
          'JAX_COMPILATION_CACHE_DIR': str(tmp_path_factory.mktemp('jax_cache'))}


def _command(workdir, *extra):
  return [sys.executable, '-m', 'experiments.train', *ARGS,
          f'--workdir={workdir}', *extra]


def _run(args, env):
  return subprocess.run(args, cwd=ROOT, capture_output=True, text=True,
                        timeout=300, env=env)


def _lines(workdir) -> int:
  try:
    with open(os.path.join(workdir, workdir_lib.METRICS_FILE)) as f:
      return f.read().count('\n')
  except FileNotFoundError:
    return 0


def _popen_until(workdir, lines, env, timeout=240):
  """Starts a run and returns it once metrics.jsonl has ``lines`` lines."""
  process = subprocess.Popen(_command(workdir), cwd=ROOT, text=True, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
  began = time.monotonic()
  while _lines(workdir) < lines:
    assert process.poll() is None, process.communicate()
    assert time.monotonic() - began < timeout
    time.sleep(0.01)
  return process


def _checkpoints(workdir) -> list[int]:
  return sorted(int(n) for n in os.listdir(os.path.join(workdir, 'checkpoints'))
                if n.isdigit())


def _stable(records):
  """Metrics without the wall-clock fields."""
  return [{k: v for k, v in r.items() if k not in ('seconds', 'examples_per_s')}
          for r in records]


def test_interruptions_of_every_kind_end_bit_identical(tmp_path, env):
  rng = np.random.default_rng(10)
  straight, chain = tmp_path / 'straight', tmp_path / 'chain'
  # The uninterrupted run trains beside the chain (CI has two cores).
  reference = subprocess.Popen(_command(straight), cwd=ROOT, text=True, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)

  # 1. SIGTERM: the epoch finishes, a checkpoint is saved (off the every-3
  #    schedule), one line says so and how to resume, exit 0.
  process = _popen_until(chain, 2, env)
  process.send_signal(signal.SIGTERM)
  out, err = process.communicate(timeout=120)
  assert process.returncode == 0, err[-2000:]
  stopped = [l for l in out.splitlines() if l.startswith('stopped by SIGTERM')]
  assert len(stopped) == 1 and 'rerun the same command' in stopped[0], out
  epoch = int(stopped[0].split('after epoch ')[1].split(':')[0])
  assert 2 <= epoch < EPOCHS and _checkpoints(chain)[-1] == epoch
  assert _lines(chain) == epoch

  # 2. SIGKILL at a random moment of the resumed training.
  process = _popen_until(chain, epoch + 2, env)
  time.sleep(rng.uniform(0, 0.2))
  process.kill()
  process.communicate()
  latest = _checkpoints(chain)[-1]
  assert latest < EPOCHS, 'the run ended before the kill; raise EPOCHS'

  # 3. SIGKILL inside a checkpoint save: its files are written to orbax's
  #    temporary directory, the rename that commits them never happens.
  target = min(EPOCHS, 3 * (latest // 3 + 1))
  killed = _run([sys.executable, '-c', KILL_DURING_SAVE, *ARGS,
                 f'--workdir={chain}'], {**env, 'KILL_AT_SAVE': str(target)})
  assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
  assert glob.glob(str(chain / 'checkpoints' / '*orbax-checkpoint-tmp*'))
  assert target not in _checkpoints(chain)

  # 4. A metrics line cut short, as a kill during its append leaves it.
  with open(chain / workdir_lib.METRICS_FILE, 'a') as f:
    f.write('{"epoch": 99, "reconstruction_er')

  # The checkpoint interval may change on resume (config.json records it).
  final = _run(_command(chain, '--config.train.checkpoint_minutes=30'), env)
  assert final.returncode == 0, final.stderr[-2000:]
  assert 'Resuming' in final.stdout
  _, err = reference.communicate(timeout=300)
  assert reference.returncode == 0, err[-2000:]
  a, b = rbm_run.load_trained(str(straight)), rbm_run.load_trained(str(chain))
  assert a.epoch == b.epoch == EPOCHS
  for name, x, y in zip(a.state._fields, a.state, b.state):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y), err_msg=name)
  assert _stable(workdir_lib.read_metrics(str(chain))) == _stable(
      workdir_lib.read_metrics(str(straight)))


def _nan_at(epoch_fn_maker, bad_epoch):
  """make_epoch, but the compiled epoch puts a NaN into W at ``bad_epoch``."""
  def make_epoch(*args, **kwargs):
    real = epoch_fn_maker(*args, **kwargs)

    class Lowered:
      def __init__(self, lowered):
        self.lowered = lowered

      def compile(self):
        compiled = self.lowered.compile()
        calls = []

        def epoch(state, *rest):
          calls.append(1)
          state, opt_state, metrics = compiled(state, *rest)
          if len(calls) == bad_epoch:
            state = state._replace(W=state.W.at[0, 0].set(np.nan))
          return state, opt_state, metrics
        return epoch

    class Jitted:
      def lower(self, *a):
        return Lowered(real.lower(*a))
    return Jitted()
  return make_epoch


def test_nan_stops_with_message_exit_3_and_last_good_checkpoint(
    tmp_path, monkeypatch, capsys):
  config = bars_and_stripes.get_config()
  config.train.epochs, config.train.checkpoint_every = 6, 5
  config.eval.final = False
  monkeypatch.setattr(rbm_run.train_lib, 'make_epoch',
                      _nan_at(rbm_run.train_lib.make_epoch, 3))
  workdir = str(tmp_path / 'nan')
  with pytest.raises(SystemExit) as exit_info:
    workdir_lib.clean_errors(rbm_run.train_and_evaluate)(config, workdir)
  assert exit_info.value.code == EXIT_DIVERGED
  lines = [l for l in capsys.readouterr().err.splitlines()
           if l.startswith('error:')]
  assert len(lines) == 1, lines
  for words in ('diverged at epoch 3', 'state.W', 'learning_rate=0.05',
                'last good checkpoint (epoch 2)'):
    assert words in lines[0], lines[0]
  # Epoch 2 was not on the every-5 schedule; the guard saved it.
  assert _checkpoints(workdir) == [2]
  assert [r['epoch'] for r in workdir_lib.read_metrics(workdir)] == [1, 2]
  run = rbm_run.load_trained(workdir)
  assert run.epoch == 2 and not divergence.nonfinite(run.state)
  assert not os.path.exists(os.path.join(workdir, 'summary.json'))


def test_population_freezes_the_diverging_member_and_finishes_the_others(
    tmp_path, env):
  workdir = tmp_path / 'sweep'
  result = _run([sys.executable, '-m', 'experiments.sweep', f'--config={BARS}',
                 '--config.train.epochs=3', '--config.eval.final=False',
                 '--config.figures.gibbs_steps=5', '--config.figures.num_samples=4',
                 '--seeds=0', '--learning_rates=0.05,1e38',
                 f'--workdir={workdir}'], env)
  assert result.returncode == 0, result.stderr[-2000:]
  assert 'member 1 (seed=0, learning_rate=1e+38, density0=0.5) diverged at ' \
         'epoch 1' in result.stdout
  records = workdir_lib.read_metrics(str(workdir))
  alive = [r for r in records if r['member'] == 0]
  frozen = [r for r in records if r['member'] == 1]
  assert [r['epoch'] for r in alive] == [r['epoch'] for r in frozen] == [1, 2, 3]
  assert all(not r['diverged'] and np.isfinite(r['reconstruction_error'])
             for r in alive)
  assert all(r['diverged'] and r['diverged_epoch'] == 1 and
             r['reconstruction_error'] is None for r in frozen)
  members = json.load(open(workdir / 'summary.json'))['members']
  assert members[1]['diverged_epoch'] == 1 and 'diverged_epoch' not in members[0]


def test_stop_signals_defer_sigterm_and_sigint():
  before = signal.getsignal(signal.SIGTERM)
  with preemption.StopSignals() as stop:
    assert not stop.requested
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(0.01)
    assert stop.requested and stop.name == 'SIGTERM'
    assert 'after epoch 4' in stop.message(4, 'w')
    assert 'before the first epoch' in stop.message(0, 'w')
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C twice stops at once
      os.kill(os.getpid(), signal.SIGINT)
      time.sleep(0.01)
  assert signal.getsignal(signal.SIGTERM) == before


def test_checkpoint_schedule_in_epochs_and_minutes():
  now = [0.0]
  schedule = preemption.CheckpointSchedule(5, every_minutes=2, clock=lambda: now[0])
  assert [e for e in range(1, 11) if schedule.due(e)] == [5, 10]
  assert schedule.due(3, last=True)
  now[0] = 119.0
  assert not schedule.due(1)
  now[0] = 120.0
  assert schedule.due(1)
  schedule.saved()
  assert not schedule.due(2)
  assert preemption.CheckpointSchedule(1).due(7)


def test_population_guard_freezes_only_the_bad_member():
  new = {'w': jax.numpy.array([[1.0, 2.0], [np.inf, 0.0], [3.0, 4.0]])}
  old = {'w': jax.numpy.zeros((3, 2))}
  guard = divergence.PopulationGuard(np.zeros(3), {'seed': [0, 1, 2]})
  kept = guard.update(7, new, old, metrics=np.array([0.5, 0.5, np.nan]))
  np.testing.assert_array_equal(kept['w'], [[1, 2], [0, 0], [0, 0]])
  assert list(guard.diverged_epoch) == [0, 7, 7]
  record = guard.annotate({'epoch': 8, 'member': 1, 'seed': 1, 'density': 0.3}, 1)
  assert record == {'epoch': 8, 'member': 1, 'seed': 1, 'density': None,
                    'diverged': True, 'diverged_epoch': 7}
  assert guard.annotate({'epoch': 8, 'member': 0}, 0)['diverged'] is False
  assert len(guard.report()) == 2


def test_interruptible_entry_point_exits_cleanly_on_sigterm(capsys):
  before = signal.getsignal(signal.SIGTERM)

  def evaluation():
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(5)
    raise AssertionError('not interrupted')
  assert preemption.interruptible(evaluation, 'evaluation')() is None
  out = capsys.readouterr().out
  assert 'stopped by SIGTERM before the evaluation finished' in out
  assert signal.getsignal(signal.SIGTERM) == before


@pytest.mark.parametrize('code', [errno.ENOSPC, errno.EACCES, errno.EROFS])
def test_full_or_read_only_disk_is_one_line_and_exit_2(capsys, code):
  def write():
    raise OSError(code, os.strerror(code), 'runs/x/metrics.jsonl')
  with pytest.raises(SystemExit) as exit_info:
    workdir_lib.clean_errors(write)()
  assert exit_info.value.code == 2
  assert capsys.readouterr().err == (
      f'error: cannot write runs/x/metrics.jsonl: {os.strerror(code)}\n')


def test_other_os_errors_stay_bugs():
  def broken():
    raise FileNotFoundError(errno.ENOENT, 'gone', 'x')
  with pytest.raises(FileNotFoundError):
    workdir_lib.clean_errors(broken)()


def test_a_checkpoint_save_on_a_full_disk_is_input_error():
  class FullDisk:
    directory = 'runs/x/checkpoints'

    def save(self, step, args):
      raise ValueError('RESOURCE_EXHAUSTED: Error writing local file "x": '
                       'No space left on device')

  with pytest.raises(workdir_lib.InputError, match='cannot save checkpoint 4 in '
                     'runs/x/checkpoints: RESOURCE_EXHAUSTED.*free space'):
    workdir_lib.save_checkpoint(FullDisk(), 4, {})

  class Bug(FullDisk):
    def save(self, step, args):
      raise ValueError('some other problem')

  with pytest.raises(ValueError, match='some other problem'):
    workdir_lib.save_checkpoint(Bug(), 4, {})


def test_stop_signals_left_installed_by_an_exception_are_restored_when_dropped():
  before = signal.getsignal(signal.SIGTERM)

  def failing_run():
    stop = preemption.StopSignals().install()  # held by the frame, like rbm_run
    assert signal.getsignal(signal.SIGTERM) != before and not stop.requested
    raise ValueError('bad config')
  with pytest.raises(ValueError):
    failing_run()
  import gc  # pylint: disable=g-import-not-at-top
  gc.collect()
  assert signal.getsignal(signal.SIGTERM) == before


def test_unset_fields_are_typed_placeholders_and_legacy_minus_one_resumes(tmp_path):
  """Unset = None (typed: an override must parse as the field's type); a
  config.json from before, with -1 for "the default", resumes unchanged."""
  from experiments import config_checks
  from experiments.configs import default
  config = default.get_config()
  assert config.train.strength_learning_rate is None
  assert config.data.validation_size is None and config.model.num_visible is None
  config_checks.check_config(config, config_checks.RBM_RULES)  # None allowed
  config.train.strength_learning_rate = 0.2
  with pytest.raises(TypeError):
    config.model.num_visible = 'all'
  config.data.validation_size = -1
  with pytest.raises(InputError, match=r'data.validation_size must be an '
                     r'integer >= 0 or None, got -1'):
    config_checks.check_config(config, config_checks.RBM_RULES)

  config = default.get_config()
  workdir = str(tmp_path / 'old')
  assert not workdir_lib.prepare(workdir, config)
  path = os.path.join(workdir, 'config.json')
  with open(path) as f:
    record = json.load(f)
  record['data']['validation_size'] = record['model']['num_visible'] = -1
  record['train']['strength_learning_rate'] = -1.0
  with open(path, 'w') as f:
    json.dump(record, f)
  assert workdir_lib.prepare(workdir, config)                  # resumes
  loaded = workdir_lib.load_config(workdir)
  assert loaded.train.strength_learning_rate is None
  assert loaded.data.validation_size is None and loaded.model.num_visible is None

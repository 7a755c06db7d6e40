"""Paths that the other tests take once, taken twice (issue 27, class 7).

Two resumes in a row (SIGTERM after epoch 2, again after epoch 4, then the
rest) and two extensions of ``train.epochs`` (2 → 4 → 6) must each end bit
for bit where the uninterrupted 6-epoch run ends: the same model, the same
checkpointed training state, the same metrics (one line per epoch, so the
summary's totals of added and removed connections agree). In-process through
experiments.rbm_run on bars and stripes (the epoch compiles once for all
runs); the signal is sent by the process to itself once an epoch's metrics
line is written, as a scheduler's would arrive then.
"""

from __future__ import annotations

import json
import os
import signal

import jax
import numpy as np
import pytest

from experiments import rbm_run
from experiments import workdir as workdir_lib
from experiments.configs import bars_and_stripes
from ncg import checkpoint

EPOCHS = 6


def _config(epochs):
  config = bars_and_stripes.get_config()
  config.train.epochs = epochs
  config.train.checkpoint_every = EPOCHS  # the last epoch; a signal's epoch
  config.eval.final = False
  config.figures.gibbs_steps = 2
  config.figures.num_samples = 4
  return config


def _stable(workdir):
  return [{k: v for k, v in r.items() if k not in ('seconds', 'examples_per_s')}
          for r in workdir_lib.read_metrics(workdir)]


def _final(workdir):
  """(model arrays, latest checkpoint's leaves, metrics, summary)."""
  state, _ = checkpoint.load(os.path.join(workdir, rbm_run.MODEL_DIR))
  manager = workdir_lib.checkpoint_manager(workdir)
  tree = workdir_lib.restore_raw(manager, manager.latest_step())
  manager.close()
  with open(os.path.join(workdir, 'summary.json')) as f:
    summary = json.load(f)
  return (state, jax.tree.leaves(tree), _stable(workdir),
          {k: summary[k] for k in ('epochs', 'added_total', 'removed_total',
                                   'density')})


@pytest.fixture(scope='module')
def uninterrupted(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp('whole'))
  with jax.enable_x64(False):
    assert rbm_run.train_and_evaluate(_config(EPOCHS), workdir)
  return _final(workdir)


def _assert_same(a, b):
  (state_a, leaves_a, metrics_a, summary_a) = a
  (state_b, leaves_b, metrics_b, summary_b) = b
  for x, y in zip(state_a, state_b):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
  assert len(leaves_a) == len(leaves_b)
  for x, y in zip(leaves_a, leaves_b):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
  assert metrics_a == metrics_b and len(metrics_a) == EPOCHS
  assert summary_a == summary_b


def test_two_resumes_in_a_row_end_bit_identical(tmp_path, uninterrupted,
                                                monkeypatch):
  append = workdir_lib.append_metrics
  stop_after = []

  def append_then_term(workdir, record):
    append(workdir, record)
    if record.get('epoch') in stop_after:
      stop_after.remove(record['epoch'])
      os.kill(os.getpid(), signal.SIGTERM)
  monkeypatch.setattr(workdir_lib, 'append_metrics', append_then_term)
  workdir = str(tmp_path)
  with jax.enable_x64(False):
    for stop in (2, 4):
      stop_after.append(stop)
      assert not rbm_run.train_and_evaluate(_config(EPOCHS), workdir)
      manager = workdir_lib.checkpoint_manager(workdir)
      assert manager.latest_step() == stop
      manager.close()
    assert rbm_run.train_and_evaluate(_config(EPOCHS), workdir)
  _assert_same(_final(workdir), uninterrupted)


def test_two_extensions_of_the_epochs_end_bit_identical(tmp_path, uninterrupted):
  workdir = str(tmp_path)
  with jax.enable_x64(False):
    for epochs in (2, 4, EPOCHS):
      assert rbm_run.train_and_evaluate(_config(epochs), workdir)
  _assert_same(_final(workdir), uninterrupted)

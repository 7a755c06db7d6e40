"""experiments/atomic.py: a file is replaced whole or not at all."""

import errno
import os

import pytest

from experiments import atomic


def test_a_file_is_replaced_whole_and_no_temporary_file_stays(tmp_path):
  path = str(tmp_path / 'sub' / 'summary.json')
  assert atomic.write(path, lambda f: f.write('old'), sync=True) == path
  atomic.write(path, lambda f: f.write(b'new'), binary=True, suffix='.tmp.png')
  with open(path) as f:
    assert f.read() == 'new'
  assert os.listdir(tmp_path / 'sub') == ['summary.json']


def test_a_failed_write_keeps_the_old_file_and_names_it(tmp_path):
  path = str(tmp_path / 'figure.png')
  atomic.write(path, lambda f: f.write('old'))

  def full(f):
    f.write('half')
    raise OSError(errno.ENOSPC, 'No space left on device')
  with pytest.raises(OSError) as failed:
    atomic.write(path, full)
  assert failed.value.errno == errno.ENOSPC and failed.value.filename == path

  def bug(f):
    raise KeyError('x')
  with pytest.raises(KeyError):
    atomic.write(path, bug)
  with open(path) as f:
    assert f.read() == 'old'
  assert os.listdir(tmp_path) == ['figure.png']

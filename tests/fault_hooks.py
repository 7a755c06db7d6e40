"""Faults done to a workdir between commands of tests/entry_driver.py.

    runpy of tests.fault_hooks with argv = [action, *arguments]

``truncate DIR``: cuts every array file under DIR (an orbax checkpoint or
model) to 8 bytes, as a node that died while copying it would. ``kill PID``:
SIGKILL of a process (a lost node), once it is dead.
Used by tests/test_reliability_faults.py.
"""

import glob
import os
import signal
import sys
import time


def truncate(directory):
  names = glob.glob(os.path.join(directory, '**', 'd', '*'), recursive=True)
  assert names, f'no array files under {directory}'
  for name in names:
    os.truncate(name, 8)


def kill(pid):
  """SIGKILL of process ``pid``, waiting until it is gone."""
  os.kill(int(pid), signal.SIGKILL)
  for _ in range(1000):
    try:
      os.kill(int(pid), 0)
    except ProcessLookupError:
      return
    if open(f'/proc/{pid}/stat').read().split()[2] == 'Z':
      return  # a zombie: dead, its locks released
    time.sleep(0.01)


ACTIONS = {'truncate': truncate, 'kill': kill}

if __name__ == '__main__':
  ACTIONS[sys.argv[1]](*sys.argv[2:])

"""Faults done to a workdir between commands of tests/entry_driver.py.

    runpy of tests.fault_hooks with argv = [action, *arguments]

``truncate DIR``: cuts every array file under DIR (an orbax checkpoint or
model) to 8 bytes, as a node that died while copying it would.
Used by tests/test_reliability_faults.py.
"""

import glob
import os
import sys


def truncate(directory):
  names = glob.glob(os.path.join(directory, '**', 'd', '*'), recursive=True)
  assert names, f'no array files under {directory}'
  for name in names:
    os.truncate(name, 8)


ACTIONS = {'truncate': truncate}

if __name__ == '__main__':
  ACTIONS[sys.argv[1]](*sys.argv[2:])

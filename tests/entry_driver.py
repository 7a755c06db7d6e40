"""Runs entry-point commands from one process that imported the heavy libraries once.

    python tests/entry_driver.py '[[module, argv, log], ...]'

Each command runs in a forked child (``runpy`` of the module with ``argv``),
its stdout and stderr going to ``log``; no JAX computation runs before the
fork, so every child starts JAX afresh. A child that hangs (a deadlock after
fork) is killed after TIMEOUT seconds. ``['@snapshot', [workdir], log]``
instead writes the modification times of a workdir's files and figures and
its summary.json to ``log``. Prints one line ``RESULTS[[exit code or
'timeout', seconds], ...]``. Used by tests/test_first_hour.py and
tests/test_reliability_inputs.py.
"""

import json
import os
import runpy
import sys
import time
import traceback

# The repository root first, as for `python -m` from it.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# pylint: disable=unused-import,g-import-not-at-top,wrong-import-position
import jax
import matplotlib.pyplot
import orbax.checkpoint
import tqdm

import experiments.evaluate_run
import experiments.prune_run
import experiments.rbm_run
import experiments.workdir
import ncg.data

TIMEOUT = 120


def _mtimes(directory):
  return {n: os.stat(os.path.join(directory, n)).st_mtime_ns
          for n in sorted(os.listdir(directory))}


def _snapshot(workdir, log):
  with open(log, 'w') as f:
    json.dump({'files': _mtimes(workdir),
               'figures': _mtimes(os.path.join(workdir, 'figures')),
               'summary': open(os.path.join(workdir, 'summary.json')).read()}, f)


def _run(module, argv, log):
  pid = os.fork()
  if pid == 0:
    fd = os.open(log, os.O_WRONLY | os.O_CREAT)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    sys.argv = [module] + argv
    code = 0
    try:
      runpy.run_module(module, run_name='__main__', alter_sys=True)
    except SystemExit as e:
      code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:  # pylint: disable=broad-except
      traceback.print_exc()
      code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # pylint: disable=protected-access
  began = time.monotonic()
  while True:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
      return [os.waitstatus_to_exitcode(status), time.monotonic() - began]
    if time.monotonic() - began > TIMEOUT:
      os.kill(pid, 9)
      os.waitpid(pid, 0)
      return ['timeout', TIMEOUT]
    time.sleep(0.005)


def main(commands):
  out = []
  for module, argv, log in commands:
    if module == '@snapshot':
      _snapshot(argv[0], log)
      out.append([0, 0.0])
    else:
      out.append(_run(module, argv, log))
  print('RESULTS' + json.dumps(out))


if __name__ == '__main__':
  main(json.loads(sys.argv[1]))

"""Runs an entry point that SIGTERMs itself just before it writes summary.json.

    runpy of tests.term_at_summary with argv = [module, *flags]

The signal arrives after the last epoch, when the run writes its final files
(the first summary.json: the run's, or a sweep's first member's), the moment
that issue 27 found unprotected. Used by tests/test_reliability_finish.py
through tests/entry_driver.py (which imported experiments.workdir before
forking, so the patch below is the module every entry point calls).
"""

import os
import runpy
import signal
import sys

from experiments import workdir

_write_json, _sent = workdir.write_json, []


def _term_then_write(directory, name, record):
  if name == 'summary.json' and not _sent:
    _sent.append(True)
    os.kill(os.getpid(), signal.SIGTERM)
  return _write_json(directory, name, record)


workdir.write_json = _term_then_write
sys.argv = sys.argv[1:]
runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)

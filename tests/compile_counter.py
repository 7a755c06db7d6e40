"""A pytest plugin that counts the XLA programs each test compiles (a measurement tool,
not a test; the suite's time is mostly compilation).

    COMPILE_STATS=/tmp/cs.jsonl python -m pytest -p tests.compile_counter tests/test_train.py

Appends one JSON line per test to $COMPILE_STATS (default /tmp/compile_stats.jsonl):
[node id, programs compiled, seconds compiling, seconds in all]. Programs loaded from
the persistent compilation cache are not counted; tests that start subprocesses
count only their own process. Works under xdist (each worker appends its lines).
"""

import collections
import json
import os
import time

import jax
import pytest

_CURRENT = [None]
_STATS = collections.defaultdict(lambda: [0, 0.0])


def _listener(event, duration, **_):
  if event == '/jax/core/compile/backend_compile_duration' and _CURRENT[0]:
    stats = _STATS[_CURRENT[0]]
    stats[0] += 1
    stats[1] += duration


jax.monitoring.register_event_duration_secs_listener(_listener)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):  # pylint: disable=unused-argument
  _CURRENT[0], began = item.nodeid, time.time()
  yield
  _STATS[item.nodeid].append(time.time() - began)
  _CURRENT[0] = None


def pytest_sessionfinish(session):  # pylint: disable=unused-argument
  with open(os.environ.get('COMPILE_STATS', '/tmp/compile_stats.jsonl'), 'a') as f:
    for node, stats in _STATS.items():
      f.write(json.dumps([node, *stats]) + '\n')

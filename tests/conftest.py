"""Shared fixtures: float64 for exact enumeration tests, tiny RBMs, data paths."""

from __future__ import annotations

import atexit
import functools
import itertools
import os
import shutil
import tempfile

# One persistent XLA compilation cache for the whole test session, shared by
# the subprocesses the entry-point tests start (they inherit the environment):
# the same small programs compile once instead of once per process. A cache
# hit runs the identical executable, so no number changes.
if 'JAX_COMPILATION_CACHE_DIR' not in os.environ:
  _cache = tempfile.mkdtemp(prefix='ncg-test-xla-cache-')
  atexit.register(shutil.rmtree, _cache, ignore_errors=True)
  os.environ['JAX_COMPILATION_CACHE_DIR'] = _cache
os.environ.setdefault('JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS', '0')
os.environ.setdefault('JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES', '-1')
# The suite compiles hundreds of small programs and runs most of them for
# milliseconds: compiling them without LLVM's optimisation passes halves the
# compile time of a typical test (the XLA graph passes still run, and XLA's
# CPU code is not fast-math at any level, so the arithmetic is the same).
# The subprocesses the tests start inherit it. A level set by the caller wins.
if 'xla_backend_optimization_level' not in os.environ.get('XLA_FLAGS', ''):
  os.environ['XLA_FLAGS'] = ' '.join(filter(None, (
      os.environ.get('XLA_FLAGS', ''), '--xla_backend_optimization_level=0')))

import jax  # pylint: disable=g-import-not-at-top
import jax.numpy as jnp
import numpy as np
import pytest

from ncg import rbm

jax.config.update('jax_enable_x64', True)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.path.join(ROOT, '..', 'shared', 'data')


@pytest.fixture(autouse=True)
def _fresh_jit_caches_for_mutmut_stats():
  """While mutmut maps tests to functions, retrace every jitted call.

  mutmut records a function as covered by a test only when its Python body
  runs; a jit cache hit from an earlier test would hide the call.
  """
  if os.environ.get('MUTANT_UNDER_TEST') == 'stats':
    jax.clear_caches()
  yield


def jit_call(fn, *args, **kwargs):
  """``fn(*args, **kwargs)`` compiled as one program: the array leaves of the
  arguments are traced, every other leaf (shapes, configs, names) is static.

  A library function called eagerly dispatches each of its hundreds of
  primitives as a program of its own (each compiled once per shape): on the
  tiny problems of the tests that is ~10× the time of compiling the whole
  function once. The numbers are those of a jitted call, i.e. of training.
  For one-off calls: each call makes a new ``jax.jit`` and traces again, so
  in a loop jit the function once instead (tests/compile_counter.py counts).
  """
  leaves, treedef = jax.tree.flatten((args, kwargs))
  traced = [isinstance(leaf, (jax.Array, np.ndarray)) for leaf in leaves]

  def inner(arrays):
    arrays = iter(arrays)
    full = [next(arrays) if t else leaf for leaf, t in zip(leaves, traced)]
    a, k = jax.tree.unflatten(treedef, full)
    return fn(*a, **k)

  return jax.jit(inner)([leaf for leaf, t in zip(leaves, traced) if t])


def shared_path(*parts: str) -> str:
  """Path under ../shared/data; skips the test when it is absent."""
  path = os.path.join(SHARED_DATA, *parts)
  if not os.path.exists(path):
    pytest.skip(f'{path} not available')
  return path


def all_binary(n: int) -> jnp.ndarray:
  """All 2^n binary vectors, (2^n, n) float64."""
  return jnp.array(list(itertools.product((0.0, 1.0), repeat=n)))


def tiny_rbm(key, num_visible=4, num_hidden=3, density=0.7, scale=1.0):
  """A small RBM with a random sparse mask and non-zero biases (float64).

  Drawn by one compiled program per shape (eagerly, each of the init's ops is
  a program of its own, and dozens of tests draw one); the same numbers."""
  return _tiny_rbm(key, num_visible, num_hidden, density, scale)


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4))
def _tiny_rbm(key, num_visible, num_hidden, density, scale):
  k1, k2, k3 = jax.random.split(key, 3)
  state = rbm.init(k1, num_visible, num_hidden, density=density,
                   weight_scale=scale, dtype=jnp.float64)
  return state._replace(
      b=0.5 * jax.random.normal(k2, (num_visible,), jnp.float64),
      c=0.5 * jax.random.normal(k3, (num_hidden,), jnp.float64))


def brute_force_joint(state):
  """(vs, hs, P) with P[i, j] = p(v_i, h_j) by enumerating both layers."""
  vs, hs = all_binary(state.num_visible), all_binary(state.num_hidden)
  log_p = -rbm.energy(state, vs[:, None, :], hs[None, :, :])
  P = np.exp(log_p - jax.scipy.special.logsumexp(log_p))
  return vs, hs, P

"""Checks of the data that public functions are given: cheap, outside jitted code.

A wrong input should end in one clear line (:class:`ncg.errors.InputError`),
not in a NaN metric or a silently wrong model. Two kinds of checks:

* static ones (shapes, dtypes, the batch size against the number of
  examples) cost nothing: they read array metadata, so they also run while
  a jitted function is traced and stop it before anything is computed;
* value checks (binary data for binary visible units, finite data) read the
  data once: on the device for a ``jax.Array`` (one reduction and one scalar
  back, about a V·N-element pass: far below the V·N·H·k of an epoch), with
  numpy for a numpy array, and not at all for tracers (inside someone
  else's ``jit`` the values are unknown) or for arrays spread over several
  processes.

:func:`checked_epoch` wraps a jitted epoch so that its calls check their
data first and everything else (``.lower``, ``.trace``…) is the jitted
function's own.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ncg.errors import check


def _concrete(x) -> bool:
  return not isinstance(x, jax.core.Tracer) and (
      not isinstance(x, jax.Array) or x.is_fully_addressable)


def _all(predicate_np, predicate_jnp, x) -> bool:
  if isinstance(x, jax.Array):
    return bool(predicate_jnp(x))
  return bool(predicate_np(np.asarray(x)))


@jax.jit
def _binary(x):
  return jnp.all((x == 0) | (x == 1))


@jax.jit
def _finite(x):
  return jnp.all(jnp.isfinite(x))


def check_data(x, num_visible: int, visible: str = 'bernoulli',
               what: str = 'the data') -> None:
  """InputError unless ``x`` (..., N, V) fits an RBM's visible layer.

  Static: a floating dtype (integer data: convert with ``astype(float32)``),
  at least 2 dimensions, V = ``num_visible`` features (labels included for a
  joint RBM). Values (concrete arrays only): every entry 0 or 1 for
  'bernoulli' units (binarize first: ``ncg.data.binarize``), finite for
  any other type.
  """
  shape, dtype = jnp.shape(x), jnp.result_type(x)
  check(len(shape) >= 2, f'{what} must be a (N, {num_visible}) array, got shape '
        f'{tuple(shape)}')
  check(shape[-1] == num_visible,
        f'{what} has {shape[-1]} features per example; the RBM has '
        f'{num_visible} visible units')
  check(jnp.issubdtype(dtype, jnp.floating),
        f'{what} is {dtype}; RBMs train on floating-point data: convert it with '
        'x.astype(np.float32)')
  if not _concrete(x):
    return
  if visible == 'bernoulli':
    check(_all(lambda a: np.all((a == 0) | (a == 1)), _binary, x),
          f'{what} is not binary (values other than 0 and 1) but the RBM has '
          "binary visible units: binarize it (ncg.data.binarize) or use "
          "visible='gaussian' units for standardised real-valued data")
  else:
    check(_all(lambda a: np.all(np.isfinite(a)), _finite, x),
          f'{what} holds NaN or Inf values')


def check_batch_size(num_examples: int, batch_size: int) -> None:
  """InputError unless 1 ≤ ``batch_size`` ≤ ``num_examples`` (static)."""
  check(isinstance(batch_size, (int, np.integer)) and batch_size >= 1,
        f'batch_size must be an integer >= 1, got {batch_size!r}')
  check(batch_size <= num_examples,
        f'batch size {batch_size} is larger than the {num_examples} examples: '
        'an epoch would have no minibatch')


class CheckedEpoch:
  """A jitted ``epoch(state, opt_state, x, key, ...)`` whose calls check x.

  Calls run :func:`check_data` (against the state's visible layer and type)
  and, for a data set (N, V), :func:`check_batch_size`, then the jitted
  function; every attribute (``lower``, ``trace``, ``eval_shape``…) is the
  jitted function's.
  """

  def __init__(self, jitted, batch_size: int):
    self._jitted, self._batch_size = jitted, batch_size

  def __call__(self, state, opt_state, x, key, *args, **kwargs):
    check_data(x, state.W.shape[-2], state.visible, 'the training data')
    if jnp.ndim(x) == 2:
      check_batch_size(jnp.shape(x)[0], self._batch_size)
    return self._jitted(state, opt_state, x, key, *args, **kwargs)

  def __getattr__(self, name):
    return getattr(self._jitted, name)


def checked_epoch(jitted, batch_size: int) -> CheckedEpoch:
  """``jitted`` (see :class:`CheckedEpoch`) with its data checked per call."""
  return CheckedEpoch(jitted, batch_size)

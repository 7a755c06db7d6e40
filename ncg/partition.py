"""The exact partition function of an RBM: a chunked sum over the smaller layer.

Summing one layer out in closed form leaves a sum over the other:

    Z = Σ_v e^{−F(v)} = Σ_h e^{−F(h)},

so log Z is exact with 2^{min(V, H)} terms (F of :mod:`ncg.rbm`: binary or
Gaussian visible units by the state's class; Gaussian units, being
continuous, always sum over the hidden layer). :func:`exact_log_partition`
enumerates the cheaper layer in fixed-size chunks (``lax.map``) and combines
the chunks by log-sum-exp, in float64 when ``jax_enable_x64`` is on. For a
joint RBM whose last L visible units are a one-hot label the visible sum runs
over 2^{V−L}·L configurations and the hidden-side marginal uses a log-sum-exp
over the label group.

The building blocks (:func:`bits`, :func:`chunked_logsumexp`,
:func:`count_configurations`) are public so that other sums over binary
configurations (a new visible type's exact log Z) reuse them.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp

from ncg import classification
from ncg import precision
from ncg import rbm
from ncg.errors import check
from ncg.rbm import RBMState

MAX_EXACT_LOG2_CONFIGURATIONS = 26  # exact sums up to 2^26 configurations
CHUNK_ELEMENTS = 1 << 22            # floats per enumeration chunk (32 MB f64)


def bits(indices: jax.Array, width: int, dtype) -> jax.Array:
  """Binary expansion, (C,) int → (C, width) with bit i of each index."""
  return ((indices[:, None] >> jnp.arange(width, dtype=indices.dtype)) & 1
          ).astype(dtype)


def count_configurations(state: RBMState, label_units: int = 0
                         ) -> tuple[str, float]:
  """(layer, log2 of the number of terms) of the cheaper exact sum.

  The visible sum has 2^{V−L}·L terms (2^V when L = 0), the hidden one 2^H;
  Gaussian visible units (continuous) always sum over the hidden layer.
  """
  num_visible, num_hidden = state.W.shape
  if state.visible != 'bernoulli':
    return 'hidden', float(num_hidden)
  visible_log2 = (num_visible - label_units) + (
      math.log2(label_units) if label_units else 0.0)
  if visible_log2 < num_hidden:
    return 'visible', visible_log2
  return 'hidden', float(num_hidden)


def chunked_logsumexp(term_fn, log2_total: int, width_cost: int) -> jax.Array:
  """log Σ_{n < 2^log2_total} exp(term_fn(n)) over chunks of indices.

  Args:
    term_fn: (C,) int32 indices → (C,) log terms.
    log2_total: the number of terms is 2^log2_total.
    width_cost: floats ``term_fn`` holds per index (a chunk holds about
      :data:`CHUNK_ELEMENTS` floats).

  Returns:
    The scalar log-sum-exp: within a chunk by ``jax.nn.logsumexp``, then over
    the chunks' results (``lax.map``, so memory does not grow with the sum).
  """
  log2_chunk = min(log2_total,
                   max(0, int(math.log2(CHUNK_ELEMENTS / max(width_cost, 1)))))
  num_chunks = 1 << (log2_total - log2_chunk)
  chunk = 1 << log2_chunk
  def one_chunk(start):
    indices = start + jnp.arange(chunk, dtype=jnp.int32)
    return jax.nn.logsumexp(term_fn(indices))
  starts = jnp.arange(num_chunks, dtype=jnp.int32) * chunk
  return jax.nn.logsumexp(jax.lax.map(one_chunk, starts))


def check_label_units(state: RBMState, label_units: int) -> None:
  """InputError unless label units (L > 0) come with binary visible units."""
  check(not label_units or state.visible == 'bernoulli',
        f'label units need binary visible units; this RBM has {state.visible!r} ones')


def check_binary_units(state: RBMState, what: str, instead: str) -> None:
  """InputError unless the state's visible units are binary: ``what`` (the
  estimator asked for) is for binary units; use ``instead``."""
  check(state.visible == 'bernoulli',
        f'{what} is for binary visible units; this RBM has {state.visible!r} '
        f'ones: use {instead}')


@functools.partial(jax.jit, static_argnames='label_units')
@precision.highest
def exact_log_partition(state: RBMState, label_units: int = 0) -> jax.Array:
  """Exact log Z by enumerating the smaller layer, in bounded memory.

  Memory is about 2^22 floats per chunk whatever the size; time grows as
  2^{min(V−L, H)}·V·H. Float64 when x64 is enabled.

  Args:
    state: an RBM of any visible type (Gaussian units: the 2^H hidden
      states, F(h) of :func:`ncg.rbm.hidden_free_energy`); the last
      ``label_units`` binary visible units, if any, are a one-hot group (so
      only one-hot label configurations count).
    label_units: L.

  Returns:
    Scalar log Z (float64 if enabled, else float32).

  Raises:
    InputError: when the sum would have more than 2^26 terms.
  """
  layer, log2_terms = count_configurations(state, label_units)
  check(log2_terms <= MAX_EXACT_LOG2_CONFIGURATIONS,
        f'exact log Z needs 2^{log2_terms:.1f} terms (V={state.num_visible}, '
        f'H={state.num_hidden}); the limit is 2^{MAX_EXACT_LOG2_CONFIGURATIONS}'
        ': use AIS')
  check_label_units(state, label_units)
  dtype = precision.wide_float()
  state = jax.tree.map(lambda a: a.astype(dtype), state)
  w = rbm.effective_weights(state)
  num_visible, num_hidden = w.shape
  if state.visible != 'bernoulli':
    return chunked_logsumexp(
        lambda i: -rbm.hidden_free_energy(state, bits(i, num_hidden, dtype)),
        num_hidden, num_visible)
  if layer == 'hidden':
    def terms(indices):                         # −F(h), labels summed out
      h = bits(indices, num_hidden, dtype)
      logits = h @ w.T + state.b                # (C, V)
      out = h @ state.c
      if label_units:
        out += jnp.sum(jax.nn.softplus(logits[:, :-label_units]), axis=-1)
        return out + jax.nn.logsumexp(logits[:, -label_units:], axis=-1)
      return out + jnp.sum(jax.nn.softplus(logits), axis=-1)
    return chunked_logsumexp(terms, num_hidden, num_visible)
  num_bits = num_visible - label_units
  def visible_terms(indices):                   # −F(x, y) for every y
    x = bits(indices, num_bits, dtype)
    if label_units:
      return classification.label_scores(state, x, label_units)
    return -rbm.free_energy(state, x)
  return chunked_logsumexp(visible_terms, num_bits,
                           num_hidden * max(label_units, 1))

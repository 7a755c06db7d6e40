"""Likelihoods of RBMs, and the partition functions they need (one import).

All functions are pure and act on an :class:`ncg.rbm.RBMState`; the model is
p(v) = e^{−F(v)}/Z with the effective weights W ⊙ A (see :mod:`ncg.rbm`).
Quantities are in nats.

Here: :func:`log_likelihood` (log p(v) given log Z; a joint RBM's label
summed out), :func:`pseudo_log_likelihood` and :func:`reconstruction_error`.
The partition functions live in their own modules and are re-exported under
their old names, so ``ncg.estimators`` stays the one import of an evaluation:

* exact log Z — :mod:`ncg.partition` (:func:`exact_log_partition`,
  :func:`count_configurations`, :data:`MAX_EXACT_LOG2_CONFIGURATIONS`);
* AIS — the building blocks in :mod:`ncg.ais` (:class:`AISResult`,
  ``ais_betas`` = :func:`ncg.ais.betas`), the binary-unit estimator in
  :mod:`ncg.ais_kernels` (:func:`ais_log_partition`,
  :func:`log_partition_base`, :class:`UniformBaseWarning`); Gaussian units:
  :func:`ncg.units.gaussian_ais_log_partition`.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from ncg import classification
from ncg import partition
from ncg import precision
from ncg import rbm
from ncg.ais import AISResult
from ncg.ais import betas as ais_betas
from ncg.ais_kernels import LOG2, UniformBaseWarning, ais_log_partition
from ncg.ais_kernels import log_partition_base
from ncg.errors import check
from ncg.partition import MAX_EXACT_LOG2_CONFIGURATIONS
from ncg.partition import count_configurations, exact_log_partition
from ncg.precision import wide_float
from ncg.rbm import RBMState

__all__ = [
    'AISResult', 'LOG2', 'MAX_EXACT_LOG2_CONFIGURATIONS', 'UniformBaseWarning',
    'ais_betas', 'ais_log_partition', 'count_configurations',
    'exact_log_partition', 'log_likelihood', 'log_partition_base',
    'pseudo_log_likelihood', 'reconstruction_error', 'wide_float',
]


# ----------------------------------------------------------------------------
# Likelihoods.


@functools.partial(jax.jit, static_argnames='label_units')
@precision.highest
def log_likelihood(state: RBMState, v: jax.Array, log_z: jax.Array,
                   label_units: int = 0) -> jax.Array:
  """Per-example log p(v) = −F(v) − log Z, (N, D) → (N,), in nats.

  For a joint RBM (``label_units`` = L > 0), v may be the full visible vector
  [x, one_hot(y)] (D = V: log p(x, y)) or the input alone (D = V − L: the
  label is summed out, log p(x) = log Σ_y e^{−F(x, y)} − log Z). F is the
  state's own (:func:`ncg.rbm.free_energy`: binary or Gaussian units; for
  Gaussian units a log density of the standardised data).
  """
  partition.check_label_units(state, label_units)
  dtype = precision.wide_float()
  if label_units and v.shape[-1] == state.num_visible - label_units:
    neg_f = jax.nn.logsumexp(
        classification.label_scores(state, v, label_units).astype(dtype),
        axis=-1)
  else:
    check(v.shape[-1] == state.num_visible,
          f'v has {v.shape[-1]} units; the RBM has {state.num_visible} visible'
          f' units ({label_units} of them labels)')
    neg_f = -rbm.free_energy(state, v.astype(state.W.dtype)).astype(dtype)
  return neg_f - log_z


def _chunked_map(fn, v: jax.Array, batch_size: int) -> jax.Array:
  """fn over rows of v (N, ...) in batches, with padding; (N, ...) → (N,)."""
  n = v.shape[0]
  pad = (-n) % batch_size
  vp = jnp.concatenate([v, jnp.zeros((pad,) + v.shape[1:], v.dtype)])
  out = jax.lax.map(fn, vp.reshape((-1, batch_size) + v.shape[1:]))
  return out.reshape(-1)[:n]


@functools.partial(jax.jit, static_argnames=('label_units', 'batch_size'))
@precision.highest
def pseudo_log_likelihood(state: RBMState, v: jax.Array, label_units: int = 0,
                          batch_size: int = 64) -> jax.Array:
  """Per-example log pseudo-likelihood over all bits, (N, V) → (N,).

      log PL(v) = Σ_i log p(v_i | v_{−i}),
      log p(v_i | v_{−i}) = −softplus(s_i b_i + Σ_j [softplus(x_j + s_i W_ij)
                                                     − softplus(x_j)]),

  with x = c + v(W ⊙ A) and s_i = 1 − 2v_i (flipping bit i). For a joint RBM
  the label group is one variable: its term is log p(y | x, labels summed
  out) = log_softmax(−F(x, ·))_y. Costs N·V·H softplus terms, evaluated in
  batches of ``batch_size`` examples (memory batch·V·H floats). Binary
  visible units only.
  """
  partition.check_binary_units(state, 'the pseudo-likelihood', 'log_likelihood '
                               'with exact log Z or AIS '
                               '(ncg.units.gaussian_ais_log_partition)')
  w = rbm.effective_weights(state)
  num_bits = state.num_visible - label_units
  w_bits, b_bits = w[:num_bits], state.b[:num_bits]

  def one(v):
    v = v.astype(w.dtype)
    x = v @ w + state.c                                      # (H,)
    bits = v[:num_bits]
    flip = 1.0 - 2.0 * bits                                  # (V−L,)
    delta = jnp.sum(jax.nn.softplus(x + flip[:, None] * w_bits)
                    - jax.nn.softplus(x), axis=-1)           # (V−L,)
    out = -jnp.sum(jax.nn.softplus(flip * b_bits + delta))
    if label_units:
      y = v[num_bits:]
      out += jnp.sum(y * classification.label_log_probs(state, bits,
                                                         label_units))
    return out

  return _chunked_map(jax.vmap(one), v, batch_size)


@jax.jit
def reconstruction_error(state: RBMState, v: jax.Array) -> jax.Array:
  """Mean-field squared reconstruction error per example, (N, V) → (N,).

  Σ_i (v_i − v̂_i)² with v̂ = E[v | h = σ(c + v(W ⊙ A))] (σ(b + h(W ⊙ A)ᵀ)
  for binary units, b + h(W ⊙ A)ᵀ for Gaussian ones), deterministic.
  """
  v = v.astype(state.W.dtype)
  recon = rbm.visible_mean(state, rbm.hidden_probs(state, v))
  return jnp.sum((v - recon) ** 2, axis=-1)

"""Prune-and-regrow rewiring of a sparse RBM at a fixed density: SET and RigL.

Both baselines keep the number of present connections constant and, every
so often, swap k of them:

* **drop** the k present connections whose weights are closest to zero
  (smallest |W_ij|);
* **grow** k connections among those absent before the drop: at random
  (SET, Mocanu et al. 2018) or those with the largest likelihood gradient
  |G_ij| (RigL, Evci et al. 2020).

SET drops the fraction ζ of the present connections after every epoch and
gives each new connection a weight N(0, 1)·s (s = 1/20 in the NCG reference's
SET-RBM); RigL drops ζ_t = ζ/2 · (1 + cos(π t / T_end)) of them every ΔT
steps (t the step, no rewiring after T_end) and starts new weights at 0.

The mask lives in the strengths as everywhere in :mod:`ncg.rbm`: a grown
connection gets strength 1, a dropped one strength 0 and weight 0 (so a
connection that comes back starts from its new weight). Label rows of a
joint RBM are never dropped or grown. Everything is traceable: the number
of swaps may differ between members of a vmapped population.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ncg import rbm
from ncg.rbm import RBMState


def _lowest(score: jax.Array, count: jax.Array) -> jax.Array:
  """Boolean mask of the ``count`` smallest entries of ``score`` (ties by index)."""
  flat = score.ravel()
  ranks = jnp.zeros(flat.shape, jnp.int32).at[jnp.argsort(flat)].set(
      jnp.arange(flat.size, dtype=jnp.int32))
  return (ranks < count).reshape(score.shape)


def rewirable(state: RBMState, label_units: int = 0) -> jax.Array:
  """(V, H) bool: connections that rewiring may touch (not label rows)."""
  rows = jnp.arange(state.num_visible) < state.num_visible - label_units
  return jnp.broadcast_to(rows[:, None], state.W.shape)


def num_swaps(state: RBMState, fraction, label_units: int = 0) -> jax.Array:
  """k = min(⌊ζ · present⌋, absent) over the rewirable connections."""
  free = rewirable(state, label_units)
  present = rbm.mask(state).astype(bool) & free
  n_present = jnp.sum(present)
  n_absent = jnp.sum(free) - n_present
  k = jnp.floor(fraction * n_present).astype(jnp.int32)
  return jnp.minimum(k, n_absent.astype(jnp.int32))


def drop_and_grow(state: RBMState, count, grow_score: jax.Array,
                  new_weight: jax.Array, label_units: int = 0) -> RBMState:
  """Swaps ``count`` connections: drop smallest |W|, grow largest grow_score.

  Args:
    state: the RBM.
    count: k, an integer scalar (traced or not), at most the number of
      present and of absent rewirable connections (see :func:`num_swaps`).
    grow_score: (V, H) score of growing each connection; only connections
      absent before the drop compete.
    new_weight: (V, H) weight a grown connection starts from.
    label_units: the last L visible rows are left alone.

  Returns:
    The rewired state: the same number of present connections.
  """
  free = rewirable(state, label_units)
  present = rbm.mask(state).astype(bool)
  inf = jnp.asarray(jnp.inf, state.W.dtype)
  drop = _lowest(jnp.where(present & free, jnp.abs(state.W), inf), count)
  grow = _lowest(jnp.where(~present & free, -grow_score, inf), count)
  strength = jnp.where(grow, 1.0, jnp.where(drop, 0.0, state.strength))
  W = jnp.where(grow, new_weight, jnp.where(drop, 0.0, state.W))
  return state._replace(W=W.astype(state.W.dtype),
                        strength=strength.astype(state.strength.dtype))


def set_rewire(key: jax.Array, state: RBMState, fraction,
               new_weight_scale: float, label_units: int = 0) -> RBMState:
  """SET: drop the fraction ζ of present weights nearest 0, regrow at random."""
  k_score, k_weight = jax.random.split(key)
  count = num_swaps(state, fraction, label_units)
  score = jax.random.uniform(k_score, state.W.shape, state.W.dtype)
  new_weight = new_weight_scale * jax.random.normal(k_weight, state.W.shape,
                                                    state.W.dtype)
  return drop_and_grow(state, count, score, new_weight, label_units)


def cosine_fraction(step, fraction, until) -> jax.Array:
  """RigL's update fraction ζ/2 · (1 + cos(π t / T_end)), 0 from T_end on."""
  t = jnp.asarray(step, jnp.float32)
  decayed = 0.5 * fraction * (1.0 + jnp.cos(jnp.pi * t / until))
  return jnp.where(t < until, decayed, 0.0)


def rigl_rewire(state: RBMState, gradient: jax.Array, fraction,
                label_units: int = 0) -> RBMState:
  """RigL: drop smallest |W|, grow the absent connections of largest |G|.

  ``gradient`` is G = ∂ log p / ∂(W ⊙ A) of every possible connection (the
  CD statistics of one minibatch); new weights start at 0.
  """
  count = num_swaps(state, fraction, label_units)
  return drop_and_grow(state, count, jnp.abs(gradient),
                       jnp.zeros_like(state.W), label_units)

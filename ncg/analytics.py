"""Connectivity analytics of an RBM: degrees and flip statistics (pure numpy-able).

For a state with mask A (V, H) (:func:`ncg.rbm.mask`) and, from training,
the per-connection flip counts F (V, H) of :attr:`ncg.train.TrainerState.flips`:

* visible degree d_i = Σ_j A_ij: how many hidden units see pixel i;
* hidden degree e_j = Σ_i A_ij: the receptive-field size of hidden unit j;
  Σ_i d_i = Σ_j e_j = the number of present connections;
* flip statistics: the fraction of connections that ever flipped, the mean
  and quantiles of F, and the fraction that flipped more than once (a
  connection added and later removed, or the reverse, flipped twice).

Label rows of a joint RBM (always connected) are excluded everywhere.
"""

from __future__ import annotations

import jax.numpy as jnp

from ncg import rbm
from ncg.rbm import RBMState


def _rows(array, label_units: int):
  return array[:array.shape[-2] - label_units] if label_units else array


def visible_degree(state: RBMState, label_units: int = 0) -> jnp.ndarray:
  """(V − L,) number of hidden units connected to each data unit."""
  return jnp.sum(_rows(rbm.mask(state), label_units), axis=-1)


def hidden_degree(state: RBMState, label_units: int = 0) -> jnp.ndarray:
  """(H,) number of data units connected to each hidden unit."""
  return jnp.sum(_rows(rbm.mask(state), label_units), axis=-2)


def flip_statistics(flips, label_units: int = 0) -> dict[str, float]:
  """Summary of per-connection flip counts F (V, H) over a run.

  Returns:
    ever_flipped: fraction of connections with F ≥ 1;
    flipped_repeatedly: fraction with F ≥ 2 (came back or left again);
    mean_flips: mean F over all connections;
    mean_flips_of_flipped: mean F over connections with F ≥ 1 (0 if none);
    max_flips, median_flips_of_flipped: as named.
  """
  f = jnp.asarray(_rows(jnp.asarray(flips), label_units), jnp.float32).ravel()
  flipped = f >= 1
  n = jnp.maximum(jnp.sum(flipped), 1)
  median = (jnp.median(f[flipped]) if bool(jnp.any(flipped)) else jnp.asarray(0.0))
  return {
      'ever_flipped': float(jnp.mean(flipped)),
      'flipped_repeatedly': float(jnp.mean(f >= 2)),
      'mean_flips': float(jnp.mean(f)),
      'mean_flips_of_flipped': float(jnp.sum(f) / n),
      'median_flips_of_flipped': float(median),
      'max_flips': float(jnp.max(f)) if f.size else 0.0,
  }

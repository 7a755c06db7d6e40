"""Connectivity analytics of an RBM: degrees and flip statistics (numpy).

For a state with mask A (V, H) (:func:`ncg.rbm.mask`) and, from training,
the per-connection flip counts F (V, H) of :attr:`ncg.train.TrainerState.flips`:

* visible degree d_i = Σ_j A_ij: how many hidden units see pixel i;
* hidden degree e_j = Σ_i A_ij: the receptive-field size of hidden unit j;
  Σ_i d_i = Σ_j e_j = the number of present connections;
* flip statistics: the fraction of connections that ever flipped, the mean
  and quantiles of F, and the fraction that flipped more than once (a
  connection added and later removed, or the reverse, flipped twice).

Label rows of a joint RBM (always connected) are excluded everywhere.

These are read-outs of a finished state, not part of any jitted program, so
they run in numpy on the host: no XLA compile per call and shape.
"""

from __future__ import annotations

import numpy as np

from ncg import rbm
from ncg.rbm import RBMState


def _rows(array, label_units: int):
  """(…, V − L, H): the data rows of a (…, V, H) array (a population too)."""
  return array[..., :array.shape[-2] - label_units, :] if label_units else array


def mask(state: RBMState) -> np.ndarray:
  """(…, V, H) A = [strength > ½] as int64 counts, on the host."""
  return (np.asarray(state.strength) > rbm.CONNECTION_THRESHOLD).astype(np.int64)


def visible_degree(state: RBMState, label_units: int = 0) -> np.ndarray:
  """(V − L,) number of hidden units connected to each data unit."""
  return np.sum(_rows(mask(state), label_units), axis=-1)


def hidden_degree(state: RBMState, label_units: int = 0) -> np.ndarray:
  """(H,) number of data units connected to each hidden unit."""
  return np.sum(_rows(mask(state), label_units), axis=-2)


def flip_statistics(flips, label_units: int = 0) -> dict[str, float]:
  """Summary of per-connection flip counts F (V, H) over a run.

  Returns:
    ever_flipped: fraction of connections with F ≥ 1;
    flipped_repeatedly: fraction with F ≥ 2 (came back or left again);
    mean_flips: mean F over all connections;
    mean_flips_of_flipped: mean F over connections with F ≥ 1 (0 if none);
    max_flips, median_flips_of_flipped: as named.
  """
  f = np.asarray(_rows(np.asarray(flips), label_units), np.float64).ravel()
  flipped = f >= 1
  n = max(int(np.sum(flipped)), 1)
  return {
      'ever_flipped': float(np.mean(flipped)),
      'flipped_repeatedly': float(np.mean(f >= 2)),
      'mean_flips': float(np.mean(f)),
      'mean_flips_of_flipped': float(np.sum(f) / n),
      'median_flips_of_flipped': float(np.median(f[flipped])) if flipped.any() else 0.0,
      'max_flips': float(np.max(f)) if f.size else 0.0,
  }

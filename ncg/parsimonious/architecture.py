"""What every gated network kind provides: the architecture record and the kind table entry.

An :class:`Architecture` is a hashable description of the current (possibly
shrunk) network: its ``widths`` are the sizes of the *gate groups*, the sets of
units that share one layer of gates, and ``gather`` lists the kept entries of
the one group that selects from a fixed-size source (input pixels of an MLP,
flattened conv features of LeNet-5). A :class:`NetKind` bundles the functions
that differ between network kinds; each kind lives in its own module
(:mod:`~ncg.parsimonious.mlp`, :mod:`~ncg.parsimonious.lenet5`) and the table
:data:`ncg.parsimonious.models.KINDS` maps ``Architecture.kind`` to it, so no
other module branches on the kind.

A gated layer computes ``a = act(layer(h)) ⊙ z`` with z ∈ {0, 1} per unit (per
filter for convs, broadcast over space). A unit with z = 0 outputs exactly 0,
so removing it together with its row/column in the next layer leaves the
network's function unchanged (:mod:`ncg.parsimonious.shrink`).
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

import flax.linen as nn
import numpy as np


class Architecture(NamedTuple):
  """The current shape of a gated network (hashable: jit caches on it).

  Attributes:
    kind: a key of :data:`ncg.parsimonious.models.KINDS` ('mlp', 'lenet5').
    widths: size of every gate group, in order.
    num_classes: outputs of the final, ungated dense layer.
    gather: indices of the gathered group's kept entries in its fixed-size
      source (see the kind's module).
  """
  kind: str
  widths: tuple[int, ...]
  num_classes: int
  gather: tuple[int, ...]


# (layer, parameter, axis): an axis of one weight array indexed by a group's units.
UnitAxis = tuple[str, str, int]


class NetKind(NamedTuple):
  """The kind-specific parts of a gated network.

  Attributes:
    name: the ``Architecture.kind`` string.
    summary_name: Architecture → the net's name in summaries and reports
      ('lenet300', 'mlp', 'lenet5').
    module: Architecture → flax module ``(x (B, D), gates) → logits (B, K)``.
    group_names: Architecture → names of the gate groups, in order.
    gathered_group: index of the group that ``gather`` indexes.
    unit_axes: Architecture → per group, the (layer, parameter, axis) triples
      indexed by its units (its own column and bias, the next layer's rows).
    couple: (Architecture, keep masks) → keep masks after the kind's couplings
      (e.g. a conv filter without any used flattened feature goes too).
    shrunk_gather: (Architecture, keep masks, new widths) → the new ``gather``.
    macs: Architecture → multiply-accumulates per example (see complexity.py).
    num_params: Architecture → weights and biases (gates excluded).
    start: (widths from the config, number of features, image shape or None,
      number of classes) → the full-width Architecture (InputError if invalid).
    hidden_differences: (Architecture, weights, x (B, D), y (B,), gates) → per
      hidden group (B, w_g) exact differences ℓ(z_j = 1) − ℓ(z_j = 0) (the
      ``'local'`` estimator, :mod:`~ncg.parsimonious.local`), or None where
      the kind has none (then that estimator is refused).
  """
  name: str
  summary_name: Callable[[Architecture], str]
  module: Callable[[Architecture], nn.Module]
  group_names: Callable[[Architecture], tuple[str, ...]]
  gathered_group: int
  unit_axes: Callable[[Architecture], list[list[UnitAxis]]]
  couple: Callable[[Architecture, list[np.ndarray]], list[np.ndarray]]
  shrunk_gather: Callable[[Architecture, Sequence[np.ndarray], tuple[int, ...]],
                          tuple[int, ...]]
  macs: Callable[[Architecture], int]
  num_params: Callable[[Architecture], int]
  start: Callable[..., Architecture]
  hidden_differences: Callable[..., list] | None = None


def no_coupling(arch: Architecture, keep: list[np.ndarray]) -> list[np.ndarray]:
  """Groups are independent: the masks are unchanged."""
  del arch
  return keep

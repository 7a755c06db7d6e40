"""Gated MLPs (LeNet-300-100 and wider or deeper): input pixels and hidden units gated.

Gate groups ``('input', 'dense0', 'dense1', ...)``. The input pixels are gated
too, as in the structured-pruning literature (VIBNet's 97-71-33 counts input
pixels), so ``widths[0]`` is the number of input pixels still read and
``gather`` lists them. The output layer is not gated.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from ncg.errors import check
from ncg.parsimonious import local
from ncg.parsimonious.architecture import Architecture, NetKind, no_coupling


class GatedMLP(nn.Module):
  """x (B, D_source) → logits (B, K); hidden units ReLU, every group gated."""
  arch: Architecture

  @nn.compact
  def __call__(self, x: jax.Array, gates: Sequence[jax.Array]) -> jax.Array:
    h = x[:, jnp.asarray(self.arch.gather, jnp.int32)] * gates[0]
    for i, width in enumerate(self.arch.widths[1:]):
      h = nn.relu(nn.Dense(width, name=f'dense{i}')(h)) * gates[i + 1]
    return nn.Dense(self.arch.num_classes, name='out')(h)


def architecture(num_inputs: int, hidden: Sequence[int], num_classes: int = 10) -> Architecture:
  """A fully gated MLP ``num_inputs-hidden...-num_classes`` (LeNet-300-100: 784, (300, 100))."""
  check(len(hidden) >= 1 and all(int(h) > 0 for h in hidden),
        f'hidden widths must be positive integers, got {tuple(hidden)}')
  return Architecture('mlp', (int(num_inputs),) + tuple(int(h) for h in hidden),
                      int(num_classes), tuple(range(int(num_inputs))))


def group_names(arch: Architecture) -> tuple[str, ...]:
  return ('input',) + tuple(f'dense{i}' for i in range(len(arch.widths) - 1))


def unit_axes(arch: Architecture):
  """Input pixel i: row i of dense0; hidden unit j of layer l: column j and bias
  j of dense_l and row j of the next layer."""
  hidden = len(arch.widths) - 1
  layers = [f'dense{i}' for i in range(hidden)] + ['out']
  groups = [[(layers[0], 'kernel', 0)]]
  for i in range(hidden):
    groups.append([(layers[i], 'kernel', 1), (layers[i], 'bias', 0),
                   (layers[i + 1], 'kernel', 0)])
  return groups


def shrunk_gather(arch: Architecture, keep, widths) -> tuple[int, ...]:
  del widths
  return tuple(int(i) for i in np.asarray(arch.gather)[keep[0]])


def macs(arch: Architecture) -> int:
  dims = arch.widths + (arch.num_classes,)
  return sum(a * b for a, b in zip(dims[:-1], dims[1:]))


def num_params(arch: Architecture) -> int:
  dims = arch.widths + (arch.num_classes,)
  return sum(a * b + b for a, b in zip(dims[:-1], dims[1:]))


def start(widths: Sequence[int], num_features: int, image_shape, num_classes: int
          ) -> Architecture:
  del image_shape
  return architecture(num_features, widths, num_classes)


def summary_name(arch: Architecture) -> str:
  """'lenet300' for the LeNet-300-100 family, else 'mlp'.

  The family: 784 inputs and two hidden layers of 300·m and 100·m units (the
  reference net, m = 1, and its wider starts such as 600-200 or 1200-400); any
  other MLP (e.g. the 32-16 of configs/prune_tiny.py) is an 'mlp'.
  """
  if len(arch.widths) != 3 or arch.widths[0] != 784:
    return 'mlp'
  first, second = arch.widths[1:]
  return 'lenet300' if first % 300 == 0 and first == 3 * second else 'mlp'


KIND = NetKind(name='mlp', summary_name=summary_name, module=GatedMLP,
               group_names=group_names, gathered_group=0, unit_axes=unit_axes,
               couple=no_coupling, shrunk_gather=shrunk_gather, macs=macs,
               num_params=num_params, start=start,
               hidden_differences=local.hidden_unit_differences)

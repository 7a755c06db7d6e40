"""Inference cost of an architecture: multiply-accumulates and parameters.

Conventions (stated because the literature mixes them): MACs count one
multiply-add per weight use per example in dense and conv layers; biases,
activations and pooling are not counted. FLOPs = 2 · MACs. Published
structured-pruning numbers quote MACs for LeNet-5 (Louizos et al. 2017:
BC-GHS 5-10-76-16 ≈ 153K MACs, reported as "158K FLOPs") and 2 · MACs for
LeNet-300-100 (VIBNet 97-71-33: 9,560 MACs, reported as "19.1K FLOPs").
"""

from __future__ import annotations

from ncg.parsimonious.models import (LENET5_KERNEL, LENET5_SIDE, Architecture)


def _lenet5_maps() -> tuple[int, int]:
  """Output positions of the two convolutions (24·24 and 8·8 at 28×28 input)."""
  side0 = LENET5_SIDE - LENET5_KERNEL + 1            # 24
  side1 = side0 // 2 - LENET5_KERNEL + 1             # 8
  return side0 * side0, side1 * side1


def macs(arch: Architecture) -> int:
  """Multiply-accumulates per example of one forward pass."""
  if arch.kind == 'mlp':
    dims = arch.widths + (arch.num_classes,)
    return sum(a * b for a, b in zip(dims[:-1], dims[1:]))
  c0, c1, flat, dense = arch.widths
  positions0, positions1 = _lenet5_maps()
  kk = LENET5_KERNEL * LENET5_KERNEL
  return (positions0 * c0 * kk * 1 + positions1 * c1 * kk * c0
          + flat * dense + dense * arch.num_classes)


def flops(arch: Architecture) -> int:
  """2 · :func:`macs`."""
  return 2 * macs(arch)


def num_params(arch: Architecture) -> int:
  """Weights and biases of the network (gates excluded)."""
  if arch.kind == 'mlp':
    dims = arch.widths + (arch.num_classes,)
    return sum(a * b + b for a, b in zip(dims[:-1], dims[1:]))
  c0, c1, flat, dense = arch.widths
  kk = LENET5_KERNEL * LENET5_KERNEL
  return (kk * c0 + c0 + kk * c0 * c1 + c1 + flat * dense + dense
          + dense * arch.num_classes + arch.num_classes)

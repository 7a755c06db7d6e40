"""Inference cost of an architecture: multiply-accumulates and parameters.

Conventions (stated because the literature mixes them): MACs count one
multiply-add per weight use per example in dense and conv layers; biases,
activations and pooling are not counted. FLOPs = 2 · MACs. Published
structured-pruning numbers quote MACs for LeNet-5 (Louizos et al. 2017:
BC-GHS 5-10-76-16 ≈ 153K MACs, reported as "158K FLOPs") and 2 · MACs for
LeNet-300-100 (VIBNet 97-71-33: 9,560 MACs, reported as "19.1K FLOPs").
Each kind counts its own layers (``NetKind.macs``, ``NetKind.num_params``).
"""

from __future__ import annotations

from ncg.parsimonious import models
from ncg.parsimonious.architecture import Architecture


def macs(arch: Architecture) -> int:
  """Multiply-accumulates per example of one forward pass."""
  return models.kind(arch).macs(arch)


def flops(arch: Architecture) -> int:
  """2 · :func:`macs`."""
  return 2 * macs(arch)


def num_params(arch: Architecture) -> int:
  """Weights and biases of the network (gates excluded)."""
  return models.kind(arch).num_params(arch)

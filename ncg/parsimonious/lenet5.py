"""Gated LeNet-5-Caffe (conv 20 → conv 50 → dense 800 → 500 → 10).

Gate groups ``('conv0', 'conv1', 'flat', 'dense0')``: the filters of both conv
layers, the 4·4·C flattened features entering the dense layer (``gather``
lists the kept ones as ``position · C + channel``), and the dense units. Two
couplings: the flattened features of a removed conv1 filter are removed, and a
conv1 filter none of whose flattened features survives is removed (its output
is unused).
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from ncg.errors import check
from ncg.parsimonious.architecture import Architecture, NetKind

SIDE = 28          # input image side
KERNEL = 5         # 5×5 'VALID' convolutions, each followed by 2×2 max pooling
POSITIONS = 16     # 4×4 pooled positions after the second conv


def architecture(conv0: int = 20, conv1: int = 50, dense: int = 500,
                 num_classes: int = 10) -> Architecture:
  """LeNet-5-Caffe with gates (20, 50, 800, 500 at the default widths)."""
  check(min(conv0, conv1, dense) > 0,
        f'LeNet-5 widths must be positive, got {(conv0, conv1, dense)}')
  flat = POSITIONS * conv1
  return Architecture('lenet5', (int(conv0), int(conv1), flat, int(dense)),
                      int(num_classes), tuple(range(flat)))


def _channel_gate(gate: jax.Array) -> jax.Array:
  """(C,) or (B, C) gates broadcast against (B, H, W, C) feature maps."""
  return gate if gate.ndim == 1 else gate[:, None, None, :]


class PatchConv(nn.Module):
  """A 'VALID' stride-1 convolution computed as im2col (slices) + one matmul.

  Same parameters as ``nn.Conv`` (kernel (k, k, C_in, C_out), bias (C_out,)),
  same outputs; on CPU the matmul form (and its slice/pad backward) is many
  times faster than XLA's convolution kernels for LeNet-sized layers.
  """
  features: int
  kernel_size: int

  @nn.compact
  def __call__(self, h: jax.Array) -> jax.Array:
    k, c_in = self.kernel_size, h.shape[-1]
    kernel = self.param('kernel', nn.initializers.lecun_normal(),
                        (k, k, c_in, self.features))
    bias = self.param('bias', nn.initializers.zeros_init(), (self.features,))
    rows, cols = h.shape[1] - k + 1, h.shape[2] - k + 1
    patches = jnp.stack([h[:, i:i + rows, j:j + cols, :]
                         for i in range(k) for j in range(k)], axis=3)
    patches = patches.reshape(h.shape[0], rows, cols, k * k * c_in)
    return patches @ kernel.reshape(k * k * c_in, self.features) + bias


def max_pool_2x2(h: jax.Array) -> jax.Array:
  """2×2 max pooling with stride 2 of (B, R, C, ch) → (B, R/2, C/2, ch).

  The same values as ``nn.max_pool(h, (2, 2), (2, 2))`` for even R, C, written
  as a reshape and a max so that its gradient is an elementwise mask instead
  of XLA's select-and-scatter (5× faster on CPU for conv0 of LeNet-5).
  """
  b, rows, cols, channels = h.shape
  return h.reshape(b, rows // 2, 2, cols // 2, 2, channels).max(axis=(2, 4))


class GatedLeNet5(nn.Module):
  """x (B, 784) → logits (B, K): LeNet-5-Caffe with gated filters and units."""
  arch: Architecture

  @nn.compact
  def __call__(self, x: jax.Array, gates: Sequence[jax.Array]) -> jax.Array:
    c0, c1, _, d0 = self.arch.widths
    h = x.reshape(x.shape[0], SIDE, SIDE, 1)
    h = nn.relu(PatchConv(c0, KERNEL, name='conv0')(h))
    h = max_pool_2x2(h) * _channel_gate(gates[0])        # (B, 12, 12, c0)
    h = nn.relu(PatchConv(c1, KERNEL, name='conv1')(h))
    h = max_pool_2x2(h) * _channel_gate(gates[1])        # (B, 4, 4, c1)
    h = h.reshape(h.shape[0], -1)[:, jnp.asarray(self.arch.gather, jnp.int32)]
    h = h * gates[2]                                                     # (B, flat)
    h = nn.relu(nn.Dense(d0, name='dense0')(h)) * gates[3]
    return nn.Dense(self.arch.num_classes, name='out')(h)


def group_names(arch: Architecture) -> tuple[str, ...]:
  del arch
  return ('conv0', 'conv1', 'flat', 'dense0')


def unit_axes(arch: Architecture):
  del arch
  return [[('conv0', 'kernel', 3), ('conv0', 'bias', 0), ('conv1', 'kernel', 2)],
          [('conv1', 'kernel', 3), ('conv1', 'bias', 0)],
          [('dense0', 'kernel', 0)],
          [('dense0', 'kernel', 1), ('dense0', 'bias', 0), ('out', 'kernel', 0)]]


def couple(arch: Architecture, keep: list[np.ndarray]) -> list[np.ndarray]:
  """Flattened features of removed conv1 filters go; conv1 filters without features go."""
  c1 = arch.widths[1]
  channel = np.asarray(arch.gather) % c1
  keep[2] &= keep[1][channel]
  used = np.zeros(c1, bool)
  used[channel[keep[2]]] = True
  keep[1] &= used
  return keep


def shrunk_gather(arch: Architecture, keep, widths) -> tuple[int, ...]:
  gather = np.asarray(arch.gather)
  c1 = arch.widths[1]
  position, channel = np.divmod(gather[keep[2]], c1)
  new_rank = np.cumsum(keep[1]) - 1
  assert np.all(position < POSITIONS)
  return tuple(int(i) for i in position * widths[1] + new_rank[channel])


def _maps() -> tuple[int, int]:
  """Output positions of the two convolutions (24·24 and 8·8 at 28×28 input)."""
  side0 = SIDE - KERNEL + 1            # 24
  side1 = side0 // 2 - KERNEL + 1      # 8
  return side0 * side0, side1 * side1


def macs(arch: Architecture) -> int:
  c0, c1, flat, dense = arch.widths
  positions0, positions1 = _maps()
  kk = KERNEL * KERNEL
  return (positions0 * c0 * kk * 1 + positions1 * c1 * kk * c0
          + flat * dense + dense * arch.num_classes)


def num_params(arch: Architecture) -> int:
  c0, c1, flat, dense = arch.widths
  kk = KERNEL * KERNEL
  return (kk * c0 + c0 + kk * c0 * c1 + c1 + flat * dense + dense
          + dense * arch.num_classes + arch.num_classes)


def start(widths: Sequence[int], num_features: int, image_shape, num_classes: int
          ) -> Architecture:
  del num_features
  widths = tuple(int(w) for w in widths)
  check(len(widths) == 3, f'lenet5 needs model.widths=(conv0, conv1, dense), got {widths}')
  check(tuple(image_shape or ()) == (SIDE, SIDE),
        f'lenet5 needs {SIDE}×{SIDE} images, the data set has {image_shape}')
  return architecture(*widths, num_classes=num_classes)


KIND = NetKind(name='lenet5', summary_name=lambda arch: 'lenet5', module=GatedLeNet5,
               group_names=group_names, gathered_group=2, unit_axes=unit_axes,
               couple=couple, shrunk_gather=shrunk_gather, macs=macs,
               num_params=num_params, start=start)

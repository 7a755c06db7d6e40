"""Architectures whose units, filters and inputs carry Bernoulli gates.

An :class:`Architecture` is a hashable description of the current (possibly
shrunk) network: its ``widths`` are the sizes of the *gate groups*, the sets of
units that share one layer of gates:

* ``'mlp'`` (LeNet-300-100 and wider): groups ``('input', 'dense0', ...)``;
  the input pixels are gated too, as in the structured-pruning literature
  (VIBNet's 97-71-33 counts input pixels), so ``widths[0]`` is the number of
  input pixels still read and ``gather`` lists them.
* ``'lenet5'`` (LeNet-5-Caffe, conv 20 → conv 50 → dense 800 → 500 → 10):
  groups ``('conv0', 'conv1', 'flat', 'dense0')``: the filters of both conv
  layers, the 4·4·C flattened features entering the dense layer (``gather``
  lists the kept ones as ``position · C + channel``), and the dense units.

A gated layer computes ``a = act(layer(h)) ⊙ z`` with z ∈ {0, 1} per unit (per
filter for convs, broadcast over space). A unit with z = 0 outputs exactly 0,
so removing it together with its row/column in the next layer leaves the
network's function unchanged (:mod:`ncg.parsimonious.shrink`).
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from ncg.errors import check

KINDS = ('mlp', 'lenet5')
LENET5_SIDE = 28          # input image side
LENET5_KERNEL = 5         # 5×5 'VALID' convolutions, each followed by 2×2 max pooling
LENET5_POSITIONS = 16     # 4×4 pooled positions after the second conv


class Architecture(NamedTuple):
  """The current shape of a gated network (hashable: jit caches on it).

  Attributes:
    kind: 'mlp' or 'lenet5'.
    widths: size of every gate group, in order (see the module docstring).
    num_classes: outputs of the final, ungated dense layer.
    gather: indices of the gathered group's kept entries in its fixed-size
      source: input pixels (mlp) or flattened conv features (lenet5).
  """
  kind: str
  widths: tuple[int, ...]
  num_classes: int
  gather: tuple[int, ...]

  @property
  def group_names(self) -> tuple[str, ...]:
    if self.kind == 'mlp':
      return ('input',) + tuple(f'dense{i}' for i in range(len(self.widths) - 1))
    return ('conv0', 'conv1', 'flat', 'dense0')


def mlp(num_inputs: int, hidden: Sequence[int], num_classes: int = 10) -> Architecture:
  """A fully gated MLP ``num_inputs-hidden...-num_classes`` (LeNet-300-100: 784, (300, 100))."""
  check(len(hidden) >= 1 and all(int(h) > 0 for h in hidden),
        f'hidden widths must be positive integers, got {tuple(hidden)}')
  return Architecture('mlp', (int(num_inputs),) + tuple(int(h) for h in hidden),
                      int(num_classes), tuple(range(int(num_inputs))))


def lenet5(conv0: int = 20, conv1: int = 50, dense: int = 500,
           num_classes: int = 10) -> Architecture:
  """LeNet-5-Caffe with gates (20, 50, 800, 500 at the default widths)."""
  check(min(conv0, conv1, dense) > 0,
        f'LeNet-5 widths must be positive, got {(conv0, conv1, dense)}')
  flat = LENET5_POSITIONS * conv1
  return Architecture('lenet5', (int(conv0), int(conv1), flat, int(dense)),
                      int(num_classes), tuple(range(flat)))


def build(arch: Architecture, num_inputs: int | None = None) -> Architecture:
  """Validates an architecture (kind known, widths consistent)."""
  check(arch.kind in KINDS, f'unknown network kind {arch.kind!r}; choose one of {KINDS}')
  check(len(arch.gather) == arch.widths[{'mlp': 0, 'lenet5': 2}[arch.kind]],
        'gather must list one index per unit of the gathered group')
  return arch


def _channel_gate(gate: jax.Array) -> jax.Array:
  """(C,) or (B, C) gates broadcast against (B, H, W, C) feature maps."""
  return gate if gate.ndim == 1 else gate[:, None, None, :]


class GatedMLP(nn.Module):
  """x (B, D_source) → logits (B, K); hidden units ReLU, every group gated."""
  arch: Architecture

  @nn.compact
  def __call__(self, x: jax.Array, gates: Sequence[jax.Array]) -> jax.Array:
    h = x[:, jnp.asarray(self.arch.gather, jnp.int32)] * gates[0]
    for i, width in enumerate(self.arch.widths[1:]):
      h = nn.relu(nn.Dense(width, name=f'dense{i}')(h)) * gates[i + 1]
    return nn.Dense(self.arch.num_classes, name='out')(h)


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
    h = x.reshape(x.shape[0], LENET5_SIDE, LENET5_SIDE, 1)
    k = LENET5_KERNEL
    h = nn.relu(PatchConv(c0, k, name='conv0')(h))
    h = max_pool_2x2(h) * _channel_gate(gates[0])        # (B, 12, 12, c0)
    h = nn.relu(PatchConv(c1, k, name='conv1')(h))
    h = max_pool_2x2(h) * _channel_gate(gates[1])        # (B, 4, 4, c1)
    h = h.reshape(h.shape[0], -1)[:, jnp.asarray(self.arch.gather, jnp.int32)]
    h = h * gates[2]                                                     # (B, flat)
    h = nn.relu(nn.Dense(d0, name='dense0')(h)) * gates[3]
    return nn.Dense(self.arch.num_classes, name='out')(h)


def network(arch: Architecture) -> nn.Module:
  """The flax module of an architecture."""
  build(arch)
  return {'mlp': GatedMLP, 'lenet5': GatedLeNet5}[arch.kind](arch)


def init_weights(key: jax.Array, arch: Architecture, num_inputs: int) -> dict:
  """Flax variables {'params': ...} of a freshly initialised network."""
  ones = [jnp.ones((w,)) for w in arch.widths]
  return network(arch).init(key, jnp.zeros((1, num_inputs)), ones)


def apply(arch: Architecture, weights: dict, x: jax.Array,
          gates: Sequence[jax.Array]) -> jax.Array:
  """Logits (B, K) for inputs x (B, D) and gates ((B, w_g) or (w_g,) per group)."""
  return network(arch).apply(weights, x, gates)

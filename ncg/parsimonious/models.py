"""The table of gated network kinds, and building, initialising and applying a network.

Every kind lives in its own module and contributes one
:class:`~ncg.parsimonious.architecture.NetKind` to :data:`KINDS`; everything
else (shrinking, costs, the trainer, the entry point) looks the kind up here
instead of branching on it. To add a kind: write its module (a flax module
that multiplies each gate group's outputs by its gates, and the NetKind
functions) and add it to :data:`KINDS`.
"""

from __future__ import annotations

import functools
import math
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from ncg.errors import check
from ncg.parsimonious import lenet5 as lenet5_lib
from ncg.parsimonious import mlp as mlp_lib
from ncg.parsimonious.architecture import Architecture, NetKind

KINDS: dict[str, NetKind] = {'mlp': mlp_lib.KIND, 'lenet5': lenet5_lib.KIND}

# Weight initialisations: a gain on flax's LeCun normal (variance 1/fan_in), so
# 'he' (variance 2/fan_in) is LeCun × √2; ``init_scale`` multiplies either.
INIT_GAINS = {'lecun': 1.0, 'he': math.sqrt(2.0)}

mlp = mlp_lib.architecture
lenet5 = lenet5_lib.architecture


def kind(arch: Architecture) -> NetKind:
  """The NetKind of an architecture (InputError for an unknown kind)."""
  check(arch.kind in KINDS, f'unknown network kind {arch.kind!r}; choose one of {tuple(KINDS)}')
  return KINDS[arch.kind]


def group_names(arch: Architecture) -> tuple[str, ...]:
  """Names of the gate groups, in order."""
  return kind(arch).group_names(arch)


def build(arch: Architecture) -> Architecture:
  """Validates an architecture (kind known, widths consistent with gather)."""
  k = kind(arch)
  check(len(arch.gather) == arch.widths[k.gathered_group],
        'gather must list one index per unit of the gathered group')
  return arch


def network(arch: Architecture) -> nn.Module:
  """The flax module of an architecture."""
  return kind(build(arch)).module(arch)


@functools.lru_cache(maxsize=32)
def _init_fn(arch: Architecture, num_inputs: int):
  """The flax init of an architecture, compiled once (eagerly it compiles every op).

  Every array is made inside the jitted function: one made here would be a
  tracer when the cache is first filled under a caller's trace (a jitted
  init), and the cached function would then leak it into later calls."""
  def init(key):
    ones = [jnp.ones((w,)) for w in arch.widths]
    return network(arch).init(key, jnp.zeros((1, num_inputs)), ones)
  return jax.jit(init)


def init_weights(key: jax.Array, arch: Architecture, num_inputs: int,
                 scheme: str = 'lecun', scale: float = 1.0) -> dict:
  """Flax variables {'params': ...} of a freshly initialised network.

  Kernels: truncated-normal LeCun (variance 1/fan_in) times
  ``INIT_GAINS[scheme] · scale``; biases 0.
  """
  check(scheme in INIT_GAINS, f'unknown init scheme {scheme!r}; choose one of {tuple(INIT_GAINS)}')
  check(scale > 0, f'init scale must be > 0, got {scale}')
  variables = _init_fn(arch, num_inputs)(key)
  gain = INIT_GAINS[scheme] * scale
  if gain == 1.0:
    return variables
  return jax.tree_util.tree_map_with_path(
      lambda path, w: w * gain if path[-1].key == 'kernel' else w, variables)


def apply(arch: Architecture, weights: dict, x: jax.Array,
          gates: Sequence[jax.Array]) -> jax.Array:
  """Logits (B, K) for inputs x (B, D) and gates ((B, w_g) or (w_g,) per group)."""
  return network(arch).apply(weights, x, gates)

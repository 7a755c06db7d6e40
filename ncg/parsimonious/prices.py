"""What a unit costs: the price term of the objective, a table of kinds.

The objective (docs/parsimonious.md §5) charges the gates a price. Two forms:

* **linear** — (λ/N) Σ_g s_g Σ_j θ_gj: every unit of group g pays λ s_g / N
  nats per example, whatever the other gates do. This is what the flattening
  hyper-prior gives (its gate term at the optimal π is −λθ, §4) with a group
  parameter λ s_g. The per-group factors s_g come from a row of
  :data:`PRICES` evaluated on the *start* network: 'unit' (s_g = 1), 'macs'
  (the MACs one unit of the group costs in the start network, relative to a
  unit of the last gated group) or 'fanout' (the weights a unit feeds in the
  next layer at the start: the L0 paper's λ per outgoing weight).
* **expected MACs** — (κ/N) E_q[MACs(z)], κ/N nats per example per
  multiply-accumulate of the sampled network. A joint prior on the gates
  p(z) ∝ exp(−κ MACs(z)) gives E_q[log p(z)] = −κ E_q[MACs(z)] + const, and
  with the flat hyper-prior (λ → 0, gate term 0) this is the whole gate term.
  MACs(z) is a sum of products of the widths of *different* groups
  (``NetKind.macs``: Σ_l w_l w_{l+1} for an MLP), the gates are independent
  under q, so E_q[MACs(z)] = MACs(E_q[w]) with E_q[w_g] = Σ_j θ_gj: the kind's
  own MAC count evaluated at the expected widths, and the objective stays
  multilinear in θ. Its derivative for unit j of group g,
  ∂/∂θ_gj = (κ/N) ∂MACs/∂w_g, is the MACs the unit costs *at the current
  widths* (for an MLP hidden unit: its expected fan-in plus fan-out), so a
  pixel gets cheaper as the first hidden layer shrinks — the price follows the
  cost of the network being trained, not of the one it started as, and does
  not depend on the starting width.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ncg.errors import check
from ncg.parsimonious import models
from ncg.parsimonious.architecture import Architecture


def unit_prices(arch: Architecture, num_inputs: int) -> tuple[float, ...]:
  """s_g = 1: the same λ for every unit (the derivation's default)."""
  del num_inputs
  return (1.0,) * len(arch.widths)


def mac_prices(arch: Architecture, num_inputs: int) -> tuple[float, ...]:
  """Per group, the MACs one unit costs (removing it from the start network),
  relative to a unit of the last group (a dense hidden unit)."""
  del num_inputs
  kind = models.kind(arch)
  base = kind.macs(arch)
  share = []
  for g in range(len(arch.widths)):
    widths = list(arch.widths)
    widths[g] -= 1
    share.append(base - kind.macs(arch._replace(widths=tuple(widths))))
  return tuple(s / share[-1] for s in share)


def fanout_prices(arch: Architecture, num_inputs: int) -> tuple[float, ...]:
  """Per group, the weights one unit feeds outside its own layer at the start:
  the rows (input channels) it indexes in the next layer's kernel (the L0
  paper's price: λ per outgoing weight; LeNet-300-100: 300 / 100 / 10)."""
  # concrete (not eval_shape): models caches its init function per architecture
  shapes = models.init_weights(jax.random.key(0), arch, num_inputs)
  out = []
  for triples in models.kind(arch).unit_axes(arch):
    own = {layer for layer, name, _ in triples if name == 'bias'}
    count = 0
    for layer, name, axis in triples:
      if layer in own:
        continue
      shape = shapes['params'][layer][name].shape
      count += int(np.prod(shape)) // shape[axis]
    out.append(float(count))
  return tuple(out)


class Price(NamedTuple):
  """A row of :data:`PRICES`.

  Attributes:
    scales: (start architecture, number of inputs) → s_g per group, the
      factors of the linear term (ignored by the expected-MAC term).
    expected_macs: the term is (κ/N) E_q[MACs] instead of (λ/N) Σ s_g Σ θ.
  """
  scales: Callable[[Architecture, int], tuple[float, ...]]
  expected_macs: bool = False


# train.price → how units are charged (config.train.penalty is λ/N per unit
# for the linear rows, κ/N per MAC for 'expected_macs').
PRICES: dict[str, Price] = {
    'unit': Price(unit_prices),
    'macs': Price(mac_prices),
    'fanout': Price(fanout_prices),
    'expected_macs': Price(unit_prices, expected_macs=True),
}


def scales(name: str, arch: Architecture, num_inputs: int,
           multipliers: Sequence[float] = ()) -> tuple[float, ...]:
  """s_g of price ``name`` at the start ``arch``, times optional per-group ``multipliers``."""
  check(name in PRICES, f'unknown train.price {name!r}; choose one of {tuple(PRICES)}')
  base = PRICES[name].scales(arch, num_inputs)
  if not len(multipliers):
    return base
  check(len(multipliers) == len(base),
        f'train.penalty_scale needs one value per gate group {models.group_names(arch)}, '
        f'got {tuple(multipliers)}')
  return tuple(b * float(m) for b, m in zip(base, multipliers))


def expected_macs(arch: Architecture, probs: Sequence[jax.Array]) -> jax.Array:
  """E_q[MACs(z)] = MACs at the expected widths Σ_j P(z_gj = 1) (exact: see the module doc)."""
  widths = tuple(jnp.sum(p) for p in probs)
  return models.kind(arch).macs(arch._replace(widths=widths))


def term(arch: Architecture, penalty: float, scales_: Sequence[float], macs_term: bool,
         probs: Sequence[jax.Array]) -> jax.Array:
  """The price of the objective, nats per example.

  Args:
    arch: the network as it is now (its widths are the arrays' widths).
    penalty: λ/N (linear) or κ/N (expected MACs).
    scales_: s_g per group (linear term).
    macs_term: use (κ/N) E_q[MACs] instead of (λ/N) Σ_g s_g Σ_j p_gj.
    probs: per group (w_g,) probabilities that a gate is on (θ, or P(z ≠ 0) for L0).
  """
  if macs_term:
    return penalty * expected_macs(arch, probs)
  return penalty * sum(s * jnp.sum(p) for s, p in zip(scales_, probs))

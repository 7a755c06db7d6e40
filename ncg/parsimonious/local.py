"""Exact per-unit loss differences of the hidden units of a gated MLP.

The θ-gradient of a Bernoulli gate is Δ_j = E_q[ℓ | z_j = 1] − E_q[ℓ | z_j = 0]
(``ncg.parsimonious.gates``). Given one draw z ~ q of all gates, the difference

    d_nj(z) = ℓ_n(z with z_j = 1) − ℓ_n(z with z_j = 0)

is an unbiased estimate of Δ_j whatever z_j was (z_j is replaced, the others are
independent of it): the *local expectation gradient* of Titsias & Lázaro-Gredilla
(2015), the conditional expectation over z_j done exactly. Its variance comes
only from the data and the other gates, not from z_j's own coin, and it is
exact at θ_j ∈ {0, 1} (the one-sided derivative, not a first-order estimate).

For a hidden unit j of layer l the two losses differ only downstream of it:
with a_l the (B, H_l) activations before the gates and p the pre-activation of
the next layer,

    p^(s) = p + (s − z_lj) a_lj W_{l+1}[j, :]        (s ∈ {0, 1}),

a rank-one change per unit, so all H_l units are done at once on (B, H_l,
D_{l+1}) arrays, followed by the rest of the network. Cost per step, relative to
one forward pass of LeNet-300-100: ≈ 2.3× for both hidden layers (the first
layer's 300 units each re-run the 300→100→10 tail; the last layer's only the
output layer). Input pixels are not covered (each would re-run the whole net).
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import optax

from ncg.parsimonious.architecture import Architecture


def _dense(weights: dict, name: str):
  leaves = weights['params'][name]
  return leaves['kernel'], leaves['bias']


def hidden_unit_differences(arch: Architecture, weights: dict, x: jax.Array, y: jax.Array,
                            gates: Sequence[jax.Array]) -> list[jax.Array]:
  """d_nj = ℓ_n(z_j = 1) − ℓ_n(z_j = 0) for every hidden unit of a gated MLP.

  Args:
    arch: an 'mlp' architecture (``ncg.parsimonious.mlp``).
    weights: its flax variables (``dense0`` … ``dense{L−1}``, ``out``).
    x: (B, D_source) inputs; y: (B,) integer labels.
    gates: per group (B, w_g) gate values (group 0 the input pixels).

  Returns:
    One (B, H_l) array of cross-entropy differences (nats) per hidden layer l,
    in group order (groups 1 … L).
  """
  hidden = len(arch.widths) - 1
  layers = [f'dense{i}' for i in range(hidden)] + ['out']
  labels = y

  def tail(p: jax.Array, start: int) -> jax.Array:
    """Logits from p, (B, H_l, D) pre-activations of hidden layer ``start`` (or the logits)."""
    for i in range(start, hidden):
      kernel, bias = _dense(weights, layers[i + 1])
      p = (jax.nn.relu(p) * gates[i + 1][:, None, :]) @ kernel + bias
    return p

  h = x[:, jnp.asarray(arch.gather, jnp.int32)] * gates[0]
  out = []
  for l in range(hidden):
    kernel, bias = _dense(weights, layers[l])
    a = jax.nn.relu(h @ kernel + bias)                       # (B, H_l) before the gates
    z = gates[l + 1]
    h = a * z
    next_kernel, next_bias = _dense(weights, layers[l + 1])
    p = h @ next_kernel + next_bias                          # (B, D_{l+1})
    change = a[:, :, None] * next_kernel[None, :, :]          # (B, H_l, D_{l+1})
    p_on = p[:, None, :] + (1.0 - z)[:, :, None] * change
    p_off = p[:, None, :] - z[:, :, None] * change
    logits_on, logits_off = tail(p_on, l + 1), tail(p_off, l + 1)
    targets = jnp.broadcast_to(labels[:, None], logits_on.shape[:2])
    loss_on = optax.softmax_cross_entropy_with_integer_labels(logits_on, targets)
    loss_off = optax.softmax_cross_entropy_with_integer_labels(logits_off, targets)
    out.append(loss_on - loss_off)
  return out


def difference_macs(arch: Architecture) -> int:
  """MACs per example of one call of :func:`hidden_unit_differences` (one gate draw).

  Hidden layer l: the rank-one change (H_l · D_{l+1}) and, for both values of
  the gate, the rest of the network from layer l + 1 on for every unit
  (2 · H_l · Σ_{i > l} D_i · D_{i+1}, D the widths with the classes last).
  LeNet-300-100: 631,000, ≈ 2.4 forward passes (266,200).
  """
  dims = tuple(arch.widths) + (arch.num_classes,)
  total = 0
  for l in range(1, len(dims) - 1):    # dims[l] is hidden layer l (dims[0] the pixels)
    tail = sum(a * b for a, b in zip(dims[l + 1:-1], dims[l + 2:]))
    total += dims[l] * dims[l + 1] + 2 * dims[l] * tail
  return total

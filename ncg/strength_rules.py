"""NCG strength rules: the ascent direction of the connection strengths α.

A rule maps the state and the CD statistics G (V, H) — the estimate of
∂ log p / ∂(W ⊙ A) — to the direction d (V, H) of the strength step
α ← clip(α + η_α d, 0, 1). :data:`RULES` is the table that
``TrainConfig.strength_rule`` picks from.

* ``'reference'`` (de Oliveira & Figueiredo, the default): the network
  gradient d = W ⊙ G = ∂ log p / ∂A_ij, with W unmasked.
* ``'normalized'`` (an option, not in the reference): the network gradient of
  the weights rescaled to the reference start's RMS,

      d = (ρ_ref / ρ(W)) · W ⊙ G,    ρ(W) = sqrt(mean_ij W_ij²),
      ρ_ref = 1/√3 (the RMS of U[−1, 1]),

  i.e. ∂ log p / ∂A_ij per unit of the weights' global scale. It is invariant
  to a global rescaling W → sW (for fixed G) and equals the reference rule in
  expectation at the reference start.

Why the option exists (derivation in docs/ncg.md §2a): under plain SGD a
present connection's strength moves by η_α W G = (η_α / 2η)·Δ(W²) − η_α η G²/2
per step, and an absent one's (its W frozen) by η_α W_0 G. Both are
proportional to |W|, so from a small start (W ~ N(0, 0.01²)) the reference
rule's strengths move about 58× slower than from U[−1, 1]: NCG then starts as
a frozen random mask. The normalised rule removes the global scale only; it
does not change the rule's sign structure (present connections are reinforced
while |W| grows; an absent connection rises iff sign W_0 = sign G).
"""

from __future__ import annotations

import math
from typing import Callable

import jax
import jax.numpy as jnp

from ncg.rbm import RBMState

REFERENCE_RMS = 1.0 / math.sqrt(3.0)  # RMS of U[−1, 1], the reference start


def network_gradient(state: RBMState, G: jax.Array) -> jax.Array:
  """∂ log p / ∂A_ij = W_ij · G_ij for every possible connection, (V, H).

  Args:
    state: the RBM (W unmasked, (V, H)).
    G: (V, H) ∂ log p / ∂(W ⊙ A), e.g. the CD statistics.
  """
  return state.W * G


def weight_rms(W: jax.Array) -> jax.Array:
  """ρ(W) = sqrt(mean W²) over all V·H entries (present or not), a scalar."""
  return jnp.sqrt(jnp.mean(jnp.square(W)))


def normalized_network_gradient(state: RBMState, G: jax.Array) -> jax.Array:
  """(ρ_ref / ρ(W)) · W ⊙ G, (V, H): the network gradient at unit global scale.

  Args:
    state: the RBM; only W (V, H) is read.
    G: (V, H) ∂ log p / ∂(W ⊙ A).

  Returns:
    The reference network gradient divided by ρ(W)/ρ_ref (ρ floored at the
    dtype's tiny so an all-zero W gives 0, not NaN).
  """
  rho = jnp.maximum(weight_rms(state.W), jnp.finfo(state.W.dtype).tiny)
  return (REFERENCE_RMS / rho) * state.W * G


RULES: dict[str, Callable[[RBMState, jax.Array], jax.Array]] = {
    'reference': network_gradient,
    'normalized': normalized_network_gradient,
}

"""Hard-concrete gates: the L0 baseline of Louizos, Welling & Kingma (ICLR 2018).

Each unit j has a gate parameter log α_j. A gate draw is

    u ~ U(0, 1),  s = σ((log u − log(1 − u) + log α) / β),
    z = min(1, max(0, s (ζ − γ) + γ))                     (β = 2/3, γ = −0.1, ζ = 1.1),

so z is exactly 0 or 1 with positive probability and the loss is
differentiable in log α through the reparameterisation. The expected L0 norm
is Σ_j P(z_j ≠ 0) with the closed form

    P(z ≠ 0) = 1 − Q_s(−γ / (ζ − γ)) = σ(log α − β log(−γ / ζ)),

and at test time the gate is the deterministic min(1, max(0, σ(log α)(ζ − γ) + γ)).
In this code the baseline shares everything else with the Bernoulli gates: the
network, the price λ/N per unit (the expected L0 term replaces Σ θ), and the
θ-weighted L2 prior with P(z ≠ 0) in place of θ (Louizos et al. eq. 14).
"""

from __future__ import annotations

import math
from typing import Sequence

import jax
import jax.numpy as jnp

BETA = 2.0 / 3.0
GAMMA = -0.1
ZETA = 1.1


def sample(key: jax.Array, log_alphas: Sequence[jax.Array],
           batch_size: int) -> list[jax.Array]:
  """Per group (B, w_g) hard-concrete gates in [0, 1], one draw per example."""
  keys = jax.random.split(key, len(log_alphas))
  out = []
  for k, log_alpha in zip(keys, log_alphas):
    u = jax.random.uniform(k, (batch_size,) + log_alpha.shape, minval=1e-6,
                           maxval=1.0 - 1e-6)
    s = jax.nn.sigmoid((jnp.log(u) - jnp.log1p(-u) + log_alpha) / BETA)
    out.append(jnp.clip(s * (ZETA - GAMMA) + GAMMA, 0.0, 1.0))
  return out


def prob_nonzero(log_alpha: jax.Array) -> jax.Array:
  """P(z ≠ 0) = σ(log α − β log(−γ/ζ)) (closed form)."""
  return jax.nn.sigmoid(log_alpha - BETA * math.log(-GAMMA / ZETA))


def test_gate(log_alpha: jax.Array) -> jax.Array:
  """The deterministic test-time gate min(1, max(0, σ(log α)(ζ − γ) + γ))."""
  return jnp.clip(jax.nn.sigmoid(log_alpha) * (ZETA - GAMMA) + GAMMA, 0.0, 1.0)


def log_alpha_for(keep_probability: float) -> float:
  """log α with σ(log α) = keep_probability (Louizos et al.'s initialisation
  log(1 − d) − log d for a drop rate d = 1 − keep_probability)."""
  return math.log(keep_probability) - math.log1p(-keep_probability)

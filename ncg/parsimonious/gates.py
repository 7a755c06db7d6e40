"""Bernoulli gates: antithetic sampling, the θ-gradient, the flattening hyper-prior.

Notation (``docs/parsimonious.md``): q(z_j) = Bernoulli(θ_j) independently;
f(z) is a per-example loss; Δ_j = E_q[f | z_j = 1] − E_q[f | z_j = 0] is the
exact derivative ∂E_q[f]/∂θ_j (E_q[f] is multilinear in θ).

**Antithetic estimator** (DisARM, Dong et al. 2020, written in θ instead of the
logit). With u ~ U(0, 1)^J, b = 1[u < θ] and b̃ = 1[1 − u < θ] (both marginally
Bernoulli(θ)),

    ĝ_j = ½ (f(b) − f(b̃)) (b_j − b̃_j) / min(θ_j, 1 − θ_j)     (0 when θ_j ∈ {0, 1})

is unbiased for Δ_j whenever 0 < θ_j < 1: b_j ≠ b̃_j with probability
2 min(θ_j, 1 − θ_j), and conditioned on that the other coordinates are still
independent Bernoulli(θ), so E ĝ_j = E[f | z_j=1] − E[f | z_j=0]. It costs two
forward passes for all units together. At θ_j ∈ {0, 1} it returns 0 (the
one-sided derivative is not estimated): units at the boundary are frozen.

**Flattening hyper-prior.** Prior z_j ~ Bernoulli(π_j) with hyper-prior
p(π) = (e^λ − 1) / (λ (1 + (e^λ − 1) π)) on [0, 1]. The optimal π_j is
π* = θ / (θ + e^λ (1 − θ)) and at π* the gate part of the ELBO,
−KL(Bernoulli(θ) ‖ Bernoulli(π*)) + log p(π*) + log(λ / (e^λ − 1)), equals
exactly −λ θ: linear in θ, independent of width and initialisation.

**Sharpened hyper-prior** (γ ≥ 0, docs §4). The same construction with the
target −λθ − γ H(θ) instead of −λθ gives log p(π) = −log(1 − π) −
(1 + γ) log(1 + e^{(a + λ)/(1 + γ)}) + const, a = logit π, and the optimal
π* = σ((1 + γ) logit θ − λ); γ = 0 is the flattening hyper-prior. The gate
term is then concave in θ: it pushes every θ towards 0 or 1.
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp


def antithetic_gates(key: jax.Array, thetas: Sequence[jax.Array],
                     batch_size: int) -> tuple[list[jax.Array], list[jax.Array]]:
  """Per-example antithetic gate pairs.

  Args:
    key: PRNG key.
    thetas: one (w_g,) array of Bernoulli parameters per gate group.
    batch_size: B.

  Returns:
    (b, b̃): two lists of (B, w_g) float32 arrays in {0, 1}, b = 1[u < θ],
    b̃ = 1[1 − u < θ] with the same u. Units with θ = 1 are always on, θ = 0 off.
  """
  keys = jax.random.split(key, len(thetas))
  b, b_tilde = [], []
  for k, theta in zip(keys, thetas):
    u = jax.random.uniform(k, (batch_size,) + theta.shape)
    b.append((u < theta).astype(jnp.float32))
    b_tilde.append((1.0 - u < theta).astype(jnp.float32))
  return b, b_tilde


def theta_gradient(loss: jax.Array, loss_tilde: jax.Array,
                   b: Sequence[jax.Array], b_tilde: Sequence[jax.Array],
                   thetas: Sequence[jax.Array]) -> list[jax.Array]:
  """The antithetic estimate of ∂ mean_n E_q[f_n] / ∂θ for every gate group.

  Args:
    loss, loss_tilde: (B,) per-example losses under gates b and b̃.
    b, b_tilde: per group (B, w_g) gates from :func:`antithetic_gates`.
    thetas: per group (w_g,) Bernoulli parameters.

  Returns:
    Per group (w_g,): mean_n ½ (f_n(b) − f_n(b̃)) (b_nj − b̃_nj) / min(θ_j, 1 − θ_j),
    and 0 for θ_j ∈ {0, 1}.
  """
  half_difference = 0.5 * (loss - loss_tilde)
  grads = []
  for bg, btg, theta in zip(b, b_tilde, thetas):
    m = jnp.minimum(theta, 1.0 - theta)
    numerator = jnp.mean(half_difference[:, None] * (bg - btg), axis=0)
    grads.append(jnp.where(m > 0, numerator / jnp.where(m > 0, m, 1.0), 0.0))
  return grads


def mode_gates(thetas: Sequence[jax.Array]) -> list[jax.Array]:
  """The posterior mode 1[θ ≥ ½] per group: the deterministic network."""
  return [(theta >= 0.5).astype(jnp.float32) for theta in thetas]


def project(theta: jax.Array) -> jax.Array:
  """Euclidean projection onto the box [0, 1]."""
  return jnp.clip(theta, 0.0, 1.0)


def optimal_prior(theta: jax.Array, lam: float, gamma: float = 0.0) -> jax.Array:
  """argmax_π of θ log π + (1 − θ) log(1 − π) + log p_{λ,γ}(π).

  γ = 0: θ / (θ + e^λ (1 − θ)); in general σ((1 + γ) logit θ − λ).
  """
  if not gamma:
    return theta / (theta + jnp.exp(lam) * (1.0 - theta))
  return jax.nn.sigmoid((1.0 + gamma) * (jnp.log(theta) - jnp.log1p(-theta)) - lam)


def log_sharpened_hyperprior(pi: jax.Array, lam: float, gamma: float) -> jax.Array:
  """Unnormalised log p_{λ,γ}(π) = −log(1 − π) − k log(1 + e^{(logit π + λ)/k}), k = 1 + γ.

  γ = 0 gives −log(1 + (e^λ − 1) π), the flattening hyper-prior up to its
  normaliser log(e^λ − 1) − log λ. The density is bounded on [0, 1] for
  every γ ≥ 0 (→ 1 as π → 0, → e^{−λ} as π → 1), hence normalisable.
  """
  k = 1.0 + gamma
  x = jnp.log(pi) - jnp.log1p(-pi) + lam
  # k softplus(x/k) = max(x, 0) + k softplus(−|x|/k), and −log(1 − π) − x = −log π − λ:
  # stable up to π = 1.
  base = jnp.where(x > 0, -jnp.log(pi) - lam, -jnp.log1p(-pi))
  return base - k * jax.nn.softplus(-jnp.abs(x) / k)


def smoothed_entropy(theta: jax.Array, edge: float) -> jax.Array:
  """H_ε(θ): the Bernoulli entropy (nats) on [ε, 1 − ε], continued by its tangents outside.

  Concave and continuously differentiable on [0, 1] with finite slopes
  ±log((1 − ε)/ε) at the ends, so its gradient is usable at θ = 0 and 1.
  """
  clipped = jnp.clip(theta, edge, 1.0 - edge)
  entropy = -(clipped * jnp.log(clipped) + (1.0 - clipped) * jnp.log1p(-clipped))
  slope = jnp.log1p(-clipped) - jnp.log(clipped)
  return entropy + slope * (theta - clipped)


def log_hyperprior(pi: jax.Array, lam: float) -> jax.Array:
  """log p_λ(π) = log(e^λ − 1) − log λ − log(1 + (e^λ − 1) π), a density on [0, 1]."""
  a = jnp.expm1(lam)
  return jnp.log(a) - jnp.log(lam) - jnp.log1p(a * pi)


def gate_elbo_term(theta: jax.Array, pi: jax.Array, lam: float,
                   gamma: float = 0.0) -> jax.Array:
  """Per unit: E_q[log p(z | π)] + H(q) + log p_{λ,γ}(π) + its normaliser.

  The constant is chosen so that the term is 0 for an unused unit (θ = 0).
  At π = :func:`optimal_prior` it is −λθ − γ H(θ) (γ = 0: −λθ).
  """
  entropy = -(jax.scipy.special.xlogy(theta, theta)
              + jax.scipy.special.xlogy(1 - theta, 1 - theta))
  expected_log_prior = (jax.scipy.special.xlogy(theta, pi)
                        + jax.scipy.special.xlogy(1 - theta, 1 - pi))
  if not gamma:
    a = jnp.expm1(lam)
    return expected_log_prior + entropy + log_hyperprior(pi, lam) + jnp.log(lam / a)
  return expected_log_prior + entropy + log_sharpened_hyperprior(pi, lam, gamma)

"""The objective J(W, θ) per example (docs/parsimonious.md §5): its terms as pure functions.

Per minibatch of B examples (N training examples in all) the negative ELBO per
example, after the flattening hyper-prior has been maximised out, is

    J(W, θ) = E_q[ mean_n ℓ_n(W, z_n) ] + Σ_w E_q[1(w used)] w² / (2 σ² N)
              + (λ/N) Σ_g s_g Σ_j θ_gj  [+ (γ_t/N) Σ_j H_ε(θ_j), the sharpened hyper-prior]

(ℓ_n the cross-entropy, z_n the per-example gates, s_g a per-group weight of
the unit cost, 1 by default). A weight is *used* when every gate on its path
is on (a kernel entry (a, b): both unit a and unit b), so E_q[1(w used)] is
the product of their θ: the slab prior is paid only by weights that are
present, as in L0-style models (``Config.coupled_prior``). ``Config.penalty``
is λ/N in nats per example. ``config`` is a :class:`ncg.parsimonious.config.Config`.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence, TYPE_CHECKING

import jax
import jax.numpy as jnp
import optax

from ncg.parsimonious import gates as gates_lib
from ncg.parsimonious import models
from ncg.parsimonious import prices as prices_lib
from ncg.parsimonious.architecture import Architecture

if TYPE_CHECKING:
  from ncg.parsimonious.config import Config


# ε of the smoothed entropy H_ε of the sharpened hyper-prior: its slope at
# θ = 0 and 1 is ±log(49) ≈ ±3.9 (a unit at 1 leaves only if Δ_j + λ/N > 3.9 γ/N).
SHARPNESS_EDGE = 0.02


class StepMetrics(NamedTuple):
  """loss: mean data loss of the step's gate draws (nats); objective: loss + prior + price."""
  loss: jax.Array
  objective: jax.Array


def per_example_loss(arch: Architecture, weights: dict, x: jax.Array,
                     y: jax.Array, gates: Sequence[jax.Array]) -> jax.Array:
  """Cross-entropy (B,) in nats."""
  logits = models.apply(arch, weights, x, gates)
  return optax.softmax_cross_entropy_with_integer_labels(logits, y)


def weight_prior(arch: Architecture, config: Config, weights: dict,
                 probs: Sequence[jax.Array]) -> jax.Array:
  """Σ_w P(w used) w² / (2 σ² N): the slab prior's negative log density per example.

  P(w used) is the product of the on-probabilities ``probs`` (per group
  (w_g,)) of the gates indexing the weight (``NetKind.unit_axes``); weights
  no gate indexes (the output bias) count fully. With
  ``config.coupled_prior = False`` every weight counts fully.
  """
  axes: dict[tuple[str, str], list[tuple[int, int]]] = {}
  if config.coupled_prior:
    for group, triples in enumerate(models.kind(arch).unit_axes(arch)):
      for layer, name, axis in triples:
        axes.setdefault((layer, name), []).append((axis, group))
  total = 0.0
  for layer, leaves in weights['params'].items():
    for name, w in leaves.items():
      square = w ** 2
      for axis, group in axes.get((layer, name), []):
        shape = [1] * w.ndim
        shape[axis] = w.shape[axis]
        square = square * jnp.reshape(probs[group], shape)
      total = total + jnp.sum(square)
  return total / (2 * config.prior_variance * config.num_train)


def price_factor(config: Config, step: jax.Array | int | None) -> jax.Array | float:
  """clip((t − G)/R, 0, 1) with R = ``penalty_ramp_steps`` (1 if R = 0 or ``step`` is None)."""
  if not config.penalty_ramp_steps or step is None:
    return 1.0
  t = jnp.asarray(step, jnp.float32) - config.grace_steps
  return jnp.clip(t / config.penalty_ramp_steps, 0.0, 1.0)


def price(arch: Architecture, config: Config, probs: Sequence[jax.Array],
          step: jax.Array | int | None = None) -> jax.Array:
  """(λ/N) Σ_g s_g Σ_j P(z_gj ≠ 0), or (κ/N) E_q[MACs] (``price_macs``; :mod:`prices`),
  times :func:`price_factor` at ``step`` (the full price when ``step`` is None)."""
  return price_factor(config, step) * prices_lib.term(
      arch, config.penalty, config.penalty_scale, config.price_macs, probs)


def sharpness_at(config: Config, step: jax.Array | int | None) -> jax.Array:
  """γ_t/N = (γ/N) (1 − (1 − r) clip((t − G)/(T − G), 0, 1)): the annealed sharpness.

  Constant γ/N when r = ``sharpness_final`` = 1 or ``step`` is None.
  """
  if config.sharpness_final == 1 or step is None:
    return jnp.asarray(config.sharpness, jnp.float32)
  span = config.sharpness_end_step - config.grace_steps
  progress = jnp.clip((jnp.asarray(step, jnp.float32) - config.grace_steps) / span, 0.0, 1.0)
  return config.sharpness * (1.0 - (1.0 - config.sharpness_final) * progress)


def sharpening(config: Config, thetas: Sequence[jax.Array],
               step: jax.Array | int | None = None) -> jax.Array:
  """(γ_t/N) Σ_j H_ε(θ_j): the sharpened hyper-prior's concave term of J (0 if γ = 0).

  γ_t is :func:`sharpness_at` of ``step`` (constant γ if ``step`` is None).
  """
  if not config.sharpness:
    return jnp.zeros(())
  return sharpness_at(config, step) * sum(jnp.sum(gates_lib.smoothed_entropy(t, SHARPNESS_EDGE))
                                for t in thetas)

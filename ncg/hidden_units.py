"""Hidden-unit gates of an RBM and the likelihood gradient with respect to them (NCG-H's maths).

Give every hidden unit j a gate s_j that scales all of its terms in the energy,

    E_s(v, h) = −bᵀv − Σ_j s_j h_j a_j(v),     a_j(v) = c_j + Σ_i v_i (W ⊙ A)_ij,

so s = 1 is the RBM and s_j = 0 switches unit j off (:func:`gated`: column j of
W ⊙ A and c_j times s_j). Summing out h,

    F_s(v) = −bᵀv − Σ_j softplus(s_j a_j(v)),
    ∂ log p_s(v) / ∂s_j = σ(s_j a_j(v)) a_j(v) − E_{p_s}[σ(s_j a_j(v')) a_j(v')],

and σ(s_j a_j(v)) = p_s(h_j = 1 | v): the gradient of the mean log-likelihood is
the data-minus-model difference of p(h_j | v) · a_j(v) (:func:`unit_activity`,
:func:`expected_unit_gradient` with the model's expectation by enumeration,
:func:`cd_unit_gradient` with CD/PCD negatives), the hidden-unit analogue of
the network gradient W ⊙ G of a connection. At s_j = 0, p(h_j | v) = ½: the
gradient of a switched-off unit is ½ (E_data a_j − E_model a_j), computed with
its frozen weights. A switched-off unit contributes softplus(0) = log 2 to
every F_s(v) and a factor 2 to Z, so p_s(v) is exactly the distribution of the
RBM with the unit deleted (docs/ncg.md §8; tests/test_hidden_units.py).

For Bernoulli gates z_j ∈ {0, 1} the quantity is the difference Δ_j of the
mean log-likelihood between unit j on and off, in closed form through the
free energy (:func:`expected_gate_difference` exact, :func:`cd_gate_difference`
from negatives): ⟨softplus(a_j)⟩_data + log P_{z_j=1}(h_j = 0). The trainer
options built on both are :mod:`ncg.hidden_kinds` (``TrainConfig.hidden``;
tests/test_hidden_learning.py).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ncg import rbm
from ncg.rbm import RBMState


def gated(state: RBMState, s: jax.Array) -> RBMState:
  """The RBM of E_s: W ⊙ A with column j times s_j, c_j times s_j; (H,) gates.

  The result is dense (its mask all ones) with the gated effective weights,
  so any estimator of the RBM applies to it.
  """
  return rbm.dense(rbm.effective_weights(state) * s, state.b, state.c * s,
                   state.visible)


def unit_activity(state: RBMState, v: jax.Array, s: jax.Array | None = None
                  ) -> jax.Array:
  """p_s(h_j = 1 | v) · a_j(v) = σ(s_j a_j) a_j for each row of v (N, V) → (N, H),
  a = c + v(W ⊙ A) of the ungated state; s = None means all gates 1."""
  a = rbm.hidden_logits(state, v)
  return jax.nn.sigmoid(a if s is None else s * a) * a


def expected_unit_gradient(state: RBMState, data: jax.Array, vs: jax.Array,
                           weights: jax.Array, s: jax.Array | None = None
                           ) -> jax.Array:
  """(H,) ∂ mean log p_s(data) / ∂s, the model's term exact: ``vs`` (M, V) with
  p_s(v) ``weights`` (M,) summing to 1 (every state, by enumeration); at the
  gates ``s`` (H,) (None: all 1, the RBM itself)."""
  return (jnp.mean(unit_activity(state, data, s), axis=0)
          - weights @ unit_activity(state, vs, s))


def cd_unit_gradient(state: RBMState, data: jax.Array, negatives: jax.Array,
                     s: jax.Array | None = None) -> jax.Array:
  """(H,) the CD/PCD estimate: the mean over the data of p_s(h|v) · a(v) minus
  the mean over the chains' negatives ṽ (B, V) (e.g. ``Phases.negatives``)."""
  return (jnp.mean(unit_activity(state, data, s), axis=0)
          - jnp.mean(unit_activity(state, negatives, s), axis=0))


def _gate_difference(state: RBMState, data: jax.Array, vs: jax.Array,
                     log_weights: jax.Array, z: jax.Array) -> jax.Array:
  """:func:`expected_gate_difference` with log-weights (M,) of the rows of vs."""
  data_term = jnp.mean(jax.nn.softplus(rbm.hidden_logits(state, data)), axis=0)
  sp = jax.nn.softplus(rbm.hidden_logits(state, vs))               # (M, H)
  lw = log_weights[:, None]
  on = jax.scipy.special.logsumexp(lw - sp, axis=0)    # log E_{p_z}[σ(−a_j)]
  off = -jax.scipy.special.logsumexp(lw + sp, axis=0)  # −log E_{p_z}[e^{softplus a_j}]
  return data_term + jnp.where(z > 0, on, off)


def expected_gate_difference(state: RBMState, data: jax.Array, vs: jax.Array,
                             weights: jax.Array, z: jax.Array) -> jax.Array:
  """(H,) Δ_j = mean log p_{z_j=1}(data) − mean log p_{z_j=0}(data), the other
  gates at the binary ``z`` (H,), the model's term exact: ``vs`` (M, V) with
  p_z(v) ``weights`` (M,) summing to 1 (enumeration of the gated RBM).

  Closed form through the free energy (docs/ncg.md §8): switching unit j on
  adds softplus(a_j(v)) − log 2 to −F(v) and multiplies Z by
  E_{p_0}[e^{softplus(a_j)}]/2, so

      Δ_j = ⟨softplus(a_j(v))⟩_data − log E_{p_{z_j=0}}[e^{softplus(a_j(v))}]
          = ⟨softplus(a_j(v))⟩_data + log P_{p_{z_j=1}}(h_j = 0),

  a = c + v(W ⊙ A) ungated. Each unit reads whichever of the two forms its
  own z_j makes p_z: the model with unit j on (z_j = 1) or off (z_j = 0). Δ_j
  does not depend on z_j, and E_{q(z)}[Δ_j] is ∂/∂θ_j of the expected
  log-likelihood under Bernoulli gates z ~ q_θ (multilinear in θ).
  """
  return _gate_difference(state, data, vs, jnp.log(weights), z)


def cd_gate_difference(state: RBMState, data: jax.Array, negatives: jax.Array,
                       z: jax.Array) -> jax.Array:
  """(H,) the CD/PCD estimate of :func:`expected_gate_difference`: the model's
  expectation over the chains' negatives ṽ (B, V) of the gated RBM (weights
  1/B; consistent, with an O(1/B) bias from the log of a mean)."""
  n = negatives.shape[0]
  return _gate_difference(state, data, negatives,
                          jnp.full((n,), -jnp.log(n), negatives.dtype), z)

"""The two phases of a CD-k / PCD-k minibatch and the statistics they give.

One minibatch v (B, V) of data gives, with negatives ṽ from a k-step Gibbs
chain (started at the data for CD, at persistent chains for PCD; binary
samples, the last hidden step using probabilities), the statistics

    G  = (1/B) Σ_data v p(h=1|v)ᵀ − (1/B) Σ_neg ṽ p(h=1|ṽ)ᵀ        (V, H)
    Δb = mean(v) − mean(ṽ),     Δc = mean p(h|v) − mean p(h|ṽ),

the CD estimate of ∂ log p / ∂(W ⊙ A) (:func:`cd_statistics`), and W ⊙ G is
the *network gradient* ∂ log p / ∂A_ij of every possible connection
(:func:`network_gradient`). :func:`expected_statistics` gives the exact
expectations of either phase for a weighted set of visible vectors (the
model's, by enumeration, in the tests).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from ncg import rbm
from ncg import sampling
from ncg import units
from ncg.rbm import RBMState
from ncg.train_config import TrainConfig


class Statistics(NamedTuple):
  """Expected sufficient statistics ⟨v hᵀ⟩ (V, H), ⟨v⟩ (V,), ⟨h⟩ (H,)."""
  vh: jax.Array
  v: jax.Array
  h: jax.Array

  def __sub__(self, other: 'Statistics') -> 'Statistics':
    return Statistics(*(a - b for a, b in zip(self, other)))


def expected_statistics(state: RBMState, v: jax.Array,
                        weights: jax.Array | None = None) -> Statistics:
  """⟨v p(h=1|v)ᵀ⟩, ⟨v⟩, ⟨p(h=1|v)⟩ over the rows of v (N, V).

  ``weights`` (N,), summing to 1, replaces the plain mean (for exact model
  expectations by enumeration); by default each row weighs 1/N.
  """
  ph = rbm.hidden_probs(state, v)
  if weights is None:
    weights = jnp.full(v.shape[0], 1.0 / v.shape[0], v.dtype)
  weighted = v * weights[:, None]
  return Statistics(weighted.T @ ph, weighted.sum(0), weights @ ph)


def network_gradient(state: RBMState, vh_gradient: jax.Array) -> jax.Array:
  """∂ log p / ∂A_ij = W_ij · G_ij for every possible connection, (V, H).

  ``vh_gradient`` is G = ∂ log p / ∂(W ⊙ A), e.g. the CD statistics.
  """
  return state.W * vh_gradient


class Phases(NamedTuple):
  """The two phases of one CD-k / PCD-k minibatch.

  Attributes:
    ph_data: (B, H) p(h=1|v) of the data.
    negatives: (B, V) the chains' visible samples ṽ after the k-th sweep.
    ph_negatives: (B, H) p(h=1|ṽ).
    reconstruction: (B, V) p(v=1|h) with h ~ p(h|v), the one-step
      reconstruction of the data; None for PCD with
      ``config.reconstruction`` off.
  """
  ph_data: jax.Array
  negatives: jax.Array
  ph_negatives: jax.Array
  reconstruction: jax.Array


def phases(config: TrainConfig, model: RBMState, batch: jax.Array,
           chains: jax.Array | None, key: jax.Array) -> Phases:
  """Positive and negative phase of one minibatch under ``model`` (W ⊙ A).

  The first half-sweep from the data gives both the reconstruction and, for
  CD, the chain's first visible sample, so CD-k costs 2k + 1 matmuls here.
  PCD continues ``chains`` (B, V) for k sweeps (2k + 1 matmuls, or 2k + 2
  with the reconstruction).
  """
  # the config's generator, as the keys' PRNG implementation (same splits)
  key_h, key_v, key_chain = jax.random.split(sampling.keyed(key, config.rng), 3)
  ph_data = rbm.hidden_probs(model, batch)
  v_first = recon = None
  if not config.persistent or config.reconstruction:
    h_data = sampling.bernoulli(key_h, ph_data)
    v_first, recon = units.VISIBLE[config.visible].sample(
        key_v, rbm.visible_logits(model, h_data), config.label_units)
  if config.persistent:
    start, sweeps = chains, config.k
  else:
    start, sweeps = v_first, config.k - 1
  if sweeps:
    negatives = sampling.sample_chains(key_chain, model, start, sweeps,
                                       config.label_units, config.visible)
  else:
    negatives = start
  return Phases(ph_data, negatives, rbm.hidden_probs(model, negatives), recon)


def cd_statistics(batch: jax.Array, p: Phases) -> RBMState:
  """(G, Δb, Δc) of a minibatch as an RBMState-shaped tree (strength = G).

  G = [v; ṽ]ᵀ [p(h|v); −p(h|ṽ)] / B as one matmul of inner size 2B,
  Δb = mean(v − ṽ), Δc = mean(p(h|v) − p(h|ṽ)).
  """
  batch_size = batch.shape[0]
  both = jnp.concatenate([batch, p.negatives])
  signed_ph = jnp.concatenate([p.ph_data, -p.ph_negatives])
  G = both.T @ signed_ph / batch_size
  db = (batch.sum(0) - p.negatives.sum(0)) / batch_size
  dc = (p.ph_data.sum(0) - p.ph_negatives.sum(0)) / batch_size
  return RBMState(G, db, dc, G)


def reconstruction_error(batch: jax.Array, p: Phases) -> jax.Array:
  """StepMetrics.reconstruction_error (NaN when PCD skipped the reconstruction)."""
  if p.reconstruction is None:
    return jnp.full((), jnp.nan, batch.dtype)
  return jnp.mean(jnp.sum((batch - p.reconstruction) ** 2, axis=-1))


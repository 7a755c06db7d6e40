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

The persistent chains are a parallel-tempering ladder (:func:`persistent_negatives`,
:func:`ncg.tempering.ladder_sweeps`): K rungs per chain, K = 1 being PCD
itself; the negatives are rung 0's, so the statistics keep their form.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from ncg import rbm
from ncg import sampling
from ncg import tempering
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
    chains: the persistent chains after the phase: (B, V) for PCD, (K, B, V)
      for a K-rung ladder; the chains given (None) for CD.
    swaps: the ladder's (K − 1,) swaps proposed and accepted in the phase
      (:class:`ncg.tempering.TemperingInfo`; (0,) for CD and PCD).
  """
  ph_data: jax.Array
  negatives: jax.Array
  ph_negatives: jax.Array
  reconstruction: jax.Array
  chains: jax.Array | None = None
  swaps: tempering.TemperingInfo | None = None


def no_swaps() -> tempering.TemperingInfo:
  """The swaps of a phase without a ladder: (0,) proposed and accepted."""
  empty = jnp.zeros((0,), jnp.int32)
  return tempering.TemperingInfo(empty, empty)


def persistent_negatives(config: TrainConfig, model: RBMState, chains: jax.Array,
                         key: jax.Array, step: jax.Array | int
                         ) -> tuple[jax.Array, jax.Array, tempering.TemperingInfo]:
  """k ladder steps of the persistent chains: (ṽ (B, V), new chains, swaps).

  ``chains`` are (B, V) for PCD (a one-rung ladder: k Gibbs sweeps, the draws
  of :func:`ncg.sampling.sample_chains`) or (K, B, V) for parallel tempering
  at ``config.temperatures`` = K rungs from β = 1 to ``config.beta_min``
  (geometric); ṽ is rung 0. ``step``, the trainer's step count, sets the swap
  parity: the ladder has taken step·k steps before.
  """
  num_temperatures = config.temperatures
  ladder = chains if num_temperatures > 1 else chains[None]
  betas = tempering.geometric_ladder(num_temperatures, config.beta_min)
  parity = (step % 2) * (config.k % 2)
  v, swaps = tempering.ladder_sweeps(key, model, betas, ladder, config.k, parity,
                                     config.label_units, config.visible)
  return v[0], (v if num_temperatures > 1 else v[0]), swaps


def phases(config: TrainConfig, model: RBMState, batch: jax.Array,
           chains: jax.Array | None, key: jax.Array,
           step: jax.Array | int = 0) -> Phases:
  """Positive and negative phase of one minibatch under ``model`` (W ⊙ A).

  The first half-sweep from the data gives both the reconstruction and, for
  CD, the chain's first visible sample, so CD-k costs 2k + 1 matmuls here.
  PCD continues ``chains`` (B, V) for k sweeps (2k + 1 matmuls, or 2k + 2
  with the reconstruction); a K-rung ladder (K, B, V) costs K times the
  sweeps and 3 free energies per sweep for the swaps
  (:func:`persistent_negatives`, whose parity ``step`` sets).
  """
  # the config's generator, as the keys' PRNG implementation (same splits)
  key_h, key_v, key_chain = jax.random.split(sampling.keyed(key, config.rng), 3)
  ph_data = rbm.hidden_probs(model, batch)
  v_first = recon = None
  if not config.persistent or config.reconstruction:
    h_data = sampling.bernoulli(key_h, ph_data)
    v_first, recon = units.VISIBLE[config.visible].sample(
        key_v, rbm.visible_logits(model, h_data), config.label_units)
  swaps = no_swaps()
  if config.persistent:
    negatives, chains, swaps = persistent_negatives(config, model, chains,
                                                    key_chain, step)
  elif config.k > 1:
    negatives = sampling.sample_chains(key_chain, model, v_first, config.k - 1,
                                       config.label_units, config.visible)
  else:
    negatives = v_first
  return Phases(ph_data, negatives, rbm.hidden_probs(model, negatives), recon,
                chains, swaps)


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


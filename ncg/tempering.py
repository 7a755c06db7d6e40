"""Parallel tempering for RBMs: a ladder of tempered chains with swaps between neighbours.

Block Gibbs mixes badly once an RBM's modes are separated by improbable states
(MNIST digits of different classes): a chain stays in one mode for thousands of
sweeps. Parallel tempering (Swendsen & Wang 1986; Geyer 1991; for RBMs
Desjardins et al. 2010 and Cho et al. 2010) runs K chains at once, chain k on the
tempered model

    p_k(v, h) ∝ exp(−β_k E(v, h)),   1 = β_0 > β_1 > … > β_{K−1} ≥ 0,

that is the RBM with W, b and c multiplied by β_k (:func:`tempered`; the
connectivity mask is unchanged), so hot chains (small β) move freely. After
every Gibbs sweep, neighbouring chains k and k + 1 propose to exchange their
states; with v the visible states (the hidden layer is summed out, so the swap
uses the free energies F_k(v) = −log Σ_h exp(−β_k E(v, h))) the exchange is
accepted with the Metropolis probability

    a = min(1, exp(F_k(v_k) + F_{k+1}(v_{k+1}) − F_k(v_{k+1}) − F_{k+1}(v_k))),

which keeps the product ∏_k p_k(v_k) invariant, so chain 0 samples the model
p(v) itself. Pairs (k, k + 1) with k even swap on even steps and odd k on odd
steps (the deterministic even–odd scheme: every pair is proposed every other
step and no two proposals share a chain, so they are independent given the
states). For a Gaussian visible layer the same scaling gives a valid ladder
from N(0, I) × uniform hidden units (β = 0) to the model (β = 1), though not
exp(−β E).

The states are :class:`TemperingState` (K, C, V) arrays: C independent ladders
(chains) of K temperatures; :class:`TemperingInfo` reports per neighbour pair the
swaps proposed and accepted. Everything is vmapped over temperatures and chains
and scanned over steps, like :mod:`ncg.sampling`'s Gibbs chains.

:func:`ladder_sweeps` is the same ladder as a training negative phase (the
trainer's persistent chains, ``TrainConfig.temperatures``): rung 0 draws exactly
the keys of :func:`ncg.sampling.sample_chains`, so a one-rung ladder is PCD bit
for bit, and the swap parity continues from the sweeps already done.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ncg import rbm
from ncg import sampling
from ncg.errors import check
from ncg.rbm import RBMState


class TemperingState(NamedTuple):
  """C ladders of K tempered chains.

  Attributes:
    v: (K, C, V) visible states; v[0] are samples of the model (β_0 = 1).
    step: the number of steps taken (its parity picks the pairs that swap).
  """
  v: jax.Array
  step: jax.Array


class TemperingInfo(NamedTuple):
  """proposed, accepted: (K − 1,) swaps of each neighbour pair (k, k + 1) in this step,
  summed over the C ladders (a pair is proposed on every other step)."""
  proposed: jax.Array
  accepted: jax.Array


def geometric_ladder(num_temperatures: int, beta_min: float = 0.1) -> jax.Array:
  """(K,) inverse temperatures 1 = β_0 > … > β_{K−1} = β_min, geometrically spaced
  (K = 1: the model alone)."""
  check(num_temperatures >= 1, f'num_temperatures must be >= 1, got {num_temperatures}')
  check(0 < beta_min <= 1, f'beta_min must be in (0, 1], got {beta_min}')
  if num_temperatures == 1:
    return jnp.ones((1,), jnp.float32)
  return jnp.geomspace(1.0, beta_min, num_temperatures).astype(jnp.float32)


def check_ladder(betas: jax.Array) -> None:
  """InputError unless β is (K,), starts at 1, strictly decreases and stays ≥ 0."""
  b = np.asarray(betas)
  check(b.ndim == 1 and b.size >= 1, f'betas must be a (K,) vector, got shape {b.shape}')
  check(b[0] == 1, f'the ladder must start at beta = 1 (the model), got {b[0]}')
  check(bool(np.all(np.diff(b) < 0)) and b[-1] >= 0,
        f'betas must decrease strictly from 1 and stay >= 0, got {b.tolist()}')


def tempered(state: RBMState, beta: jax.Array) -> RBMState:
  """The RBM of p_β ∝ exp(−β E): W, b and c times β, strengths (the mask) unchanged."""
  return state._replace(W=beta * state.W, b=beta * state.b, c=beta * state.c)


def free_energies(state: RBMState, betas: jax.Array, v: jax.Array) -> jax.Array:
  """F_k(v) for every temperature k, (..., V) → (K, ...)."""
  return jax.vmap(lambda beta: rbm.free_energy(tempered(state, beta), v))(betas)


def init(key: jax.Array, state: RBMState, betas: jax.Array, num_chains: int,
         v: jax.Array | None = None) -> TemperingState:
  """C ladders started from uniform random bits (or from ``v``: (C, V), copied to every
  temperature, e.g. data for a persistent negative phase)."""
  key = sampling.as_key(key)
  num_temperatures = betas.shape[0]
  if v is None:
    v = sampling.random_visible(key, num_temperatures * num_chains, state.num_visible,
                                state.W.dtype).reshape(num_temperatures, num_chains, -1)
  else:
    check(v.shape == (num_chains, state.num_visible),
          f'v must be ({num_chains}, {state.num_visible}), got {v.shape}')
    v = jnp.broadcast_to(v, (num_temperatures,) + v.shape).astype(state.W.dtype)
  return TemperingState(v, jnp.zeros((), jnp.int32))


def swap_log_ratio(f_lo_at_lo: jax.Array, f_hi_at_hi: jax.Array, f_lo_at_hi: jax.Array,
                   f_hi_at_lo: jax.Array) -> jax.Array:
  """log of the Metropolis ratio of exchanging the states of two tempered chains:
  F_k(v_k) + F_{k+1}(v_{k+1}) − F_k(v_{k+1}) − F_{k+1}(v_k)."""
  return f_lo_at_lo + f_hi_at_hi - f_lo_at_hi - f_hi_at_lo


def swap(key: jax.Array, state: RBMState, betas: jax.Array, v: jax.Array,
         parity: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Proposes the exchanges of pairs (k, k + 1) with k ≡ parity (mod 2) in every ladder.

  v: (K, C, V) states of C ladders. Returns (the new v, proposed (K − 1,) and
  accepted (K − 1,) int32 counts, summed over the ladders)."""
  pairs = jnp.arange(v.shape[0] - 1)
  active = (pairs % 2) == parity                                        # (K−1,)
  free = jax.vmap(lambda beta, x: rbm.free_energy(tempered(state, beta), x))
  own = free(betas, v)                                                  # F_k(v_k), (K, C)
  log_ratio = swap_log_ratio(own[:-1], own[1:], free(betas[:-1], v[1:]),
                             free(betas[1:], v[:-1]))                  # (K−1, C)
  u = sampling.uniform(key, log_ratio.shape, log_ratio.dtype)
  accept = active[:, None] & (jnp.log(u) < log_ratio)                   # (K−1, C)
  # new v_k: v_{k+1} where pair k swaps, v_{k−1} where pair k−1 swaps, else v_k
  down = jnp.concatenate([accept, jnp.zeros_like(accept[:1])], axis=0)  # k takes from k+1
  up = jnp.concatenate([jnp.zeros_like(accept[:1]), accept], axis=0)    # k takes from k−1
  from_above = jnp.concatenate([v[1:], v[-1:]], axis=0)
  from_below = jnp.concatenate([v[:1], v[:-1]], axis=0)
  new_v = jnp.where(down[..., None], from_above, jnp.where(up[..., None], from_below, v))
  num_chains = v.shape[1]
  proposed = active.astype(jnp.int32) * num_chains
  return new_v, proposed, jnp.sum(accept, axis=1).astype(jnp.int32)


def step(key: jax.Array, state: RBMState, betas: jax.Array, tstate: TemperingState,
         label_units: int = 0) -> tuple[TemperingState, TemperingInfo]:
  """One Gibbs sweep v → h → v′ of every chain at its temperature, then the swaps
  of this step's parity. Returns the new state and what was proposed and accepted."""
  key = sampling.as_key(key)
  key_gibbs, key_swap = jax.random.split(key)
  num_temperatures, num_chains = tstate.v.shape[:2]
  keys = jax.random.split(key_gibbs, num_temperatures * num_chains).reshape(
      num_temperatures, num_chains)

  def sweep(beta, keys_k, v_k):
    warm = tempered(state, beta)
    return jax.vmap(lambda kk, vv: sampling.gibbs_sweep(kk, warm, vv, label_units))(
        keys_k, v_k)
  v = jax.vmap(sweep)(betas, keys, tstate.v)
  if num_temperatures == 1:
    empty = jnp.zeros((0,), jnp.int32)
    return TemperingState(v, tstate.step + 1), TemperingInfo(empty, empty)
  v, proposed, accepted = swap(key_swap, state, betas, v, tstate.step % 2)
  return TemperingState(v, tstate.step + 1), TemperingInfo(proposed, accepted)


def run(key: jax.Array, state: RBMState, betas: jax.Array, tstate: TemperingState,
        num_steps: int, label_units: int = 0) -> tuple[TemperingState, TemperingInfo]:
  """``num_steps`` steps under ``lax.scan``; the info sums the proposals and acceptances
  over the steps (``accepted / proposed`` is each pair's acceptance rate)."""
  def body(ts, k):
    ts, info = step(k, state, betas, ts, label_units)
    return ts, info
  tstate, infos = jax.lax.scan(body, tstate, jax.random.split(sampling.as_key(key), num_steps))
  return tstate, TemperingInfo(jnp.sum(infos.proposed, axis=0), jnp.sum(infos.accepted, axis=0))


def acceptance_rates(info: TemperingInfo) -> jax.Array:
  """(K − 1,) accepted / proposed per neighbour pair (NaN where none was proposed)."""
  return info.accepted / jnp.where(info.proposed > 0, info.proposed, jnp.nan)


def sample(key: jax.Array, state: RBMState, betas: jax.Array, num_chains: int,
           num_steps: int, label_units: int = 0) -> tuple[jax.Array, TemperingInfo]:
  """(C, V) samples of the model (the β = 1 chains) after ``num_steps`` steps from
  noise, and the swap counts."""
  check_ladder(betas)
  key_init, key_run = jax.random.split(sampling.as_key(key))
  tstate = init(key_init, state, betas, num_chains)
  tstate, info = run(key_run, state, betas, tstate, num_steps, label_units)
  return tstate.v[0], info


def ladder_keys(key: jax.Array, num_temperatures: int, num_chains: int,
                num_sweeps: int) -> tuple[jax.Array, jax.Array, jax.Array]:
  """The keys of :func:`ladder_sweeps`: (S, C) of rung 0, (S, K − 1, C) of the
  hotter rungs, (S,) of the swaps.

  Rung 0's are :func:`ncg.sampling.sample_chains`' (one key per chain, split
  into one per sweep); the hotter rungs and the swaps draw from keys folded off
  ``key`` (1 and 2), so they leave rung 0's stream alone.
  """
  def per_sweep(keys):  # (...,) → (S, ...): each chain's key split over sweeps
    flat = keys.reshape(-1)
    split = jax.vmap(lambda k: jax.random.split(k, num_sweeps))(flat)
    return jnp.moveaxis(split, 1, 0).reshape((num_sweeps,) + keys.shape)
  cold = per_sweep(jax.random.split(key, num_chains))
  hot = per_sweep(jax.random.split(jax.random.fold_in(key, 1),
                                   (num_temperatures - 1, num_chains)))
  return cold, hot, jax.random.split(jax.random.fold_in(key, 2), num_sweeps)


def ladder_sweeps(key: jax.Array, model: RBMState, betas: jax.Array, v: jax.Array,
                  num_sweeps: int, parity: jax.Array, label_units: int = 0,
                  visible: str | None = None) -> tuple[jax.Array, TemperingInfo]:
  """``num_sweeps`` PT steps of C persistent ladders: v (K, C, V) → (K, C, V).

  Each step is a block-Gibbs sweep of every rung k on ``tempered(model, β_k)``
  (rung 0, β_0 = 1, on ``model`` itself), then the swaps of pairs
  (k, k + 1) with k ≡ parity + s (mod 2) at step s (:func:`swap`); ``parity``
  (a traced scalar) is the number of steps taken before, mod 2. Keys:
  :func:`ladder_keys`. With K = 1 there are no swaps and v[0] follows
  ``sampling.sample_chains(key, model, v[0], num_sweeps, …)`` bit for bit.

  Returns the new states and the (K − 1,) swaps proposed and accepted, summed
  over the steps and ladders.
  """
  num_temperatures, num_chains = v.shape[:2]
  cold_keys, hot_keys, swap_keys = ladder_keys(key, num_temperatures, num_chains,
                                               num_sweeps)
  hot = jax.vmap(tempered, in_axes=(None, 0))(model, betas[1:])
  sweep = lambda k, m, x: sampling.gibbs_sweep(k, m, x, label_units, visible)
  chains = jax.vmap(sweep, in_axes=(0, None, 0))           # C chains of one model
  rungs = jax.vmap(chains, in_axes=(0, 0, 0))               # K − 1 tempered models

  def body(v, inputs):
    k_cold, k_hot, k_swap, s = inputs
    cold = chains(k_cold, model, v[0])
    if num_temperatures == 1:
      return cold[None], (jnp.zeros((0,), jnp.int32),) * 2
    v = jnp.concatenate([cold[None], rungs(k_hot, hot, v[1:])], axis=0)
    v, proposed, accepted = swap(k_swap, model, betas, v, (parity + s) % 2)
    return v, (proposed, accepted)

  steps = jnp.arange(num_sweeps, dtype=jnp.int32)
  v, (proposed, accepted) = jax.lax.scan(body, v, (cold_keys, hot_keys, swap_keys,
                                                   steps))
  return v, TemperingInfo(jnp.sum(proposed, axis=0), jnp.sum(accepted, axis=0))

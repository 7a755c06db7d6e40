"""A binary restricted Boltzmann machine whose connectivity is part of its state.

Notation (de Oliveira & Figueiredo; Salakhutdinov & Murray 2008): visible
v ∈ {0,1}^V, hidden h ∈ {0,1}^H, weights W (V, H), visible biases b (V,),
hidden biases c (H,), connection strengths α (V, H) in [0, 1] and the derived
connectivity mask A = [α > 0.5]. Only the effective weights W ⊙ A enter the
model:

    E(v, h) = −bᵀv − cᵀh − vᵀ(W ⊙ A)h,
    F(v)    = −bᵀv − Σ_j softplus(c_j + vᵀ(W ⊙ A)_{:,j}),     p(v) = e^{−F(v)}/Z,
    p(h_j = 1 | v) = σ(c_j + vᵀ(W ⊙ A)_{:,j}),
    p(v_i = 1 | h) = σ(b_i + (W ⊙ A)_{i,:} h).

Weights of absent connections are kept (not zeroed): NCG can re-add a
connection and it returns with its old weight. A dense RBM is the state with
all strengths 1. Every function here accepts any number of leading batch
dimensions on v or h.

The state records its visible unit type in its class: :class:`RBMState` is
the binary RBM above, its subclass :class:`GaussianRBMState` (the same four
arrays) has unit-variance Gaussian visible units (:mod:`ncg.units`). The type
is part of the pytree's structure, not a leaf (``jit`` compiles once per
type; ``tree.map``, ``vmap`` and ``_replace`` keep it), and ``state.visible``
names it, so every function of a model picks its formulas from the model:

    E(v, h) = ½‖v − b‖² − cᵀh − vᵀ(W ⊙ A)h,   F(v) = ½‖v − b‖² − Σ_j softplus(·),
    F(h)    = −cᵀh − ½ Σ_i [(b_i + (W ⊙ A)_{i,:}h)² − b_i²] − (V/2) log 2π,
    E[v | h] = b + (W ⊙ A)h.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from ncg.errors import check

CONNECTION_THRESHOLD = 0.5  # A_ij = 1 iff strength_ij > 0.5
WEIGHT_INITS = ('uniform', 'normal')
VISIBLE_TYPES = ('bernoulli', 'gaussian')  # ncg.units describes each
LOG_2PI = math.log(2.0 * math.pi)


class RBMState(NamedTuple):
  """Parameters and connection strengths of one RBM (an immutable pytree).

  Attributes:
    W: (V, H) weights of every possible connection, present or not.
    b: (V,) visible biases.
    c: (H,) hidden biases.
    strength: (V, H) connection strengths α in [0, 1]; A = [α > 0.5].

  ``visible`` (a class attribute, not a field) is 'bernoulli';
  :class:`GaussianRBMState` says 'gaussian'.
  """
  W: jax.Array
  b: jax.Array
  c: jax.Array
  strength: jax.Array
  visible = 'bernoulli'

  @property
  def num_visible(self) -> int:
    return self.W.shape[-2]

  @property
  def num_hidden(self) -> int:
    return self.W.shape[-1]


class GaussianRBMState(RBMState):
  """An RBM with unit-variance Gaussian visible units (same arrays)."""
  __slots__ = ()
  visible = 'gaussian'


STATE_TYPES = {'bernoulli': RBMState, 'gaussian': GaussianRBMState}


def as_visible(state: RBMState, visible: str) -> RBMState:
  """The same arrays as a state of the visible type ``visible``."""
  check_visible(visible)
  return STATE_TYPES[visible](*state)


def check_visible(visible: str) -> None:
  """InputError unless ``visible`` is one of :data:`VISIBLE_TYPES`."""
  check(visible in VISIBLE_TYPES, f'unknown visible unit type {visible!r}; '
        f'choose one of {VISIBLE_TYPES}')


def dense(W: jax.Array, b: jax.Array, c: jax.Array,
          visible: str = 'bernoulli') -> RBMState:
  """The state of an existing, fully connected RBM (all strengths 1)."""
  check_visible(visible)
  return STATE_TYPES[visible](W, b, c, jnp.ones_like(W))


def mask(state: RBMState) -> jax.Array:
  """A = [strength > 0.5] as W's dtype, shape (V, H)."""
  return (state.strength > CONNECTION_THRESHOLD).astype(state.W.dtype)


def effective_weights(state: RBMState) -> jax.Array:
  """W ⊙ A, (V, H): the weights the model actually uses."""
  return state.W * mask(state)


def density(state: RBMState) -> jax.Array:
  """Fraction of the V·H possible connections that are present."""
  return jnp.mean(mask(state))


def base_rate_visible_bias(data: jax.Array, eps: float = 1e-3) -> jax.Array:
  """Visible biases of the maximum-likelihood independent model of ``data``.

  b_i = logit(clip(mean_n v_ni, eps, 1 − eps)) for data of shape (N, V).
  """
  rate = jnp.clip(jnp.mean(jnp.asarray(data, jnp.float32), axis=0), eps, 1 - eps)
  return jnp.log(rate) - jnp.log1p(-rate)


def init(key: jax.Array,
         num_visible: int,
         num_hidden: int,
         *,
         density: float = 1.0,  # pylint: disable=redefined-outer-name
         weight_init: str = 'uniform',
         weight_scale: float = 1.0,
         visible_bias: jax.Array | None = None,
         dtype=jnp.float32,
         visible: str = 'bernoulli') -> RBMState:
  """Draws a new RBM with a random connectivity pattern of a given density.

  As the reference implementation: A_ij ~ Bernoulli(p), strengths α ~ U[0.5, 1)
  where A_ij = 1 and U[0, 0.5) where A_ij = 0, and every possible weight drawn
  (so absent connections also get a non-zero network gradient), biases 0.

  Args:
    key: PRNG key.
    num_visible: V.
    num_hidden: H.
    density: p in [0, 1]; 0 starts empty, 1 dense. May be a traced scalar
      (e.g. vmapped over a population of initial densities).
    weight_init: 'uniform' for U[−s, s] (the reference, s = 1) or 'normal'
      for N(0, s²).
    weight_scale: s.
    visible_bias: optional (V,) initial visible biases, e.g.
      :func:`base_rate_visible_bias` of the training data.
    dtype: floating dtype of the state.
    visible: the visible unit type (:data:`VISIBLE_TYPES`); Gaussian units
      want small weights (``weight_init='normal', weight_scale=0.01``).
  """
  check_visible(visible)
  check(weight_init in WEIGHT_INITS,
        f'unknown weight_init {weight_init!r}; choose one of {WEIGHT_INITS}')
  if isinstance(density, (int, float)):
    check(0.0 <= density <= 1.0, f'density must be in [0, 1], got {density}')
  shape = (num_visible, num_hidden)
  k_mask, k_strength, k_weight = jax.random.split(key, 3)
  present = jax.random.uniform(k_mask, shape) < density
  half = CONNECTION_THRESHOLD * jax.random.uniform(k_strength, shape, dtype)
  strength = jnp.where(present, CONNECTION_THRESHOLD + half, half)
  if weight_init == 'uniform':
    W = jax.random.uniform(k_weight, shape, dtype, -weight_scale, weight_scale)
  else:
    W = weight_scale * jax.random.normal(k_weight, shape, dtype)
  b = (jnp.zeros(num_visible, dtype) if visible_bias is None
       else jnp.asarray(visible_bias, dtype))
  return STATE_TYPES[visible](W, b, jnp.zeros(num_hidden, dtype), strength)


def hidden_logits(state: RBMState, v: jax.Array) -> jax.Array:
  """c + v(W ⊙ A): (..., V) → (..., H)."""
  return v @ effective_weights(state) + state.c


def visible_logits(state: RBMState, h: jax.Array) -> jax.Array:
  """b + h(W ⊙ A)ᵀ: (..., H) → (..., V)."""
  return h @ effective_weights(state).T + state.b


def hidden_probs(state: RBMState, v: jax.Array) -> jax.Array:
  """p(h_j = 1 | v), (..., V) → (..., H)."""
  return jax.nn.sigmoid(hidden_logits(state, v))


def visible_probs(state: RBMState, h: jax.Array) -> jax.Array:
  """p(v_i = 1 | h) of binary units, (..., H) → (..., V)."""
  return jax.nn.sigmoid(visible_logits(state, h))


def visible_mean(state: RBMState, h: jax.Array) -> jax.Array:
  """E[v | h] of the state's visible units, (..., H) → (..., V): σ(b + (W ⊙ A)h)
  for binary units, b + (W ⊙ A)h for Gaussian ones."""
  if state.visible == 'gaussian':
    return visible_logits(state, h)
  return visible_probs(state, h)


def _visible_term(state: RBMState, v: jax.Array) -> jax.Array:
  """The visible part of −E: bᵀv (binary) or −½‖v − b‖² (Gaussian)."""
  if state.visible == 'gaussian':
    return -0.5 * jnp.sum((v - state.b) ** 2, axis=-1)
  return v @ state.b


def energy(state: RBMState, v: jax.Array, h: jax.Array) -> jax.Array:
  """E(v, h) = −bᵀv − cᵀh − vᵀ(W ⊙ A)h (binary; ½‖v − b‖² for −bᵀv when
  Gaussian), shape of the leading batch dims."""
  interaction = jnp.sum((v @ effective_weights(state)) * h, axis=-1)
  return -_visible_term(state, v) - (h @ state.c) - interaction


def free_energy(state: RBMState, v: jax.Array) -> jax.Array:
  """F(v) = −bᵀv − Σ_j softplus(c_j + v(W ⊙ A)_j) (binary; ½‖v − b‖² for
  −bᵀv when Gaussian), (..., V) → (...)."""
  return -_visible_term(state, v) - jnp.sum(
      jax.nn.softplus(hidden_logits(state, v)), axis=-1)


def hidden_free_energy(state: RBMState, h: jax.Array) -> jax.Array:
  """F(h), (..., H) → (...): the marginal over the visible layer, p(h) = e^{−F(h)}/Z.

  Binary: −cᵀh − Σ_i softplus(b_i + (W ⊙ A)_i h). Gaussian (the Gaussian
  integral): −cᵀh − ½Σ_i[(b_i + (W ⊙ A)_i h)² − b_i²] − (V/2) log 2π.
  """
  logits = visible_logits(state, h)
  if state.visible == 'gaussian':
    return (-(h @ state.c) - 0.5 * jnp.sum(logits ** 2 - state.b ** 2, axis=-1)
            - 0.5 * state.num_visible * LOG_2PI)
  return -(h @ state.c) - jnp.sum(jax.nn.softplus(logits), axis=-1)

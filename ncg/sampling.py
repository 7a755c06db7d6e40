"""Block-Gibbs sampling of an RBM as pure functions.

The kernel is written for one chain — a visible vector v of shape (V,) — and
``jax.vmap`` runs many chains, each with its own key; k-step chains run under
``lax.scan``. A sweep is h ~ p(h | v) followed by v' ~ p(v | h): every sweep
leaves p(v, h) invariant, so a long chain's v's follow p(v).

Uniform draws come from JAX's threefry (``rng='threefry'``) or, with
``rng='hash'``, from :func:`hash_uniforms`: 64 threefry bits per call expanded
by a counter-based integer hash, about a tenth of threefry's cost per element
on a CPU, where threefry otherwise takes ~40% of a CD-10 step. Both give
24-bit-or-better uniforms; the tests check Gibbs chains and AIS against exact
distributions with each.

Joint (classification) RBMs append ``label_units`` one-hot label units to the
end of the visible layer; they are sampled as one softmax (categorical) group,
p(y | h) ∝ exp(b_y + (W ⊙ A)_{y,:} h), instead of independent bits.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ncg import rbm
from ncg.rbm import RBMState


RNGS = ('threefry', 'hash')


def _mix32(x: jax.Array) -> jax.Array:
  """A bijective 32-bit integer mixer (C. Wellons' "lowbias32", bias ≈ 0.11)."""
  x = x ^ (x >> 16)
  x = x * jnp.uint32(0x21F0AAAD)
  x = x ^ (x >> 15)
  x = x * jnp.uint32(0x735A2D97)
  return x ^ (x >> 15)


def hash_uniforms(key_words: jax.Array, shape, dtype=jnp.float32) -> jax.Array:
  """Uniforms on [0, 1) with 24 random bits, from a counter-based hash.

  u_i = ⌊mix(mix(i·φ + k_0) ⊕ k_1) / 2^8⌋ · 2^−24 for the row-major index i of
  each element, φ = 0x9E3779B9 and the two key words k (uint32 (2,), e.g. from
  ``jax.random.bits``). Each element costs a dozen integer vector operations,
  about a tenth of threefry on CPU; with a fresh threefry-drawn key per call
  the outputs of different calls are independent streams.
  """
  index = jnp.zeros(shape, jnp.uint32)
  stride = 1
  for axis in reversed(range(len(shape))):
    index = index + jax.lax.broadcasted_iota(jnp.uint32, shape, axis) * (
        jnp.uint32(stride))
    stride *= shape[axis]
  x = _mix32(index * jnp.uint32(0x9E3779B9) + key_words[0])
  x = _mix32(x ^ key_words[1])
  return (x >> 8).astype(dtype) * jnp.asarray(2.0 ** -24, dtype)


def uniform(key: jax.Array, shape, dtype=jnp.float32,
            rng: str = 'threefry') -> jax.Array:
  """U[0, 1) draws of the given shape from threefry or :func:`hash_uniforms`."""
  if rng == 'hash':
    return hash_uniforms(jax.random.bits(key, (2,), jnp.uint32), shape, dtype)
  return jax.random.uniform(key, shape, dtype)


def normal(key: jax.Array, shape, dtype=jnp.float32,
           rng: str = 'threefry') -> jax.Array:
  """N(0, 1) draws: JAX's normal, or Box–Muller on :func:`hash_uniforms`.

  With ``rng='hash'``: z = √(−2 ln(1 − u₁)) cos(2π u₂) for two uniforms per
  draw (1 − u₁ ∈ (0, 1], so |z| ≤ 5.8 in float32).
  """
  if rng == 'hash':
    u = uniform(key, (2,) + tuple(shape), dtype, rng)
    return jnp.sqrt(-2.0 * jnp.log1p(-u[0])) * jnp.cos(2.0 * jnp.pi * u[1])
  return jax.random.normal(key, shape, dtype)


def bernoulli(key: jax.Array, probs: jax.Array,
              rng: str = 'threefry') -> jax.Array:
  """Independent {0, 1} draws with the given probabilities, probs' dtype."""
  return (uniform(key, probs.shape, probs.dtype, rng) < probs).astype(
      probs.dtype)


def sample_hidden(key: jax.Array, state: RBMState, v: jax.Array,
                  rng: str = 'threefry') -> tuple[jax.Array, jax.Array]:
  """h ~ p(h | v); returns (h, p(h = 1 | v)), each (..., H)."""
  probs = rbm.hidden_probs(state, v)
  return bernoulli(key, probs, rng), probs


def sample_visible(key: jax.Array, state: RBMState, h: jax.Array,
                   label_units: int = 0, rng: str = 'threefry'
                   ) -> tuple[jax.Array, jax.Array]:
  """v ~ p(v | h); returns (v, p(v = 1 | h)), each (..., V).

  With ``label_units = L > 0`` the last L visible units are one softmax group:
  their probabilities sum to 1 and exactly one of them is 1 in the sample.
  """
  return sample_visible_from_logits(key, rbm.visible_logits(state, h),
                                    label_units, rng)


def sample_visible_from_logits(key: jax.Array, logits: jax.Array,
                               label_units: int = 0, rng: str = 'threefry'
                               ) -> tuple[jax.Array, jax.Array]:
  """:func:`sample_visible` given the logits b + (W ⊙ A)h, (..., V)."""
  if not label_units:
    probs = jax.nn.sigmoid(logits)
    return bernoulli(key, probs, rng), probs
  key_bits, key_label = jax.random.split(key)
  bit_logits, label_logits = logits[..., :-label_units], logits[..., -label_units:]
  bit_probs = jax.nn.sigmoid(bit_logits)
  label_probs = jax.nn.softmax(label_logits, axis=-1)
  label = jax.nn.one_hot(jax.random.categorical(key_label, label_logits),
                         label_units, dtype=logits.dtype)
  return (jnp.concatenate([bernoulli(key_bits, bit_probs, rng), label], axis=-1),
          jnp.concatenate([bit_probs, label_probs], axis=-1))


def sample_gaussian_from_logits(key: jax.Array, logits: jax.Array,
                                label_units: int = 0, rng: str = 'threefry'
                                ) -> tuple[jax.Array, jax.Array]:
  """Unit-variance Gaussian visible units: v ~ N(b + (W ⊙ A)h, I).

  ``logits`` is the mean b + (W ⊙ A)h, (..., V); returns (v, that mean).
  Gaussian visible layers have no label group (``label_units`` must be 0).
  """
  del label_units  # TrainConfig checks that it is 0
  return logits + normal(key, logits.shape, logits.dtype, rng), logits


# v ~ p(v | h) from the pre-activation b + (W ⊙ A)h, per visible unit type
# (ncg.units describes the types; 'bernoulli' is the binary RBM).
VISIBLE_SAMPLERS = {'bernoulli': sample_visible_from_logits,
                    'gaussian': sample_gaussian_from_logits}


def gibbs_sweep(key: jax.Array, state: RBMState, v: jax.Array,
                label_units: int = 0, rng: str = 'threefry',
                visible: str = 'bernoulli') -> jax.Array:
  """One block-Gibbs sweep v → h → v' of one chain, (V,) → (V,).

  ``visible`` names the visible unit type (:data:`VISIBLE_SAMPLERS`).
  """
  key_h, key_v = jax.random.split(key)
  h, _ = sample_hidden(key_h, state, v, rng)
  v_next, _ = VISIBLE_SAMPLERS[visible](key_v, rbm.visible_logits(state, h),
                                        label_units, rng)
  return v_next.astype(v.dtype)


def gibbs_chain(key: jax.Array, state: RBMState, v: jax.Array, num_steps: int,
                label_units: int = 0, rng: str = 'threefry',
                visible: str = 'bernoulli') -> jax.Array:
  """v after ``num_steps`` sweeps of one chain started at v, (V,) → (V,)."""
  def body(v, key):
    return gibbs_sweep(key, state, v, label_units, rng, visible), None
  v, _ = jax.lax.scan(body, v, jax.random.split(key, num_steps))
  return v


def sample_chains(key: jax.Array, state: RBMState, v: jax.Array,
                  num_steps: int, label_units: int = 0,
                  rng: str = 'threefry', visible: str = 'bernoulli') -> jax.Array:
  """Runs one chain from each row of v, (C, V) → (C, V), vmapped over chains."""
  keys = jax.random.split(key, v.shape[0])
  return jax.vmap(gibbs_chain, in_axes=(0, None, 0, None, None, None, None))(
      keys, state, v, num_steps, label_units, rng, visible)


def chain_trajectory(key: jax.Array, state: RBMState, v: jax.Array,
                     num_steps: int, every: int = 1,
                     label_units: int = 0) -> jax.Array:
  """Binary states of C chains every ``every`` sweeps.

  (C, V) → (num_steps // every, C, V); use :func:`mean_field_image` on them
  for smooth pictures.
  """
  def body(v, key):
    v = sample_chains(key, state, v, every, label_units)
    return v, v
  _, states = jax.lax.scan(body, v, jax.random.split(key, num_steps // every))
  return states


def mean_field_image(key: jax.Array, state: RBMState, v: jax.Array) -> jax.Array:
  """p(v = 1 | h) for h ~ p(h | v): a smooth picture of where chains v are."""
  h, _ = sample_hidden(key, state, v)
  return rbm.visible_probs(state, h)


def random_visible(key: jax.Array, num_chains: int, num_visible: int,
                   dtype=jnp.float32) -> jax.Array:
  """(C, V) uniform random bits: the starting point of chains from noise."""
  return bernoulli(key, jnp.full((num_chains, num_visible), 0.5, dtype))

"""Block-Gibbs sampling of an RBM as pure functions.

The kernel is written for one chain — a visible vector v of shape (V,) — and
``jax.vmap`` runs many chains, each with its own key; k-step chains run under
``lax.scan``. A sweep is h ~ p(h | v) followed by v' ~ p(v | h): every sweep
leaves p(v, h) invariant, so a long chain's v's follow p(v).

Where the uniforms come from is a property of the key, through JAX's
PRNG-implementation mechanism, not an argument of these functions: a key of
JAX's threefry (``jax.random.key(seed)``) draws threefry uniforms, a key of
:data:`HASH` (``jax.random.key(seed, impl=sampling.HASH)``, or any key
re-typed by ``keyed(key, 'hash')``) draws from a counter-based integer hash:
per draw, 64 threefry bits of the key expanded over the array by
:func:`hash_bits`, about a tenth of threefry's cost per element on a CPU,
where threefry otherwise takes ~40% of a CD-10 step. Both implementations
split and fold in keys the same way (threefry's), so re-typing a key changes
only the draws, and the trainer's ``rng`` setting is one :func:`keyed` call
at the top of a step. Both give 24-bit-or-better uniforms; the tests check
Gibbs chains and AIS against exact distributions with each.

Joint (classification) RBMs append ``label_units`` one-hot label units to the
end of the visible layer; they are sampled as one softmax (categorical) group,
p(y | h) ∝ exp(b_y + (W ⊙ A)_{y,:} h), instead of independent bits.
"""

from __future__ import annotations

import jax
from jax.extend import random as jex_random
import jax.numpy as jnp

from ncg import rbm
from ncg.errors import check
from ncg.rbm import RBMState


def _mix32(x: jax.Array) -> jax.Array:
  """A bijective 32-bit integer mixer (C. Wellons' "lowbias32", bias ≈ 0.11)."""
  x = x ^ (x >> 16)
  x = x * jnp.uint32(0x21F0AAAD)
  x = x ^ (x >> 15)
  x = x * jnp.uint32(0x735A2D97)
  return x ^ (x >> 15)


def hash_bits(key_words: jax.Array, shape) -> jax.Array:
  """32-bit words mix(mix(i·φ + k_0) ⊕ k_1), uint32 of ``shape``.

  i is each element's row-major index, φ = 0x9E3779B9 and k the two key words
  (uint32 (2,)). Each element costs a dozen integer vector operations; with
  fresh threefry-drawn key words per call the outputs of different calls are
  independent streams.
  """
  shape = tuple(shape)
  index = jnp.zeros(shape, jnp.uint32)
  stride = 1
  for axis in reversed(range(len(shape))):
    index = index + jax.lax.broadcasted_iota(jnp.uint32, shape, axis) * (
        jnp.uint32(stride))
    stride *= shape[axis]
  x = _mix32(index * jnp.uint32(0x9E3779B9) + key_words[0])
  return _mix32(x ^ key_words[1])


def hash_uniforms(key_words: jax.Array, shape, dtype=jnp.float32) -> jax.Array:
  """Uniforms on [0, 1) with 24 random bits: ⌊:func:`hash_bits` / 2^8⌋ · 2^−24."""
  return _unit_interval(hash_bits(key_words, shape), dtype)


def _unit_interval(bits: jax.Array, dtype) -> jax.Array:
  return (bits >> 8).astype(dtype) * jnp.asarray(2.0 ** -24, dtype)


def _threefry(key_words: jax.Array) -> jax.Array:
  return jax.random.wrap_key_data(key_words, impl='threefry2x32')


_UINTS = {8: jnp.uint8, 16: jnp.uint16, 32: jnp.uint32, 64: jnp.uint64}


def _hash_random_bits(key_words: jax.Array, bit_width: int, shape) -> jax.Array:
  """The implementation's ``random_bits``: :func:`hash_bits` keyed by the key's
  first 64 threefry bits; 8 and 16 bits are the low bits of a 32-bit word, 64
  bits two words (for float64 draws such as a categorical's Gumbel noise)."""
  words = jax.random.bits(_threefry(key_words), (2,), jnp.uint32)
  if bit_width == 64:
    pair = hash_bits(words, tuple(shape) + (2,)).astype(jnp.uint64)
    return (pair[..., 0] << jnp.uint64(32)) | pair[..., 1]
  return hash_bits(words, shape).astype(_UINTS[bit_width])


# The hash generator as a JAX PRNG implementation: key data are two uint32
# words (threefry's), seeding, splitting and folding in are threefry's, and
# random_bits is the counter hash. Keys of it work with every jax.random
# function; this module's samplers use its 24-bit uniforms (hash_uniforms).
HASH = jex_random.define_prng_impl(
    key_shape=(2,),
    seed=lambda seed: jax.random.key_data(jax.random.key(seed)),
    split=lambda words, shape: jax.random.key_data(jax.random.split(_threefry(words), shape)),
    random_bits=_hash_random_bits,
    fold_in=lambda words, data: jax.random.key_data(jax.random.fold_in(_threefry(words), data)),
    name='ncg_hash', tag='ncg_hash')

# The generators by the names configs use (TrainConfig.rng, AIS's rng): the
# hash and JAX's own implementations (rbg and unsafe_rbg: XLA's RNG
# instruction, JAX's suggestion for TPUs).
IMPLS = {'threefry': 'threefry2x32', 'hash': HASH, 'rbg': 'rbg', 'unsafe_rbg': 'unsafe_rbg'}
RNGS = tuple(IMPLS)


def _key_words(impl) -> tuple[int, ...]:
  return jax.eval_shape(lambda: jax.random.key_data(jax.random.key(0, impl=impl))).shape


def is_typed_key(key) -> bool:
  """Whether ``key`` is a typed key array (``jax.random.key``), not raw data."""
  return jnp.issubdtype(jnp.result_type(key), jax.dtypes.prng_key)


def as_key(key) -> jax.Array:
  """``key`` as a typed key array: raw key data become a key of JAX's default
  implementation.

  A raw key — the uint32 array of ``jax.random.PRNGKey(seed)``, shape
  (..., 2) for threefry (the trailing axis is the implementation's key
  words) — is wrapped with ``jax.random.wrap_key_data``, so it is the same
  key as ``jax.random.key(seed)``: the same splits and the same draws. A
  typed key is returned unchanged. Anything else raises ``InputError``.
  """
  if is_typed_key(key):
    return key
  dtype = jnp.result_type(key)
  shape = jnp.shape(key)
  words = _key_words(jax.config.jax_default_prng_impl)
  check(dtype == jnp.uint32 and tuple(shape[len(shape) - len(words):]) == words,
        f'a PRNG key must be jax.random.key(seed) or jax.random.PRNGKey(seed) '
        f'(uint32 of shape (..., {", ".join(map(str, words))})), got '
        f'{dtype} of shape {tuple(shape)}')
  return jax.random.wrap_key_data(key)


def keyed(key: jax.Array, rng: str) -> jax.Array:
  """``key`` (a typed key array of any implementation and shape, or raw key
  data such as ``jax.random.PRNGKey(seed)``, see :func:`as_key`) as a key of
  the generator named ``rng`` (:data:`IMPLS`).

  Unchanged if it already is one; between threefry and :data:`HASH` (the same
  two key words) the same key data, so the same splits; otherwise (to or from
  rbg's four words) the new key data are drawn from the key.
  """
  impl = IMPLS[rng]
  key = as_key(key)
  if str(jax.random.key_impl(key)) == str(impl):
    return key
  data, words = jax.random.key_data(key), _key_words(impl)
  if data.shape[key.ndim:] != words:
    draw = lambda k: jax.random.bits(k, words, jnp.uint32)
    for _ in range(key.ndim):
      draw = jax.vmap(draw)
    data = draw(key)
  return jax.random.wrap_key_data(data, impl=impl)


def is_hash(key: jax.Array) -> bool:
  """Whether ``key`` is a key of :data:`HASH` (a static property of its type)."""
  return str(jax.random.key_impl(key)) == str(HASH)


def uniform(key: jax.Array, shape, dtype=jnp.float32) -> jax.Array:
  """U[0, 1) draws of the given shape from the key's generator.

  A :data:`HASH` key gives :func:`hash_uniforms` of its random words (24 bits),
  any other key ``jax.random.uniform``.
  """
  if is_hash(key):
    return _unit_interval(jax.random.bits(key, tuple(shape), jnp.uint32), dtype)
  return jax.random.uniform(key, shape, dtype)


def normal(key: jax.Array, shape, dtype=jnp.float32) -> jax.Array:
  """N(0, 1) draws: JAX's normal, or Box–Muller on a :data:`HASH` key's uniforms.

  For a hash key: z = √(−2 ln(1 − u₁)) cos(2π u₂) for two uniforms per
  draw (1 − u₁ ∈ (0, 1], so |z| ≤ 5.8 in float32).
  """
  if is_hash(key):
    u = uniform(key, (2,) + tuple(shape), dtype)
    return jnp.sqrt(-2.0 * jnp.log1p(-u[0])) * jnp.cos(2.0 * jnp.pi * u[1])
  return jax.random.normal(key, shape, dtype)


def bernoulli(key: jax.Array, probs: jax.Array) -> jax.Array:
  """Independent {0, 1} draws with the given probabilities, probs' dtype."""
  return (uniform(key, probs.shape, probs.dtype) < probs).astype(
      probs.dtype)


def sample_hidden(key: jax.Array, state: RBMState, v: jax.Array
                  ) -> tuple[jax.Array, jax.Array]:
  """h ~ p(h | v); returns (h, p(h = 1 | v)), each (..., H)."""
  probs = rbm.hidden_probs(state, v)
  return bernoulli(key, probs), probs


def sample_visible(key: jax.Array, state: RBMState, h: jax.Array,
                   label_units: int = 0) -> tuple[jax.Array, jax.Array]:
  """v ~ p(v | h); returns (v, E[v | h]), each (..., V), by the state's
  visible type (binary: E[v | h] = p(v = 1 | h)).

  With ``label_units = L > 0`` the last L visible units are one softmax group:
  their probabilities sum to 1 and exactly one of them is 1 in the sample.
  """
  return VISIBLE_SAMPLERS[state.visible](key, rbm.visible_logits(state, h),
                                         label_units)


def sample_visible_from_logits(key: jax.Array, logits: jax.Array,
                               label_units: int = 0) -> tuple[jax.Array, jax.Array]:
  """:func:`sample_visible` given the logits b + (W ⊙ A)h, (..., V)."""
  if not label_units:
    probs = jax.nn.sigmoid(logits)
    return bernoulli(key, probs), probs
  key_bits, key_label = jax.random.split(key)
  bit_logits, label_logits = logits[..., :-label_units], logits[..., -label_units:]
  bit_probs = jax.nn.sigmoid(bit_logits)
  label_probs = jax.nn.softmax(label_logits, axis=-1)
  label = jax.nn.one_hot(jax.random.categorical(key_label, label_logits),
                         label_units, dtype=logits.dtype)
  return (jnp.concatenate([bernoulli(key_bits, bit_probs), label], axis=-1),
          jnp.concatenate([bit_probs, label_probs], axis=-1))


def sample_gaussian_from_logits(key: jax.Array, logits: jax.Array,
                                label_units: int = 0) -> tuple[jax.Array, jax.Array]:
  """Unit-variance Gaussian visible units: v ~ N(b + (W ⊙ A)h, I).

  ``logits`` is the mean b + (W ⊙ A)h, (..., V); returns (v, that mean).
  Gaussian visible layers have no label group (``label_units`` must be 0).
  """
  del label_units  # TrainConfig checks that it is 0
  return logits + normal(key, logits.shape, logits.dtype), logits


# v ~ p(v | h) from the pre-activation b + (W ⊙ A)h, per visible unit type
# (ncg.units describes the types; 'bernoulli' is the binary RBM).
VISIBLE_SAMPLERS = {'bernoulli': sample_visible_from_logits,
                    'gaussian': sample_gaussian_from_logits}


def gibbs_sweep(key: jax.Array, state: RBMState, v: jax.Array,
                label_units: int = 0, visible: str | None = None) -> jax.Array:
  """One block-Gibbs sweep v → h → v' of one chain, (V,) → (V,).

  ``visible`` names the visible unit type (:data:`VISIBLE_SAMPLERS`); None
  (the default) is the state's own (``state.visible``).
  """
  key_h, key_v = jax.random.split(key)
  h, _ = sample_hidden(key_h, state, v)
  visible = state.visible if visible is None else visible
  v_next, _ = VISIBLE_SAMPLERS[visible](key_v, rbm.visible_logits(state, h),
                                        label_units)
  return v_next.astype(v.dtype)


def gibbs_chain(key: jax.Array, state: RBMState, v: jax.Array, num_steps: int,
                label_units: int = 0, visible: str | None = None) -> jax.Array:
  """v after ``num_steps`` sweeps of one chain started at v, (V,) → (V,)."""
  def body(v, key):
    return gibbs_sweep(key, state, v, label_units, visible), None
  v, _ = jax.lax.scan(body, v, jax.random.split(key, num_steps))
  return v


def sample_chains(key: jax.Array, state: RBMState, v: jax.Array,
                  num_steps: int, label_units: int = 0,
                  visible: str | None = None) -> jax.Array:
  """Runs one chain from each row of v, (C, V) → (C, V), vmapped over chains."""
  keys = jax.random.split(key, v.shape[0])
  return jax.vmap(gibbs_chain, in_axes=(0, None, 0, None, None, None))(
      keys, state, v, num_steps, label_units, visible)


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
  """E[v | h] for h ~ p(h | v) (binary units: p(v = 1 | h)): a smooth picture
  of where chains v are."""
  h, _ = sample_hidden(key, state, v)
  return rbm.visible_mean(state, h)


def random_visible(key: jax.Array, num_chains: int, num_visible: int,
                   dtype=jnp.float32) -> jax.Array:
  """(C, V) uniform random bits: the starting point of chains from noise."""
  return bernoulli(key, jnp.full((num_chains, num_visible), 0.5, dtype))

"""Partition functions and likelihoods of RBMs: exact sums and AIS.

All functions are pure and act on an :class:`ncg.rbm.RBMState`; the model is
p(v) = e^{−F(v)}/Z with the effective weights W ⊙ A (see :mod:`ncg.rbm`).
Quantities are in nats.

Exact log Z. Summing out one layer in closed form leaves a sum over the other:

    Z = Σ_v e^{−F(v)} = Σ_h e^{−F(h)},

so log Z is exact with 2^{min(V, H)} terms. :func:`exact_log_partition`
enumerates the smaller layer in fixed-size chunks (``lax.map``) and combines
the chunks by log-sum-exp, in float64 when ``jax_enable_x64`` is on. For a
joint RBM whose last L visible units are a one-hot label the visible sum runs
over 2^{V−L}·L configurations and the hidden-side marginal uses a log-sum-exp
over the label group.

AIS (Salakhutdinov & Murray, ICML 2008). Geometric path from a base model A
(W = 0, visible biases b_A, hidden biases 0) to the RBM B, over temperatures
0 = β_0 < β_1 < … < β_K = 1, with intermediate unnormalised marginals

    log p*_β(v) = (1−β) b_Aᵀv + β bᵀv + Σ_j softplus(β (c_j + v(W ⊙ A)_j)),

(the base's hidden units contribute the constant H·log 2, put into log Z_A =
Σ_i softplus(b_A,i) + H log 2). A run draws v_1 ~ p_A, then for k = 1…K adds
log p*_k(v_k) − log p*_{k−1}(v_k) to its log weight and moves v_k → v_{k+1}
by one block-Gibbs sweep at β_k: h ~ σ(β_k(c + vW)), v ~ σ((1−β_k) b_A +
β_k (b + hWᵀ)). Then log Z ≈ log mean_m exp(log w_m) + log Z_A, and the ±3σ
interval is log(mean(w) ± 3·std(w)/√M) as in the authors' code.

Numerics of one AIS step. With x = c + v(W ⊙ A), a = β_k x and Δ = β_k −
β_{k−1} ≥ 0, each hidden unit's increment is computed without cancellation as

    softplus(a) − softplus(a − Δx) = Δ·min(x, 0) − log1p(σ(β_k|x|)·expm1(−Δ|x|)),

and σ(β_k|x|) also gives p(h_j = 1 | v) at β_k (σ(a) = σ(β_k|x|) for x ≥ 0
and 1 − σ(β_k|x|) otherwise). So a step costs the two products v(W ⊙ A) and
h(W ⊙ A)ᵀ in the weights' dtype (float32), one sigmoid, one expm1 and one
log1p per hidden unit, one sigmoid per visible unit, and V + H uniform draws
(by default one threefry key per temperature expanded by a counter-based
integer hash, :func:`ncg.sampling.hash_uniforms`: threefry itself for
1.3·10^5 uniforms per temperature costs more than the two products on a CPU;
``rng='threefry'`` keeps the reference generator).
Per-step increments are summed over units in the weights' dtype and
accumulated over the ~14,500 steps in float64 when x64 is on, otherwise in
compensated (Kahan–Babuška) float32. The temperatures are rounded once to the
weights' dtype and Δ is taken between the rounded values (exact by
Sterbenz), so the estimator is unbiased for the schedule actually run.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from ncg import classification
from ncg import precision
from ncg import rbm
from ncg import sampling
from ncg.errors import check
from ncg.rbm import RBMState

MAX_EXACT_LOG2_CONFIGURATIONS = 26  # exact sums up to 2^26 configurations
_CHUNK_ELEMENTS = 1 << 22           # floats per enumeration chunk (32 MB f64)
LOG2 = math.log(2.0)


def wide_float():
  """float64 when ``jax_enable_x64`` is on, else float32."""
  return jax.dtypes.canonicalize_dtype(jnp.float64)


# ----------------------------------------------------------------------------
# Exact partition function.


def _bits(indices: jax.Array, width: int, dtype) -> jax.Array:
  """Binary expansion, (C,) int → (C, width) with bit i of each index."""
  return ((indices[:, None] >> jnp.arange(width, dtype=indices.dtype)) & 1
          ).astype(dtype)


def count_configurations(state: RBMState, label_units: int = 0
                         ) -> tuple[str, int]:
  """(layer, log2 of the number of terms) of the cheaper exact sum.

  The visible sum has 2^{V−L}·L terms (2^V when L = 0), the hidden one 2^H;
  Gaussian visible units (continuous) always sum over the hidden layer.
  """
  num_visible, num_hidden = state.W.shape
  if state.visible != 'bernoulli':
    return 'hidden', float(num_hidden)
  visible_log2 = (num_visible - label_units) + (
      math.log2(label_units) if label_units else 0.0)
  if visible_log2 < num_hidden:
    return 'visible', visible_log2
  return 'hidden', float(num_hidden)


def _chunked_logsumexp(term_fn, log2_total: int, width_cost: int):
  """log Σ_{n < 2^log2_total} exp(term_fn(n)) over chunks of indices."""
  log2_chunk = min(log2_total,
                   max(0, int(math.log2(_CHUNK_ELEMENTS / max(width_cost, 1)))))
  num_chunks = 1 << (log2_total - log2_chunk)
  chunk = 1 << log2_chunk
  def one_chunk(start):
    indices = start + jnp.arange(chunk, dtype=jnp.int32)
    return jax.nn.logsumexp(term_fn(indices))
  starts = jnp.arange(num_chunks, dtype=jnp.int32) * chunk
  return jax.nn.logsumexp(jax.lax.map(one_chunk, starts))


@functools.partial(jax.jit, static_argnames='label_units')
@precision.highest
def exact_log_partition(state: RBMState, label_units: int = 0) -> jax.Array:
  """Exact log Z by enumerating the smaller layer, in bounded memory.

  Memory is about 2^22 floats per chunk whatever the size; time grows as
  2^{min(V−L, H)}·V·H. Float64 when x64 is enabled.

  Args:
    state: an RBM of any visible type (Gaussian units: the 2^H hidden
      states, F(h) of :func:`ncg.rbm.hidden_free_energy`); the last
      ``label_units`` binary visible units, if any, are a one-hot group (so
      only one-hot label configurations count).
    label_units: L.

  Returns:
    Scalar log Z (float64 if enabled, else float32).

  Raises:
    InputError: when the sum would have more than 2^26 terms.
  """
  layer, log2_terms = count_configurations(state, label_units)
  check(log2_terms <= MAX_EXACT_LOG2_CONFIGURATIONS,
        f'exact log Z needs 2^{log2_terms:.1f} terms (V={state.num_visible}, '
        f'H={state.num_hidden}); the limit is 2^{MAX_EXACT_LOG2_CONFIGURATIONS}'
        ': use AIS')
  _check_labels(state, label_units)
  dtype = wide_float()
  state = jax.tree.map(lambda a: a.astype(dtype), state)
  w = rbm.effective_weights(state)
  num_visible, num_hidden = w.shape
  if state.visible != 'bernoulli':
    return _chunked_logsumexp(
        lambda i: -rbm.hidden_free_energy(state, _bits(i, num_hidden, dtype)),
        num_hidden, num_visible)
  if layer == 'hidden':
    def terms(indices):                         # −F(h), labels summed out
      h = _bits(indices, num_hidden, dtype)
      logits = h @ w.T + state.b                # (C, V)
      out = h @ state.c
      if label_units:
        out += jnp.sum(jax.nn.softplus(logits[:, :-label_units]), axis=-1)
        return out + jax.nn.logsumexp(logits[:, -label_units:], axis=-1)
      return out + jnp.sum(jax.nn.softplus(logits), axis=-1)
    return _chunked_logsumexp(terms, num_hidden, num_visible)
  num_bits = num_visible - label_units
  def visible_terms(indices):                   # −F(x, y) for every y
    x = _bits(indices, num_bits, dtype)
    if label_units:
      return classification.label_scores(state, x, label_units)
    return -rbm.free_energy(state, x)
  return _chunked_logsumexp(visible_terms, num_bits,
                            num_hidden * max(label_units, 1))


def _check_labels(state: RBMState, label_units: int) -> None:
  check(not label_units or state.visible == 'bernoulli',
        f'label units need binary visible units; this RBM has {state.visible!r} ones')


def _check_binary_units(state: RBMState, what: str, instead: str) -> None:
  check(state.visible == 'bernoulli',
        f'{what} is for binary visible units; this RBM has {state.visible!r} '
        f'ones: use {instead}')


# ----------------------------------------------------------------------------
# Likelihoods.


@functools.partial(jax.jit, static_argnames='label_units')
@precision.highest
def log_likelihood(state: RBMState, v: jax.Array, log_z: jax.Array,
                   label_units: int = 0) -> jax.Array:
  """Per-example log p(v) = −F(v) − log Z, (N, D) → (N,), in nats.

  For a joint RBM (``label_units`` = L > 0), v may be the full visible vector
  [x, one_hot(y)] (D = V: log p(x, y)) or the input alone (D = V − L: the
  label is summed out, log p(x) = log Σ_y e^{−F(x, y)} − log Z). F is the
  state's own (:func:`ncg.rbm.free_energy`: binary or Gaussian units; for
  Gaussian units a log density of the standardised data).
  """
  _check_labels(state, label_units)
  dtype = wide_float()
  if label_units and v.shape[-1] == state.num_visible - label_units:
    neg_f = jax.nn.logsumexp(
        classification.label_scores(state, v, label_units).astype(dtype),
        axis=-1)
  else:
    check(v.shape[-1] == state.num_visible,
          f'v has {v.shape[-1]} units; the RBM has {state.num_visible} visible'
          f' units ({label_units} of them labels)')
    neg_f = -rbm.free_energy(state, v.astype(state.W.dtype)).astype(dtype)
  return neg_f - log_z


def _chunked_map(fn, v: jax.Array, batch_size: int) -> jax.Array:
  """fn over rows of v (N, ...) in batches, with padding; (N, ...) → (N,)."""
  n = v.shape[0]
  pad = (-n) % batch_size
  vp = jnp.concatenate([v, jnp.zeros((pad,) + v.shape[1:], v.dtype)])
  out = jax.lax.map(fn, vp.reshape((-1, batch_size) + v.shape[1:]))
  return out.reshape(-1)[:n]


@functools.partial(jax.jit, static_argnames=('label_units', 'batch_size'))
@precision.highest
def pseudo_log_likelihood(state: RBMState, v: jax.Array, label_units: int = 0,
                          batch_size: int = 64) -> jax.Array:
  """Per-example log pseudo-likelihood over all bits, (N, V) → (N,).

      log PL(v) = Σ_i log p(v_i | v_{−i}),
      log p(v_i | v_{−i}) = −softplus(s_i b_i + Σ_j [softplus(x_j + s_i W_ij)
                                                     − softplus(x_j)]),

  with x = c + v(W ⊙ A) and s_i = 1 − 2v_i (flipping bit i). For a joint RBM
  the label group is one variable: its term is log p(y | x, labels summed
  out) = log_softmax(−F(x, ·))_y. Costs N·V·H softplus terms, evaluated in
  batches of ``batch_size`` examples (memory batch·V·H floats). Binary
  visible units only.
  """
  _check_binary_units(state, 'the pseudo-likelihood', 'log_likelihood with exact '
                      'log Z or AIS (ncg.units.gaussian_ais_log_partition)')
  w = rbm.effective_weights(state)
  num_bits = state.num_visible - label_units
  w_bits, b_bits = w[:num_bits], state.b[:num_bits]

  def one(v):
    v = v.astype(w.dtype)
    x = v @ w + state.c                                      # (H,)
    bits = v[:num_bits]
    flip = 1.0 - 2.0 * bits                                  # (V−L,)
    delta = jnp.sum(jax.nn.softplus(x + flip[:, None] * w_bits)
                    - jax.nn.softplus(x), axis=-1)           # (V−L,)
    out = -jnp.sum(jax.nn.softplus(flip * b_bits + delta))
    if label_units:
      y = v[num_bits:]
      out += jnp.sum(y * classification.label_log_probs(state, bits,
                                                         label_units))
    return out

  return _chunked_map(jax.vmap(one), v, batch_size)


@jax.jit
def reconstruction_error(state: RBMState, v: jax.Array) -> jax.Array:
  """Mean-field squared reconstruction error per example, (N, V) → (N,).

  Σ_i (v_i − v̂_i)² with v̂ = E[v | h = σ(c + v(W ⊙ A))] (σ(b + h(W ⊙ A)ᵀ)
  for binary units, b + h(W ⊙ A)ᵀ for Gaussian ones), deterministic.
  """
  v = v.astype(state.W.dtype)
  recon = rbm.visible_mean(state, rbm.hidden_probs(state, v))
  return jnp.sum((v - recon) ** 2, axis=-1)


# ----------------------------------------------------------------------------
# Annealed importance sampling.


class AISResult(NamedTuple):
  """An AIS estimate of log Z, in nats.

  Attributes:
    log_z: log mean exp(log_weights) + log_z_base.
    log_z_low: log(mean w − 3 std w/√M) + log_z_base; −inf when the lower end
      of the interval is ≤ 0 (the data cannot bound it from below).
    log_z_high: log(mean w + 3 std w/√M) + log_z_base.
    log_weights: (M,) the log importance weights of the runs.
    log_z_base: log Z_A of the base model (closed form).
  """
  log_z: jax.Array
  log_z_low: jax.Array
  log_z_high: jax.Array
  log_weights: jax.Array
  log_z_base: jax.Array


def ais_betas(num_temperatures: int | None = None) -> np.ndarray:
  """The inverse temperatures 0 = β_0 < … < β_K = 1 (float64 numpy).

  ``None`` gives Salakhutdinov & Murray's schedule: steps of 1/1000 on
  [0, 0.5], 1/10,000 on [0.5, 0.9] and 1/100,000 on [0.9, 1] — 14,501
  temperatures. An integer n ≥ 2 gives n temperatures with the same shape:
  the three segments get 500/14,500, 4,000/14,500 and 10,000/14,500 of the
  steps (at least one each when n ≥ 4).
  """
  if num_temperatures is None:
    return np.concatenate([np.linspace(0.0, 0.5, 501)[:-1],
                           np.linspace(0.5, 0.9, 4001)[:-1],
                           np.linspace(0.9, 1.0, 10001)])
  check(isinstance(num_temperatures, (int, np.integer))
        and num_temperatures >= 2,
        f'AIS needs at least 2 temperatures, got {num_temperatures}')
  steps = num_temperatures - 1
  if steps < 3:
    return np.linspace(0.0, 1.0, num_temperatures)
  n1 = max(1, round(steps * 500 / 14500))
  n2 = max(1, round(steps * 4000 / 14500))
  n3 = max(1, steps - n1 - n2)
  n1 = steps - n2 - n3
  return np.concatenate([np.linspace(0.0, 0.5, n1 + 1)[:-1],
                         np.linspace(0.5, 0.9, n2 + 1)[:-1],
                         np.linspace(0.9, 1.0, n3 + 1)])


def _check_betas(betas) -> np.ndarray:
  betas = np.asarray(betas, np.float64)
  check(betas.ndim == 1 and betas.size >= 2,
        f'betas must be a 1-D schedule of >= 2 values, got shape {betas.shape}')
  check(np.all(np.isfinite(betas)), 'betas must be finite')
  check(betas[0] == 0.0 and betas[-1] == 1.0,
        f'betas must run from 0 to 1, got {betas[0]} … {betas[-1]}')
  check(bool(np.all(np.diff(betas) >= 0)), 'betas must be non-decreasing')
  return betas


def _sample_visible(u_bits, u_label, logits, label_units):
  """Bernoulli bits (and a categorical label group) from uniforms."""
  dtype = logits.dtype
  if not label_units:
    return (u_bits < jax.nn.sigmoid(logits)).astype(dtype)
  bits = (u_bits < jax.nn.sigmoid(logits[..., :-label_units])).astype(dtype)
  cdf = jnp.cumsum(jax.nn.softmax(logits[..., -label_units:], axis=-1), -1)
  y = jnp.sum(cdf[..., :-1] < u_label[..., None] * cdf[..., -1:], axis=-1)
  return jnp.concatenate([bits, jax.nn.one_hot(y, label_units, dtype=dtype)],
                         axis=-1)


def _ais_increment(x, v_term, beta, dbeta):
  """One run's log-weight increment at v and p(h = 1 | v) at β_k.

  Args:
    x: (H,) c + v(W ⊙ A).
    v_term: scalar (b − b_A)ᵀv.
    beta: β_k; dbeta: β_k − β_{k−1} ≥ 0.

  Returns:
    (increment, σ(β_k|x|)) — see the module docstring.
  """
  ax = jnp.abs(x)
  s = jax.nn.sigmoid(beta * ax)
  hidden = jnp.sum(dbeta * jnp.minimum(x, 0) - jnp.log1p(s * jnp.expm1(
      -dbeta * ax)))
  return dbeta * v_term + hidden, s


def _kahan_add(hi, lo, inc):
  """Compensated (TwoSum) accumulation of inc into hi + lo."""
  total = hi + inc
  big = jnp.where(jnp.abs(hi) >= jnp.abs(inc), hi, inc)
  small = jnp.where(jnp.abs(hi) >= jnp.abs(inc), inc, hi)
  return total, lo + ((big - total) + small)


@functools.partial(jax.jit, static_argnames=('num_runs', 'label_units'))
@precision.highest
def _ais(key, state, betas, base_visible_bias, num_runs, label_units):
  # ``key``'s PRNG implementation (threefry or ncg.sampling.HASH) is part of
  # its type, so each generator compiles its own program.
  dtype = state.W.dtype
  state = jax.tree.map(lambda a: a.astype(dtype), state)
  w = rbm.effective_weights(state)
  num_visible, num_hidden = w.shape
  num_bits = num_visible - label_units
  b, c = state.b, state.c
  b_a = base_visible_bias.astype(dtype)
  db = b - b_a
  acc_dtype = wide_float()
  compensate = acc_dtype == dtype

  hashed = sampling.is_hash(key)

  def draw(key):
    shape = (num_runs, num_hidden + num_visible + 1)
    if hashed:   # key: the temperature's two hash key words
      u = sampling.hash_uniforms(key, shape, dtype)
    else:
      u = jax.random.uniform(key, shape, dtype)
    return (u[:, :num_hidden], u[:, num_hidden:num_hidden + num_bits],
            u[:, -1])

  # Per-run kernels, vmapped over the runs.
  def weight_step(v, beta, dbeta):
    x = v @ w + c
    inc, s = _ais_increment(x, v @ db, beta, dbeta)
    return inc, s, x

  def transition(v_unused, s, x, u_h, u_bits, u_label, beta):
    del v_unused
    h = ((u_h < s) != (x < 0)).astype(dtype)   # h ~ σ(β(c + vW))
    logits = (1 - beta) * b_a + beta * (b + h @ w.T)
    return _sample_visible(u_bits, u_label, logits, label_units)

  weight_step_v = jax.vmap(weight_step, in_axes=(0, None, None))
  transition_v = jax.vmap(transition, in_axes=(0, 0, 0, 0, 0, 0, None))

  key, key0 = jax.random.split(key)
  steps = betas.shape[0] - 1
  if hashed:   # every temperature's key words in one threefry call
    key, key0 = sampling.keyed(key, 'threefry'), sampling.keyed(key0, 'threefry')
    step_keys = jax.random.bits(key, (steps - 1, 2), jnp.uint32)
    key0 = jax.random.bits(key0, (2,), jnp.uint32)
  else:
    step_keys = jax.random.split(key, steps - 1)
  _, u_bits, u_label = draw(key0)
  v = jax.vmap(_sample_visible, in_axes=(0, 0, None, None))(
      u_bits, u_label, b_a, label_units)

  def body(carry, inputs):
    v, hi, lo = carry
    beta_prev, beta, key = inputs
    dbeta = beta - beta_prev
    inc, s, x = weight_step_v(v, beta, dbeta)
    if compensate:
      hi, lo = _kahan_add(hi, lo, inc)
    else:
      hi = hi + inc.astype(acc_dtype)
    u_h, u_bits, u_label = draw(key)
    v = transition_v(v, s, x, u_h, u_bits, u_label, beta)
    return (v, hi, lo), None

  zeros = jnp.zeros((num_runs,), acc_dtype)
  (v, hi, lo), _ = jax.lax.scan(
      body, (v, zeros, zeros), (betas[:steps - 1], betas[1:steps], step_keys))
  inc, _, _ = weight_step_v(v, betas[steps], betas[steps] - betas[steps - 1])
  if compensate:
    hi, lo = _kahan_add(hi, lo, inc)
  else:
    hi = hi + inc.astype(acc_dtype)
  log_weights = hi + lo

  return log_weights, log_partition_base(b_a, num_hidden, label_units)


class UniformBaseWarning(UserWarning):
  """AIS was asked for without a base model: the uniform one is used."""


def ais_log_partition(key: jax.Array,
                      state: RBMState,
                      *,
                      num_runs: int = 100,
                      betas=None,
                      base_visible_bias: jax.Array | str | None = None,
                      label_units: int = 0,
                      rng: str = 'hash') -> AISResult:
  """AIS estimate of log Z with its ±3σ interval (Salakhutdinov & Murray).

  Args:
    key: PRNG key, typed (``jax.random.key``) or raw (``jax.random.PRNGKey``).
    state: the target RBM (float32 weights keep the matrix products fast).
    num_runs: M independent annealing runs (vmapped).
    betas: inverse temperatures from 0 to 1, non-decreasing; None for the
      authors' 14,501-temperature schedule (:func:`ais_betas`); an int n for
      a schedule of n temperatures with the same shape.
    base_visible_bias: (V,) visible biases b_A of the base model, e.g.
      :func:`ncg.rbm.base_rate_visible_bias` of the training data (with the
      label part, if any, the logits of the label frequencies), or
      ``'uniform'`` for the uniform base model (b_A = 0) as a deliberate
      choice. None also means uniform but warns (:class:`UniformBaseWarning`):
      on a trained MNIST RBM the uniform base underestimates log Z by ~10
      nats with 100 runs and its ±3σ interval is unbounded below, while the
      base-rate base is within 0.1 nat of the exact value.
    label_units: L, the last L visible units are a one-hot (softmax) group:
      the annealing then runs over the one-hot label domain.
    rng: the generator of the per-step uniforms (:data:`ncg.sampling.IMPLS`;
      ``key`` is re-typed to it): 'hash' (default, fast) draws two threefry
      key words per temperature and expands them with
      :func:`ncg.sampling.hash_uniforms`; 'threefry' calls ``jax.random.uniform``
      per temperature (the reference, several times slower on CPU).

  Returns:
    An :class:`AISResult`. The estimate is unbiased for Z (not log Z) and
    log Z tends to be underestimated with few runs or short schedules.
  """
  check(isinstance(num_runs, (int, np.integer)) and num_runs >= 2,
        f'AIS needs at least 2 runs, got {num_runs}')
  _check_binary_units(state, 'ais_log_partition (a binary base model)',
                      'ncg.units.gaussian_ais_log_partition')
  check(rng in sampling.RNGS, f'unknown AIS rng {rng!r}; choose one of {sampling.RNGS}')
  check(0 <= label_units < state.num_visible,
        f'label_units must be in [0, {state.num_visible}), got {label_units}')
  if betas is None or isinstance(betas, (int, np.integer)):
    betas = ais_betas(betas)
  betas = _check_betas(betas)
  dtype = state.W.dtype
  if base_visible_bias is None:
    warnings.warn(
        'ais_log_partition without base_visible_bias uses the uniform base '
        'model, which can underestimate log Z by many nats on trained RBMs: '
        'pass base_visible_bias=ncg.rbm.base_rate_visible_bias(train_x) (or '
        "'uniform' to choose it deliberately)", UniformBaseWarning, stacklevel=2)
  if base_visible_bias is None or (isinstance(base_visible_bias, str)
                                   and base_visible_bias == 'uniform'):
    base_visible_bias = jnp.zeros((state.num_visible,), dtype)
  check(not isinstance(base_visible_bias, str),
        f"base_visible_bias must be an array or 'uniform', got {base_visible_bias!r}")
  base_visible_bias = jnp.asarray(base_visible_bias)
  check(base_visible_bias.shape == (state.num_visible,),
        f'base_visible_bias has shape {base_visible_bias.shape}; expected '
        f'({state.num_visible},)')
  log_weights, log_z_base = _ais(sampling.keyed(key, rng), state,
                                 jnp.asarray(betas, dtype), base_visible_bias,
                                 int(num_runs), int(label_units))
  return _summarise(log_weights, log_z_base)


@jax.jit
def _summarise(log_weights: jax.Array, log_z_base: jax.Array) -> AISResult:
  """log mean exp and the ±3σ interval of the weights (in a wide float)."""
  lw = log_weights.astype(wide_float())
  top = jnp.max(lw)
  w = jnp.exp(lw - top)
  mean = jnp.mean(w)
  spread = 3.0 * jnp.std(w, ddof=1) / jnp.sqrt(lw.shape[0])
  low = mean - spread
  log_low = jnp.where(low > 0, jnp.log(jnp.where(low > 0, low, 1.0)), -jnp.inf)
  shift = top + log_z_base
  return AISResult(jnp.log(mean) + shift, log_low + shift,
                   jnp.log(mean + spread) + shift, log_weights, log_z_base)


def log_partition_base(base_visible_bias: jax.Array, num_hidden: int,
                       label_units: int = 0) -> jax.Array:
  """log Z_A of the AIS base model: Σ softplus(b_A) (+ label lse) + H log 2."""
  b_a = jnp.asarray(base_visible_bias, wide_float())
  if label_units:
    return (num_hidden * LOG2 + jnp.sum(jax.nn.softplus(b_a[:-label_units]))
            + jax.nn.logsumexp(b_a[-label_units:]))
  return num_hidden * LOG2 + jnp.sum(jax.nn.softplus(b_a))

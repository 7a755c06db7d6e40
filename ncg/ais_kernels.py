"""The AIS kernel of each visible-unit type, and the two estimators built on them.

Each kernel (:class:`ncg.ais.AISKernel`) is built once per state inside the
jitted program and driven by :func:`ncg.ais.anneal`; the estimators check
their arguments, run it and summarise (:func:`ncg.ais.summarise`).
:func:`ncg.distributed.sharded_ais` lays the same program's runs over devices.

**Binary visible units** (:func:`bernoulli_kernel`). Geometric path from a
base model A (W = 0, visible biases b_A, hidden biases 0) to the RBM B:

    log p*_β(v) = (1−β) b_Aᵀv + β bᵀv + Σ_j softplus(β (c_j + v(W ⊙ A)_j)),

(the base's hidden units contribute the constant H·log 2, put into log Z_A =
Σ_i softplus(b_A,i) + H log 2, :func:`log_partition_base`). A transition at
β_k is one block-Gibbs sweep h ~ σ(β_k(c + vW)), v ~ σ((1−β_k) b_A +
β_k (b + hWᵀ)); the last L visible units may be a one-hot label group
(annealed over the one-hot domain). A step costs the two products v(W ⊙ A)
and h(W ⊙ A)ᵀ in the weights' dtype (float32), one sigmoid, one expm1 and
one log1p per hidden unit, one sigmoid per visible unit, and V + H uniform
draws: by default one threefry key per temperature expanded by a
counter-based integer hash (:func:`ncg.sampling.hash_uniforms`: threefry
itself for 1.3·10^5 uniforms per temperature costs more than the two
products on a CPU; ``rng='threefry'`` keeps the reference generator).

**Gaussian visible units** (:func:`gaussian_kernel`, unit variance, docs in
:mod:`ncg.units`) anneal the interaction only, p_β(v, h) ∝ exp(−½‖v − b‖² +
β(cᵀh + vᵀ(W ⊙ A)h)): at β = 0 the model is N(b, I) × uniform h (log Z_0 =
(V/2) log 2π + H log 2, sampled exactly), the transition at β is
h ~ σ(β x), v ~ N(b + β(W ⊙ A)h, I) with x = c + v(W ⊙ A), and the increment
is Σ_j softplus(β_k x_j) − softplus(β_{k−1} x_j) (no visible term).
"""

from __future__ import annotations

import functools
import math
import warnings

import jax
import jax.numpy as jnp

from ncg import ais
from ncg import partition
from ncg import precision
from ncg import rbm
from ncg import sampling
from ncg.ais import AISKernel, AISResult
from ncg.errors import check
from ncg.rbm import RBMState

LOG2 = math.log(2.0)


class UniformBaseWarning(UserWarning):
  """AIS was asked for without a base model: the uniform one is used."""


# ----------------------------------------------------------------------------
# Binary visible units.


def log_partition_base(base_visible_bias: jax.Array, num_hidden: int,
                       label_units: int = 0) -> jax.Array:
  """log Z_A of the AIS base model: Σ softplus(b_A) (+ label lse) + H log 2."""
  b_a = jnp.asarray(base_visible_bias, precision.wide_float())
  if label_units:
    return (num_hidden * LOG2 + jnp.sum(jax.nn.softplus(b_a[:-label_units]))
            + jax.nn.logsumexp(b_a[-label_units:]))
  return num_hidden * LOG2 + jnp.sum(jax.nn.softplus(b_a))


def sample_visible_from_uniforms(u_bits, u_label, logits, label_units):
  """Bernoulli bits (and a categorical label group) from given uniforms.

  Args:
    u_bits: (..., V − L) uniforms; bit i is on iff u_i < σ(logit_i).
    u_label: (...,) one uniform per row (unused when L = 0): the label is
      the first class whose cumulative softmax exceeds it.
    logits: (..., V) visible pre-activations; their dtype is the output's.
    label_units: L.

  Returns:
    (..., V) the bits followed by the one-hot label.
  """
  dtype = logits.dtype
  if not label_units:
    return (u_bits < jax.nn.sigmoid(logits)).astype(dtype)
  bits = (u_bits < jax.nn.sigmoid(logits[..., :-label_units])).astype(dtype)
  cdf = jnp.cumsum(jax.nn.softmax(logits[..., -label_units:], axis=-1), -1)
  y = jnp.sum(cdf[..., :-1] < u_label[..., None] * cdf[..., -1:], axis=-1)
  return jnp.concatenate([bits, jax.nn.one_hot(y, label_units, dtype=dtype)],
                         axis=-1)


def bernoulli_kernel(state: RBMState, num_runs: int,
                     base_visible_bias: jax.Array | None = None,
                     label_units: int = 0, hashed: bool = False) -> AISKernel:
  """The binary-unit AIS kernel of M = ``num_runs`` runs (module docstring).

  ``base_visible_bias``: b_A (V,), None for the uniform base (b_A = 0).
  ``hashed``: the keys are :data:`ncg.sampling.HASH` keys, so every
  temperature's key words come from one threefry call and the uniforms from
  :func:`ncg.sampling.hash_uniforms`; otherwise ``jax.random.uniform`` per
  temperature. Traceable; the state is cast to its weights' dtype.
  """
  dtype = state.W.dtype
  state = jax.tree.map(lambda a: a.astype(dtype), state)
  w = rbm.effective_weights(state)
  num_visible, num_hidden = w.shape
  num_bits = num_visible - label_units
  b, c = state.b, state.c
  b_a = (jnp.zeros((num_visible,), dtype) if base_visible_bias is None
         else base_visible_bias.astype(dtype))
  db = b - b_a

  def draw(key):
    shape = (num_runs, num_hidden + num_visible + 1)
    if hashed:   # key: the temperature's two hash key words
      u = sampling.hash_uniforms(key, shape, dtype)
    else:
      u = jax.random.uniform(key, shape, dtype)
    return (u[:, :num_hidden], u[:, num_hidden:num_hidden + num_bits],
            u[:, -1])

  def init(key, steps):
    key, key0 = jax.random.split(key)
    if hashed:   # every temperature's key words in one threefry call
      key, key0 = sampling.keyed(key, 'threefry'), sampling.keyed(key0, 'threefry')
      step_keys = jax.random.bits(key, (steps - 1, 2), jnp.uint32)
      key0 = jax.random.bits(key0, (2,), jnp.uint32)
    else:
      step_keys = jax.random.split(key, steps - 1)
    _, u_bits, u_label = draw(key0)
    v = jax.vmap(sample_visible_from_uniforms, in_axes=(0, 0, None, None))(
        u_bits, u_label, b_a, label_units)
    return v, step_keys

  def weight_one(v, beta, dbeta):     # one run
    x = v @ w + c
    inc, s = ais.increment(x, v @ db, beta, dbeta)
    return inc, (s, x)

  def move_one(s, x, u_h, u_bits, u_label, beta):
    h = ais.hidden_from_uniforms(u_h, s, x, dtype)   # h ~ σ(β(c + vW))
    logits = (1 - beta) * b_a + beta * (b + h @ w.T)
    return sample_visible_from_uniforms(u_bits, u_label, logits, label_units)

  weight = jax.vmap(weight_one, in_axes=(0, None, None))
  move_runs = jax.vmap(move_one, in_axes=(0, 0, 0, 0, 0, None))

  def move(v, aux, key, beta):
    del v
    s, x = aux
    u_h, u_bits, u_label = draw(key)
    return move_runs(s, x, u_h, u_bits, u_label, beta)

  return AISKernel(dtype, init, weight, move,
                   log_partition_base(b_a, num_hidden, label_units))


@functools.partial(jax.jit, static_argnames=('num_runs', 'label_units'))
@precision.highest
def bernoulli_log_weights(key, state: RBMState, betas: jax.Array,
                          base_visible_bias: jax.Array, num_runs: int,
                          label_units: int = 0):
  """(log weights (M,), log Z_A) of binary-unit AIS, one compiled program.

  ``key``: typed, its PRNG implementation (threefry or
  :data:`ncg.sampling.HASH`) part of its type, so each generator compiles
  its own program; ``betas`` (K + 1,) in the weights' dtype.
  """
  kernel = bernoulli_kernel(state, num_runs, base_visible_bias, label_units,
                            hashed=sampling.is_hash(key))
  return ais.anneal(kernel, key, betas), kernel.log_z_base


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
      authors' 14,501-temperature schedule (:func:`ncg.ais.betas`); an int n
      for a schedule of n temperatures with the same shape.
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
    An :class:`ncg.ais.AISResult`. The estimate is unbiased for Z (not
    log Z) and log Z tends to be underestimated with few runs or short
    schedules.
  """
  ais.check_runs(num_runs)
  partition.check_binary_units(state, 'ais_log_partition (a binary base model)',
                               'ncg.units.gaussian_ais_log_partition')
  ais.check_rng(rng)
  check(0 <= label_units < state.num_visible,
        f'label_units must be in [0, {state.num_visible}), got {label_units}')
  betas = ais.resolve_betas(betas)
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
  log_weights, log_z_base = bernoulli_log_weights(
      sampling.keyed(key, rng), state, jnp.asarray(betas, dtype),
      base_visible_bias, int(num_runs), int(label_units))
  return ais.summarise(log_weights, log_z_base)


# ----------------------------------------------------------------------------
# Gaussian (unit-variance) visible units.


def gaussian_kernel(state: RBMState, num_runs: int) -> AISKernel:
  """The Gaussian-unit AIS kernel of M = ``num_runs`` runs (module
  docstring); the state is read as a Gaussian–Bernoulli RBM whatever its
  class. Traceable."""
  dtype = state.W.dtype
  w = rbm.effective_weights(state)
  num_visible, num_hidden = w.shape
  increment = jax.vmap(ais.increment, in_axes=(0, None, None, None))

  def init(key, steps):
    key0, key_steps = jax.random.split(key)
    v = state.b + sampling.normal(key0, (num_runs, num_visible), dtype)
    return v, jax.random.split(key_steps, steps - 1)

  def weight(v, beta, dbeta):
    x = v @ w + state.c
    inc, s = increment(x, jnp.zeros((), dtype), beta, dbeta)
    return inc, (s, x)

  def move(v, aux, key, beta):
    s, x = aux
    key_h, key_v = jax.random.split(key)
    u = sampling.uniform(key_h, x.shape, dtype)
    h = ais.hidden_from_uniforms(u, s, x, dtype)   # h ~ σ(β x)
    return (state.b + beta * (h @ w.T)
            + sampling.normal(key_v, v.shape, dtype))

  log_z_base = 0.5 * num_visible * rbm.LOG_2PI + num_hidden * LOG2
  return AISKernel(dtype, init, weight, move,
                   jnp.asarray(log_z_base, precision.wide_float()))


@functools.partial(jax.jit, static_argnames=('num_runs',))
@precision.highest
def gaussian_log_weights(key, state: RBMState, betas: jax.Array, num_runs: int):
  """(log weights (M,), log Z_0) of Gaussian-unit AIS, one compiled program
  (``key`` typed; ``betas`` (K + 1,) in the weights' dtype)."""
  kernel = gaussian_kernel(state, num_runs)
  return ais.anneal(kernel, key, betas), kernel.log_z_base


def gaussian_ais_log_partition(key: jax.Array, state: RBMState, *,
                               num_runs: int = 100, betas=None,
                               rng: str = 'hash') -> AISResult:
  """AIS estimate of log Z of a Gaussian–Bernoulli RBM with its ±3σ interval.

  The path anneals the interaction from N(b, I) × uniform h (module
  docstring); ``betas`` as :func:`ais_log_partition` (None: Salakhutdinov &
  Murray's 14,501 temperatures; an int n: n of that shape).
  """
  ais.check_runs(num_runs)
  ais.check_rng(rng)
  betas = ais.resolve_betas(betas)
  log_weights, log_z_base = gaussian_log_weights(
      sampling.keyed(key, rng), state, jnp.asarray(betas, state.W.dtype),
      int(num_runs))
  return ais.summarise(log_weights, log_z_base)

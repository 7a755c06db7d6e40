"""Visible unit types: binary (Bernoulli) and real-valued (Gaussian) visible layers.

An RBM's hidden layer is binary; its visible layer is one of the rows of
:data:`VISIBLE`, selected by a static name (``TrainConfig.visible``). The
state (:class:`ncg.rbm.RBMState`: W, b, c, strengths) is the same for both, and
so are the connectivity mask A = [α > ½] and the effective weights W ⊙ A.

**Bernoulli** (the binary RBM of :mod:`ncg.rbm`), v ∈ {0, 1}^V.

**Gaussian, unit variance** (the Gaussian–Bernoulli RBM of Hinton &
Salakhutdinov 2006 with σ_i = 1, for data standardised to zero mean and unit
variance per feature), v ∈ ℝ^V, h ∈ {0, 1}^H:

    E(v, h) = ½‖v − b‖² − cᵀh − vᵀ(W ⊙ A)h
    p(h_j = 1 | v) = σ(c_j + v(W ⊙ A)_{:,j})           (as for binary units)
    p(v | h)       = N(b + (W ⊙ A)h, I)
    F(v) = ½‖v − b‖² − Σ_j softplus(c_j + v(W ⊙ A)_{:,j}),   p(v) = e^{−F(v)}/Z
    F(h) = −cᵀh − ½ Σ_i [(b_i + (W ⊙ A)_{i,:}h)² − b_i²] − (V/2) log 2π
    log Z = log Σ_h e^{−F(h)}                           (2^H terms, exact)

F(h) is the Gaussian integral ∫ e^{−E(v, h)} dv in closed form: completing the
square, −½(v_i − b_i)² + v_i a_i = −½(v_i − b_i − a_i)² + ½[(b_i + a_i)² − b_i²]
with a = (W ⊙ A)h, and each ∫ e^{−½u²} du = √(2π).

Training is unchanged: ∂(−E)/∂W_ij = v_i h_j, ∂(−E)/∂b_i = v_i − b_i (the b_i
cancels between the phases) and ∂(−E)/∂c_j = h_j, so the CD statistics G, Δb,
Δc, the weight update A ⊙ G and the network gradient W ⊙ G of NCG have the
same form; only the visible sampler of the Gibbs chain differs
(:data:`ncg.sampling.VISIBLE_SAMPLERS`). Start from small weights
(``rbm.init(..., weight_init='normal', weight_scale=0.01)``): U[−1, 1] weights
on hundreds of units make p(v | h) means of ±10 and more.

AIS for Gaussian units anneals the interaction only,
p_β(v, h) ∝ exp(−½‖v − b‖² + β(cᵀh + vᵀ(W ⊙ A)h)): at β = 0 the model is
N(b, I) × uniform h (log Z_0 = (V/2) log 2π + H log 2, sampled exactly), the
transition at β is h ~ σ(β x), v ~ N(b + β(W ⊙ A)h, I) with x = c + v(W ⊙ A),
and the log-weight increment is Σ_j softplus(β_k x_j) − softplus(β_{k−1} x_j)
(the visible term does not depend on β), accumulated as for binary units.
"""

from __future__ import annotations

import functools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from ncg import estimators
from ncg import inputs
from ncg import precision
from ncg import rbm
from ncg import sampling
from ncg.errors import check
from ncg.rbm import RBMState

LOG_2PI = rbm.LOG_2PI


# ----------------------------------------------------------------------------
# Gaussian (unit-variance) visible units.


def _gaussian(state: RBMState) -> RBMState:
  return rbm.as_visible(state, 'gaussian')


def gaussian_free_energy(state: RBMState, v: jax.Array) -> jax.Array:
  """F(v) = ½‖v − b‖² − Σ_j softplus(c_j + v(W ⊙ A)_j), (..., V) → (...)
  (:func:`ncg.rbm.free_energy` of the state as a Gaussian–Bernoulli RBM)."""
  return rbm.free_energy(_gaussian(state), v)


def gaussian_hidden_free_energy(state: RBMState, h: jax.Array) -> jax.Array:
  """F(h) = −cᵀh − ½Σ_i[(b_i + (W ⊙ A)_i h)² − b_i²] − (V/2) log 2π, (..., H) → (...).

  The marginal over the visible layer (a Gaussian integral): p(h) = e^{−F(h)}/Z
  (:func:`ncg.rbm.hidden_free_energy` of the state as a Gaussian–Bernoulli RBM).
  """
  return rbm.hidden_free_energy(_gaussian(state), h)


@jax.jit
@precision.highest
def gaussian_exact_log_partition(state: RBMState) -> jax.Array:
  """Exact log Z of a Gaussian–Bernoulli RBM: log Σ_h e^{−F(h)} over 2^H states.

  Float64 when x64 is enabled. Raises InputError past 2^26 terms.
  """
  num_visible, num_hidden = state.W.shape
  check(num_hidden <= estimators.MAX_EXACT_LOG2_CONFIGURATIONS,
        f'exact log Z of Gaussian visible units enumerates the 2^{num_hidden} '
        f'hidden states; the limit is 2^{estimators.MAX_EXACT_LOG2_CONFIGURATIONS}'
        ': use AIS')
  dtype = estimators.wide_float()
  state = jax.tree.map(lambda a: a.astype(dtype), state)

  def terms(indices):
    return -gaussian_hidden_free_energy(
        state, estimators._bits(indices, num_hidden, dtype))  # pylint: disable=protected-access
  return estimators._chunked_logsumexp(terms, num_hidden, num_visible)  # pylint: disable=protected-access


@functools.partial(jax.jit, static_argnames=('num_runs',))
@precision.highest
def _gaussian_ais(key, state, betas, num_runs):
  dtype = state.W.dtype
  w = rbm.effective_weights(state)
  num_visible, num_hidden = w.shape
  acc_dtype = estimators.wide_float()
  compensate = acc_dtype == dtype
  increment = jax.vmap(estimators._ais_increment, in_axes=(0, None, None, None))  # pylint: disable=protected-access

  def accumulate(hi, lo, inc):
    if compensate:
      return estimators._kahan_add(hi, lo, inc)  # pylint: disable=protected-access
    return hi + inc.astype(acc_dtype), lo

  key0, key_steps = jax.random.split(key)
  v = state.b + sampling.normal(key0, (num_runs, num_visible), dtype)
  steps = betas.shape[0] - 1

  def body(carry, inputs):
    v, hi, lo = carry
    beta_prev, beta, step_key = inputs
    x = v @ w + state.c
    inc, s = increment(x, jnp.zeros((), dtype), beta, beta - beta_prev)
    hi, lo = accumulate(hi, lo, inc)
    key_h, key_v = jax.random.split(step_key)
    u = sampling.uniform(key_h, x.shape, dtype)
    h = ((u < s) != (x < 0)).astype(dtype)       # h ~ σ(β x); s = σ(β|x|)
    v = (state.b + beta * (h @ w.T)
         + sampling.normal(key_v, v.shape, dtype))
    return (v, hi, lo), None

  zeros = jnp.zeros((num_runs,), acc_dtype)
  (v, hi, lo), _ = jax.lax.scan(
      body, (v, zeros, zeros),
      (betas[:steps - 1], betas[1:steps], jax.random.split(key_steps, steps - 1)))
  x = v @ w + state.c
  inc, _ = increment(x, jnp.zeros((), dtype), betas[steps],
                     betas[steps] - betas[steps - 1])
  hi, lo = accumulate(hi, lo, inc)
  log_z_base = (0.5 * num_visible * LOG_2PI + num_hidden * estimators.LOG2)
  return hi + lo, jnp.asarray(log_z_base, acc_dtype)


def gaussian_ais_log_partition(key: jax.Array, state: RBMState, *,
                               num_runs: int = 100, betas=None,
                               rng: str = 'hash') -> estimators.AISResult:
  """AIS estimate of log Z of a Gaussian–Bernoulli RBM with its ±3σ interval.

  The path anneals the interaction from N(b, I) × uniform h (module
  docstring); ``betas`` as :func:`ncg.estimators.ais_log_partition` (None:
  Salakhutdinov & Murray's 14,501 temperatures; an int n: n of that shape).
  """
  check(num_runs >= 2, f'AIS needs num_runs >= 2, got {num_runs}')
  check(rng in sampling.RNGS, f'unknown rng {rng!r}; choose one of {sampling.RNGS}')
  if betas is None or isinstance(betas, int):
    betas = estimators.ais_betas(betas)
  betas = estimators._check_betas(betas)  # pylint: disable=protected-access
  log_weights, log_z_base = _gaussian_ais(
      sampling.keyed(key, rng), state, jnp.asarray(betas, state.W.dtype), num_runs)
  return estimators._summarise(log_weights, log_z_base)  # pylint: disable=protected-access


# ----------------------------------------------------------------------------
# The table.


class VisibleUnits(NamedTuple):
  """The functions that depend on the visible unit type.

  Attributes:
    name: the key in :data:`VISIBLE`.
    binary: the data must be exactly 0/1.
    mean: E[v | h] from the pre-activation b + (W ⊙ A)h, (..., V) → (..., V).
    sample: ``(key, pre-activation, label_units) → (v, E[v | h])`` (the key's
      generator draws: :mod:`ncg.sampling`).
    free_energy: ``(state, v) → F(v)``.
    hidden_free_energy: ``(state, h) → F(h)`` (the visible layer summed or
      integrated out).
    exact_log_partition: ``state → log Z``.
    ais_log_partition: ``(key, state, *, num_runs, betas, rng, ...) →
      AISResult`` (binary units also take ``base_visible_bias``).
  """
  name: str
  binary: bool
  mean: Callable[[jax.Array], jax.Array]
  sample: Callable
  free_energy: Callable[[RBMState, jax.Array], jax.Array]
  hidden_free_energy: Callable[[RBMState, jax.Array], jax.Array]
  exact_log_partition: Callable[[RBMState], jax.Array]
  ais_log_partition: Callable


VISIBLE = {
    'bernoulli': VisibleUnits(
        'bernoulli', True, jax.nn.sigmoid,
        sampling.VISIBLE_SAMPLERS['bernoulli'],
        lambda state, v: rbm.free_energy(rbm.as_visible(state, 'bernoulli'), v),
        lambda state, h: rbm.hidden_free_energy(rbm.as_visible(state, 'bernoulli'), h),
        estimators.exact_log_partition,
        estimators.ais_log_partition),
    'gaussian': VisibleUnits(
        'gaussian', False, lambda pre_activation: pre_activation,
        sampling.VISIBLE_SAMPLERS['gaussian'], gaussian_free_energy,
        gaussian_hidden_free_energy, gaussian_exact_log_partition,
        gaussian_ais_log_partition),
}


def get(name: str) -> VisibleUnits:
  """The row of :data:`VISIBLE` called ``name`` (InputError if unknown)."""
  check(name in VISIBLE, f'unknown visible unit type {name!r}; choose one of '
        f'{tuple(VISIBLE)}')
  return VISIBLE[name]


def log_likelihood(state: RBMState, v: jax.Array, log_z: jax.Array,
                   visible: str | None = None) -> jax.Array:
  """Per-example log p(v) = −F(v) − log Z, (N, V) → (N,), in nats.

  ``visible`` defaults to the state's own type (``state.visible``); a
  different one is an InputError, and so is v that does not fit it
  (:func:`ncg.inputs.check_data`: width, float dtype, 0/1 for binary units). For Gaussian units this is a log density
  (of standardised data: add −Σ_i log s_i for the density of the original
  units, s_i their scales).
  """
  visible = state.visible if visible is None else visible
  inputs.check_data(v, state.num_visible, visible, 'v')
  check(visible == state.visible,
        f'log_likelihood(visible={visible!r}) of an RBM with {state.visible!r} '
        'visible units')
  dtype = estimators.wide_float()
  return -get(visible).free_energy(state, v).astype(dtype) - log_z

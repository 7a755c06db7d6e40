"""Annealed importance sampling (AIS) as building blocks, for any visible type.

AIS (Neal 2001; for RBMs Salakhutdinov & Murray, ICML 2008) estimates log Z
of a target p*_1 from a base p*_0 with a known log Z_0, over inverse
temperatures 0 = β_0 < β_1 < … < β_K = 1 and intermediate unnormalised
marginals p*_β. A run draws v_1 ~ p_0, then for k = 1…K adds
log p*_k(v_k) − log p*_{k−1}(v_k) to its log weight and moves v_k → v_{k+1}
by a transition that leaves p_{β_k} invariant (one block-Gibbs sweep). Then

    log Z ≈ log mean_m exp(log w_m) + log Z_0,

unbiased for Z (not log Z), and the ±3σ interval is log(mean(w) ±
3·std(w)/√M) as in the authors' code.

The pieces, composed by the estimators of :mod:`ncg.ais_kernels` (binary and
Gaussian visible units) and :func:`ncg.distributed.sharded_ais`:

* :func:`betas` — the authors' schedule (or n temperatures of its shape);
  :func:`resolve_betas` / :func:`check_betas` — a caller's schedule checked;
* :func:`increment` — one run's log-weight increment of the hidden layer,
  without cancellation (below);
* :func:`compensated_add` — TwoSum accumulation of the increments;
* :class:`AISKernel` and :func:`anneal` — a visible type's kernel (initial
  draw, weight step, transition) and the one ``lax.scan`` over temperatures;
* :func:`summarise` → :class:`AISResult` — the estimate and its interval.

Numerics of one step. With x = c + v(W ⊙ A) (the hidden pre-activation at
β = 1), a = β_k x and Δ = β_k − β_{k−1} ≥ 0, each hidden unit's increment
is computed as

    softplus(a) − softplus(a − Δx) = Δ·min(x, 0) − log1p(σ(β_k|x|)·expm1(−Δ|x|)),

and σ(β_k|x|) also gives p(h_j = 1 | v) at β_k (σ(a) = σ(β_k|x|) for x ≥ 0
and 1 − σ(β_k|x|) otherwise). Per-step increments are summed over units in
the weights' dtype and accumulated over the ~14,500 steps in float64 when
x64 is on, otherwise in compensated (Kahan–Babuška) float32. The
temperatures are rounded once to the weights' dtype and Δ is taken between
the rounded values (exact by Sterbenz), so the estimator is unbiased for the
schedule actually run.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ncg import precision
from ncg import sampling
from ncg.errors import check


class AISResult(NamedTuple):
  """An AIS estimate of log Z, in nats.

  Attributes:
    log_z: log mean exp(log_weights) + log_z_base.
    log_z_low: log(mean w − 3 std w/√M) + log_z_base; −inf when the lower end
      of the interval is ≤ 0 (the data cannot bound it from below).
    log_z_high: log(mean w + 3 std w/√M) + log_z_base.
    log_weights: (M,) the log importance weights of the runs.
    log_z_base: log Z_0 of the base model (closed form).
  """
  log_z: jax.Array
  log_z_low: jax.Array
  log_z_high: jax.Array
  log_weights: jax.Array
  log_z_base: jax.Array


# ----------------------------------------------------------------------------
# Temperatures and the checks every AIS front end makes.


def betas(num_temperatures: int | None = None) -> np.ndarray:
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


def check_betas(schedule) -> np.ndarray:
  """A schedule as float64 numpy, (K + 1,); InputError unless it is 1-D with
  ≥ 2 finite, non-decreasing values from exactly 0 to exactly 1."""
  schedule = np.asarray(schedule, np.float64)
  check(schedule.ndim == 1 and schedule.size >= 2,
        f'betas must be a 1-D schedule of >= 2 values, got shape {schedule.shape}')
  check(np.all(np.isfinite(schedule)), 'betas must be finite')
  check(schedule[0] == 0.0 and schedule[-1] == 1.0,
        f'betas must run from 0 to 1, got {schedule[0]} … {schedule[-1]}')
  check(bool(np.all(np.diff(schedule) >= 0)), 'betas must be non-decreasing')
  return schedule


def resolve_betas(schedule) -> np.ndarray:
  """The ``betas`` argument of the estimators: None (the authors' 14,501
  temperatures), an int n (n temperatures of that shape, :func:`betas`) or
  the values themselves; checked (:func:`check_betas`)."""
  if schedule is None or isinstance(schedule, (int, np.integer)):
    schedule = betas(schedule)
  return check_betas(schedule)


def check_runs(num_runs) -> None:
  """InputError unless ``num_runs`` is an integer ≥ 2 (std needs two)."""
  check(isinstance(num_runs, (int, np.integer)) and num_runs >= 2,
        f'AIS needs at least 2 runs, got {num_runs}')


def check_rng(rng: str) -> None:
  """InputError unless ``rng`` names a generator (:data:`ncg.sampling.RNGS`)."""
  check(rng in sampling.RNGS, f'unknown AIS rng {rng!r}; choose one of {sampling.RNGS}')


# ----------------------------------------------------------------------------
# One step's arithmetic.


def increment(x: jax.Array, v_term: jax.Array, beta, dbeta
              ) -> tuple[jax.Array, jax.Array]:
  """One run's log-weight increment at v and p(h = 1 | v) at β_k.

  Args:
    x: (H,) the hidden pre-activation c + v(W ⊙ A).
    v_term: scalar, the visible layer's Δ-coefficient ((b − b_0)ᵀv for
      binary units annealed from a base with biases b_0; 0 when the visible
      term does not depend on β).
    beta: β_k; dbeta: Δ = β_k − β_{k−1} ≥ 0.

  Returns:
    (Δ·v_term + Σ_j [softplus(β_k x_j) − softplus(β_{k−1} x_j)], σ(β_k|x|)
    (H,)), the sum computed as in the module docstring.
  """
  ax = jnp.abs(x)
  s = jax.nn.sigmoid(beta * ax)
  hidden = jnp.sum(dbeta * jnp.minimum(x, 0) - jnp.log1p(s * jnp.expm1(
      -dbeta * ax)))
  return dbeta * v_term + hidden, s


def hidden_from_uniforms(u: jax.Array, s: jax.Array, x: jax.Array,
                         dtype) -> jax.Array:
  """h ~ σ(β x) from uniforms u, given s = σ(β|x|) of :func:`increment`:
  h_j = [u_j < s_j] for x_j ≥ 0, [u_j ≥ s_j] otherwise; shapes (..., H)."""
  return ((u < s) != (x < 0)).astype(dtype)


def compensated_add(hi: jax.Array, lo: jax.Array, inc: jax.Array
                    ) -> tuple[jax.Array, jax.Array]:
  """Compensated (TwoSum) accumulation of inc into hi + lo; returns the new
  (hi, lo), elementwise (Kahan–Babuška: lo gathers what hi's rounding lost)."""
  total = hi + inc
  big = jnp.where(jnp.abs(hi) >= jnp.abs(inc), hi, inc)
  small = jnp.where(jnp.abs(hi) >= jnp.abs(inc), inc, hi)
  return total, lo + ((big - total) + small)


# ----------------------------------------------------------------------------
# The annealing loop over a visible type's kernel.


class AISKernel(NamedTuple):
  """What AIS needs of one visible-unit type, for M runs (built per state).

  Attributes:
    dtype: the weights' dtype (increments are summed in it; the log weights
      are accumulated in :func:`ncg.precision.wide_float`, compensated when
      that is the same dtype).
    init: ``(key, num_steps) → (v (M, V), step_keys)``: the runs' exact draws
      from the base model and one key per transition (num_steps − 1 of them,
      stacked on axis 0).
    weight: ``(v, β_k, Δ) → (increments (M,), aux)``: log p*_k(v) −
      log p*_{k−1}(v) per run, and what the transition reuses (e.g.
      σ(β_k|x|) and x).
    move: ``(v, aux, key, β_k) → v'``: one transition leaving p_{β_k}
      invariant.
    log_z_base: log Z_0 of the base model, scalar, in the wide float.
  """
  dtype: Any
  init: Callable
  weight: Callable
  move: Callable
  log_z_base: jax.Array


def anneal(kernel: AISKernel, key, schedule: jax.Array) -> jax.Array:
  """The log weights (M,) of AIS runs along ``schedule`` (K + 1,).

  Traceable (call it inside ``jax.jit``): K weight steps, with K − 1
  transitions between them in one ``lax.scan``, the increments accumulated
  in the wide float (:func:`compensated_add` when it is the weights' dtype).
  """
  acc_dtype = precision.wide_float()
  compensate = acc_dtype == kernel.dtype

  def add(hi, lo, inc):
    if compensate:
      return compensated_add(hi, lo, inc)
    return hi + inc.astype(acc_dtype), lo

  steps = schedule.shape[0] - 1
  v, step_keys = kernel.init(key, steps)

  def body(carry, inputs):
    v, hi, lo = carry
    beta_prev, beta, step_key = inputs
    inc, aux = kernel.weight(v, beta, beta - beta_prev)
    hi, lo = add(hi, lo, inc)
    return (kernel.move(v, aux, step_key, beta), hi, lo), None

  zeros = jnp.zeros((v.shape[0],), acc_dtype)
  (v, hi, lo), _ = jax.lax.scan(
      body, (v, zeros, zeros),
      (schedule[:steps - 1], schedule[1:steps], step_keys))
  inc, _ = kernel.weight(v, schedule[steps], schedule[steps] - schedule[steps - 1])
  hi, lo = add(hi, lo, inc)
  return hi + lo


@jax.jit
def summarise(log_weights: jax.Array, log_z_base: jax.Array) -> AISResult:
  """log mean exp of the weights (M,) and their ±3σ interval, shifted by
  log Z_0, in the wide float (:class:`AISResult`)."""
  lw = log_weights.astype(precision.wide_float())
  top = jnp.max(lw)
  w = jnp.exp(lw - top)
  mean = jnp.mean(w)
  spread = 3.0 * jnp.std(w, ddof=1) / jnp.sqrt(lw.shape[0])
  low = mean - spread
  log_low = jnp.where(low > 0, jnp.log(jnp.where(low > 0, low, 1.0)), -jnp.inf)
  shift = top + log_z_base
  return AISResult(jnp.log(mean) + shift, log_low + shift,
                   jnp.log(mean + spread) + shift, log_weights, log_z_base)

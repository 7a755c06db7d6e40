"""ncg.ais: the building blocks of AIS, each against a closed form.

The schedule, the cancellation-free increment (against softplus differences
in float64), the compensated sum, the annealing loop over a kernel whose log
weights are known, the summary; and every row of the visible-unit table
(ncg.units.VISIBLE) names a kernel that ncg.ais.anneal drives to the same log
weights, bit for bit, as that type's compiled estimator program.
"""

from __future__ import annotations

from decimal import Decimal, getcontext

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ncg import ais
from ncg import ais_kernels
from ncg import precision
from ncg import rbm
from ncg import sampling
from ncg import units
from ncg.errors import InputError
from tests.conftest import tiny_rbm


def test_default_schedule_is_the_authors_14501_temperatures():
  b = ais.betas()
  assert b.shape == (14501,) and b[0] == 0.0 and b[-1] == 1.0
  np.testing.assert_allclose(np.diff(b)[:500], 1e-3)
  np.testing.assert_allclose(np.diff(b)[-10000:], 1e-5)
  for n in (2, 3, 4, 50, 1001):
    assert ais.betas(n).shape == (n,)
    assert ais.check_betas(ais.betas(n)) is not None


def test_resolve_betas_takes_none_an_int_or_values_and_checks_them():
  np.testing.assert_array_equal(ais.resolve_betas(None), ais.betas())
  np.testing.assert_array_equal(ais.resolve_betas(np.int64(7)), ais.betas(7))
  np.testing.assert_array_equal(ais.resolve_betas([0, 0.5, 1]), [0, 0.5, 1])
  for bad in ([0.1, 1.0], [0.0, 0.9], [0.0, 0.6, 0.5, 1.0], [[0.0, 1.0]],
              [0.0, np.nan, 1.0], 1):
    with pytest.raises(InputError):
      ais.resolve_betas(bad)
  with pytest.raises(InputError, match='at least 2 runs'):
    ais.check_runs(1)
  with pytest.raises(InputError, match='unknown AIS rng'):
    ais.check_rng('mersenne')


def _softplus_difference(x, v_term, beta, dbeta):
  """Δ·v_term + Σ softplus(βx) − softplus((β − Δ)x) in 50-digit decimals."""
  getcontext().prec = 50
  sp = lambda a: (1 + a.exp()).ln()
  beta, dbeta = Decimal(beta), Decimal(dbeta)
  return float(dbeta * Decimal(v_term) + sum(
      sp(beta * Decimal(xi)) - sp((beta - dbeta) * Decimal(xi)) for xi in x))


def test_increment_is_the_softplus_difference_and_s_is_sigma_beta_abs_x():
  x = jnp.asarray([-30.0, -2.5, -1e-3, 0.0, 0.7, 12.0], jnp.float64)
  # AIS's steps: Δ ≤ 10^-3 on the default schedule (a step with Δ|x| and
  # β|x| both large, e.g. β = Δ = ½ at x = −30, loses ~10^-11 in log1p).
  for beta, dbeta in ((0.3, 0.01), (1.0, 1e-5), (0.5, 1e-3)):
    inc, s = ais.increment(x, jnp.asarray(2.0), beta, dbeta)
    expected = _softplus_difference(np.asarray(x), 2.0, beta, dbeta)
    assert float(inc) == pytest.approx(expected, rel=1e-14, abs=1e-17)
    np.testing.assert_allclose(s, 1 / (1 + np.exp(-beta * np.abs(x))), rtol=1e-14)
    # h = [u < σ(βx)]: hidden_from_uniforms flips the comparison for x < 0.
    u = jnp.full(x.shape, 0.5)
    np.testing.assert_array_equal(ais.hidden_from_uniforms(u, s, x, jnp.float64),
                                  (0.5 < 1 / (1 + np.exp(-beta * x))).astype(float))


def test_compensated_add_keeps_a_float32_sum_of_14500_steps_exact():
  incs = jnp.asarray(np.random.default_rng(0).normal(0.01, 1e-3, 14500),
                     jnp.float32)
  def body(carry, inc):
    return ais.compensated_add(*carry, inc), None
  zero = jnp.zeros((), jnp.float32)
  (hi, lo), _ = jax.lax.scan(body, (zero, zero), incs)
  exact = np.sum(np.asarray(incs, np.float64))
  naive = float(jax.lax.scan(lambda c, i: (c + i, None), zero, incs)[0])
  assert abs(float(hi) + float(lo) - exact) < 1e-5
  assert abs(float(hi) + float(lo) - exact) <= abs(naive - exact)


@pytest.mark.parametrize('log_weights', [[0.0, 0.1, -0.2, 0.05], [0.0, 10.0]])
def test_summarise_is_log_mean_exp_with_the_3_sigma_interval(log_weights):
  lw = np.asarray(log_weights)
  result = ais.summarise(jnp.asarray(lw), jnp.asarray(1.5))
  w = np.exp(lw)
  spread = 3 * np.std(w, ddof=1) / np.sqrt(len(w))
  assert float(result.log_z) == pytest.approx(np.log(w.mean()) + 1.5, abs=1e-12)
  assert float(result.log_z_high) == pytest.approx(np.log(w.mean() + spread) + 1.5,
                                                   abs=1e-12)
  if w.mean() > spread:
    assert float(result.log_z_low) == pytest.approx(
        np.log(w.mean() - spread) + 1.5, abs=1e-12)
  else:  # the data cannot bound log Z from below
    assert float(result.log_z_low) == -np.inf


def test_anneal_sums_every_weight_step_and_moves_between_them():
  """A kernel whose increment is v·Δ and whose move adds its key: the log
  weight of run m is Σ_k v_{m,k}·Δ_k, with v_k = v_1 + Σ_{j<k} key_j."""
  num_runs, schedule = 3, np.asarray([0.0, 0.25, 0.5, 0.6, 1.0])
  steps = len(schedule) - 1
  keys = jnp.arange(1.0, steps, dtype=jnp.float64)          # K − 1 "keys"
  v0 = jnp.asarray([[1.0], [2.0], [-1.0]])
  kernel = ais.AISKernel(
      jnp.float64,
      init=lambda key, n: (v0, keys),
      weight=lambda v, beta, dbeta: (v[:, 0] * dbeta, None),
      move=lambda v, aux, key, beta: v + key,
      log_z_base=jnp.asarray(0.0))
  log_weights = ais.anneal(kernel, None, jnp.asarray(schedule))
  shifts = np.concatenate([[0.0], np.cumsum(np.asarray(keys))])  # (K,)
  expected = np.asarray(v0)[:, 0, None] + shifts[None, :]
  np.testing.assert_allclose(log_weights, expected @ np.diff(schedule),
                             rtol=1e-15)
  assert log_weights.shape == (num_runs,)
  assert log_weights.dtype == precision.wide_float()


def test_every_visible_type_names_a_kernel_that_anneal_runs_as_its_estimator():
  assert tuple(units.VISIBLE) == rbm.VISIBLE_TYPES
  state = tiny_rbm(jax.random.key(0), 5, 3)
  state = jax.tree.map(lambda a: a.astype(jnp.float32), state)
  schedule = jnp.asarray(ais.betas(30), jnp.float32)
  key = sampling.keyed(jax.random.key(1), 'hash')
  programs = {'bernoulli': lambda: ais_kernels.bernoulli_log_weights(
                  key, state, schedule, jnp.zeros(5, jnp.float32), num_runs=4),
              'gaussian': lambda: ais_kernels.gaussian_log_weights(
                  key, rbm.as_visible(state, 'gaussian'), schedule, num_runs=4)}
  for name, row in units.VISIBLE.items():
    typed = rbm.as_visible(state, name)
    hashed = {'hashed': True} if name == 'bernoulli' else {}

    @jax.jit
    def run(key, typed=typed, row=row, hashed=hashed):
      kernel = row.ais_kernel(typed, 4, **hashed)
      return ais.anneal(kernel, key, schedule), kernel.log_z_base

    with jax.default_matmul_precision('highest'):
      log_weights, log_z_base = run(key)
    expected_weights, expected_base = programs[name]()
    np.testing.assert_array_equal(log_weights, expected_weights)
    np.testing.assert_array_equal(log_z_base, expected_base)

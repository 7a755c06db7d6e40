"""ncg.tempering: parallel tempering's stationary distribution against enumeration
(chi-square), the swap acceptance against its closed form for two temperatures, the
ladder and its checks."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from ncg import rbm, tempering
from ncg.errors import InputError
from tests.conftest import all_binary, tiny_rbm


def _log_p(state, beta, vs):
  """log p_β(v) of every row of vs, by enumeration (F_β summed out over h)."""
  f = rbm.free_energy(tempering.tempered(state, beta), vs)
  return np.asarray(-f - jax.scipy.special.logsumexp(-f))


def _exact_samples(key, state, beta, vs, n):
  idx = jax.random.categorical(key, jnp.asarray(_log_p(state, beta, vs)), shape=(n,))
  return vs[idx]


def _strong_rbm():
  """4 visible, 3 hidden, weights of scale 3: modes that plain Gibbs leaves slowly."""
  return tiny_rbm(jax.random.key(3), num_visible=4, num_hidden=3, density=1.0, scale=3.0)


def test_every_temperature_samples_its_tempered_model():
  """3,000 independent ladders of 4 temperatures from noise, 30 steps: the states of
  chain 0 (the model) and chain 2 (β = 0.22) against p_β(v) by enumeration over the 16
  visible states, a chi-square test at p > 10⁻³ each (fixed seed)."""
  state = _strong_rbm()
  betas = tempering.geometric_ladder(4, 0.1).astype(jnp.float64)
  tstate = tempering.init(jax.random.key(1), state, betas, 3000)
  tstate, info = tempering.run(jax.random.key(2), state, betas, tstate, 30)
  vs = all_binary(4)
  for k in (0, 2):
    codes = np.asarray(tstate.v[k]) @ (2 ** np.arange(3, -1, -1))
    observed = np.bincount(codes.astype(int), minlength=16)
    expected = np.exp(_log_p(state, betas[k], vs)) * len(codes)
    assert stats.chisquare(observed, expected).pvalue > 1e-3, (k, observed, expected)
  assert info.proposed.shape == (3,) and np.all(np.asarray(info.accepted) > 0)
  assert np.all(np.asarray(info.accepted) <= np.asarray(info.proposed))


def test_swap_acceptance_matches_its_closed_form_for_two_temperatures():
  """Two temperatures at stationarity (both chains started from exact samples): the rate
  of accepted swaps equals Σ_{v,v'} p_1(v) p_β(v') min(1, exp(F_1(v) + F_β(v') − F_1(v')
  − F_β(v))) by enumeration, within 4 standard errors over 20,000 ladders × 10 steps
  (swaps proposed on the 5 even steps)."""
  state = _strong_rbm()
  betas = jnp.array([1.0, 0.4], jnp.float64)
  vs = all_binary(4)
  n = 20000
  v0 = _exact_samples(jax.random.key(4), state, 1.0, vs, n)
  v1 = _exact_samples(jax.random.key(5), state, 0.4, vs, n)
  tstate = tempering.TemperingState(jnp.stack([v0, v1]), jnp.zeros((), jnp.int32))
  _, info = tempering.run(jax.random.key(6), state, betas, tstate, 10)
  assert int(info.proposed[0]) == 5 * n
  f1 = np.asarray(rbm.free_energy(state, vs))
  fb = np.asarray(rbm.free_energy(tempering.tempered(state, 0.4), vs))
  p1, pb = np.exp(_log_p(state, 1.0, vs)), np.exp(_log_p(state, 0.4, vs))
  log_ratio = f1[:, None] + fb[None, :] - f1[None, :] - fb[:, None]    # [v, v']
  want = float(np.sum(p1[:, None] * pb[None, :] * np.minimum(1.0, np.exp(log_ratio))))
  rate = float(tempering.acceptance_rates(info)[0])
  se = np.sqrt(want * (1 - want) / (5 * n)) * 3   # steps are correlated: a generous SE
  assert abs(rate - want) < 4 * se, (rate, want)
  assert 0.05 < want < 0.95                         # a test that can fail either way


def test_ladder_tempered_model_and_checks():
  betas = tempering.geometric_ladder(3, 0.25)
  np.testing.assert_allclose(betas, [1.0, 0.5, 0.25], rtol=1e-6)
  assert tempering.geometric_ladder(1).tolist() == [1.0]
  tempering.check_ladder(betas)
  for bad in ([0.9, 0.5], [1.0, 1.0], [1.0, 0.5, -0.1], [[1.0]]):
    with pytest.raises(InputError):
      tempering.check_ladder(jnp.asarray(bad))
  state = _strong_rbm()
  hot = tempering.tempered(state, 0.5)
  vs, hs = all_binary(4), all_binary(3)
  np.testing.assert_allclose(rbm.energy(hot, vs[:, None], hs[None]),
                             0.5 * rbm.energy(state, vs[:, None], hs[None]), rtol=1e-12)
  np.testing.assert_array_equal(rbm.mask(hot), rbm.mask(state))


def test_one_temperature_is_plain_gibbs_and_raw_keys_work():
  """K = 1: no swaps are proposed; a raw jax.random.PRNGKey gives the typed key's numbers."""
  state = _strong_rbm()
  betas = tempering.geometric_ladder(1)
  v, info = tempering.sample(jax.random.key(0), state, betas, 8, 5)
  assert v.shape == (8, 4) and info.proposed.shape == (0,)
  betas = tempering.geometric_ladder(3)
  typed, _ = tempering.sample(jax.random.key(7), state, betas, 5, 3)
  raw, _ = tempering.sample(jax.random.PRNGKey(7), state, betas, 5, 3)
  np.testing.assert_array_equal(typed, raw)

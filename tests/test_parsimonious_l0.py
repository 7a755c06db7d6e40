"""The L0 hard-concrete baseline: closed forms against integration and enumeration."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ncg.parsimonious import l0, models, train
from tests.conftest import jit_call


@pytest.mark.parametrize('log_alpha', [-3.0, 0.0, 2.5])
def test_prob_nonzero_and_test_gate_match_the_distribution(log_alpha):
  """P(z ≠ 0) by integrating over u (z = 0 iff s̄ ≤ 0) equals the closed form."""
  u = (np.arange(2_000_000) + 0.5) / 2_000_000
  s = 1 / (1 + np.exp(-(np.log(u) - np.log1p(-u) + log_alpha) / l0.BETA))
  z = np.clip(s * (l0.ZETA - l0.GAMMA) + l0.GAMMA, 0, 1)
  assert float(l0.prob_nonzero(jnp.float32(log_alpha))) == pytest.approx(np.mean(z > 0),
                                                                        abs=1e-5)
  draws = np.asarray(l0.sample(jax.random.key(0), [jnp.full((4000,), log_alpha)], 1)[0])
  assert np.mean(draws > 0) == pytest.approx(np.mean(z > 0), abs=0.025)
  assert float(l0.test_gate(jnp.float32(log_alpha))) == pytest.approx(
      min(1, max(0, 1 / (1 + np.exp(-log_alpha)) * 1.2 - 0.1)), abs=1e-6)


def test_expected_penalty_matches_enumeration_on_a_tiny_net():
  """The L0 objective's price + weight prior with P(z ≠ 0) in place of θ equals
  their expectation over every on/off pattern of the 2 + 3 gates."""
  arch = models.mlp(2, (3,), num_classes=2)
  config = train.Config(1e-3, 0.1, 0.07, (1.0, 2.0), 0.3, 10, method='l0')
  weights = models.init_weights(jax.random.key(0), arch, 2)
  weights = jax.tree.map(lambda w: w + 0.5, weights)
  log_alphas = (jnp.array([-1.0, 2.0]), jnp.array([0.5, -2.0, 1.0]))
  probs = [np.asarray(jit_call(l0.prob_nonzero, a), np.float64) for a in log_alphas]
  got = float(jit_call(lambda w, a: train.price(arch, config, [l0.prob_nonzero(t) for t in a])
                       + train.weight_prior(arch, config, w, [l0.prob_nonzero(t) for t in a]),
                       weights, log_alphas))
  weight_prior = jax.jit(lambda w, z: train.weight_prior(arch, config, w, z))  # one program
  flat = np.concatenate(probs)
  want = 0.0
  for on in itertools.product((0.0, 1.0), repeat=5):
    on = np.array(on)
    p = np.prod(np.where(on > 0, flat, 1 - flat))
    z = (on[:2], on[2:])
    units = 0.07 * (on[:2].sum() + 2.0 * on[2:].sum())
    want += p * (units + float(weight_prior(weights, z)))
  assert got == pytest.approx(want, rel=1e-5)


def test_l0_step_moves_log_alpha_and_finalize_uses_the_test_gate():
  arch = models.mlp(6, (4,), num_classes=3)
  config = train.Config(1e-2, 0.1, 0.05, (1.0, 1.0), 1.0, 64, method='l0')
  trainer = train.make_trainer(config)
  state = jit_call(trainer.init, jax.random.key(0), arch, 6, 0.7)
  x = jax.random.normal(jax.random.key(1), (16, 6))
  y = jax.random.randint(jax.random.key(2), (16,), 0, 3)
  new, metrics = jax.jit(lambda s: trainer.step(arch, s, x, y, jax.random.key(3)))(state)
  assert np.isfinite(float(metrics.objective))
  assert not np.allclose(new.params['theta'][0], state.params['theta'][0])
  thetas = (jnp.array([-5.0, 0.0, 3.0, 9.0, -9.0, 1.0]), jnp.array([2.0, -6.0, 0.3, 8.0]))
  state = new._replace(params={**new.params, 'theta': thetas})
  values = jit_call(train.final_gates, config, thetas)
  before = jit_call(models.apply, arch, state.params['weights'], x, values)
  new_arch, final = train.finalize(arch, config, state)
  assert new_arch.widths == tuple(int(np.sum(np.asarray(v) > 0)) for v in values) == (4, 3)
  after = jit_call(lambda w, t: models.apply(new_arch, w, x, train.final_gates(config, t)),
                   final.params['weights'], final.params['theta'])
  np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-5)

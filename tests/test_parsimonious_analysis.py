"""The Δ_j check: exact one-sided derivatives at the vertices, and the agreement counts."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ncg.parsimonious import analysis, models, train


@pytest.fixture(autouse=True)
def _float32():
  with jax.enable_x64(False):
    yield


def test_marginal_losses_and_the_band_of_the_sharpened_prior():
  arch = models.mlp(5, (4,), num_classes=3)
  weights = models.init_weights(jax.random.key(0), arch, 5)
  thetas = (jnp.array([1.0, 0.0, 1.0, 1.0, 0.0]), jnp.array([1.0, 1.0, 0.0, 1.0]))
  x = jax.random.uniform(jax.random.key(1), (20, 5))
  y = jnp.arange(20) % 3
  deltas = analysis.marginal_losses(arch, weights, thetas, x, y)
  mean_loss = jax.jit(lambda gates: train.per_example_loss(arch, weights, x, y, gates).mean())
  loss = lambda gates: float(mean_loss(gates))
  for g, theta in enumerate(thetas):          # Δ_j = L(z_j = 1) − L(z_j = 0), by hand
    for j in range(theta.shape[0]):
      on, off = list(thetas), list(thetas)
      on[g], off[g] = theta.at[j].set(1.0), theta.at[j].set(0.0)
      assert deltas[g][j] == pytest.approx(loss(on) - loss(off), abs=1e-5)
  params = {'weights': weights, 'theta': thetas}
  config = train.Config(1e-3, 1.0, 1e-3, (1.0, 1.0), 1.0, 20)
  flat = analysis.decision_agreement(arch, config, params, x, y)
  assert flat['decided_gates'] == 9
  assert flat['agree_sharpened'] == flat['agree_with_prior']        # γ = 0: no band
  # a band wider than every |Δ_j + c_j|: every vertex is stable
  wide = analysis.decision_agreement(arch, config._replace(sharpness=10.0), params, x, y)
  assert wide['agree_sharpened'] == 1.0
  assert wide['agree_with_prior'] == flat['agree_with_prior']

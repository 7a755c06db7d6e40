"""Exact hidden-unit differences (ncg.parsimonious.local) against brute force."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ncg.parsimonious import local, models, train
from tests.conftest import jit_call


@pytest.fixture(autouse=True)
def _float32():
  with jax.enable_x64(False):
    yield


def test_hidden_unit_differences_match_two_forward_passes_per_unit():
  """d_nj = ℓ_n(z_j = 1) − ℓ_n(z_j = 0), the other gates as drawn (two hidden layers,
  so the first layer's differences run through the whole tail)."""
  arch = models.mlp(5, (4, 3), num_classes=3)
  weights = jit_call(lambda key: jax.tree.map(lambda w: 2.0 * w + 0.2,
                                              models.init_weights(key, arch, 5)),
                     jax.random.key(0))
  x = jax.random.normal(jax.random.key(1), (6, 5))
  y = jnp.array([0, 1, 2, 2, 1, 0])
  keys = jax.random.split(jax.random.key(2), 3)
  draws = [(jax.random.uniform(k, (6, w)) < 0.6).astype(jnp.float32)
           for k, w in zip(keys, arch.widths)]
  got = jax.jit(lambda z: local.hidden_unit_differences(arch, weights, x, y, z))(draws)
  assert [d.shape for d in got] == [(6, 4), (6, 3)]
  loss = jax.jit(lambda z: train.per_example_loss(arch, weights, x, y, z))
  for group in (1, 2):
    for j in range(arch.widths[group]):
      def forced(value, group=group, j=j):
        z = list(draws)
        z[group] = z[group].at[:, j].set(value)
        return loss(z)
      np.testing.assert_allclose(got[group - 1][:, j], forced(1.0) - forced(0.0),
                                 rtol=1e-5, atol=1e-6)
  assert float(jnp.abs(got[0]).max()) > 1e-2      # not trivially zero

"""The gated networks: the im2col convolution equals flax's, gates act as masks."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from ncg.parsimonious import lenet5, models
from tests.conftest import jit_call


def test_patch_conv_equals_flax_conv():
  h = jax.random.normal(jax.random.key(0), (3, 12, 12, 4))
  conv = lenet5.PatchConv(6, 5)
  variables = conv.init(jax.random.key(1), h)
  variables = jax.tree.map(lambda v: v + 0.1, variables)       # non-zero bias too
  want = nn.Conv(6, (5, 5), padding='VALID').apply(variables, h)
  np.testing.assert_allclose(conv.apply(variables, h), want, rtol=1e-5, atol=1e-5)


def test_max_pool_equals_flax_max_pool_values_and_gradient():
  h = jax.random.normal(jax.random.key(0), (3, 8, 6, 4))     # continuous: no ties
  want = nn.max_pool(h, (2, 2), (2, 2))
  np.testing.assert_array_equal(lenet5.max_pool_2x2(h), want)
  weights = jax.random.normal(jax.random.key(1), want.shape)
  grad = lambda pool: jax.grad(lambda h: jnp.sum(weights * pool(h)))(h)
  np.testing.assert_array_equal(grad(lenet5.max_pool_2x2),
                                grad(lambda h: nn.max_pool(h, (2, 2), (2, 2))))


def test_a_closed_gate_silences_its_unit():
  arch = models.mlp(10, (6,), num_classes=3)
  weights = jit_call(models.init_weights, jax.random.key(0), arch, 10)
  x = jax.random.normal(jax.random.key(1), (4, 10))
  apply = jax.jit(models.apply, static_argnums=0)     # one program for the four calls
  gates = [jnp.ones(10), jnp.ones(6).at[2].set(0.0)]
  changed = jax.tree.map(lambda w: w, weights)
  changed['params']['out']['kernel'] = changed['params']['out']['kernel'].at[2].set(99.0)
  np.testing.assert_allclose(apply(arch, weights, x, gates),
                             apply(arch, changed, x, gates), rtol=1e-6)
  opened = [jnp.ones(10), jnp.ones(6)]
  assert not np.allclose(apply(arch, weights, x, opened),
                         apply(arch, changed, x, opened))


def test_init_first_traced_then_eager_gives_the_same_weights():
  """models.init_weights caches one compiled init per architecture: filling the cache
  under a caller's jit must not capture that trace's values (a leaked tracer made
  the next eager call fail)."""
  arch = models.mlp(5, (7, 3), num_classes=2)    # an architecture no other test uses
  key = jax.random.key(3)
  traced = jax.jit(lambda k: models.init_weights(k, arch, 5))(key)
  eager = models.init_weights(key, arch, 5)
  jax.tree.map(np.testing.assert_array_equal, traced, eager)

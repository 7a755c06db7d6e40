"""ncg.partition: the enumeration blocks and the exact log Z by layer and type.

(tests/test_estimators.py checks exact_log_partition against brute force on
many models; here: its blocks, and that it picks the cheaper layer.)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ncg import partition
from ncg import rbm
from ncg import units
from ncg.errors import InputError
from tests.conftest import all_binary, tiny_rbm


def test_bits_are_the_binary_expansion_of_the_indices():
  out = partition.bits(jnp.arange(8, dtype=jnp.int32), 3, jnp.float32)
  assert out.dtype == jnp.float32 and out.shape == (8, 3)
  np.testing.assert_array_equal(
      out, [[(n >> i) & 1 for i in range(3)] for n in range(8)])


@pytest.mark.parametrize('width_cost', [1, 1 << 19, 1 << 40])
def test_chunked_logsumexp_is_the_logsumexp_of_every_term_whatever_the_chunks(
    width_cost):
  # width_cost 2^19: chunks of 8 indices; 2^40: of one index each.
  terms = jnp.asarray(np.random.default_rng(0).normal(0, 3, 64))
  out = partition.chunked_logsumexp(lambda i: terms[i], 6, width_cost)
  assert float(out) == pytest.approx(
      float(jax.scipy.special.logsumexp(terms)), rel=1e-14)


def test_the_cheaper_layer_is_summed():
  state = tiny_rbm(jax.random.key(0), 6, 3)
  assert partition.count_configurations(state) == ('hidden', 3.0)
  assert partition.count_configurations(state._replace(
      W=state.W.T, strength=state.strength.T, b=state.c, c=state.b)) == (
          'visible', 3.0)
  # A one-hot group of L labels: 2^(V−L)·L visible terms.
  assert partition.count_configurations(tiny_rbm(jax.random.key(1), 5, 9), 2) == (
      'visible', 3 + 1.0)
  gauss = rbm.as_visible(tiny_rbm(jax.random.key(2), 2, 5), 'gaussian')
  assert partition.count_configurations(gauss) == ('hidden', 5.0)


def test_exact_log_partition_of_both_layers_and_both_types():
  state = tiny_rbm(jax.random.key(3), 4, 5)
  vs = all_binary(4)
  by_visible = jax.scipy.special.logsumexp(-rbm.free_energy(state, vs))
  assert float(partition.exact_log_partition(state)) == pytest.approx(
      float(by_visible), rel=1e-13)
  gauss = rbm.as_visible(state, 'gaussian')
  assert units.VISIBLE['gaussian'].exact_log_partition(gauss) == (
      partition.exact_log_partition(gauss))
  with pytest.raises(InputError, match='label units need binary'):
    partition.check_label_units(gauss, 2)
  with pytest.raises(InputError, match='is for binary visible units'):
    partition.check_binary_units(gauss, 'this', 'that')

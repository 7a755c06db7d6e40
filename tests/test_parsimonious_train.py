"""The training epoch: chunking and lazy shrinking change the cost, never the result."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ncg.parsimonious import models, shrink, train


@pytest.fixture(autouse=True)
def _float32():
  """The training loop carries float32 state; tests/conftest.py turns x64 on globally."""
  with jax.enable_x64(False):
    yield


def _problem(num_examples=70, num_inputs=12):
  x = jax.random.uniform(jax.random.key(0), (num_examples, num_inputs))
  y = jax.random.randint(jax.random.key(1), (num_examples,), 0, 3)
  return x, y


def _run(arch, hyper, state, x, y, chunk_steps, shrink_fraction=0.0):
  return train.train_epoch(arch, hyper, state, x, y, jax.random.key(7), batch_size=8,
                           chunk_steps=chunk_steps, shrink_fraction=shrink_fraction)


def test_chunk_length_does_not_change_the_epoch():
  """8 steps in chunks of 3 (3 + 3 + a partial 2) equal one chunk of all 8."""
  x, y = _problem()
  arch = models.mlp(12, (6, 5), 3)
  hyper = train.Hyper(1e-2, 0.05, 0.0, (1.0,) * 3, 1.0, len(x))
  state = train.init_state(jax.random.key(2), arch, hyper, 12, 0.8)
  _, one, info_one = _run(arch, hyper, state, x, y, chunk_steps=100)
  _, chunked, info_chunked = _run(arch, hyper, state, x, y, chunk_steps=3)
  assert int(one.step) == int(chunked.step) == len(x) // 8
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
               one.params, chunked.params)
  np.testing.assert_allclose(info_one['loss'], info_chunked['loss'], rtol=1e-5)


def test_worth_shrinking_waits_for_the_fraction():
  arch = models.mlp(12, (10, 4), 3)
  keep = [np.ones(12, bool), np.r_[np.zeros(1, bool), np.ones(9, bool)], np.ones(4, bool)]
  assert train.worth_shrinking(arch, keep, 0.0)
  assert train.worth_shrinking(arch, keep, 0.1)        # 1 of 10 units
  assert not train.worth_shrinking(arch, keep, 0.2)
  keep[2][:1] = False                                   # 1 of 4 units
  assert train.worth_shrinking(arch, keep, 0.2)
  assert not train.worth_shrinking(arch, [np.ones(w, bool) for w in (12, 10, 4)], 0.0)


def test_waiting_to_shrink_leaves_the_result_unchanged():
  """Units at θ = 0 removed at once or only at the end: the same network after the epoch.

  With every θ in {0, 1} the gates are deterministic and the antithetic
  estimator is 0, so both runs see the same gates whatever uniforms they draw.
  """
  x, y = _problem()
  arch = models.mlp(12, (6, 5), 3)
  hyper = train.Hyper(1e-2, 0.05, 0.0, (1.0,) * 3, 1.0, len(x), estimator='antithetic')
  state = train.init_state(jax.random.key(2), arch, hyper, 12, 1.0)
  thetas = list(state.params['theta'])
  thetas[1] = thetas[1].at[jnp.array([0, 3])].set(0.0)    # two hidden units already off
  state = state._replace(params={**state.params, 'theta': tuple(thetas)})
  eager_arch, eager, _ = _run(arch, hyper, state, x, y, chunk_steps=3, shrink_fraction=0.0)
  lazy_arch, lazy, info = _run(arch, hyper, state, x, y, chunk_steps=3, shrink_fraction=0.99)
  assert eager_arch.widths[1] == 4 and lazy_arch.widths == arch.widths and not info['shrinks']
  keep = shrink.kept_units(lazy_arch, lazy.params['theta'])
  lazy_arch, lazy_params, _ = shrink.shrink(lazy_arch, lazy.params, lazy.opt_state, keep)
  assert lazy_arch == eager_arch
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
               eager.params, lazy_params)

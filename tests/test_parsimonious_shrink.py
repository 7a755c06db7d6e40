"""Shrinking: removing θ = 0 units leaves the function of the remaining units unchanged."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ncg.parsimonious import gates, models, shrink, train
from tests.conftest import jit_call


_apply = jax.jit(models.apply, static_argnums=0)


def _random_gates(key, widths, batch):
  keys = jax.random.split(key, len(widths))
  return [jax.random.bernoulli(k, 0.7, (batch, w)).astype(jnp.float32)
          for k, w in zip(keys, widths)]


def _check_function_preserved(arch, state, thetas, x, key):
  """Outputs under random gates on the kept units equal those of the shrunk net."""
  params = {'weights': state.params['weights'], 'theta': thetas}
  keep = shrink.kept_units(arch, thetas)
  new_arch, new_params, new_opt = shrink.shrink(arch, params, state.opt_state, keep)
  assert new_arch.widths == tuple(int(k.sum()) for k in keep)
  small = _random_gates(key, new_arch.widths, x.shape[0])
  full = []
  for k, g in zip(keep, small):       # the removed units' gates are 0 in the full net
    f = jnp.zeros((x.shape[0], k.size)).at[:, np.flatnonzero(k)].set(g)
    full.append(f)
  before = _apply(arch, params['weights'], x, full)
  after = _apply(new_arch, new_params['weights'], x, small)
  np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-5)
  # Every array really shrank: shapes follow the new widths, θ and Adam moments too.
  fresh = jax.eval_shape(lambda: models.init_weights(jax.random.key(9), new_arch, x.shape[1]))
  assert (jax.tree.map(lambda a: a.shape, fresh)
          == jax.tree.map(jnp.shape, new_params['weights']))
  for new_theta, theta, k in zip(new_params['theta'], thetas, keep):
    np.testing.assert_array_equal(new_theta, np.asarray(theta)[k])
  mu = new_opt.inner_states['weights'].inner_state[0].mu['weights']
  assert jax.tree.map(jnp.shape, mu) == jax.tree.map(jnp.shape, new_params['weights'])
  return new_arch, keep


def _config(arch, **kw):
  return train.Config(1e-3, 0.1, 0.0, (1.0,) * len(arch.widths), 1.0, 10, **kw)


def _state(arch, num_inputs, **kw):
  trainer = train.make_trainer(_config(arch, **kw))
  state = jit_call(trainer.init, jax.random.key(0), arch, num_inputs, 0.5)
  # make Adam moments non-trivial so that slicing them is checked
  grads = jax.jit(lambda params: jax.tree.map(
      lambda p: jax.random.normal(jax.random.key(1), p.shape), params))(state.params)
  _, opt_state = jax.jit(trainer.tx.update)(grads, state.opt_state, state.params)
  return state._replace(opt_state=opt_state)


def test_mlp_shrink_preserves_outputs():
  arch = models.mlp(12, (7, 5), num_classes=3)
  state = _state(arch, 12)
  thetas = (jnp.array([0.5, 0, 1, 0.2, 0, 0.9, 1, 1, 0, 0.3, 0.6, 0.7]),
            jnp.array([0, 0.4, 1, 0, 0.8, 0.5, 0]),
            jnp.array([1, 0, 0.5, 0.5, 0]))
  x = jax.random.uniform(jax.random.key(2), (6, 12))
  new_arch, _ = _check_function_preserved(arch, state, thetas, x, jax.random.key(3))
  assert new_arch.widths == (9, 4, 3)
  assert new_arch.gather == (0, 2, 3, 5, 6, 7, 9, 10, 11)


def test_lenet5_shrink_preserves_outputs_and_couples_groups():
  arch = models.lenet5(4, 5, 6)                         # flat = 16 · 5 = 80
  state = _state(arch, 784)
  conv1 = jnp.array([0.5, 0.0, 1.0, 0.7, 0.6])         # channel 1 removed
  flat = np.full(80, 0.5, np.float32)
  channel = np.arange(80) % 5
  flat[channel == 3] = 0.0                             # every feature of channel 3 removed
  flat[[2, 7, 12]] = 0.0                               # a few features of channel 2
  thetas = (jnp.array([0.3, 0.0, 1.0, 0.9]), conv1, jnp.asarray(flat),
            jnp.array([1.0, 0.0, 0.5, 0.5, 0.2, 0.0]))
  x = jax.random.uniform(jax.random.key(2), (3, 784))
  new_arch, keep = _check_function_preserved(arch, state, thetas, x, jax.random.key(4))
  # channel 1 (θ = 0) and channel 3 (no flattened feature left) are both removed
  np.testing.assert_array_equal(keep[1], [True, False, True, False, True])
  assert new_arch.widths == (3, 3, 16 * 3 - 3, 4)
  assert max(new_arch.gather) < 16 * 3


def test_a_group_never_empties():
  arch = models.mlp(4, (3,), num_classes=2)
  keep = shrink.kept_units(arch, (jnp.array([0.0, 0.0, 0.0, 0.0]), jnp.array([0.0, 0.2, 0.0])))
  assert [int(k.sum()) for k in keep] == [1, 1]
  assert keep[1][1]


def test_theta_optimizer_state_is_sliced_with_theta():
  """With Adam on θ, the moments of the kept units follow them; removed ones go."""
  arch = models.mlp(6, (5,), num_classes=2)
  state = _state(arch, 6, theta_optimizer='adam')
  thetas = (jnp.array([0.5, 0.0, 1.0, 0.2, 0.0, 0.9]), jnp.array([0.0, 0.4, 1.0, 0.0, 0.8]))
  params = {'weights': state.params['weights'], 'theta': thetas}
  keep = shrink.kept_units(arch, thetas)
  _, new_params, new_opt = shrink.shrink(arch, params, state.opt_state, keep)
  old_leaves = jax.tree.leaves(state.opt_state.inner_states['theta'])
  new_leaves = jax.tree.leaves(new_opt.inner_states['theta'])
  by_width = {6: keep[0], 5: keep[1]}
  moments = 0
  for old, new in zip(old_leaves, new_leaves):   # the average m, Adam's mu and nu
    old = np.asarray(old)
    if old.ndim == 1:
      assert np.any(old != 0)                              # non-trivial moments
      np.testing.assert_array_equal(new, old[by_width[old.shape[0]]])
      moments += 1
    else:
      np.testing.assert_array_equal(new, old)              # counts untouched
  assert moments == 3 * 2                                  # (m, mu, nu) × 2 groups


def test_finalize_folds_theta_into_the_deterministic_network():
  """The final network keeps θ ≥ ½ and multiplies each kept unit's output by θ
  (folded into its weights): it equals the mean-field network of the mode."""
  arch = models.mlp(5, (4,), num_classes=2)
  config = _config(arch)
  state = jit_call(train.make_trainer(config).init, jax.random.key(0), arch, 5, 0.5)
  thetas = (jnp.array([0.49, 0.5, 1.0, 0.0, 0.7]), jnp.array([1.0, 0.1, 0.6, 0.5]))
  state = state._replace(params={'weights': state.params['weights'], 'theta': thetas})
  x = jax.random.uniform(jax.random.key(1), (4, 5))
  mean_field = [jnp.where(t >= 0.5, t, 0.0) for t in thetas]
  before = _apply(arch, state.params['weights'], x, mean_field)
  new_arch, new_state = train.finalize(arch, config, state)
  assert new_arch.widths == (3, 3)
  assert all(np.all(np.asarray(t) == 1) for t in new_state.params['theta'])
  after = _apply(new_arch, new_state.params['weights'], x,
                 [jnp.ones(w) for w in new_arch.widths])
  np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-6)
  rounded = _apply(arch, state.params['weights'], x, jit_call(gates.mode_gates, thetas))
  assert not np.allclose(after, rounded, atol=1e-3)        # folding is not rounding

"""The trainer: θ reaches 0/1 by itself, the grace period, chunking and lazy shrinking,
one LeNet-5 step against optax applied by hand."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
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


def _config(arch, num_train, **kw):
  settings = dict(learning_rate=1e-2, theta_learning_rate=0.05, penalty=0.0,
                  penalty_scale=(1.0,) * len(arch.widths), prior_variance=1.0,
                  num_train=num_train)
  return train.Config(**{**settings, **kw})


def _run(trainer, arch, state, x, y, chunk_steps, shrink_fraction=0.0, key=7):
  return train.train_epoch(trainer, arch, state, x, y, jax.random.key(key), batch_size=8,
                           chunk_steps=chunk_steps, shrink_fraction=shrink_fraction)


@pytest.mark.parametrize('sharpness, theta_init', [(0.0, 0.9), (0.01, 0.5)])
def test_theta_reaches_the_boundary_by_itself_on_a_separable_problem(sharpness, theta_init):
  """Labels depend on inputs 0 and 1 only; inputs 2-5 are noise. Projected SGD with
  a Robbins–Monro step ends with every θ exactly 0 or 1 (no rounding anywhere),
  the two informative inputs kept and every noise input removed — with the
  flattening hyper-prior from θ = 0.9 and with the sharpened one (the default
  recipe: γ/N > 0) from the maximum-entropy start θ = ½."""
  rng = np.random.RandomState(0)
  x = rng.uniform(-1, 1, (256, 6)).astype(np.float32)
  y = (x[:, 0] + x[:, 1] > 0).astype(np.int32)
  arch = models.mlp(6, (3,), num_classes=2)
  config = train.Config(3e-2, 2.0, 0.01, (1.0, 1.0), 1.0, 256, theta_decay_steps=40.0,
                        grace_steps=16, sharpness=sharpness)
  trainer = train.make_trainer(config)
  state = trainer.init(jax.random.key(0), arch, 6, theta_init)
  x, y = jnp.asarray(x), jnp.asarray(y)
  seen = []
  for epoch in range(25):     # shrink_fraction=1: never shrink, one compilation
    arch, state, _ = train.train_epoch(trainer, arch, state, x, y, jax.random.key(epoch), 32,
                                       chunk_steps=8, shrink_fraction=1.0)
    seen.append(np.concatenate([np.asarray(t) for t in state.params['theta']]))
  assert min(s.min() for s in seen) >= 0 and max(s.max() for s in seen) <= 1
  assert train.undecided(state.params['theta']) == 0
  assert seen[-1][:6].tolist() == [1, 1, 0, 0, 0, 0]   # the informative inputs, only
  assert 0 < seen[-1][6:].sum() < 3                       # some hidden units go, not all
  arch, final = train.finalize(arch, config, state)
  assert arch.gather == (0, 1)
  assert train.error_rate(arch, config, final.params, x, y) < 0.05


def test_grace_period_keeps_theta_and_every_unit():
  x, y = _problem()
  arch = models.mlp(12, (6, 5), 3)
  steps = len(x) // 8
  config = _config(arch, len(x), penalty=5.0, theta_learning_rate=10.0, grace_steps=2 * steps)
  trainer = train.make_trainer(config)
  state = trainer.init(jax.random.key(2), arch, 12, 0.6)
  for epoch in range(2):          # a huge price and step: without the grace all would go
    arch, state, _ = _run(trainer, arch, state, x, y, chunk_steps=3, key=epoch)
    assert arch.widths == (12, 6, 5)
    assert all(np.all(np.asarray(t) == np.float32(0.6)) for t in state.params['theta'])
  arch, state, _ = _run(trainer, arch, state, x, y, chunk_steps=3, key=2)
  assert sum(arch.widths) < 23                         # after it, units leave


def test_chunk_length_does_not_change_the_epoch():
  """8 steps in chunks of 3 (3 + 3 + a partial 2) equal one chunk of all 8."""
  x, y = _problem()
  arch = models.mlp(12, (6, 5), 3)
  trainer = train.make_trainer(_config(arch, len(x)))
  state = trainer.init(jax.random.key(2), arch, 12, 0.8)
  _, one, info_one = _run(trainer, arch, state, x, y, chunk_steps=100)
  _, chunked, info_chunked = _run(trainer, arch, state, x, y, chunk_steps=3)
  assert int(one.step) == int(chunked.step) == len(x) // 8
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
               one.params, chunked.params)
  np.testing.assert_allclose(info_one.loss, info_chunked.loss, rtol=1e-5)


def test_worth_shrinking_waits_for_the_fraction():
  arch = models.mlp(12, (10, 4), 3)
  keep = [np.ones(12, bool), np.r_[np.zeros(1, bool), np.ones(9, bool)], np.ones(4, bool)]
  assert train.worth_shrinking(arch, keep, 0.0)
  assert train.worth_shrinking(arch, keep, 0.1)        # 1 of 10 units
  assert not train.worth_shrinking(arch, keep, 0.2)
  assert not train.worth_shrinking(arch, keep, 1.0)    # 1: never
  keep[2][:1] = False                                   # 1 of 4 units
  assert train.worth_shrinking(arch, keep, 0.2)
  assert not train.worth_shrinking(arch, [np.ones(w, bool) for w in (12, 10, 4)], 0.0)


def test_a_unit_removed_mid_run_leaves_the_rest_unchanged():
  """A unit at θ = 0 outputs 0 and θ = 0 is absorbing: removing it at once (eager)
  or never (lazy) gives the same weights for the rest after an epoch of training.

  The other gates are at 1 with no exploration and no force on θ, so the gates
  are deterministic and both runs see the same network whatever they draw.
  """
  x, y = _problem()
  arch = models.mlp(12, (6, 5), 3)
  trainer = train.make_trainer(_config(arch, len(x), estimator='antithetic', explore=0.0,
                                       prior_variance=1e12))
  state = trainer.init(jax.random.key(2), arch, 12, 1.0)
  thetas = list(state.params['theta'])
  thetas[1] = thetas[1].at[jnp.array([0, 3])].set(0.0)    # two hidden units already off
  state = state._replace(params={**state.params, 'theta': tuple(thetas)})
  eager_arch, eager, _ = _run(trainer, arch, state, x, y, chunk_steps=3, shrink_fraction=0.0)
  lazy_arch, lazy, info = _run(trainer, arch, state, x, y, chunk_steps=3, shrink_fraction=1.0)
  assert eager_arch.widths[1] <= 4 and lazy_arch.widths == arch.widths and not info.shrinks
  np.testing.assert_array_equal(np.asarray(lazy.params['theta'][1])[[0, 3]], 0.0)
  keep = shrink.kept_units(lazy_arch, lazy.params['theta'])
  lazy_arch, lazy_params, _ = shrink.shrink(lazy_arch, lazy.params, lazy.opt_state, keep)
  assert lazy_arch == eager_arch
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
               eager.params, lazy_params)


def test_one_lenet5_step_is_adam_on_the_exact_gradient():
  """With every θ in {0, 1} (and no exploration) the gates are deterministic: a step is
  optax.adam on ∂/∂W (loss + prior) and plain SGD on ∂/∂θ = ∂ℓ/∂z + prior + price."""
  arch = models.lenet5(3, 4, 6)
  config = train.Config(1e-2, 0.3, 0.01, (2.0, 1.0, 0.5, 1.0), 0.1, 50, explore=0.0)
  trainer = train.make_trainer(config)
  state = trainer.init(jax.random.key(0), arch, 784, 1.0)
  thetas = list(state.params['theta'])
  thetas[0] = thetas[0].at[1].set(0.0)
  state = state._replace(params={**state.params, 'theta': tuple(thetas)})
  x = jax.random.uniform(jax.random.key(1), (5, 784))
  y = jnp.array([0, 3, 9, 1, 1])
  new, metrics = jax.jit(lambda s: trainer.step(arch, s, x, y, jax.random.key(2)))(state)

  def objective(w, th):
    gates = [jnp.broadcast_to(t, (5,) + t.shape) for t in th]
    loss = train.per_example_loss(arch, w, x, y, gates).mean()
    return loss + train.weight_prior(arch, config, w, th) + train.price(arch, config, th)
  adam = optax.adam(1e-2)

  @jax.jit    # one compilation instead of one per eager op
  def reference(w, th):
    value, (grad_w, grad_t) = jax.value_and_grad(objective, argnums=(0, 1))(w, th)
    updates, _ = adam.update(grad_w, adam.init(grad_w))
    return value, grad_t, optax.apply_updates(w, updates)
  value, grad_t, want_w = reference(state.params['weights'], tuple(thetas))
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6),
               new.params['weights'], want_w)
  for got, t, g in zip(new.params['theta'], thetas, grad_t):
    want = np.where(np.asarray(t) == 0, 0.0, np.clip(np.asarray(t) - 0.3 * np.asarray(g), 0, 1))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
  assert float(metrics.objective) == pytest.approx(float(value), rel=1e-5)
  assert int(new.step) == 1
  assert any(np.any(np.asarray(t) < 1) for t in new.params['theta'])   # θ really moved

"""Parallel tempering as the trainer's negative phase (TrainConfig.temperatures).

A one-rung ladder is PCD bit for bit (the ladder's rung 0 draws the Gibbs
chains' keys); a K-rung ladder keeps (K, B, V) chains, proposes the pairs of
the sweep's parity (continued across steps), reports per-pair swap rates in
the epoch's metrics, and resumes exactly.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ncg import rbm, resume, sampling, tempering, train
from ncg.errors import InputError

V, H, B = 8, 4, 6


@pytest.fixture(autouse=True)
def _float32():
  with jax.enable_x64(False):
    yield


def _x(n=24, v=V):
  return jnp.asarray((np.random.RandomState(0).rand(n, v) < 0.4).astype(np.float32))


def _model(v=V):
  return rbm.init(jax.random.key(0), v, H, density=0.6)


def test_a_one_rung_ladder_is_pcd_bit_for_bit(rng='hash', label_units=2):
  """ladder_sweeps with K = 1 draws sample_chains' numbers, and the trainer's
  PCD phase is those chains: the same negatives, the same update."""
  model = _model()
  chains = sampling.random_visible(jax.random.key(1), B, V)
  key = sampling.keyed(jax.random.key(2), rng)
  gibbs = jax.jit(sampling.sample_chains, static_argnums=(3, 4))
  ladder, swaps = jax.jit(tempering.ladder_sweeps, static_argnums=(4, 6))(
      key, model, jnp.ones(1), chains[None], 3, jnp.int32(0), label_units)
  np.testing.assert_array_equal(ladder[0], gibbs(key, model, chains, 3, label_units))
  assert swaps.proposed.shape == (0,)

  config = train.TrainConfig(k=3, persistent=True, rng=rng, label_units=label_units)
  step_key = jax.random.key(4)
  p = jax.jit(train.phases, static_argnums=0)(config, model, _x()[:B], chains, step_key)
  key_chain = jax.random.split(sampling.keyed(step_key, rng), 3)[2]
  np.testing.assert_array_equal(
      p.negatives, gibbs(key_chain, model, chains, 3, label_units))
  np.testing.assert_array_equal(p.chains, p.negatives)


def _pt(**kw):
  return train.TrainConfig(**{**dict(k=1, persistent=True, temperatures=3,
                                     learning_rate=0.05), **kw})


def test_the_ladder_persists_and_its_parity_continues():
  """(K, B, V) binary chains with one label each, kept by every step; with
  k = 1, step t proposes the pairs (j, j + 1) with j ≡ t (mod 2), B per pair."""
  config = _pt(temperatures=4, label_units=2)
  state = _model()
  trainer = train.make_trainer(config)
  opt = trainer.init(state, jax.random.key(1), B)
  assert opt.chains.shape == (4, B, V)
  np.testing.assert_array_equal(opt.chains[..., -2:].sum(-1), 1)
  step = jax.jit(trainer.step)
  for t, expected in enumerate(([B, 0, B], [0, B, 0], [B, 0, B])):
    state, opt, metrics = step(state, opt, _x()[:B], jax.random.key(10 + t))
    assert opt.chains.shape == (4, B, V) and set(np.unique(opt.chains)) <= {0.0, 1.0}
    np.testing.assert_array_equal(opt.chains[..., -2:].sum(-1), 1)
    np.testing.assert_array_equal(metrics.swaps_proposed, expected)
    assert np.all(metrics.swaps_accepted <= metrics.swaps_proposed)


def test_a_resumed_pt_run_equals_the_uninterrupted_one_and_reports_swap_rates(tmp_path):
  """Bit for bit after save/load at epoch 2 of 4; the epochs' swap_rates are
  per pair, near 1 for β_min near 1 (the log ratio → 0); a scalar 0 without a
  ladder (CD, PCD)."""
  config = _pt(optimizer='adam', k=2, beta_min=0.999)
  state = _model()
  opt = train.make_trainer(config).init(state, jax.random.key(1), B)
  epoch = train.make_epoch(config, B)
  x, key = _x(), jax.random.key(5)

  def run(state, opt, epochs):
    for e in epochs:
      state, opt, m = epoch(state, opt, x, jax.random.fold_in(key, e))
      rates = np.asarray(m.swap_rates)
      assert rates.shape == (2,) and np.all((rates > 0.95) & (rates <= 1)), rates
    return state, opt

  whole = run(state, opt, range(4))
  half = run(state, opt, range(2))
  resume.save(str(tmp_path / 'r'), config, *half, epoch=2)
  loaded = resume.load(str(tmp_path / 'r'))
  assert loaded.config == config and loaded.opt_state.chains.shape == (3, B, V)
  resumed = run(loaded.state, loaded.opt_state, range(2, 4))
  for a, b in zip(jax.tree.leaves(resumed), jax.tree.leaves(whole)):
    np.testing.assert_array_equal(a, b)
  assert train.swap_rates(jnp.zeros((4, 0), jnp.int32),
                          jnp.zeros((4, 0), jnp.int32)).shape == ()
  np.testing.assert_array_equal(
      train.swap_rates(jnp.array([[3, 0], [0, 0]]), jnp.array([[1, 0], [0, 0]])),
      np.float32([1 / 3, 0]))


@pytest.mark.parametrize('settings, match', [
    (dict(temperatures=3), 'persistent=True'),
    (dict(temperatures=0, persistent=True), 'temperatures'),
    (dict(temperatures=2.0, persistent=True), 'temperatures'),
    (dict(beta_min=1.0), 'beta_min'),
    (dict(beta_min=0.0), 'beta_min'),
])
def test_bad_ladders_are_input_errors(settings, match):
  with pytest.raises(InputError, match=match):
    train.TrainConfig(**settings)


def test_the_run_config_reaches_the_trainer_and_the_metrics_line():
  """--config.train.temperatures / beta_min reach TrainConfig (the run layer used to
  drop them), and an epoch's metrics line gets the per-pair swap rates under PT only."""
  from experiments import rbm_run, rbm_setup  # pylint: disable=g-import-not-at-top
  from experiments.configs import tiny  # pylint: disable=g-import-not-at-top
  config = tiny.get_config()
  assert rbm_setup.train_config(config, 0).temperatures == 1
  config.train.persistent, config.train.temperatures, config.train.beta_min = True, 4, 0.5
  got = rbm_setup.train_config(config, 0)
  assert (got.persistent, got.temperatures, got.beta_min) == (True, 4, 0.5)
  pt = train.EpochMetrics(*[jnp.zeros(()) for _ in train.EpochMetrics._fields])._replace(
      swap_rates=jnp.asarray([0.25, 0.5, 1.0], jnp.float32))
  assert rbm_run.swap_record(pt) == {'swap_rates': [0.25, 0.5, 1.0]}
  assert rbm_run.swap_record(pt._replace(swap_rates=jnp.zeros(()))) == {}

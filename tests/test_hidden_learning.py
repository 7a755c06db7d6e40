"""TrainConfig.hidden (ncg.hidden_kinds): learning the hidden units.

The gate difference Δ_j of a Bernoulli-gated unit against central finite
differences of the exact expected log-likelihood E_q[log p_z] (enumeration of
v and z), its two closed forms agreeing; the price as the parsimonious
hyper-prior's gate term; a unit at θ = 0 frozen by a step and its removal
leaving the distribution and the statistics of the rest unchanged (optimizer
rows, flips and θ shrinking with it); one tiny training run per kind with the
width in the epoch metrics (the gated arrays shrinking, the next epoch
re-jitted at the new width); a gated run resumed after a removal equal to the
uninterrupted one bit for bit. Tiny RBMs, in process, few compiled shapes.
"""

from __future__ import annotations

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ncg import hidden_kinds, hidden_units, phases as phases_lib, rbm, resume, train
from ncg.errors import InputError

V, H, B = 6, 5, 8


def _log_p(model, vs):
  f = rbm.free_energy(model, vs)
  return -f - jax.scipy.special.logsumexp(-f)


def _mean_log_likelihood(state, z, data, vs):
  model = hidden_units.gated(state, z)
  return jnp.mean(-rbm.free_energy(model, data)) - jax.scipy.special.logsumexp(
      -rbm.free_energy(model, vs))


def test_the_gate_difference_is_the_derivative_of_the_expected_likelihood():
  """4 visible × 3 hidden, sparse mask, θ = (0.7, 0.35, 0.9): Δ_j(z) is the
  difference mean log p(data) between z with unit j on and off (every z), and
  E_q[Δ_j] the central difference (h = 1e-6) of J(θ) = Σ_z q_θ(z) mean log
  p_z(data) to 1e-8, by enumeration of v and z; Δ_j read with unit j on
  equals it read with unit j off, and the CD form over all states with
  weights 1/M is the exact form with those weights."""
  r = np.random.RandomState(3)
  state = rbm.RBMState(*map(jnp.asarray, (
      r.uniform(-1.5, 1.5, (4, 3)), 0.5 * r.standard_normal(4),
      0.5 * r.standard_normal(3), (r.rand(4, 3) < 0.6).astype(float))))
  vs = jnp.asarray(np.array(list(itertools.product((0.0, 1.0), repeat=4))))
  data = vs[np.array([1, 3, 6, 9, 12, 15, 15])]
  bits = list(itertools.product((0.0, 1.0), repeat=3))
  zs = jnp.array(bits)                                             # (8, 3)

  @jax.jit
  def enumerate_gates(state):
    likelihood = jax.vmap(lambda z: _mean_log_likelihood(state, z, data, vs))(zs)
    differences = jax.vmap(lambda z: hidden_units.expected_gate_difference(
        state, data, vs, jnp.exp(_log_p(hidden_units.gated(state, z), vs)), z))(zs)
    cd = hidden_units.cd_gate_difference(state, data, vs, zs[5])
    uniform = hidden_units.expected_gate_difference(state, data, vs,
                                                    jnp.full(16, 1 / 16), zs[5])
    return likelihood, differences, cd, uniform
  likelihood, differences, cd, uniform = map(np.asarray, enumerate_gates(state))
  for i, z in enumerate(bits):
    for j in range(3):
      on = bits.index(z[:j] + (1.0,) + z[j + 1:])
      off = bits.index(z[:j] + (0.0,) + z[j + 1:])
      np.testing.assert_allclose(differences[i, j], likelihood[on] - likelihood[off],
                                 rtol=1e-9, atol=1e-11)

  def expected(theta):   # J(θ) = Σ_z q_θ(z) ℓ(z)
    q = np.prod(np.where(np.array(bits) > 0, theta, 1 - theta), axis=1)
    return q @ likelihood, q

  theta = np.array([0.7, 0.35, 0.9])
  closed = expected(theta)[1] @ differences
  h = 1e-6
  numeric = [(expected(theta + h * np.eye(3)[j])[0]
              - expected(theta - h * np.eye(3)[j])[0]) / (2 * h) for j in range(3)]
  np.testing.assert_allclose(closed, numeric, rtol=1e-7, atol=1e-8)
  np.testing.assert_allclose(cd, uniform, rtol=1e-12)


def test_the_price_is_the_parsimonious_hyper_prior_gate_term():
  """(λ/N) Σ θ equals −Σ gate_elbo_term(θ, π*(θ)) of ncg.parsimonious.gates (γ = 0)."""
  from ncg.parsimonious import gates  # pylint: disable=import-outside-toplevel
  config = train.TrainConfig(hidden='gated', hidden_penalty=0.3)
  both = jax.jit(lambda t: (hidden_kinds.gate_price(config, t, 0), -jnp.sum(
      gates.gate_elbo_term(t, gates.optimal_prior(t, 0.3), 0.3))))
  np.testing.assert_allclose(*both(jnp.array([0.1, 0.5, 0.93])), rtol=1e-6)


@pytest.fixture
def _float32():
  with jax.enable_x64(False):
    yield


def _x(n=32, seed=0):
  return (np.random.RandomState(seed).rand(n, V) < 0.4).astype(np.float32)


# One compiled epoch per config and width for the whole file.
_epoch = functools.lru_cache(train.make_epoch)
GATED = train.TrainConfig(hidden='gated', optimizer='momentum', learning_rate=0.05,
                          hidden_learning_rate=2.0, hidden_penalty=0.05)


def _start(config):
  """A 6 × 5 RBM (weights U[−1, 1], strengths U[0, 1], float32, built in numpy:
  nothing to compile) and its trainer state."""
  r = np.random.RandomState(0)
  state = rbm.RBMState(*(jnp.asarray(a, jnp.float32) for a in (
      r.uniform(-1, 1, (V, H)), np.zeros(V), np.zeros(H), r.uniform(0, 1, (V, H)))))
  return state, train.make_trainer(config).init(state, jax.random.key(1), B)


def _probabilities(W, b, c):
  """p(v) of every v ∈ {0, 1}^V of the RBM (W, b, c), in numpy."""
  vs = np.array(list(itertools.product((0.0, 1.0), repeat=W.shape[0])))
  log_p = vs @ b + np.logaddexp(0, vs @ W + c).sum(1)
  return np.exp(log_p - np.logaddexp.reduce(log_p))


def _epochs(config, state, opt, x, epochs, remove=False):
  widths = []
  for e in epochs:
    state, opt, m = _epoch(config, B)(state, opt, x,
                                      jax.random.fold_in(jax.random.key(5), e))
    widths.append((int(m.hidden_units), state.W.shape[1]))
    if remove:
      state, opt, _ = train.remove_units(config, state, opt)
  return state, opt, widths


@jax.jit
def _statistics(model, s, x, negatives):
  """The CD statistics of the RBM gated by s for given negatives, carried back."""
  gated = hidden_units.gated(model, s)
  p = phases_lib.Phases(rbm.hidden_probs(gated, x), negatives,
                        rbm.hidden_probs(gated, negatives), None)
  return hidden_kinds.gated_statistics(phases_lib.cd_statistics(x, p), s)


def _numpy_statistics(W, c, x, negatives):
  """(G, Δb, Δc) of the CD formulas in numpy: G = (xᵀσ(xW + c) − ṽᵀσ(ṽW + c))/B."""
  sigmoid = lambda a: 1 / (1 + np.exp(-a))
  ph, pn = sigmoid(x @ W + c), sigmoid(negatives @ W + c)
  n = len(x)
  return (x.T @ ph - negatives.T @ pn) / n, (x - negatives).mean(0), (ph - pn).mean(0)


def test_a_unit_at_theta_zero_is_frozen_and_its_removal_changes_nothing(_float32):
  """Gated NCG (CD-1, momentum), θ = (1, 0, 1, 1, 1): an epoch leaves unit 1's
  column, bias, strengths and θ as they were; the trained model's p(v) (gates
  [θ > 0]) equals that of remove_units' RBM, whose momentum, flips and θ are
  the kept rows; and for given negatives the gated statistics of the kept
  units are the CD statistics of the RBM without unit 1 (numpy), unit 1's 0."""
  state, opt = _start(GATED)
  opt = opt._replace(hidden=jnp.array([1.0, 0.0, 1.0, 1.0, 1.0]))
  x = jnp.asarray(_x())
  new, new_opt, _ = _epochs(GATED, state, opt, x, range(1))
  for a, b in ((new.W[:, 1], state.W[:, 1]), (new.c[1], state.c[1]),
               (new.strength[:, 1], state.strength[:, 1]), (new_opt.hidden[1], 0.0)):
    np.testing.assert_array_equal(a, b)
  assert not np.array_equal(new.W[:, 2], state.W[:, 2])
  small, small_opt, removed = train.remove_units(GATED, new, new_opt)
  keep = np.flatnonzero(np.asarray(new_opt.hidden) > 0)
  assert removed == H - len(keep) >= 1 and small.W.shape == (V, len(keep))
  np.testing.assert_array_equal(small_opt.hidden, np.asarray(new_opt.hidden)[keep])
  np.testing.assert_array_equal(small_opt.flips, np.asarray(new_opt.flips)[:, keep])
  moments = lambda o: [leaf for path, leaf in jax.tree_util.tree_leaves_with_path(o)
                       if jax.tree_util.keystr(path).endswith(('trace.W', 'trace.c'))]
  assert len(moments(new_opt.optimizer)) == 2
  for a, b in zip(moments(small_opt.optimizer), moments(new_opt.optimizer)):
    np.testing.assert_array_equal(a, np.asarray(b)[..., keep])
  on = np.asarray(new_opt.hidden) > 0
  present = lambda m: np.asarray(m.W) * (np.asarray(m.strength) > 0.5)
  np.testing.assert_allclose(
      _probabilities(present(new) * on, np.asarray(new.b), np.asarray(new.c) * on),
      _probabilities(present(small), np.asarray(small.b), np.asarray(small.c)),
      rtol=1e-5, atol=1e-8)
  negatives = _x(B, seed=1)
  full = _statistics(state, jnp.array([1.0, 0.0, 1.0, 1.0, 1.0]), x[:B],
                     jnp.asarray(negatives))
  rest = np.array([0, 2, 3, 4])
  G, db, dc = _numpy_statistics(present(state)[:, rest], np.asarray(state.c)[rest],
                                _x()[:B], negatives)
  np.testing.assert_allclose(full.W[:, rest], G, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(full.c[rest], dc, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(full.b, db, rtol=1e-5, atol=1e-6)
  np.testing.assert_array_equal(full.W[:, 1], 0.0)
  np.testing.assert_array_equal(full.c[1], 0.0)


def test_ncg_h_records_the_units_that_are_on_and_resumes_bit_exact(_float32, tmp_path):
  """NCG-H with NCG connectivity, CD-1: s′ stays in [0, 1] and in the arrays (H
  columns), each epoch's hidden_units is Σ[s′ > ½] (some unit off), the
  effective model has that many units, and a run saved after epoch 1
  (ncg.resume) and resumed equals the uninterrupted one bit for bit."""
  config = train.TrainConfig(hidden='ncg_h', learning_rate=0.1,
                             hidden_learning_rate=0.5, hidden_init=0.52)
  state, opt = _start(config)
  x = jnp.asarray(_x())
  s1, o1, first = _epochs(config, state, opt, x, range(1))
  whole = _epochs(config, s1, o1, x, range(1, 3))
  widths = first + whole[2]
  assert all(columns == H for _, columns in widths)
  hidden = np.asarray(whole[1].hidden)
  assert widths[-1][0] == int(np.sum(hidden > 0.5)) < H
  assert np.all((hidden >= 0) & (hidden <= 1))
  assert train.effective_model(config, whole[0], hidden).W.shape[1] == widths[-1][0]
  resume.save(str(tmp_path / 'r'), config, s1, o1, epoch=1)
  loaded = resume.load(str(tmp_path / 'r'))
  resumed = _epochs(config, loaded.state, loaded.opt_state, x, range(1, 3))
  for a, b in zip(jax.tree.leaves(whole), jax.tree.leaves(resumed)):
    np.testing.assert_array_equal(a, b)


def test_gated_units_leave_the_arrays_and_the_state_round_trips(_float32, tmp_path):
  """Gated NCG, CD-1, momentum, a price that empties a unit in the first epoch:
  the arrays shrink (W, c, strengths, momentum, flips, θ), hidden_units is the
  new width, and the narrower training state saved and loaded comes back bit
  for bit, its θ included: by ncg.resume, and from a run's orbax checkpoint
  into the start's tree cut to the saved width (rbm_setup.checkpoint_template)."""
  state, opt = _start(GATED)
  s1, o1, widths = _epochs(GATED, state, opt, jnp.asarray(_x()), range(1), remove=True)
  width = s1.W.shape[1]
  assert widths[0][0] == width < H and widths[0][1] == H
  assert o1.hidden.shape == (width,) and o1.flips.shape == (V, width)
  assert all(leaf.shape[-1] == width for leaf in jax.tree.leaves(o1.optimizer)
             if np.ndim(leaf) >= 1 and np.shape(leaf)[-1] in (H, width))
  resume.save(str(tmp_path / 'r'), GATED, s1, o1, epoch=1)
  loaded = resume.load(str(tmp_path / 'r'))
  for a, b in zip(jax.tree.leaves((s1, o1)), jax.tree.leaves((loaded.state, loaded.opt_state))):
    np.testing.assert_array_equal(a, b)
  assert loaded.opt_state.hidden.shape == (width,)
  # a run's checkpoint (orbax) restores into the start's tree cut to its width
  from experiments import rbm_setup, workdir as workdir_lib  # pylint: disable=import-outside-toplevel
  manager = workdir_lib.checkpoint_manager(str(tmp_path / 'run'))
  workdir_lib.save_checkpoint(manager, 1, {'state': s1, 'opt_state': o1,
                                           'epoch': jnp.asarray(1)})
  like = {'state': state, 'opt_state': opt, 'epoch': jnp.asarray(0)}
  _, tree = workdir_lib.restore_checkpoint(
      manager, rbm_setup.checkpoint_template(GATED, like, manager))
  for a, b in zip(jax.tree.leaves((s1, o1)), jax.tree.leaves((tree['state'], tree['opt_state']))):
    np.testing.assert_array_equal(a, b)


def test_fixed_keeps_the_trainer_state_of_old_checkpoints():
  """hidden='fixed' (the default): no gate state, so the leaf paths of a saved
  training state are those of states saved before the field existed; a gated
  population, an unknown kind and a gate outside (0, 1] are InputErrors."""
  config = train.TrainConfig()
  assert config.hidden == 'fixed'
  _, opt = _start(config)
  assert opt.hidden is None
  old = train.TrainerState(opt.optimizer, opt.chains, opt.step, opt.flips)
  assert jax.tree.structure(old) == jax.tree.structure(opt)
  with pytest.raises(InputError, match='removes units'):
    train.make_epoch(train.TrainConfig(hidden='gated'), B, population=True)
  with pytest.raises(InputError, match=r"unknown hidden 'x'; choose one of "
                     r"\('fixed', 'ncg_h', 'gated'\)"):
    train.TrainConfig(hidden='x')
  with pytest.raises(InputError, match='hidden_init must be in'):
    train.TrainConfig(hidden='ncg_h', hidden_init=0.0)

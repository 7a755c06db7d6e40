"""Repeated shrinks (issue 27, class 7): the bookkeeping of kept units across shrinks.

tests/test_parsimonious_shrink.py shrinks every network once, from the
identity ``gather``; a bug that maps kept indices through the *current*
network instead of the original one passes there. Here every network kind of
``models.KINDS`` is shrunk three times in a row, each time removing units of
every group (θ = 0: a few of what is left, the coupling of LeNet-5's flattened
features to their conv1 filter included). After each shrink ``gather`` must
name the kept entries in the original network's source, and every weight, θ
and optimizer-state array (Adam's moments) must be the original one at the
kept indices; after the last, the shrunk network must compute what the
unshrunk network computes with the removed units' gates at 0 and the kept
units' gates where they moved (so it reads exactly the pixels / features
still kept).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ncg.parsimonious import models, shrink, train
from ncg.parsimonious.lenet5 import POSITIONS

_apply = jax.jit(models.apply, static_argnums=0)

# Per kind: a small start (widths from the config, features, image shape,
# classes) and a batch: the nets of tests/test_parsimonious_shrink.py, whose
# programs (init, Adam update, the unshrunk forward pass) the test session's
# compilation cache then holds.
STARTS = {'mlp': ((7, 5), 12, None, 3, 6),
          'lenet5': ((4, 5, 6), 784, (28, 28), 10, 3)}
SHRINKS = 3


def test_every_kind_is_covered():
  assert set(STARTS) == set(models.KINDS)


def _source_index(kind, arch, index):
  """The original-source entries ``arch.gather`` reads, given each group's
  original indices of its current units (``index``)."""
  gather = np.asarray(arch.gather)
  if kind == 'mlp':        # input pixels: gather indexes the image itself
    return gather
  c1_now = arch.widths[1]  # lenet5: position · C1 + channel of the current conv1
  c1 = STARTS['lenet5'][0][1]
  position, channel = np.divmod(gather, c1_now)
  assert np.all(position < POSITIONS)
  return position * c1 + index[1][channel]


def _sliced(tree, arch, index):
  """Every array of a weights-shaped tree at the kept original indices."""
  out = jax.tree.map(np.asarray, tree)
  for group, triples in enumerate(models.kind(arch).unit_axes(arch)):
    for layer, name, axis in triples:
      out['params'][layer][name] = np.take(out['params'][layer][name],
                                           index[group], axis=axis)
  return out


def _adam_mu(opt_state):
  return opt_state.inner_states['weights'].inner_state[0].mu['weights']


@pytest.mark.parametrize('kind', sorted(STARTS))
def test_three_shrinks_equal_the_unshrunk_network_with_those_gates_at_0(kind):
  widths, features, image_shape, classes, batch = STARTS[kind]
  arch0 = models.KINDS[kind].start(widths, features, image_shape, classes)
  config = train.Config(1e-3, 0.1, 0.0, (1.0,) * len(arch0.widths), 1.0, 10)
  trainer = train.make_trainer(config)
  state = trainer.init(jax.random.key(0), arch0, features, 0.5)
  rng = np.random.default_rng(27)
  # Distinct values in every array of the optimizer state (Adam's moments of
  # the weights and of θ; counts too), so that each slice is told apart.
  opt_state = jax.tree.map(
      lambda a: jnp.asarray(rng.normal(size=np.shape(a)), a.dtype)
      if np.ndim(a) else a, state.opt_state)
  weights0, mu0 = state.params['weights'], _adam_mu(opt_state)
  theta0 = [rng.uniform(0.05, 1.0, w).astype(np.float32) for w in arch0.widths]
  x = rng.uniform(size=(batch, features)).astype(np.float32)

  arch, params = arch0, {'weights': weights0,
                         'theta': tuple(jnp.asarray(t) for t in theta0)}
  index = [np.arange(w) for w in arch0.widths]   # original indices of current units
  for step in range(SHRINKS):
    thetas = [np.asarray(t).copy() for t in params['theta']]
    for g, t in enumerate(thetas):    # remove a few of every group's units
      gone = rng.choice(t.size, size=max(1, t.size // 5), replace=False)
      t[gone] = 0.0
      theta0[g][index[g][gone]] = 0.0
    thetas = tuple(jnp.asarray(t) for t in thetas)
    keep = shrink.kept_units(arch, thetas)
    assert all(not k.all() for k in keep), f'shrink {step}: a group kept every unit'
    arch, params, opt_state = shrink.shrink(
        arch, {'weights': params['weights'], 'theta': thetas}, opt_state, keep)
    index = [i[k] for i, k in zip(index, keep)]
    assert arch.widths == tuple(len(i) for i in index)

    # What it reads, named in the original network's source.
    gathered = models.KINDS[kind].gathered_group
    np.testing.assert_array_equal(_source_index(kind, arch, index),
                                  index[gathered], err_msg=f'shrink {step}')
    # Weights, θ and Adam's first moments: the originals at the kept indices.
    for name, new, old in (('weights', params['weights'], weights0),
                           ('mu', _adam_mu(opt_state), mu0)):
      expected = _sliced(old, arch0, index)
      for (path, a), b in zip(jax.tree_util.tree_flatten_with_path(new)[0],
                              jax.tree.leaves(expected)):
        np.testing.assert_array_equal(np.asarray(a), b,
                                      err_msg=f'shrink {step}: {name} {path}')
    for g, (t, i) in enumerate(zip(params['theta'], index)):
      np.testing.assert_array_equal(np.asarray(t), theta0[g][i],
                                    err_msg=f'shrink {step}: theta {g}')

  # The function after the last shrink (each compile costs ~1 s; the steps
  # between are pinned by the exact checks above): the unshrunk network with
  # the removed units' gates at 0 and the kept ones' gates where they moved.
  gates = [rng.uniform(0.2, 1.0, (batch, w)).astype(np.float32)
           for w in arch.widths]   # numpy: no eager op compiles per shape
  full = [np.zeros((batch, w), np.float32) for w in arch0.widths]
  for f, i, g in zip(full, index, gates):
    f[:, i] = g
  np.testing.assert_allclose(_apply(arch, params['weights'], x, gates),
                             _apply(arch0, weights0, x, full),
                             rtol=1e-5, atol=1e-5)

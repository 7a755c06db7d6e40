"""ncg.rewiring against numpy on a 4×3 RBM: ranks, counts, the swap itself, keys."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ncg import rbm
from ncg import rewiring

# Strengths: 6 of 12 present (> ½), one exactly at ½ (absent).
STRENGTH = np.array([[0.9, 0.1, 0.6], [0.5, 0.7, 0.2],
                     [0.3, 0.8, 0.55], [0.4, 0.0, 1.0]])
W = np.array([[0.3, -0.2, -0.05], [0.7, 0.1, 0.4],
              [-0.9, 0.02, -0.6], [0.25, -0.15, -0.01]])


def _state(dtype=jnp.float64):
  return rbm.RBMState(jnp.asarray(W, dtype), jnp.zeros(4, dtype),
                      jnp.zeros(3, dtype), jnp.asarray(STRENGTH, dtype))


def test_lowest_marks_the_count_smallest_with_ties_by_index():
  score = jnp.array([[3., 1., 2.], [1., 0., 5.]])
  np.testing.assert_array_equal(
      rewiring._lowest(score, 3), [[False, True, False], [True, True, False]])
  np.testing.assert_array_equal(rewiring._lowest(score, 0), np.zeros((2, 3), bool))
  np.testing.assert_array_equal(rewiring._lowest(score, 6), np.ones((2, 3), bool))


def test_rewirable_rows_and_number_of_swaps():
  state = _state()
  np.testing.assert_array_equal(rewiring.rewirable(state),
                                np.ones((4, 3), bool))
  free = np.asarray(rewiring.rewirable(state, 1))
  assert free.shape == (4, 3)
  np.testing.assert_array_equal(free, np.arange(4)[:, None] < 3 + 0 * free)
  # 6 present, 6 absent: k = min(⌊ζ·6⌋, 6).
  assert int(rewiring.num_swaps(state, 0.5)) == 3
  assert int(rewiring.num_swaps(state, 0.49)) == 2       # floor, not round
  assert int(rewiring.num_swaps(state, 1.0)) == 6
  # Without the label row: 5 present (1.0 in row 3 excluded), 4 absent.
  assert int(rewiring.num_swaps(state, 0.7, 1)) == 3      # ⌊3.5⌋
  assert int(rewiring.num_swaps(state, 1.0, 1)) == 4      # capped by absent
  assert rewiring.num_swaps(state, 0.5).dtype == jnp.int32


def test_drop_and_grow_swaps_exactly():
  state = _state(jnp.float32)
  score = jnp.arange(12, dtype=jnp.float32).reshape(4, 3)  # grow the last absent
  new_weight = jnp.full((4, 3), 7.0, jnp.float32)
  out = rewiring.drop_and_grow(state, 2, score, new_weight, 1)
  # Present rewirable |W|: (0,0) .3, (0,2) .05, (1,1) .1, (2,1) .02, (2,2) .6
  # → drop (2,1) and (0,2). Absent rewirable (before the drop), largest
  # score: (2,0)=6 and (1,2)=5 (not the label row's (3,0), (3,1)).
  want_s, want_w = STRENGTH.copy(), W.copy()
  for i, j in ((2, 1), (0, 2)):
    want_s[i, j], want_w[i, j] = 0.0, 0.0
  for i, j in ((2, 0), (1, 2)):
    want_s[i, j], want_w[i, j] = 1.0, 7.0
  np.testing.assert_allclose(out.strength, want_s, rtol=1e-7)
  np.testing.assert_allclose(out.W, want_w, rtol=1e-7)
  assert out.W.dtype == out.strength.dtype == jnp.float32
  np.testing.assert_array_equal(out.b, state.b)
  assert int(rbm.mask(out).sum()) == int(rbm.mask(state).sum())


def test_set_and_rigl_use_their_keys_scores_and_weights():
  state = _state()
  key = jax.random.key(3)
  k_score, k_weight = jax.random.split(key)
  got = rewiring.set_rewire(key, state, 0.5, 0.2)
  want = rewiring.drop_and_grow(
      state, 3, jax.random.uniform(k_score, (4, 3), jnp.float64),
      0.2 * jax.random.normal(k_weight, (4, 3), jnp.float64))
  for a, b in zip(got, want):
    np.testing.assert_array_equal(a, b)
  gradient = jnp.asarray(-np.arange(12.0).reshape(4, 3))  # |G| largest last
  got = rewiring.rigl_rewire(state, gradient, 0.34)
  want = rewiring.drop_and_grow(state, 2, jnp.abs(gradient),
                                jnp.zeros((4, 3)))
  for a, b in zip(got, want):
    np.testing.assert_array_equal(a, b)
  grown = (np.asarray(got.strength) == 1.0) & (STRENGTH <= 0.5)
  np.testing.assert_array_equal(np.argwhere(grown), [[3, 0], [3, 1]])


def test_cosine_fraction_exact():
  for t in (0, 3, 7):
    assert float(rewiring.cosine_fraction(t, 0.4, 8)) == pytest.approx(
        0.2 * (1 + np.cos(np.pi * t / 8)), abs=1e-7)   # float32 t
  assert float(rewiring.cosine_fraction(8, 0.4, 8)) == 0.0
  assert float(rewiring.cosine_fraction(jnp.asarray(9, jnp.int32), 0.4, 8)) == 0.0

"""The NCG reference's measurement choices offered as options.

The 32-sample bars-and-stripes set and its NLL floor by enumeration of all
2^16 images; the one-pass mean-field classifier against a hand computation.
"""

import math

import jax.numpy as jnp
import numpy as np

from ncg import classification
from ncg import data
from ncg import rbm


def _floor(images: np.ndarray) -> float:
  """min over distributions q of −mean log q(x_n): the entropy of the set.

  Every one of the 2^16 images is matched against the samples, so the
  empirical distribution is counted over the whole space (Gibbs' inequality:
  no model can do better than the empirical distribution itself).
  """
  codes = images.astype(np.int64) @ (1 << np.arange(images.shape[1]))
  counts = np.bincount(codes, minlength=2 ** images.shape[1])
  q = counts[counts > 0] / len(images)
  assert counts.sum() == len(images) and len(counts) == 2 ** 16
  return float(-np.sum(q * np.log(q)))


def test_reference_set_has_32_samples_and_floor_3_379():
  distinct = data.bars_and_stripes(4)
  reference = data.bars_and_stripes(4, reference_set=True)
  assert distinct.shape == (30, 16) and reference.shape == (32, 16)
  extra = reference[30:]
  np.testing.assert_array_equal(np.sort(extra.sum(1)), [0, 16])  # all off, all on
  assert _floor(distinct) == pytest_approx(math.log(30))
  floor = _floor(reference)
  assert abs(floor - 3.379) < 5e-4
  assert floor == pytest_approx(28 / 32 * math.log(32) + 4 / 32 * math.log(16))
  # The uniform distribution over the 30 patterns scores log 30 on both sets.
  assert math.log(30) > floor + 0.02
  loaded = data.load('bars_and_stripes', bars_reference_set=True)
  np.testing.assert_array_equal(loaded.train.x, reference)


def pytest_approx(x):
  import pytest  # pylint: disable=g-import-not-at-top
  return pytest.approx(x, rel=1e-12)


def _sigmoid(z):
  return 1.0 / (1.0 + math.exp(-z))


def test_mean_field_classifier_equals_hand_computation():
  # V = 2 inputs + 2 labels, H = 2; every connection present.
  W = [[0.5, 1.0], [0.5, 1.0], [0.5, -0.5], [-4.0, 0.0]]  # rows x1, x2, y1, y2
  b = [-0.75, 1.0, -0.25, 0.0]
  c = [-0.75, -0.5]
  state = rbm.dense(jnp.array(W, jnp.float64), jnp.array(b, jnp.float64),
                    jnp.array(c, jnp.float64))
  for x in ([1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]):
    mu = [_sigmoid(c[j] + x[0] * W[0][j] + x[1] * W[1][j]
                   + 0.5 * W[2][j] + 0.5 * W[3][j]) for j in range(2)]
    scores = [b[2 + y] + W[2 + y][0] * mu[0] + W[2 + y][1] * mu[1]
              for y in range(2)]
    got = classification.mean_field_scores(state, jnp.array(x), 2)
    np.testing.assert_allclose(got, scores, rtol=1e-12)
    assert int(classification.mean_field_predict(state, jnp.array(x), 2)) == (
        int(np.argmax(scores)))
  # It is not the exact rule: for x = (0, 0) the two disagree here.
  x = jnp.array([[0.0, 0.0]])
  assert int(classification.mean_field_predict(state, x, 2)[0]) != int(
      classification.predict(state, x, 2)[0])
  y = jnp.array([0])
  assert {classification.accuracy(state, x, y, 2),
          classification.accuracy(state, x, y, 2, rule='mean_field')} == {0.0, 1.0}

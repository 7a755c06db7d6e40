"""ncg.analytics against hand-counted answers (numpy only, no compiles)."""

import numpy as np
import pytest

from ncg import analytics
from ncg.rbm import RBMState

# strength of a (4, 3) RBM whose last row is a label unit; 0.5 itself is
# absent (A = [α > ½], strict).
STRENGTH = np.array([[0.9, 0.5, 0.1],
                     [0.51, 0.7, 0.6],
                     [0.0, 0.2, 0.5000001],
                     [1.0, 1.0, 1.0]])
A = np.array([[1, 0, 0], [1, 1, 1], [0, 0, 1], [1, 1, 1]])


def _state(strength=STRENGTH):
  shape = np.shape(strength)
  return RBMState(W=np.zeros(shape), b=np.zeros(shape[:-1]),
                  c=np.zeros(shape[:-2] + shape[-1:]), strength=strength)


def test_mask_is_strictly_above_one_half():
  got = analytics.mask(_state())
  assert got.dtype == np.int64
  np.testing.assert_array_equal(got, A)


def test_degrees_with_and_without_label_rows():
  state = _state()
  np.testing.assert_array_equal(analytics.visible_degree(state), [1, 3, 1, 3])
  np.testing.assert_array_equal(analytics.hidden_degree(state), [3, 2, 3])
  np.testing.assert_array_equal(analytics.visible_degree(state, 1), [1, 3, 1])
  np.testing.assert_array_equal(analytics.hidden_degree(state, 1), [2, 1, 2])


def test_degrees_of_a_population():
  """A leading population axis: each member's degrees, label rows dropped."""
  state = _state(np.stack([STRENGTH, 1 - STRENGTH]))
  other = (1 - STRENGTH > 0.5).astype(int)
  np.testing.assert_array_equal(analytics.hidden_degree(state, 1),
                                [A[:3].sum(0), other[:3].sum(0)])
  np.testing.assert_array_equal(analytics.visible_degree(state),
                                [A.sum(1), other.sum(1)])


def test_flip_statistics_every_field():
  flips = np.array([[0, 1, 3], [2, 0, 0], [0, 4, 1], [9, 9, 9]])
  s = analytics.flip_statistics(flips, label_units=1)   # row 3 dropped
  assert s == pytest.approx({
      'ever_flipped': 5 / 9, 'flipped_repeatedly': 3 / 9,
      'mean_flips': 11 / 9, 'mean_flips_of_flipped': 11 / 5,
      'median_flips_of_flipped': 2.0, 'max_flips': 4.0}, abs=1e-15)
  s = analytics.flip_statistics(flips)
  assert s['max_flips'] == 9.0 and s['mean_flips'] == pytest.approx(38 / 12)


@pytest.mark.filterwarnings('ignore::RuntimeWarning')  # mean of no entries
def test_flip_statistics_without_flips():
  s = analytics.flip_statistics(np.zeros((2, 3), np.int32))
  assert s == {'ever_flipped': 0.0, 'flipped_repeatedly': 0.0,
               'mean_flips': 0.0, 'mean_flips_of_flipped': 0.0,
               'median_flips_of_flipped': 0.0, 'max_flips': 0.0}
  s = analytics.flip_statistics(np.zeros((2, 3)), label_units=2)  # empty
  assert s['max_flips'] == 0.0 and s['median_flips_of_flipped'] == 0.0

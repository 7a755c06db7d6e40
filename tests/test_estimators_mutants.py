"""AIS's visible draw (ncg.ais_kernels.sample_visible_from_uniforms) from given uniforms, exactly.

The AIS transition draws v from uniforms it is handed, so its maths can be
checked without any random numbers: a bit is on iff u < σ(logit) (strict:
P(on) = σ exactly, and u = σ gives 0), and the label group picks the first
class whose cumulative softmax exceeds u, row by row, in the logits' dtype.
"""

import jax
import jax.numpy as jnp
import numpy as np

from ncg import ais_kernels


def test_bits_fire_iff_u_is_strictly_below_the_sigmoid():
  for dtype in (jnp.float32, jnp.float64):
    logits = jnp.asarray([[-1.3, 0.0, 2.2], [0.4, -0.2, 5.0]], dtype)
    p = jax.nn.sigmoid(logits)
    at = ais_kernels.sample_visible_from_uniforms(p, None, logits, 0)
    below = ais_kernels.sample_visible_from_uniforms(
        jnp.nextafter(p, jnp.zeros_like(p)), None, logits, 0)
    assert at.dtype == below.dtype == dtype
    np.testing.assert_array_equal(at, 0.0)
    np.testing.assert_array_equal(below, 1.0)


def test_label_group_is_the_inverse_cdf_of_the_softmax_per_row():
  logits = np.array([[0.5, -0.5, 0.0, 1.0, -1.0],
                     [-0.5, 0.5, 2.0, -1.0, 0.3],
                     [0.0, 0.0, -3.0, 0.0, 3.0]], np.float32)
  u_bits = np.array([[0.9, 0.1], [0.2, 0.95], [0.5, 0.5]], np.float32)
  u_label = np.array([0.1, 0.97, 0.03], np.float32)
  v = ais_kernels.sample_visible_from_uniforms(
      jnp.asarray(u_bits), jnp.asarray(u_label), jnp.asarray(logits), 3)
  assert v.shape == (3, 5) and v.dtype == jnp.float32
  np.testing.assert_array_equal(v[:, :2], u_bits < 1 / (1 + np.exp(-logits[:, :2])))
  z = np.exp(logits[:, 2:].astype(np.float64))
  cdf = np.cumsum(z / z.sum(1, keepdims=True), 1)
  y = (cdf[:, :-1] < u_label[:, None]).sum(1)
  np.testing.assert_array_equal(y, [0, 2, 1])   # each row another class
  np.testing.assert_array_equal(v[:, 2:], np.eye(3)[y])

"""The softmax probe with its default settings reaches the optimum of its objective.

train_probe minimises the convex mean cross-entropy + (l2/2)‖kernel‖²; on a
tiny noisy problem its optimum is found here by plain full-batch gradient
descent in numpy, and the probe (default Adam learning rate, enough epochs)
must end within 1e-6 nats of it (a learning rate of 1 or 1e-3 ends
4e-4 to 7e-4 nats above).
"""

import jax
import jax.numpy as jnp
import numpy as np

from ncg import classification


def _objective_and_gradient(kernel, bias, f, y, l2):
  logits = f @ kernel + bias
  logits = logits - logits.max(1, keepdims=True)
  p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
  n = len(y)
  loss = -np.log(p[np.arange(n), y]).mean() + 0.5 * l2 * np.sum(kernel ** 2)
  d = p.copy()
  d[np.arange(n), y] -= 1
  return loss, f.T @ d / n + l2 * kernel, d.mean(0)


def test_probe_with_default_settings_reaches_the_optimum():
  rng = np.random.default_rng(0)
  f = rng.uniform(size=(30, 3))
  y = (f @ np.array([[2., -1., 0.], [0., 2., -2.], [-1., 0., 1.]])
       + rng.gumbel(size=(30, 3))).argmax(1)      # noisy: not separable
  l2 = 0.05
  kernel, bias = np.zeros((3, 3)), np.zeros(3)
  for _ in range(3000):
    loss, gk, gb = _objective_and_gradient(kernel, bias, f, y, l2)
    kernel, bias = kernel - 1.0 * gk, bias - 1.0 * gb
  assert np.abs(gk).max() < 1e-7                 # converged
  params, probe_loss = classification.train_probe(
      jax.random.key(0), jnp.asarray(f), jnp.asarray(y), num_classes=3,
      epochs=1500, l2=l2)
  assert float(probe_loss) - loss < 1e-6, (float(probe_loss), loss)
  assert float(probe_loss) >= loss - 1e-9
  assert params.kernel.dtype == jnp.float64

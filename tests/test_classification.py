"""ncg.classification: the exact joint-RBM rule against brute force, and the probe."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ncg import classification
from ncg import rbm
from ncg.errors import InputError
from tests.conftest import all_binary, tiny_rbm

NUM_BITS, NUM_LABELS, NUM_HIDDEN = 4, 3, 3


@pytest.fixture(scope='module')
def joint():
  return tiny_rbm(jax.random.key(0), NUM_BITS + NUM_LABELS, NUM_HIDDEN,
                  density=0.8, scale=2.0)


def brute_force_posterior(state, x):
  """p(y | x) ∝ Σ_h exp(−E([x, e_y], h)) by enumerating h, (N, L)."""
  hs = all_binary(state.num_hidden)
  out = []
  for y in range(NUM_LABELS):
    v = jnp.concatenate(
        [x, jnp.broadcast_to(jax.nn.one_hot(y, NUM_LABELS), (len(x), NUM_LABELS))],
        axis=1)
    neg_e = -rbm.energy(state, v[:, None, :], hs[None, :, :])
    out.append(jax.scipy.special.logsumexp(neg_e, axis=1))
  log_joint = jnp.stack(out, axis=1)
  return np.exp(log_joint - jax.scipy.special.logsumexp(log_joint, 1,
                                                       keepdims=True))


def test_posterior_sums_to_one_and_matches_brute_force(joint):
  x = all_binary(NUM_BITS)
  log_p = classification.label_log_probs(joint, x, NUM_LABELS)
  assert log_p.shape == (2 ** NUM_BITS, NUM_LABELS)
  np.testing.assert_allclose(jnp.exp(log_p).sum(1), 1.0, atol=1e-12)
  np.testing.assert_allclose(jnp.exp(log_p), brute_force_posterior(joint, x),
                             atol=1e-12)


def test_label_scores_are_negative_free_energies(joint):
  x = all_binary(NUM_BITS)[5:9]
  scores = classification.label_scores(joint, x, NUM_LABELS)
  for y in range(NUM_LABELS):
    v = classification.joint_visible(x, jnp.full((4,), y), NUM_LABELS)
    np.testing.assert_allclose(scores[:, y], -rbm.free_energy(joint, v),
                               atol=1e-12)


def test_predict_and_accuracy(joint):
  x = all_binary(NUM_BITS)
  pred = classification.predict(joint, x, NUM_LABELS)
  expected = np.argmax(brute_force_posterior(joint, x), axis=1)
  np.testing.assert_array_equal(pred, expected)
  assert classification.accuracy(joint, x, expected, NUM_LABELS,
                                 batch_size=5) == 1.0
  wrong = (expected + 1) % NUM_LABELS
  assert classification.accuracy(joint, x, wrong, NUM_LABELS) == 0.0


def test_bad_label_units(joint):
  with pytest.raises(InputError, match='label_units'):
    classification.label_scores(joint, all_binary(NUM_BITS), 0)
  with pytest.raises(InputError):
    classification.accuracy(joint, all_binary(NUM_BITS), jnp.zeros(3, int),
                            NUM_LABELS)


def test_hidden_features_switch_the_labels_off(joint):
  x = all_binary(NUM_BITS)[:6]
  v = jnp.concatenate([x, jnp.zeros((6, NUM_LABELS))], axis=1)
  np.testing.assert_allclose(
      classification.hidden_features(joint, x, NUM_LABELS),
      rbm.hidden_probs(joint, v), atol=1e-12)


def test_joint_visible():
  v = classification.joint_visible(jnp.ones((2, 3)), jnp.array([2, 0]), 3)
  np.testing.assert_array_equal(v, [[1, 1, 1, 0, 0, 1], [1, 1, 1, 1, 0, 0]])


def test_linear_probe_separates_informative_features():
  # Hidden units that copy the (noisy) class pattern: a probe on p(h|x) must
  # classify well above chance; an RBM with W = identity-like blocks.
  rng = np.random.default_rng(0)
  num_classes, per_class, dim = 3, 200, 12
  prototypes = (rng.random((num_classes, dim)) < 0.5).astype(np.float32)
  y = np.repeat(np.arange(num_classes), per_class)
  flips = rng.random((len(y), dim)) < 0.1
  x = np.abs(prototypes[y] - flips).astype(np.float32)
  order = rng.permutation(len(y))
  x, y = x[order], y[order]
  W = 2 * prototypes.T - 1                           # (dim, classes)
  c = -prototypes.sum(1) + 0.5
  state = rbm.dense(jnp.asarray(W), jnp.zeros(dim), jnp.asarray(c))
  result = classification.linear_probe(
      jax.random.key(0), state, x[:400], y[:400], x[400:], y[400:],
      num_classes=num_classes, epochs=20, batch_size=32, learning_rate=0.05)
  # Chance is 1/3; hidden unit k fires for class k, so the probe must do at
  # least about as well as reading off the most active unit.
  argmax = float(np.mean(np.argmax(np.asarray(classification.hidden_features(
      state, jnp.asarray(x[400:]))), 1) == y[400:]))
  assert result.test_accuracy > 0.75
  assert result.test_accuracy >= argmax - 0.03
  assert result.train_accuracy > 0.75
  assert result.params.kernel.shape == (num_classes, num_classes)
  # final_loss is the full-data objective: mean cross-entropy + (l2/2)‖K‖².
  f = np.asarray(classification.hidden_features(state, jnp.asarray(x[:400])),
                 np.float64)
  kernel = np.asarray(result.params.kernel, np.float64)
  logits = f @ kernel + np.asarray(result.params.bias, np.float64)
  log_p = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
  xent = -np.mean(log_p[np.arange(400), y[:400]])
  assert result.final_loss == pytest.approx(
      xent + 0.5 * 1e-4 * np.sum(kernel ** 2), rel=1e-6)
  # The accuracies are those of the returned parameters.
  assert result.test_accuracy == pytest.approx(
      np.mean(np.argmax(np.asarray(classification.hidden_features(
          state, jnp.asarray(x[400:]))) @ kernel
          + np.asarray(result.params.bias), 1) == y[400:]))


def test_linear_probe_of_a_joint_rbm_uses_the_features_without_labels(joint):
  x = np.asarray(all_binary(NUM_BITS), np.float32)
  y = (x[:, 0] > 0.5).astype(np.int32)
  result = classification.linear_probe(
      jax.random.key(1), joint, x, y, x, y, num_classes=2,
      label_units=NUM_LABELS, epochs=2, batch_size=8)
  assert result.params.kernel.shape == (NUM_HIDDEN, 2)
  f = np.asarray(classification.hidden_features(joint, jnp.asarray(x),
                                                NUM_LABELS))
  pred = np.argmax(f @ np.asarray(result.params.kernel)
                   + np.asarray(result.params.bias), 1)
  assert result.train_accuracy == pytest.approx(np.mean(pred == y))

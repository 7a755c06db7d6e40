"""Classification with RBMs: the exact joint-RBM rule and a linear probe.

Joint RBM. The one-hot label y ∈ {e_1, …, e_L} is appended as the last L
visible units, v = [x, y], and the model is trained generatively on p(x, y).
Summing out the hidden layer gives the free energy of each label,

    −F(x, y) = b_xᵀx + b_y + Σ_j softplus(c_j + x(W ⊙ A)_{x,j} + (W ⊙ A)_{y,j}),

and the exact class posterior p(y | x) = softmax_y(−F(x, y)) costs one
(V−L)×H product per example plus L·H softplus terms: no sampling and no
mean-field approximation. Label units are always connected (their strengths
are held at 1 by the trainer), but this module simply uses W ⊙ A throughout.

Mean-field rule (the NCG reference's, an option). The label units are
clamped at ½ and one deterministic up-down pass is taken:

    μ_j = σ(c_j + x(W ⊙ A)_{x,j} + ½ Σ_y (W ⊙ A)_{y,j}),    s_y = b_y + (W ⊙ A)_{y,:} μ,

and the prediction is argmax_y s_y (the label unit most likely to switch on
given the mean hidden activations; σ is monotone, so argmax σ(s_y) is the same).
It is an approximation of p(y | x), used only to read runs the reference's way
(:data:`RULES`).

Linear probe. Softmax regression (optax) on the hidden activations p(h | x)
measures how linearly separable the learned features are. For a joint RBM the
features are taken with the label units off, σ(c + x(W ⊙ A)_x).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from ncg import precision
from ncg import rbm
from ncg.errors import check
from ncg.rbm import RBMState


def _split_weights(state: RBMState, label_units: int):
  """(W_x, W_y, b_x, b_y) of a joint RBM whose last L visible units are labels."""
  check(0 < label_units < state.num_visible,
        f'label_units must be in [1, {state.num_visible - 1}], got {label_units}')
  w = rbm.effective_weights(state)
  return (w[:-label_units], w[-label_units:], state.b[:-label_units],
          state.b[-label_units:])


def label_scores(state: RBMState, x: jax.Array, label_units: int) -> jax.Array:
  """−F(x, y) for every label y: (..., V−L) → (..., L), in nats.

  Args:
    state: a joint RBM with V visible units, the last L = ``label_units`` of
      which are the one-hot label.
    x: (..., V−L) binary inputs without the label.
    label_units: L.
  """
  w_x, w_y, b_x, b_y = _split_weights(state, label_units)
  x = x.astype(w_x.dtype)
  pre = x @ w_x + state.c                                   # (..., H)
  softplus = jax.nn.softplus(pre[..., None, :] + w_y)       # (..., L, H)
  return (x @ b_x)[..., None] + b_y + jnp.sum(softplus, axis=-1)


@functools.partial(jax.jit, static_argnames='label_units')
@precision.highest
def label_log_probs(state: RBMState, x: jax.Array, label_units: int) -> jax.Array:
  """log p(y | x) = log_softmax_y(−F(x, y)), (..., V−L) → (..., L)."""
  return jax.nn.log_softmax(label_scores(state, x, label_units), axis=-1)


@functools.partial(jax.jit, static_argnames='label_units')
@precision.highest
def predict(state: RBMState, x: jax.Array, label_units: int) -> jax.Array:
  """argmax_y p(y | x): (..., V−L) → (...) int32."""
  return jnp.argmax(label_scores(state, x, label_units), axis=-1).astype(
      jnp.int32)


def mean_field_scores(state: RBMState, x: jax.Array, label_units: int
                      ) -> jax.Array:
  """s_y = b_y + (W ⊙ A)_y μ with labels clamped at ½: (..., V−L) → (..., L).

  μ (..., H) = σ(c + x(W ⊙ A)_x + ½ Σ_y (W ⊙ A)_y), one up-down pass (module
  docstring). Logits of the label units, not log-probabilities.
  """
  w_x, w_y, _, b_y = _split_weights(state, label_units)
  mu = jax.nn.sigmoid(x.astype(w_x.dtype) @ w_x + state.c + 0.5 * w_y.sum(0))
  return mu @ w_y.T + b_y


@functools.partial(jax.jit, static_argnames='label_units')
@precision.highest
def mean_field_predict(state: RBMState, x: jax.Array, label_units: int
                       ) -> jax.Array:
  """argmax_y of :func:`mean_field_scores`: (..., V−L) → (...) int32."""
  return jnp.argmax(mean_field_scores(state, x, label_units), axis=-1).astype(
      jnp.int32)


RULES = {'exact': predict, 'mean_field': mean_field_predict}


def accuracy(state: RBMState, x: jax.Array, y: jax.Array, label_units: int,
             batch_size: int = 1000, rule: str = 'exact') -> float:
  """Fraction of examples whose prediction equals ``y`` (N,).

  ``rule`` is a key of :data:`RULES`: 'exact' (argmax p(y | x)) or
  'mean_field' (the reference's one-pass rule). Evaluated in batches of
  ``batch_size`` examples to bound memory (batch·L·H floats).
  """
  check(rule in RULES, f'unknown rule {rule!r}; choose one of {tuple(RULES)}')
  x, y = jnp.asarray(x), jnp.asarray(y)
  check(x.shape[0] == y.shape[0] and x.shape[0] > 0,
        f'x {x.shape} and y {y.shape} must be non-empty with equal lengths')
  correct = 0
  for start in range(0, x.shape[0], batch_size):
    pred = RULES[rule](state, x[start:start + batch_size], label_units)
    correct += int(jnp.sum(pred == y[start:start + batch_size]))
  return correct / x.shape[0]


def joint_visible(x: jax.Array, y: jax.Array, num_classes: int) -> jax.Array:
  """[x, one_hot(y)]: the visible vectors of a joint RBM, (N, D) → (N, D+L)."""
  x = jnp.asarray(x)
  return jnp.concatenate(
      [x, jax.nn.one_hot(y, num_classes, dtype=x.dtype)], axis=-1)


def hidden_features(state: RBMState, x: jax.Array, label_units: int = 0
                    ) -> jax.Array:
  """p(h = 1 | x) with label units (if any) off: (..., V−L) → (..., H)."""
  w = rbm.effective_weights(state)
  if label_units:
    w = w[:-label_units]
  return jax.nn.sigmoid(x.astype(w.dtype) @ w + state.c)


# ----------------------------------------------------------------------------
# Linear probe.


class ProbeParams(NamedTuple):
  """Softmax-regression parameters: ``kernel`` (F, C) and ``bias`` (C,)."""
  kernel: jax.Array
  bias: jax.Array


class ProbeResult(NamedTuple):
  """A trained linear probe and its accuracies (fractions in [0, 1])."""
  params: ProbeParams
  train_accuracy: float
  test_accuracy: float
  final_loss: float


def _probe_loss(params: ProbeParams, f: jax.Array, y: jax.Array,
                l2: float) -> jax.Array:
  logits = f @ params.kernel + params.bias
  xent = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
  return xent + 0.5 * l2 * jnp.sum(params.kernel ** 2)


@functools.partial(jax.jit, static_argnames=('num_classes', 'epochs',
                                             'batch_size'))
def train_probe(key: jax.Array, features: jax.Array, labels: jax.Array, *,
                num_classes: int, epochs: int = 30, batch_size: int = 128,
                learning_rate: float = 3e-3, l2: float = 1e-4
                ) -> tuple[ProbeParams, jax.Array]:
  """Softmax regression by Adam on shuffled minibatches.

  Minimises mean cross-entropy + (l2/2)·‖kernel‖² over ``epochs`` passes;
  a final partial batch is dropped each epoch (the shuffles differ).

  Args:
    key: PRNG key for the shuffles.
    features: (N, F) inputs, e.g. :func:`hidden_features`.
    labels: (N,) int labels in [0, num_classes).
    num_classes: C.
    epochs, batch_size, learning_rate, l2: optimisation settings.

  Returns:
    (params, loss): the parameters and the full-data objective at the end.
  """
  n, f = features.shape
  batch_size = min(batch_size, n)
  steps = n // batch_size
  params = ProbeParams(jnp.zeros((f, num_classes), features.dtype),
                       jnp.zeros((num_classes,), features.dtype))
  opt = optax.adam(learning_rate)
  grad = jax.grad(_probe_loss)

  def epoch(carry, key):
    def step(carry, idx):
      params, opt_state = carry
      g = grad(params, features[idx], labels[idx], l2)
      updates, opt_state = opt.update(g, opt_state, params)
      return (optax.apply_updates(params, updates), opt_state), None
    order = jax.random.permutation(key, n)[:steps * batch_size]
    carry, _ = jax.lax.scan(step, carry, order.reshape(steps, batch_size))
    return carry, None

  (params, _), _ = jax.lax.scan(epoch, (params, opt.init(params)),
                                jax.random.split(key, epochs))
  return params, _probe_loss(params, features, labels, l2)


def probe_accuracy(params: ProbeParams, features: jax.Array,
                   labels: jax.Array) -> float:
  """Fraction of argmax(f·kernel + bias) equal to ``labels``."""
  pred = jnp.argmax(features @ params.kernel + params.bias, axis=-1)
  return float(jnp.mean(pred == labels))


def linear_probe(key: jax.Array, state: RBMState, train_x: jax.Array,
                 train_y: jax.Array, test_x: jax.Array, test_y: jax.Array, *,
                 num_classes: int, label_units: int = 0,
                 **probe_settings) -> ProbeResult:
  """Trains softmax regression on p(h | x) of the train split, tests it.

  Args:
    key: PRNG key.
    state: an RBM (joint or not; label units are switched off).
    train_x, test_x: (N, V−L) inputs; train_y, test_y: (N,) int labels.
    num_classes: C.
    label_units: L, 0 for an RBM without label units.
    **probe_settings: ``epochs``, ``batch_size``, ``learning_rate``, ``l2``
      of :func:`train_probe`.
  """
  check(num_classes >= 2, f'a probe needs >= 2 classes, got {num_classes}')
  f_train = hidden_features(state, jnp.asarray(train_x), label_units)
  f_test = hidden_features(state, jnp.asarray(test_x), label_units)
  params, loss = train_probe(key, f_train, jnp.asarray(train_y, jnp.int32),
                             num_classes=num_classes, **probe_settings)
  return ProbeResult(params, probe_accuracy(params, f_train, train_y),
                     probe_accuracy(params, f_test, test_y), float(loss))

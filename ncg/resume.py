"""Save and load a whole training state — model, trainer state, progress — to resume exactly.

    ncg.resume.save('runs/x/resume', config, state, opt_state, epoch=5)
    config, state, opt_state, metadata = ncg.resume.load('runs/x/resume')

The trainer state (:class:`ncg.train.TrainerState`) is a tree of optax states
(NamedTuples of optax's, masked nodes), PCD chains or None, the step counter and
the flip counts: :func:`ncg.checkpoint.save` stores plain trees of arrays and
cannot rebuild optax's types. Here the arrays are stored as a flat list, in
``jax.tree.leaves`` order, with the :class:`ncg.train.TrainConfig` that built
them; :func:`load` rebuilds the tree's structure from that config
(``jax.eval_shape`` of the trainer's ``init``: nothing is computed) and the
model's visible type, checks that its leaf paths are the saved ones, and puts
the saved arrays into it. Shapes and dtypes are the saved ones, so a
population (every leaf with a leading member axis) and any batch size of PCD
chains load back as saved. Everything, the optimizer's moments, the injected
learning rates, the chains and the flip counts included, comes back bit for bit,
so a run resumed from it with the same keys (e.g. ``fold_in(key, epoch)``
per epoch) equals the uninterrupted run bit for bit.

Files: the :mod:`ncg.checkpoint` layout (orbax arrays + ``metadata.json``,
atomic replacement), with ``kind: 'training_state'``, ``train_config``,
``visible``, ``leaf_paths`` and the caller's metadata (``epoch``…) in
metadata.json.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax

from ncg import checkpoint
from ncg import rbm
from ncg import train
from ncg.errors import InputError, check
from ncg.rbm import RBMState

KIND = 'training_state'
_LEAVES = 'leaves'


class TrainingState(NamedTuple):
  """What :func:`load` returns.

  Attributes:
    config: the :class:`ncg.train.TrainConfig` the state was trained with.
    state: the model, an :class:`ncg.rbm.RBMState` (or its Gaussian subclass).
    opt_state: the :class:`ncg.train.TrainerState` (step counter inside).
    metadata: metadata.json as saved (``epoch`` and the caller's keys).
  """
  config: train.TrainConfig
  state: RBMState
  opt_state: train.TrainerState
  metadata: dict


def _paths(tree) -> list[str]:
  return [jax.tree_util.keystr(path)
          for path, _ in jax.tree_util.tree_flatten_with_path(tree)[0]]


def _structure(config: train.TrainConfig, visible: str, shape, dtype):
  """The (state, opt_state) tree of ``config`` with abstract leaves (one member)."""
  num_visible, num_hidden = shape
  model = rbm.STATE_TYPES[visible](
      jax.ShapeDtypeStruct((num_visible, num_hidden), dtype),
      jax.ShapeDtypeStruct((num_visible,), dtype),
      jax.ShapeDtypeStruct((num_hidden,), dtype),
      jax.ShapeDtypeStruct((num_visible, num_hidden), dtype))
  trainer = train.make_trainer(config)
  opt = jax.eval_shape(lambda m: trainer.init(m, jax.random.key(0), 1), model)
  return model, opt


def save(path: str, config: train.TrainConfig, state: RBMState,
         opt_state: train.TrainerState, *, epoch: int | None = None,
         metadata: dict | None = None) -> str:
  """Writes the model, the trainer state and ``config`` to ``path``.

  Args:
    path: a directory (replaced atomically if it exists).
    config: the TrainConfig of the trainer that made ``opt_state``.
    state: the model (one, or a population stacked on a leading axis).
    opt_state: its trainer state (CD or PCD, any mode and optimizer).
    epoch: epochs done, recorded as ``metadata['epoch']`` (optional).
    metadata: more JSON-serialisable facts to record.

  Returns:
    The absolute path written.
  """
  check(isinstance(config, train.TrainConfig),
        f'ncg.resume.save needs the TrainConfig, got {type(config).__name__}')
  check(isinstance(state, RBMState) and isinstance(opt_state, train.TrainerState),
        'ncg.resume.save(path, config, state, opt_state): state must be an '
        f'RBMState and opt_state a TrainerState, got {type(state).__name__} '
        f'and {type(opt_state).__name__}')
  tree = (state, opt_state)
  expected = _paths(_structure(config, state.visible, state.W.shape[-2:],
                               state.W.dtype))
  check(_paths(tree) == expected,
        'ncg.resume.save: opt_state was not made by this config\'s trainer '
        f'(connectivity={config.connectivity!r}, optimizer={config.optimizer!r}, '
        f'persistent={config.persistent})')
  leaves = jax.tree.leaves(tree)
  width = len(str(len(leaves)))
  record = dict(metadata or {})
  if epoch is not None:
    record['epoch'] = int(epoch)
  record.update(kind=KIND, train_config=dataclasses.asdict(config),
                visible=state.visible, leaf_paths=expected)
  return checkpoint.save(
      path, {_LEAVES: {f'{i:0{width}d}': leaf for i, leaf in enumerate(leaves)}},
      record)


def load(path: str) -> TrainingState:
  """Restores what :func:`save` wrote, without any template.

  Raises:
    InputError: not a training state, a config this version cannot read, or
      leaves that do not fit the trainer this config builds (e.g. saved
      with another optax version).
  """
  metadata = checkpoint.read_metadata(path)
  check(metadata.get('kind') == KIND,
        f'{path} is not a training state saved by ncg.resume.save '
        f'(kind {metadata.get("kind")!r})')
  try:
    config = train.TrainConfig(**metadata['train_config'])
  except TypeError as e:
    raise InputError(f'{path}: its train_config does not fit this version of '
                     f'ncg ({e})') from None
  visible = metadata.get('visible', 'bernoulli')
  rbm.check_visible(visible)
  tree, _ = checkpoint.load(path)
  saved = tree[_LEAVES]
  leaves = [saved[k] for k in sorted(saved)]
  shape, dtype = tuple(leaves[0].shape[-2:]), leaves[0].dtype
  template = _structure(config, visible, shape, dtype)
  check(_paths(template) == metadata.get('leaf_paths'),
        f'{path}: the saved trainer state does not fit the trainer this '
        'version builds from its config (another optax or ncg version?)')
  state, opt_state = jax.tree.unflatten(jax.tree.structure(template), leaves)
  return TrainingState(config, state, opt_state, metadata)

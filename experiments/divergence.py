"""Divergence guards: NaN/Inf in parameters or metrics stop a run (or freeze a member).

After every epoch the entry points check the new state, optimizer state and
metrics. A run raises :class:`ncg.errors.Diverged` (exit code 3) with
:func:`message`: the epoch, the non-finite arrays, the likely cause (the
learning rate) and the last good checkpoint, which is kept (the state before
the diverging epoch is saved first when it was not yet on disk). In a
population (experiments/sweep.py) a diverging member is frozen at its last
finite state and its metrics say so, while the others train on
(:func:`freeze`).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp


def _float_leaves(tree: Any) -> list[tuple[str, jax.Array]]:
  leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
  return [(jax.tree_util.keystr(path), x) for path, x in leaves
          if hasattr(x, 'dtype') and jnp.issubdtype(x.dtype, jnp.inexact)]


def nonfinite(tree: Any) -> list[str]:
  """Paths (``keystr``) of the floating leaves of ``tree`` holding NaN or Inf."""
  leaves = _float_leaves(tree)
  flags = jax.device_get([jnp.all(jnp.isfinite(x)) for _, x in leaves])
  return [name for (name, _), ok in zip(leaves, flags) if not ok]


@jax.jit
def finite_members(tree: Any) -> jax.Array:
  """(M,) bool: member m's slice (axis 0) of every floating leaf is finite."""
  ok = None
  for _, x in _float_leaves(tree):
    leaf = jnp.all(jnp.isfinite(x.reshape(x.shape[0], -1)), axis=1)
    ok = leaf if ok is None else ok & leaf
  return ok


@jax.jit
def freeze(alive: jax.Array, new: Any, old: Any) -> Any:
  """``new`` for members where ``alive`` (M,) holds, ``old`` elsewhere."""
  def pick(n, o):
    return jnp.where(alive.reshape((-1,) + (1,) * (n.ndim - 1)), n, o)
  return jax.tree.map(pick, new, old)


def message(epoch: int, names: list[str], learning_rate: float,
            checkpoint_epoch: int | None, workdir: str) -> str:
  """The one line a diverged run ends with."""
  kept = (f'the last good checkpoint (epoch {checkpoint_epoch}) is kept in '
          f'{workdir}' if checkpoint_epoch else
          f'no epoch finished cleanly, so {workdir} holds no checkpoint')
  shown = ', '.join(names[:4]) + (f' and {len(names) - 4} more'
                                  if len(names) > 4 else '')
  return (f'training diverged at epoch {epoch}: NaN or Inf in {shown}; the '
          f'likely cause is a learning rate too large (train.learning_rate='
          f'{learning_rate:g}): lower it and use a new --workdir; {kept}')

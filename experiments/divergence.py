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

import re
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def _name(path) -> str:
  """A key path as dotted text: state.W, opt_state.inner_states.strength..."""
  return re.sub(r"\[['\"]?([^]'\"]*)['\"]?\]", r'.\1',
                jax.tree_util.keystr(path)).lstrip('.')


def _float_leaves(tree: Any) -> list[tuple[str, jax.Array]]:
  leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
  return [(_name(path), x) for path, x in leaves
          if hasattr(x, 'dtype') and jnp.issubdtype(x.dtype, jnp.inexact)]


@jax.jit
def _all_finite(leaves: list[jax.Array]) -> list[jax.Array]:
  return [jnp.all(jnp.isfinite(x)) for x in leaves]


def nonfinite(tree: Any) -> list[str]:
  """Dotted paths (``state.W``) of the floating leaves of ``tree`` holding NaN/Inf.

  One compiled reduction per tree structure; integer leaves and Python
  numbers (wall-clock times) are not checked.
  """
  leaves = _float_leaves(tree)
  flags = jax.device_get(_all_finite([x for _, x in leaves]))
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
  """The one line a diverged run ends with (``checkpoint_epoch`` None: none saved)."""
  kept = (f'the last good checkpoint (epoch {checkpoint_epoch}) is kept in '
          f'{workdir}' if checkpoint_epoch is not None else
          f'no epoch finished cleanly, so {workdir} holds no checkpoint')
  shown = ', '.join(names[:4]) + (f' and {len(names) - 4} more'
                                  if len(names) > 4 else '')
  return (f'training diverged at epoch {epoch}: NaN or Inf in {shown}; the '
          f'likely cause is a learning rate too large (train.learning_rate='
          f'{learning_rate:g}): lower it and use a new --workdir; {kept}')


class PopulationGuard:
  """Freezes the members of a population that diverge; the others train on.

  ``diverged_epoch[m]`` is 0 while member m is alive, else the epoch whose
  update produced NaN/Inf; it is part of the population's checkpoint, so a
  resumed sweep keeps its frozen members frozen. A frozen member keeps its
  last finite state (the vmapped epoch still computes it; the result is
  dropped) and its metrics lines carry ``diverged: true``, ``diverged_epoch``
  and null metrics.

  Args:
    diverged_epoch: (M,) ints, zeros for a fresh population.
    grid: the member grid (lists of seed, learning_rate, density0...), for
      the messages.
  """

  def __init__(self, diverged_epoch: Any, grid: dict[str, list]):
    self.diverged_epoch = np.array(jax.device_get(diverged_epoch), np.int32)
    self.grid = grid

  @property
  def alive(self) -> np.ndarray:
    return self.diverged_epoch == 0

  def update(self, epoch: int, new: Any, old: Any, metrics: Any = ()) -> Any:
    """``new`` with every member that is frozen, or diverges now, reset to ``old``.

    ``metrics`` (per-member arrays) count for the check but are not returned.
    """
    finite = np.asarray(finite_members((new, metrics)))
    newly = self.alive & ~finite
    self.diverged_epoch[newly] = epoch
    for m in np.flatnonzero(newly):
      print(self.message(int(m)), flush=True)
    return freeze(jnp.asarray(self.alive), new, old)

  def annotate(self, record: dict[str, Any], member: int,
               keep: tuple[str, ...] = ('epoch', 'member', 'seconds')
               ) -> dict[str, Any]:
    """A member's metrics record, marked (and emptied) if it is frozen."""
    frozen = int(self.diverged_epoch[member])
    if not frozen:
      return {**record, 'diverged': False}
    return {name: (value if name in keep or name in self.grid else None)
            for name, value in record.items()} | {
                'diverged': True, 'diverged_epoch': frozen}

  def member_text(self, member: int) -> str:
    values = ', '.join(f'{name}={values[member]:g}' if isinstance(
        values[member], float) else f'{name}={values[member]}'
                       for name, values in self.grid.items())
    return f'member {member} ({values})'

  def message(self, member: int) -> str:
    epoch = int(self.diverged_epoch[member])
    return (f'{self.member_text(member)} diverged at epoch {epoch} (NaN or '
            'Inf; likely its learning rate is too large): frozen at its state '
            f'after epoch {epoch - 1}, the other members train on')

  def report(self) -> list[str]:
    """One line per frozen member (for the end of the sweep)."""
    return [self.message(int(m)) for m in np.flatnonzero(~self.alive)]

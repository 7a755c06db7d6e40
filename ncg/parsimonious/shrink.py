"""Removing pruned units: the weights, θ and optimizer state really shrink.

A unit whose θ has been projected to exactly 0 is never sampled again, and its
output is multiplied by 0 in every forward pass; deleting it (its column and
bias in its own layer, its row in the next layer) leaves the network's function
and the expected objective unchanged. Which array axes a group's units index,
and how groups are coupled (LeNet-5: a conv filter and its flattened
features), come from the kind table (``models.KINDS``).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ncg.parsimonious import models
from ncg.parsimonious.architecture import Architecture


class Selector:
  """Indices to keep along some axes of one array (a pytree leaf)."""

  def __init__(self, axes: dict[int, np.ndarray] | None = None):
    self.axes = dict(axes or {})

  def __call__(self, x: jax.Array) -> jax.Array:
    if not self.axes:
      return x
    # On the host: an eager jnp.take would compile once per new shape.
    y = np.asarray(x)
    for axis, index in self.axes.items():
      y = np.take(y, index, axis=axis)
    return jnp.asarray(y)


def kept_units(arch: Architecture, thetas: Sequence[Any],
               threshold: float = 0.0) -> list[np.ndarray]:
  """Per group, the boolean mask of units to keep (θ > threshold), coupled.

  ``threshold=0`` removes exactly the units at θ = 0 (training);
  ``threshold`` just below ½ keeps the posterior mode (the final network).
  The kind's couplings (``NetKind.couple``) are applied after the threshold.
  """
  keep = [np.asarray(t) > threshold for t in thetas]
  for k, t in zip(keep, thetas):   # a group never empties: keep its largest θ
    if not k.any():
      k[np.argmax(np.asarray(t))] = True
  return models.kind(arch).couple(arch, keep)


def shrunk_architecture(arch: Architecture, keep: Sequence[np.ndarray]) -> Architecture:
  """The architecture after keeping the units marked in ``keep``."""
  widths = tuple(int(k.sum()) for k in keep)
  gather = models.kind(arch).shrunk_gather(arch, keep, widths)
  return arch._replace(widths=widths, gather=gather)


def selectors(arch: Architecture, keep: Sequence[np.ndarray],
              weights: dict) -> tuple[dict, list[Selector]]:
  """Selector trees for the weights (same structure) and for the θ groups."""
  index = [np.flatnonzero(k) for k in keep]
  per_leaf: dict[tuple[str, str], dict[int, np.ndarray]] = {}
  for group, triples in enumerate(models.kind(arch).unit_axes(arch)):
    for layer, name, axis in triples:
      per_leaf.setdefault((layer, name), {})[axis] = index[group]
  params = weights['params']
  tree = {'params': {layer: {name: Selector(per_leaf.get((layer, name)))
                             for name in params[layer]} for layer in params}}
  return tree, [Selector({0: i}) for i in index]


def slice_state_like_params(opt_state: Any, params: dict, sel_tree: dict) -> Any:
  """Applies the params' selectors to every optimizer-state leaf that mirrors a param.

  A state leaf mirrors a param when its key path ends with the param's key path
  and it has the param's shape (Adam's mu and nu, momentum, ...); scalars such
  as step counts are left alone. (``optax.tree_map_params`` cannot see through
  ``optax.partition``'s callable labels, hence this path-based version.)
  """
  is_sel = lambda x: isinstance(x, Selector)
  by_path = {}
  sel_leaves = jax.tree_util.tree_flatten_with_path(sel_tree, is_leaf=is_sel)[0]
  param_leaves = jax.tree_util.tree_flatten_with_path(params)[0]
  for (path, sel), (_, p) in zip(sel_leaves, param_leaves):
    by_path[tuple(path)] = (sel, np.shape(p))

  def visit(path, leaf):
    path = tuple(path)
    for n in range(len(path), 0, -1):
      hit = by_path.get(path[-n:])
      if hit is not None and np.shape(leaf) == hit[1]:
        return hit[0](leaf)
    return leaf
  return jax.tree_util.tree_map_with_path(visit, opt_state)


def shrink(arch: Architecture, params: dict, opt_state: Any,
           keep: Sequence[np.ndarray]) -> tuple[Architecture, dict, Any]:
  """Removes the units not in ``keep`` from params and the optimizer state.

  Args:
    arch: the current architecture.
    params: {'weights': flax variables, 'theta': tuple of (w_g,) arrays}.
    opt_state: the optimizer state for ``params``; its param-shaped leaves
      (Adam moments...) are sliced like the params.
    keep: per group boolean masks (from :func:`kept_units`).

  Returns:
    (new architecture, new params, new optimizer state).
  """
  weight_sel, theta_sel = selectors(arch, keep, params['weights'])
  sel_tree = {'weights': weight_sel, 'theta': tuple(theta_sel)}
  is_sel: Callable[[Any], bool] = lambda x: isinstance(x, Selector)
  new_params = jax.tree.map(lambda s, x: s(x), sel_tree, params, is_leaf=is_sel)
  new_state = slice_state_like_params(opt_state, params, sel_tree)
  return shrunk_architecture(arch, keep), new_params, new_state

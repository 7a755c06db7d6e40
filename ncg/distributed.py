"""Populations over devices: the member axis of a vmapped population on a mesh.

A population (:func:`ncg.train.make_epoch` with ``population=True``) stacks
its members along axis 0 of every array of the state, the optimizer state and
the keys; the members never talk to each other (the rewiring schedule reads
the step count, which they share). :func:`shard_members` lays that axis out
over a one-axis mesh ``('member',)`` with ``NamedSharding(mesh, P('member'))``,
padding the population to a multiple of the device count with copies of its
last member, and lets XLA partition the program: each device trains its
slice, the data are replicated, and the result, cut back to the real
members, equals the single-device population (the per-member arithmetic is
the same; tests/test_distributed.py checks it on 8 forced host devices).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

MEMBER_AXIS = 'member'


def member_mesh(num_devices: int | None = None) -> jax.sharding.Mesh:
  """A one-axis mesh ``('member',)`` over the first ``num_devices`` devices."""
  n = jax.device_count() if num_devices is None else num_devices
  return jax.make_mesh((n,), (MEMBER_AXIS,), devices=jax.devices()[:n],
                       axis_types=(jax.sharding.AxisType.Auto,))


def padded_size(members: int, mesh: jax.sharding.Mesh) -> int:
  """The population size rounded up to a multiple of the mesh size."""
  return -(-members // mesh.size) * mesh.size


def _pad(tree, size: int):
  def pad(a):
    extra = size - a.shape[0]
    return a if extra == 0 else jnp.concatenate(
        [a, jnp.repeat(a[-1:], extra, axis=0)])
  return jax.tree.map(pad, tree)


def shard_members(population_epoch, mesh: jax.sharding.Mesh):
  """``population_epoch(state, opt_state, x, key)`` run with members on ``mesh``.

  Args:
    population_epoch: a population function (members on axis 0 of state,
      opt_state and key; x shared), e.g. ``make_epoch(config, B, population=True)``.
    mesh: a mesh with the axis ``'member'`` (:func:`member_mesh`).

  Returns:
    A jitted function with the same signature and results: members padded
    to a multiple of the mesh size, sharded over ``'member'``, trained, and
    cut back.
  """
  members_spec = NamedSharding(mesh, P(MEMBER_AXIS))
  replicated = NamedSharding(mesh, P())

  def sharded(state, opt_state, x, key):
    members = key.shape[0]
    size = padded_size(members, mesh)
    state, opt_state, key = jax.lax.with_sharding_constraint(
        _pad((state, opt_state, key), size), members_spec)
    x = jax.lax.with_sharding_constraint(x, replicated)
    out = jax.lax.with_sharding_constraint(
        population_epoch(state, opt_state, x, key), members_spec)
    return jax.tree.map(lambda a: a[:members], out)
  return jax.jit(sharded)

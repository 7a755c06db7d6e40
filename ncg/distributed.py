"""Populations, minibatches and hosts over devices, with JAX's own machinery.

Three layouts, all by ``NamedSharding`` on a ``jax.make_mesh`` mesh and XLA's
partitioner (no hand-written collectives):

* members: :func:`shard_members` (below);
* data: :func:`data_parallel` splits every minibatch (B, V) of one model's
  epoch over a ``'data'`` axis, parameters replicated; the CD statistics
  G = [v; ṽ]ᵀ[p(h|v); −p(h|ṽ)] / B are sums over the batch, so XLA
  computes each device's part and all-reduces them; :func:`sharded_ais`
  does the same for the AIS runs;
* both at once: a 2-D mesh ``('member', 'data')`` (:func:`make_mesh`), given
  to :func:`data_parallel` with ``population=True``.

Several hosts: :func:`initialize` starts ``jax.distributed`` when the
environment says there are several processes (a no-op otherwise);
:func:`global_batch` builds a global array from each host's share of the
data (``jax.make_array_from_process_local_data``) and
:func:`host_minibatches` an epoch's minibatches from each host's rows (what
the entry points feed the data-parallel epoch on several processes);
:func:`is_writer` is
true on process 0 alone, which writes checkpoints and metrics.

Members:

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

import os

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from ncg import ais
from ncg import ais_kernels
from ncg import sampling
from ncg import train
from ncg.errors import check

MEMBER_AXIS = 'member'
DATA_AXIS = 'data'


def member_mesh(num_devices: int | None = None) -> jax.sharding.Mesh:
  """A one-axis mesh ``('member',)`` over the first ``num_devices`` devices."""
  n = jax.device_count() if num_devices is None else num_devices
  return jax.make_mesh((n,), (MEMBER_AXIS,), devices=jax.devices()[:n],
                       axis_types=(jax.sharding.AxisType.Auto,))


def make_mesh(members: int = 1, data: int | None = None) -> jax.sharding.Mesh:
  """A 2-D mesh ``('member', 'data')`` of ``members × data`` devices.

  ``data`` defaults to the devices left: ``device_count // members``.
  """
  if data is None:
    data = max(jax.device_count() // members, 1)
  n = members * data
  check(members >= 1 and data >= 1 and n <= jax.device_count(),
        f'a {members} x {data} mesh needs {n} devices; '
        f'{jax.device_count()} available')
  return jax.make_mesh((members, data), (MEMBER_AXIS, DATA_AXIS),
                       devices=jax.devices()[:n],
                       axis_types=(jax.sharding.AxisType.Auto,) * 2)


def _axis_size(mesh: jax.sharding.Mesh, axis: str) -> int:
  return dict(mesh.shape).get(axis, 1)


def replicated(mesh: jax.sharding.Mesh) -> NamedSharding:
  """Every device of ``mesh`` holds the whole array."""
  return NamedSharding(mesh, P())


def padded_size(members: int, mesh: jax.sharding.Mesh) -> int:
  """The population size rounded up to a multiple of the member axis."""
  n = _axis_size(mesh, MEMBER_AXIS)
  return -(-members // n) * n


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
    mesh: a mesh with the axis ``'member'`` (:func:`member_mesh`, or the
      2-D :func:`make_mesh`, whose ``'data'`` axis the epoch may use).

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
    state, opt_state, key = _chains_over_data(jax.lax.with_sharding_constraint(
        _pad((state, opt_state, key), size), members_spec), mesh)
    if x.ndim == 2:  # the data set; drawn minibatches keep their layout
      x = jax.lax.with_sharding_constraint(x, replicated)
    out = _chains_over_data(jax.lax.with_sharding_constraint(
        population_epoch(state, opt_state, x, key), members_spec), mesh)
    return jax.tree.map(lambda a: a[:members], out)
  return jax.jit(sharded)


def _chains_over_data(tree, mesh):
  """``(state, opt_state, ...)`` with the members' PCD chains (M, B, V), if
  any, over ``('member', 'data')`` like the minibatches (on a mesh with a
  ``'data'`` axis; else unchanged); parallel tempering's (M, K, B, V) ladders
  keep each ladder's K rungs together and split B the same way."""
  opt_state = tree[1]
  if DATA_AXIS not in mesh.axis_names or getattr(
      opt_state, 'chains', None) is None:
    return tree
  rungs = (None,) * (opt_state.chains.ndim - 3)   # () for PCD, (None,) for PT
  chains = jax.lax.with_sharding_constraint(
      opt_state.chains, NamedSharding(mesh, P(MEMBER_AXIS, *rungs, DATA_AXIS)))
  return (tree[0], opt_state._replace(chains=chains), *tree[2:])


def data_parallel(config, batch_size: int, mesh: jax.sharding.Mesh,
                  population: bool = False):
  """The epoch of :func:`ncg.train.make_epoch` with each minibatch over ``'data'``.

  Args:
    config: a :class:`ncg.train.TrainConfig`.
    batch_size: B, a multiple of the mesh's ``'data'`` size.
    mesh: a ``('member', 'data')`` mesh (:func:`make_mesh`); one model
      needs ``make_mesh(1, data)``.
    population: members on axis 0, laid out over ``'member'`` (see
      :func:`shard_members`); False for one model.

  Returns:
    A jitted ``epoch(state, opt_state, x, key)`` with the results of the
    single-device epoch: the same per-step random numbers (JAX's partitionable
    threefry and the counter-based hash do not depend on the layout), the same
    minibatches, each device computing B / data rows of every matmul and the
    batch sums reduced by XLA; parameters replicated (over ``'data'``).
    Only the order of the float32 sums differs.
  """
  data = _axis_size(mesh, DATA_AXIS)
  check(batch_size % data == 0,
        f'batch size {batch_size} is not a multiple of the {data} data shards')
  epoch = train.make_epoch(
      config, batch_size, population=True,
      batch_sharding=NamedSharding(mesh, P(None, DATA_AXIS)))
  run = shard_members(epoch, mesh)
  if population:
    return run

  # One model: a population of one on the (1 × data) mesh, so that the one
  # code path (and its test) serves both; vmap over one member adds nothing
  # to the arithmetic.
  def single(state, opt_state, x, key):
    add = lambda tree: jax.tree.map(lambda a: a[None], tree)
    out = run(add(state), add(opt_state), x, key[None])
    return jax.tree.map(lambda a: a[0], out)
  return jax.jit(single)


def ais_runs(mesh: jax.sharding.Mesh):
  """:func:`ncg.ais_kernels.bernoulli_log_weights` jitted with its
  log-weights (M,) over ``'data'``."""
  return jax.jit(
      ais_kernels.bernoulli_log_weights,
      static_argnames=('num_runs', 'label_units'),
      out_shardings=(NamedSharding(mesh, P(DATA_AXIS)),
                     NamedSharding(mesh, P())))


def sharded_ais(mesh: jax.sharding.Mesh, key, state, *, num_runs: int,
                betas, base_visible_bias, label_units: int = 0,
                rng: str = 'hash'):
  """:func:`ncg.estimators.ais_log_partition` with the runs over ``'data'``.

  The log-weights (M,) are laid out ``P('data')``; XLA propagates that
  layout back through the annealing scan, so each device anneals M / data
  chains (the model replicated) and only the final log-mean-exp gathers.
  Same random numbers as one device, so the same estimate up to float32
  rounding. ``num_runs`` must be a multiple of the ``'data'`` size.
  """
  data = _axis_size(mesh, DATA_AXIS)
  check(num_runs % data == 0,
        f'{num_runs} AIS runs are not a multiple of the {data} data shards')
  betas = ais.resolve_betas(betas)
  log_weights, log_z_base = ais_runs(mesh)(
      sampling.keyed(key, rng), state, jnp.asarray(betas, state.W.dtype),
      jnp.asarray(base_visible_bias), num_runs=num_runs,
      label_units=label_units)
  return ais.summarise(log_weights, log_z_base)


# Several hosts.
# Variables that name a multi-process launch: JAX's own
# (jax.distributed.initialize reads them), a TPU pod slice, SLURM, Open MPI.
_COORDINATOR_VARIABLES = ('JAX_COORDINATOR_ADDRESS', 'COORDINATOR_ADDRESS')


def _launched_on_several_processes(env) -> bool:
  if any(env.get(v) for v in _COORDINATOR_VARIABLES):
    return True
  if ',' in env.get('TPU_WORKER_HOSTNAMES', ''):
    return True
  for count in ('SLURM_NTASKS', 'OMPI_COMM_WORLD_SIZE'):
    if int(env.get(count, '1') or 1) > 1:
      return True
  return False


def initialize(env=None) -> bool:
  """``jax.distributed.initialize()`` on a multi-process launch, else nothing.

  Call it first thing in an entry point, before any JAX computation. It
  starts the distributed runtime when the environment names several
  processes: ``JAX_COORDINATOR_ADDRESS`` (host:port of process 0) with
  ``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID`` (passed on), or a TPU pod
  slice, SLURM or Open MPI with more than one task (JAX detects the rest) and does nothing on a single host,
  so a plain CPU run never fails here.

  Returns:
    Whether the runtime was started.
  """
  env = os.environ if env is None else env
  if not _launched_on_several_processes(env):
    return False
  if jax.config.jax_platforms in ('cpu',) or env.get('JAX_PLATFORMS') == 'cpu':
    # Cross-process collectives on CPU need gloo.
    jax.config.update('jax_cpu_collectives_implementation', 'gloo')
  # JAX reads the coordinator's address itself, the process count and index
  # only from a cluster it detects (TPU, SLURM, MPI): pass ours if given.
  numbers = {name: int(env[variable]) for name, variable in (
      ('num_processes', 'JAX_NUM_PROCESSES'), ('process_id', 'JAX_PROCESS_ID'))
             if env.get(variable)}
  jax.distributed.initialize(**numbers)
  return True


def is_writer() -> bool:
  """True on the one process that writes checkpoints, metrics and records."""
  return jax.process_index() == 0


def global_batch(local_rows, mesh: jax.sharding.Mesh, axis: str = DATA_AXIS,
                 spec: P | None = None, global_shape=None):
  """A global (N, ...) array, rows over ``axis``, from this host's rows.

  Each process passes the rows it loaded (its contiguous share, in process
  order: :func:`local_slice`); on one process this is just ``device_put``
  with the sharding. ``spec`` replaces ``P(axis)`` (e.g. ``P(None, 'data')``
  for (steps, B, V) minibatches).
  """
  return jax.make_array_from_process_local_data(
      NamedSharding(mesh, P(axis) if spec is None else spec), local_rows,
      global_shape)


def local_slice(sharding: NamedSharding, shape, dim: int) -> slice:
  """The indices along ``dim`` of a global ``shape`` that this process's
  devices hold under ``sharding`` (one contiguous block)."""
  parts = [index[dim].indices(shape[dim]) for index in
           sharding.addressable_devices_indices_map(tuple(shape)).values()]
  return slice(min(p[0] for p in parts), max(p[1] for p in parts))


def host_minibatches(key: jax.Array, x, batch_size: int,
                     mesh: jax.sharding.Mesh) -> jax.Array:
  """An epoch's minibatches (steps, B, V) over ``'data'``, each host loading
  only its rows.

  The order is :func:`ncg.data.epoch_batches`'s (the permutation of
  ``split(key)[0]``, as :func:`ncg.train.run_epoch` draws it), computed on
  every host; each host gathers from its copy of ``x`` (N, V) (host memory)
  the B / hosts rows of every minibatch that its devices hold, and
  ``jax.make_array_from_process_local_data`` assembles the global array:
  equal to ``epoch_batches(split(key)[0], x, B)`` on one process.
  """
  key_order = jax.random.split(key)[0]
  n, features = x.shape
  steps = n // batch_size
  order = np.asarray(jax.random.permutation(key_order, n))
  order = order[:steps * batch_size].reshape(steps, batch_size)
  shape = (steps, batch_size, features)
  spec = P(None, DATA_AXIS)
  rows = local_slice(NamedSharding(mesh, spec), shape, 1)
  local = np.asarray(x)[order[:, rows]]
  return global_batch(local, mesh, spec=spec, global_shape=shape)


def save_sharded(path: str, tree) -> None:
  """Writes a (sharded) pytree with orbax: each host writes its own shards.

  Every process must call it (orbax coordinates the hosts); ``path`` must
  be absolute and not exist yet.
  """
  import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top
  with ocp.StandardCheckpointer() as checkpointer:
    checkpointer.save(path, tree)


def restore_sharded(path: str, like):
  """Reads :func:`save_sharded`'s tree laid out like ``like``.

  ``like`` is a pytree of arrays (or ``jax.ShapeDtypeStruct`` with a
  ``sharding``) of the saved structure; each restored array gets its
  sharding, so a population restores straight onto its ``'member'`` mesh.
  """
  import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top
  abstract = jax.tree.map(
      lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=a.sharding),
      like)
  with ocp.StandardCheckpointer() as checkpointer:
    return checkpointer.restore(path, abstract)

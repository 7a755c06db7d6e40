"""Sharded runs on 8 (forced host) devices equal the single-device run.

One subprocess checks: a population over 'member' with each minibatch over
'data' on a 2 x 4 mesh (parameters replicated over 'data', the batch sums
all-reduced by XLA); AIS runs over 'data'; the sharded population saved and
restored by orbax.

The multi-host start-up runs as two local processes (JAX allows
jax.distributed on CPU with gloo collectives), at the same time: a global
array, per-host minibatches equal to one process's, and a shared workdir
that process 0 alone writes (both resume from it). Subprocesses:
the device count is fixed when JAX starts, and the rest of the suite runs on
one device with float64 on.
"""

import os
import socket
import subprocess
import sys

from ncg import distributed

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCRIPT = r'''
import os, sys, tempfile
import jax, jax.numpy as jnp, numpy as np
from ncg import distributed, estimators, rbm, sampling, train
assert jax.device_count() == 8, jax.devices()


def close(a_tree, b_tree, rtol=2e-6, atol=2e-7):
  # Same arithmetic and random numbers; XLA orders a sharded (or batched)
  # matmul's sums differently, so float32 rounding (1-2 ulp) is the only
  # difference.
  for a, b in zip(jax.tree.leaves(a_tree), jax.tree.leaves(b_tree)):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


# NCG with PCD (chains carried, so they are sharded too). RigL (its rewiring
# branch) passed the same checks (commit 249edd5) but costs ~5 s more
# compile time than CI affords.
config = train.TrainConfig(k=1, persistent=True, connectivity='ncg',
                           learning_rate=0.1)
x = jax.random.bernoulli(jax.random.key(0), 0.3, (40, 12)).astype(jnp.float32)
M, B = 3, 8  # 3 members padded to 4 on a 2 x 4 mesh
states = jax.vmap(lambda k: rbm.init(k, 12, 6, density=0.5))(
    jax.random.split(jax.random.key(1), M))
trainer = train.make_trainer(config)
opts = jax.vmap(trainer.init, in_axes=(0, 0, None))(
    states, jax.random.split(jax.random.key(2), M), B)
keys = jax.random.split(jax.random.key(3), M)
epoch = train.make_epoch(config, B, population=True)
whole = epoch(states, opts, x, keys)
assert int(np.asarray(whole[2].added).sum()) > 0  # masks change

# 1. Members over 'member' and each minibatch over 'data': a 2 x 4 mesh.
mesh = distributed.make_mesh(2, 4)
assert distributed.padded_size(M, mesh) == 4
sharded = distributed.data_parallel(config, B, mesh, population=True)
compiled = sharded.lower(states, opts, x, keys).compile()
text = compiled.as_text()
assert 'num_partitions=8' in text.replace(' ', ''), 'not partitioned'
assert 'all-reduce' in text, 'no cross-device reduction of the batch sums'
# Per device: 2 of the 4 (padded) members, 2 of the 8 rows of a minibatch.
assert 'f32[2,2,12]' in text, 'PCD chains not split over member x data'
out = compiled(states, opts, x, keys)
close(whole, out)
np.testing.assert_array_equal(rbm.mask(whole[0]), rbm.mask(out[0]))

# 2. AIS of member 0 with its runs over the 8 'data' devices of a 1 x 8 mesh.
first = lambda tree: jax.tree.map(lambda a: a[0], tree)
mesh_data = distributed.make_mesh(1, 8)
betas = estimators.ais_betas(40)
b_a = rbm.base_rate_visible_bias(x)
model = first(whole[0])
runs = distributed.ais_runs(mesh_data).lower(
    sampling.keyed(jax.random.key(4), 'hash'), model, jnp.asarray(betas, jnp.float32), b_a,
    num_runs=16, label_units=0).compile().as_text()
assert 'f32[2,12]' in runs, 'AIS chains not split (16 / 8 = 2 per device)'
single = estimators.ais_log_partition(jax.random.key(4), model, num_runs=16,
                                      betas=betas, base_visible_bias=b_a)
close(single, distributed.sharded_ais(mesh_data, jax.random.key(4), model,
                                      num_runs=16, betas=betas,
                                      base_visible_bias=b_a),
      rtol=1e-6, atol=1e-5)

# 3. The sharded population state through orbax and back, still sharded.
path = os.path.join(tempfile.mkdtemp(), 'population')
distributed.save_sharded(path, out)
back = distributed.restore_sharded(path, out)
close(out, back, rtol=0, atol=0)
assert back[0].W.sharding == out[0].W.sharding, back[0].W.sharding
print('ok')
'''


# Two processes of one device each on this host, through jax.distributed
# (gloo collectives on CPU): start-up, a global array from each process's rows,
# a cross-process sum, and one writer.
MULTI_HOST = r'''
import jax, jax.numpy as jnp, numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P
from ncg import distributed
assert distributed.initialize()
assert jax.process_count() == 2 and jax.device_count() == 2
mesh = distributed.make_mesh(1, 2)
rows = np.full((2, 3), jax.process_index() + 1, np.float32)
x = distributed.global_batch(rows, mesh)  # (4, 3): 1s from process 0, 2s from 1
assert x.shape == (4, 3)
total = jax.jit(jnp.sum, out_shardings=NamedSharding(mesh, P()))(x)
assert float(total) == 18.0, float(total)
assert distributed.is_writer() == (jax.process_index() == 0)
me = jax.process_index()

# Per-host loading: each process gathers its half of every minibatch; the
# global minibatches are one process's epoch_batches.
from ncg import data
xs = np.asarray(jax.random.bernoulli(jax.random.key(0), 0.3, (21, 5)),
                np.float32)
key = jax.random.key(7)
got = distributed.host_minibatches(key, xs, 4, mesh)
want = np.asarray(data.epoch_batches(jax.random.split(key)[0],
                                     jnp.asarray(xs), 4))
assert got.shape == want.shape == (5, 4, 5), (got.shape, want.shape)
(shard,) = got.addressable_shards
assert shard.data.shape == (5, 2, 5)
np.testing.assert_array_equal(np.asarray(shard.data), want[shard.index])

# A shared workdir: process 0 alone writes config.json, metrics, JSON,
# figures and the model; both save the orbax checkpoint (orbax writes the
# replicated array once) and both resume from process 0's files.
import os
import ml_collections
from jax.experimental import multihost_utils
from experiments import figures, workdir as wd
from ncg import checkpoint
workdir = os.environ['SHARED_WORKDIR']
wd.prepare(workdir, ml_collections.ConfigDict({'train': {'seed': 0}}))
wd.append_metrics(workdir, {'epoch': 1, 'process': me})
wd.write_json(workdir, 'summary.json', {'process': me})
figures.line_plot(wd.figure_path(workdir, f'p{me}.png'), [0, 1], {'a': [0, 1]})
tree = {'w': jax.device_put(np.arange(4, dtype=np.float32),
                            NamedSharding(mesh, P()))}
wd.save_checkpoint(wd.checkpoint_manager(workdir), 1, tree)
if distributed.is_writer():  # alone: orbax must not wait for process 1
  checkpoint.save(os.path.join(workdir, 'model'), {'w': np.arange(3.0)})
multihost_utils.sync_global_devices('written')
assert wd.read_metrics(workdir) == [{'epoch': 1, 'process': 0}]
assert wd.prepare(workdir, ml_collections.ConfigDict({'train': {'seed': 0}}))
step, back = wd.restore_checkpoint(wd.checkpoint_manager(workdir), tree)
assert step == 1
np.testing.assert_array_equal(np.asarray(back['w']), np.arange(4))
print('ok', me)
'''


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(('localhost', 0))
    return s.getsockname()[1]


def test_sharded_over_eight_devices_and_two_processes(tmp_path):
  """Both launches run at once (one wall time): the 8-device script and the
  two processes (start-up, per-host minibatches, one writer of a shared
  workdir)."""
  base = dict(os.environ, JAX_PLATFORMS='cpu')
  # Only conftest's optimisation level of the caller's XLA flags is kept.
  flags = base['XLA_FLAGS'] = ' '.join(
      f for f in base.get('XLA_FLAGS', '').split()
      if f.startswith('--xla_backend_optimization_level'))
  launch = lambda script, env: subprocess.Popen(
      [sys.executable, '-c', script], cwd=ROOT, env=env, text=True,
      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
  eight = launch(SCRIPT, dict(
      base, XLA_FLAGS=f'{flags} --xla_force_host_platform_device_count=8'))
  port = _free_port()
  hosts = [launch(MULTI_HOST, dict(
      base, JAX_COORDINATOR_ADDRESS=f'localhost:{port}',
      JAX_NUM_PROCESSES='2', JAX_PROCESS_ID=str(i),
      SHARED_WORKDIR=str(tmp_path / 'run'))) for i in range(2)]
  results = [(p, *p.communicate(timeout=300)) for p in [eight] + hosts]
  for p, out, err in results:
    assert p.returncode == 0 and 'ok' in out, err[-3000:]
  run = tmp_path / 'run'
  assert (run / 'summary.json').read_text().split() == [
      '{', '"process":', '0', '}']
  assert sorted(os.listdir(run / 'figures')) == ['p0.png']
  assert (run / 'model' / 'metadata.json').is_file()
  assert os.listdir(run / 'checkpoints') == ['1']
  # A single process never starts the runtime.
  assert not distributed.initialize({})

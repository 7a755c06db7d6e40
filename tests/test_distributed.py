"""A population sharded over 8 (forced host) devices equals the unsharded one.

Runs in a subprocess: the device count is fixed when JAX starts, and the rest
of the suite runs on one device with float64 on.
"""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCRIPT = r'''
import jax, jax.numpy as jnp, numpy as np
from ncg import distributed, rbm, train
assert jax.device_count() == 8, jax.devices()
config = train.TrainConfig(k=1, connectivity='rigl', rewire_every=2,
                           rewire_until=8, learning_rate=0.1)
x = jax.random.bernoulli(jax.random.key(0), 0.3, (40, 12)).astype(jnp.float32)
M = 3  # padded to 8 on the mesh
states = jax.vmap(lambda k: rbm.init(k, 12, 6, density=0.5))(
    jax.random.split(jax.random.key(1), M))
trainer = train.make_trainer(config)
opts = jax.vmap(trainer.init, in_axes=(0, 0, None))(
    states, jax.random.split(jax.random.key(2), M), 10)
keys = jax.random.split(jax.random.key(3), M)
epoch = train.make_epoch(config, 10, population=True)
mesh = distributed.member_mesh()
assert distributed.padded_size(M, mesh) == 8
lowered = jax.jit(distributed.shard_members(epoch, mesh)).lower(
    states, opts, x, keys).as_text()
assert 'mhlo.num_partitions = 8' in lowered, 'not partitioned'
assert 'sdy.sharding_constraint' in lowered and '{"member"}' in lowered
whole = epoch(states, opts, x, keys)
out = distributed.shard_members(epoch, mesh)(states, opts, x, keys)
for a, b in zip(jax.tree.leaves(whole), jax.tree.leaves(out)):
  a, b = np.asarray(a), np.asarray(b)
  assert a.shape == b.shape, (a.shape, b.shape)
  # Same arithmetic per member; XLA may order a batched matmul's sums
  # differently, so float32 rounding (1-2 ulp) is the only difference.
  np.testing.assert_allclose(a, b, rtol=2e-6, atol=2e-7)
np.testing.assert_array_equal(rbm.mask(whole[0]), rbm.mask(out[0]))
assert int(np.asarray(whole[2].added).sum()) > 0
print('ok')
'''


def test_population_sharded_over_eight_devices_equals_one_device():
  env = dict(os.environ, XLA_FLAGS='--xla_force_host_platform_device_count=8',
             JAX_PLATFORMS='cpu')
  result = subprocess.run([sys.executable, '-c', SCRIPT], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
  assert result.returncode == 0 and 'ok' in result.stdout, result.stderr[-3000:]

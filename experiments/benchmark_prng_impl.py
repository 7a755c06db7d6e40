r"""Probe: the hash generator as a JAX PRNG implementation (issue 12 item 5).

    python -m experiments.benchmark_prng_impl     # ~1 min on 2 CPU cores

Defines ``ncg_hash`` with ``jax.extend.random.define_prng_impl``: key data are
two uint32 words (as threefry's), ``seed``/``split``/``fold_in`` are threefry's,
and ``random_bits(key, 32, shape)`` is :mod:`ncg.sampling`'s counter hash of
the row-major index, mix(mix(i·φ + k₀) ⊕ k₁). Then times, in one run with 7
interleaved rounds (medians and ranges), ns per Bernoulli draw of a 500 × 784
layer (20 layers scanned in one jitted call) for: threefry through
``jax.random.uniform``; the project's hash through ``sampling.uniform(...,
rng='hash')``; and the hash implementation through plain
``jax.random.uniform(jax.random.key(seed, impl=...))``. It also checks the
implementation's uniforms (mean ½, variance 1/12 on 10⁶ draws) and that keys
split and vmap. A probe, not adopted: BENCHMARKS.md says why.
"""

from __future__ import annotations

import os
import time

import jax
from jax.extend import random as jex_random
import jax.numpy as jnp
import numpy as np

from ncg import sampling

SHAPE = (500, 784)
DRAWS = 20


def _threefry(words: jax.Array) -> jax.Array:
  return jax.random.wrap_key_data(words, impl='threefry2x32')


def _random_bits(words: jax.Array, bit_width: int, shape) -> jax.Array:
  """32-bit hash words of the row-major index (bit_width 32 only)."""
  if bit_width != 32:
    raise NotImplementedError(f'bit_width {bit_width}')
  size = int(np.prod(shape))
  index = jax.lax.iota(jnp.uint32, size).reshape(shape)
  x = sampling._mix32(index * jnp.uint32(0x9E3779B9) + words[0])  # pylint: disable=protected-access
  return sampling._mix32(x ^ words[1])  # pylint: disable=protected-access


HASH_IMPL = jex_random.define_prng_impl(
    key_shape=(2,),
    seed=lambda seed: jax.random.key_data(jax.random.key(seed)),
    split=lambda words, shape: jax.random.key_data(
        jax.random.split(_threefry(words), shape)),
    random_bits=_random_bits,
    fold_in=lambda words, data: jax.random.key_data(
        jax.random.fold_in(_threefry(words), data)),
    name='ncg_hash')


def draw_case(make_key, draw):
  """Jitted seed → sum of DRAWS Bernoulli(0.3) layers of SHAPE."""
  probs = jnp.full(SHAPE, 0.3, jnp.float32)

  @jax.jit
  def run(seed):
    def body(total, i):
      key = jax.random.fold_in(make_key(seed), i)
      return total + jnp.sum(draw(key) < probs), None
    return jax.lax.scan(body, jnp.float32(0), jnp.arange(DRAWS))[0]
  return run


def main() -> None:
  cases = {
      'threefry, jax.random.uniform': draw_case(
          jax.random.key, lambda k: jax.random.uniform(k, SHAPE)),
      "hash, sampling.uniform(rng='hash')": draw_case(
          jax.random.key, lambda k: sampling.uniform(k, SHAPE, rng='hash')),
      'hash as PRNG impl, jax.random.uniform': draw_case(
          lambda s: jax.random.key(s, impl=HASH_IMPL),
          lambda k: jax.random.uniform(k, SHAPE)),
  }
  print(f'load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs')
  for run in cases.values():
    jax.block_until_ready(run(0))
  times = {name: [] for name in cases}
  for round_ in range(7):
    for name, run in cases.items():
      began = time.perf_counter()
      for _ in range(5):
        jax.block_until_ready(run(round_))
      times[name].append((time.perf_counter() - began) / 5 / DRAWS
                         / np.prod(SHAPE) * 1e9)
  for name, ns in times.items():
    print(f'{name:>40}: {np.median(ns):6.2f} ns/draw '
          f'({min(ns):.2f}–{max(ns):.2f})')
  key = jax.random.key(3, impl=HASH_IMPL)
  u = np.asarray(jax.random.uniform(key, (1_000_000,)))
  split = jax.vmap(lambda k: jax.random.uniform(k, (3,)))(
      jax.random.split(key, 4))
  print(f'hash impl uniforms: mean {u.mean():.4f} (0.5), variance '
        f'{u.var():.4f} (0.0833); split + vmap: {split.shape}')
  print(f'load average {os.getloadavg()[0]:.2f}')


if __name__ == '__main__':
  main()

r"""Benchmark: AIS on a 784×500 RBM, 100 runs, the full 14,501-temperature schedule.

    python -m experiments.benchmark_ais            # prints one JSON line

Reports the wall time of one AIS estimate (compiled beforehand) and its matrix
FLOP/s as a fraction of the machine's peak float32 matmul FLOP/s, measured in
the same process just before. FLOPs counted: the two products v(W ⊙ A) and
h(W ⊙ A)ᵀ per transition, 2·M·V·H each — (2K − 3)·2·M·V·H for K temperatures
(K − 2 transitions with both products, and the final weight update's v(W ⊙ A)).
Elementwise work and random numbers are not counted: they are the overhead
that the fraction of peak measures.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp

from ncg import ais
from ncg import ais_kernels
from ncg import rbm
from ncg import sampling

NAME = 'ais_784x500_r100'
NUM_VISIBLE, NUM_HIDDEN, NUM_RUNS = 784, 500, 100


def best_seconds(fn: Callable[[], Any], repeats: int = 5) -> float:
  """Best wall time of ``repeats`` calls of ``fn`` (after one warm-up call)."""
  jax.block_until_ready(fn())
  best = float('inf')
  for _ in range(repeats):
    began = time.perf_counter()
    jax.block_until_ready(fn())
    best = min(best, time.perf_counter() - began)
  return best


def peak_matmul_gflops(size: int = 2048, repeats: int = 10) -> float:
  """Best float32 GFLOP/s of a size×size matmul (2·size³ FLOPs per product)."""
  a = jax.random.normal(jax.random.key(0), (size, size), jnp.float32)
  b = jax.random.normal(jax.random.key(1), (size, size), jnp.float32)
  matmul = jax.jit(jnp.matmul)
  return 2 * size ** 3 / best_seconds(lambda: matmul(a, b), repeats) / 1e9


def benchmark_state(key: jax.Array) -> rbm.RBMState:
  """A 784×500 RBM with MNIST-like scales (weights N(0, 0.05²), b = −2)."""
  state = rbm.init(key, NUM_VISIBLE, NUM_HIDDEN, weight_init='normal',
                   weight_scale=0.05)
  return state._replace(b=jnp.full((NUM_VISIBLE,), -2.0, jnp.float32))


def ais_case(peak_gflops: float, num_temperatures: int | None = None,
             rng: str = 'hash') -> dict[str, Any]:
  """Times one AIS estimate; returns name, seconds, gflops, fraction_of_peak.

  Args:
    peak_gflops: the machine's peak float32 matmul GFLOP/s.
    num_temperatures: None for the full 14,501 (the benchmark); fewer for a
      quick check (the name then says so).
    rng: the AIS generator (a name of ncg.sampling.IMPLS).
  """
  state = benchmark_state(jax.random.key(0))
  betas = ais.betas(num_temperatures)
  k = len(betas)
  args = (sampling.keyed(jax.random.key(1), rng), state, jnp.asarray(betas, jnp.float32),
          jnp.zeros((NUM_VISIBLE,), jnp.float32))
  compiled = ais_kernels.bernoulli_log_weights.lower(
      *args, num_runs=NUM_RUNS, label_units=0).compile()
  began = time.perf_counter()
  log_weights, log_z_base = compiled(*args)
  jax.block_until_ready(log_weights)
  seconds = time.perf_counter() - began
  flops = (2 * k - 3) * 2 * NUM_RUNS * NUM_VISIBLE * NUM_HIDDEN
  gflops = flops / seconds / 1e9
  result = ais.summarise(log_weights, log_z_base)
  name = NAME if num_temperatures is None else f'{NAME}_t{k}'
  return {'name': name, 'seconds': seconds, 'gflops': gflops,
          'fraction_of_peak': gflops / peak_gflops,
          'peak_gflops': peak_gflops, 'temperatures': k, 'runs': NUM_RUNS,
          'rng': rng, 'log_z': float(result.log_z)}


def main() -> None:
  """Peak before and after the AIS run; the fraction uses the larger one.

  The 1-minute load average is printed too: on a shared machine both the
  peak and the AIS time move with other processes' load.
  """
  before = peak_matmul_gflops()
  result = ais_case(before)
  after = peak_matmul_gflops()
  peak = max(before, after)
  result.update(peak_gflops=peak, fraction_of_peak=result['gflops'] / peak,
                peak_gflops_before=before, peak_gflops_after=after,
                load_average_1min=os.getloadavg()[0])
  print(json.dumps(result))


if __name__ == '__main__':
  if sys.argv[1:]:  # no flags: a usage error, as in every entry point
    print(f'error: unexpected arguments: {" ".join(sys.argv[1:])} '
          '(python -m experiments.benchmark_ais takes none)', file=sys.stderr)
    sys.exit(2)
  main()

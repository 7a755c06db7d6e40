r"""Speed of the NCG train step as a fraction of the machine's peak matmul rate.

    python -m experiments.benchmark --json

Measures, in one run: the peak float32 matmul FLOP/s (a large square jitted
matmul, best of several), then CD-k epochs of a 784×500 NCG-RBM scanned on the
device at several batch sizes. A CD-k step does 2k + 3 matmuls of 2·B·V·H
FLOPs each (data hidden probabilities; 2k − 1 in the chain, whose first
hidden sample reuses the data's; the negatives' hidden probabilities; and G as
one matmul over the stacked positive and negative batch, counted as two). The
last line with ``--json`` is one JSON object for tracking runs:

    {"peak_matmul_gflops": ..., "cases": [{"name": "ncg_cd10_b50",
      "examples_per_s": ..., "fraction_of_peak": ...}, ...]}
"""

from __future__ import annotations

import itertools
import json
import os
import time

from absl import app
from absl import flags
from absl import logging
import jax
import jax.numpy as jnp

from experiments import workdir as workdir_lib
from ncg import rbm
from ncg import train

_JSON = flags.DEFINE_bool('json', False, 'End with one JSON line of the figures.')
_PEAK_SIZE = flags.DEFINE_integer('peak_size', 2048, 'Side of the peak matmul.')
_MIN_SECONDS = flags.DEFINE_float('min_seconds', 2.0,
                                  'Minimum timed seconds per case.')
_BATCHES = flags.DEFINE_list('batch_sizes', ['50', '500'], 'Batch sizes to time.')
_K = flags.DEFINE_integer('k', 10, 'Gibbs sweeps of the timed CD-k step.')
_AIS = flags.DEFINE_bool('ais', True, 'Also time AIS (experiments.benchmark_ais).')


def best_seconds(fn, min_seconds: float, repeats: int = 3) -> float:
  """Best of ``repeats`` timings of fn() (already compiled), each ≥ min_seconds/3."""
  jax.block_until_ready(fn())  # warm up
  best = float('inf')
  for _ in range(repeats):
    calls, began = 0, time.perf_counter()
    while True:
      jax.block_until_ready(fn())
      calls += 1
      elapsed = time.perf_counter() - began
      if elapsed >= min_seconds / repeats:
        break
    best = min(best, elapsed / calls)
  return best


def peak_matmul_gflops(size: int = 2048, min_seconds: float = 2.0) -> float:
  """float32 GFLOP/s of a jitted size×size matmul (2·n³ FLOPs)."""
  a = jax.random.normal(jax.random.key(0), (size, size), jnp.float32)
  b = jax.random.normal(jax.random.key(1), (size, size), jnp.float32)
  matmul = jax.jit(lambda a, b: a @ b)
  return 2 * size ** 3 / best_seconds(lambda: matmul(a, b), min_seconds) / 1e9


def cd_case(name: str, batch_size: int, k: int, peak_gflops: float,
            num_visible: int = 784, num_hidden: int = 500,
            min_seconds: float = 2.0, connectivity: str = 'ncg',
            rng: str = 'hash') -> dict:
  """Times scanned CD-k epochs of a V×H RBM on random binary data."""
  num_batches = max(4, 2000 // batch_size)
  x = (jax.random.uniform(jax.random.key(0), (num_batches * batch_size,
                                                num_visible)) < 0.13
       ).astype(jnp.float32)
  config = train.TrainConfig(k=k, connectivity=connectivity, rng=rng)
  state = rbm.init(jax.random.key(1), num_visible, num_hidden, density=0.5)
  opt_state = train.make_trainer(config).init(state, jax.random.key(2), batch_size)
  epoch = train.make_epoch(config, batch_size)
  seconds = best_seconds(lambda: epoch(state, opt_state, x, jax.random.key(3)),
                         min_seconds)
  flops = num_batches * (2 * k + 3) * 2 * batch_size * num_visible * num_hidden
  gflops = flops / seconds / 1e9
  return {'name': name, 'examples_per_s': num_batches * batch_size / seconds,
          'gflops': gflops, 'fraction_of_peak': gflops / peak_gflops}


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  peak = peak_matmul_gflops(_PEAK_SIZE.value, _MIN_SECONDS.value)
  print(f'peak float32 matmul ({_PEAK_SIZE.value}²): {peak:.1f} GFLOP/s '
        f'on {jax.devices()[0].device_kind}')
  cases = []
  for batch_size, rng in itertools.product(map(int, _BATCHES.value),
                                           ('hash', 'threefry')):
    suffix = '' if rng == 'hash' else '_threefry'  # the default trainer's first
    case = cd_case(f'ncg_cd{_K.value}_b{batch_size}{suffix}', batch_size,
                   _K.value, peak, min_seconds=_MIN_SECONDS.value, rng=rng)
    cases.append(case)
    print(f'{case["name"]:>20}: {case["examples_per_s"]:9.0f} examples/s, '
          f'{case["gflops"]:6.1f} GFLOP/s = {case["fraction_of_peak"]:.0%} of peak')
  if _AIS.value:
    try:
      from experiments import benchmark_ais  # pylint: disable=g-import-not-at-top
    except ImportError:
      benchmark_ais = None
    if benchmark_ais is not None:
      case = benchmark_ais.ais_case(peak)
      cases.append(case)
      print(f'{case["name"]:>20}: {case["seconds"]:.1f} s, '
            f'{case["gflops"]:6.1f} GFLOP/s = {case["fraction_of_peak"]:.0%} of peak')
  # A busy machine depresses the peak more than the cases: take the larger of
  # two peak measurements, before and after, and recompute the fractions.
  peak_after = peak_matmul_gflops(_PEAK_SIZE.value, _MIN_SECONDS.value)
  if peak_after > peak:
    print(f'peak measured again after the cases: {peak_after:.1f} GFLOP/s '
          '(fractions below use it)')
    peak = peak_after
    for case in cases:
      case['fraction_of_peak'] = case['gflops'] / peak
  load = os.getloadavg()[0]
  print(f'load average during the run: {load:.2f} (on {os.cpu_count()} CPUs)')
  if _JSON.value:
    print(json.dumps({'peak_matmul_gflops': peak, 'load_average': load,
                      'cases': cases}))


def cli():
  """The ``ncg-benchmark`` console script (and ``python -m``)."""
  app.run(workdir_lib.clean_errors(main), flags_parser=workdir_lib.parse_flags)


if __name__ == '__main__':
  cli()

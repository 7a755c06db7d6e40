r"""Benchmark: the Gibbs chains' random numbers, per generator, on this backend.

    python -m experiments.benchmark_rng [--rounds=7]     # last line: JSON

Times, in one run with the rounds interleaved (every case once per round;
medians and ranges reported), four sources of the chains' uniforms:

* ``threefry``: JAX's default (``jax.random.key(seed)``), ``rng='threefry'``;
* ``rbg`` and ``unsafe_rbg``: JAX's own alternatives, ``rng='rbg'`` /
  ``'unsafe_rbg'`` (the trainer re-types its keys to the named PRNG
  implementation, :func:`ncg.sampling.keyed`);
* ``hash``: the project's counter-based hash (:data:`ncg.sampling.HASH`, a
  JAX PRNG implementation; ``rng='hash'``; its two key words per call come
  from threefry).

Two measures per generator: (1) ns per Bernoulli draw of a (B, V) = (500, 784)
layer, 20 draws scanned inside one jitted call (draw, compare, reduce: what a
half-sweep adds besides its matmul), and (2) a CD-10 epoch of the 784×500
NCG-RBM at B = 50 and 500 (examples/s), the end-to-end effect. The default
``TrainConfig.rng`` follows the fastest CD-10 on the backend measured
(BENCHMARKS.md records the figures and the machine).
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from ncg import rbm
from ncg import sampling
from ncg import train

# the generators by their TrainConfig.rng names
GENERATORS = ('threefry', 'rbg', 'unsafe_rbg', 'hash')
DRAW_SHAPE, DRAWS = (500, 784), 20


def draw_case(rng: str) -> Callable[[], Any]:
  """A jitted call of DRAWS Bernoulli(0.13) layers of DRAW_SHAPE (a sum)."""
  probs = jnp.full(DRAW_SHAPE, 0.13, jnp.float32)

  @jax.jit
  def draws(key):
    def body(total, k):
      return total + jnp.sum(sampling.bernoulli(k, probs)), None
    total, _ = jax.lax.scan(body, jnp.zeros((), jnp.float32),
                            jax.random.split(key, DRAWS))
    return total
  key = sampling.keyed(jax.random.key(0), rng)
  return lambda: draws(key)


def cd_epoch_case(rng: str, batch_size: int, k: int = 10
                  ) -> Callable[[], Any]:
  """A jitted CD-k epoch (2,000 random binary examples) of a 784×500 NCG-RBM."""
  num = 2000 // batch_size * batch_size
  x = (jax.random.uniform(jax.random.key(0), (num, 784)) < 0.13).astype(
      jnp.float32)
  config = train.TrainConfig(k=k, rng=rng)
  state = rbm.init(jax.random.key(1), 784, 500, density=0.5)
  opt_state = train.make_trainer(config).init(
      state, jax.random.key(2), batch_size)
  epoch = train.make_epoch(config, batch_size)
  key = jax.random.key(3)
  return lambda: epoch(state, opt_state, x, key)


def interleaved(cases: dict[str, Callable[[], Any]], rounds: int
                ) -> dict[str, list[float]]:
  """Seconds of every case per round, the cases run in turn each round."""
  for fn in cases.values():
    jax.block_until_ready(fn())  # compile and warm up
  seconds = {name: [] for name in cases}
  for _ in range(rounds):
    for name, fn in cases.items():
      began = time.perf_counter()
      jax.block_until_ready(fn())
      seconds[name].append(time.perf_counter() - began)
  return seconds


def rng_cases(rounds: int = 7, batch_sizes=(50, 500)) -> list[dict[str, Any]]:
  """Every generator's draw cost and CD-10 throughput (medians, ranges)."""
  cases, units = {}, {}
  elements = DRAWS * DRAW_SHAPE[0] * DRAW_SHAPE[1]
  for name in GENERATORS:
    cases[f'draw_{name}'] = draw_case(name)
    units[f'draw_{name}'] = ('ns_per_draw', lambda s: s / elements * 1e9)
    for b in batch_sizes:
      cases[f'cd10_b{b}_{name}'] = cd_epoch_case(name, b)
      units[f'cd10_b{b}_{name}'] = ('examples_per_s',
                                    lambda s, b=b: 2000 // b * b / s)
  seconds = interleaved(cases, rounds)
  out = []
  for name, times in seconds.items():
    unit, convert = units[name]
    values = sorted(convert(s) for s in times)
    out.append({'name': name, unit: float(np.median(values)),
                'range': [values[0], values[-1]], 'rounds': rounds})
  return out


def main() -> None:
  rounds = 7
  for arg in sys.argv[1:]:
    if not arg.startswith('--rounds='):
      print(f'error: unexpected argument {arg!r} (python -m '
            'experiments.benchmark_rng takes only --rounds=N)', file=sys.stderr)
      sys.exit(2)
    rounds = int(arg.split('=', 1)[1])
  load_before = os.getloadavg()[0]
  results = rng_cases(rounds)
  for r in results:
    unit = 'ns_per_draw' if 'ns_per_draw' in r else 'examples_per_s'
    low, high = r['range']
    print(f'{r["name"]:>22}: {r[unit]:10.2f} {unit} ({low:.2f}–{high:.2f})')
  print(json.dumps({'backend': jax.default_backend(),
                    'device_kind': jax.devices()[0].device_kind,
                    'jax': jax.__version__, 'cpus': os.cpu_count(),
                    'load_average_before_after': [load_before,
                                                  os.getloadavg()[0]],
                    'cases': results}))


if __name__ == '__main__':
  main()

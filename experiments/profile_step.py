r"""Where a train step's time goes: XLA's per-operation profile, by kind of work.

    python -m experiments.profile_step [--cases=cd1_b50,pcd1_b50,...,ais]

For each case (CD-k or PCD-k of the 784×500 NCG-RBM at a batch size; default
CD-1, PCD-1 and CD-10 at B = 50 and 500; ``ais``: AIS on the benchmark's
784×500 RBM, 100 runs, 1,001 temperatures) this compiles the scanned epoch,
records a ``jax.profiler`` trace of a few epochs, and sums each XLA operation's
*self* time (its span minus the spans nested in it on the same thread). Each
operation is put in one class by what its fused computation in the compiled
HLO contains, first match wins:

    matmul       a dot (with whatever XLA fused into it)
    random       unsigned-integer mixing (the hash generator, threefry)
    sigmoid      logistic / exp / log (the conditional probabilities)
    reduction    reduce, reduce-window (sums, counts, means)
    copy         copy, transpose, concatenate, dynamic-update-slice, gather
    control      while, conditional, call (loop bookkeeping)
    elementwise  everything else (masks, updates, clips, compares)

and elementwise, reduction and copy operations that touch a 784×500 array are
marked "V×H" (the per-step passes over weight-shaped arrays).

It prints, per case: ms per step (wall, from the epoch time), ms per step and
share of each class, the top operations, and XLA's cost analysis of the step
(FLOPs, matmul FLOPs by the benchmark's count, bytes accessed). The profile
adds its own overhead; the classes' shares, not their absolute times, are the
finding (BENCHMARKS.md).
"""

from __future__ import annotations

import collections
import glob
import gzip
import json
import re
import shutil
import sys
import tempfile
import time

import jax
import jax.numpy as jnp

from ncg import ais
from ncg import ais_kernels
from ncg import rbm
from ncg import sampling
from ncg import train

DEFAULT_CASES = ('cd1_b50', 'pcd1_b50', 'cd10_b50', 'cd1_b500', 'pcd1_b500',
                 'cd10_b500', 'ais')
CLASSES = (
    ('matmul', re.compile(r'\b(?:dot|convolution)\(')),
    ('random', re.compile(r'u32\[[\d,]*\]\S*\s+(?:multiply|xor|'
                          r'shift-right-logical|shift-left)\(')),
    ('sigmoid', re.compile(r'\b(?:logistic|exponential|log|log-plus-one|tanh)\(')),
    ('reduction', re.compile(r'\breduce(?:-window)?\(')),
    ('copy', re.compile(r'\b(?:copy|transpose|concatenate|dynamic-update-slice|'
                        r'gather|dynamic-slice)\(')),
    ('control', re.compile(r'\b(?:while|conditional|call)\(')),
)
NUM_EXAMPLES = 2000


def parse_case(name: str) -> tuple[int, bool, int]:
  """'pcd1_b50' → (k=1, persistent=True, batch 50)."""
  match = re.fullmatch(r'(p?)cd(\d+)_b(\d+)', name)
  if not match:
    raise ValueError(f'bad case {name!r}: expected like cd1_b50 or pcd10_b500')
  return int(match.group(2)), bool(match.group(1)), int(match.group(3))


def computations(hlo: str) -> tuple[dict[str, str], dict[str, str]]:
  """(instruction name → its line, computation name → its body) of HLO text."""
  lines, bodies, current = {}, {}, None
  for line in hlo.splitlines():
    head = re.match(r'\s*(?:ENTRY\s+)?%?([\w.\-]+)\s.*\{\s*$', line)
    if head and '=' not in line.split('{')[0]:
      current = head.group(1)
      bodies[current] = ''
      continue
    instr = re.match(r'\s*(?:ROOT\s+)?%?([\w.\-]+)\s*=', line)
    if instr and current is not None:
      lines[instr.group(1)] = line
      bodies[current] += line + '\n'
  return lines, bodies


def classify(op: str, lines: dict[str, str], bodies: dict[str, str]) -> str:
  """The class of an HLO operation (see the module docstring)."""
  line = lines.get(op, op)
  text = line
  seen = set()
  todo = re.findall(r'(?:calls|to_apply|body|condition)=%?([\w.\-]+)', line)
  while todo:  # the fused / called computations, recursively
    name = todo.pop()
    if name in seen or name not in bodies:
      continue
    seen.add(name)
    text += bodies[name]
    todo += re.findall(r'(?:calls|to_apply)=%?([\w.\-]+)', bodies[name])
  if re.search(r'=\s*\S+\s+(?:while|conditional)\(', line):
    return 'control'
  for name, pattern in CLASSES:
    if pattern.search(text):
      break
  else:
    name = 'elementwise'
  if name in ('elementwise', 'reduction', 'copy') and re.search(
      r'\[784,500\]|\[500,784\]', text):
    name += ' V×H'  # a pass over a weight-shaped array
  return name


def self_times(events: list[dict]) -> dict[str, float]:
  """Microseconds of each event name minus the events nested in it (per thread)."""
  by_thread = collections.defaultdict(list)
  for e in events:
    if e.get('ph') == 'X' and 'dur' in e:
      by_thread[(e.get('pid'), e.get('tid'))].append(e)
  totals = collections.Counter()
  for evs in by_thread.values():
    evs.sort(key=lambda e: (e['ts'], -e['dur']))
    stack = []  # [end, name, duration, time of the nested events]
    for e in evs:
      while stack and stack[-1][0] <= e['ts']:
        end, name, dur, child = stack.pop()
        totals[name] += dur - child
      if stack:
        stack[-1][3] += e['dur']
      stack.append([e['ts'] + e['dur'], e['name'], e['dur'], 0.0])
    while stack:
      end, name, dur, child = stack.pop()
      totals[name] += dur - child
  return totals


def op_profile(compiled, args, calls: int, steps_per_call: int
               ) -> tuple[float, dict[str, float], dict[str, str]]:
  """(wall ms per step, {op: ms per step of self time}, {op: class}) of a
  compiled function, ``calls`` calls of ``steps_per_call`` steps each."""
  lines, bodies = computations(compiled.as_text())
  jax.block_until_ready(compiled(*args))
  began = time.perf_counter()
  for _ in range(calls):
    jax.block_until_ready(compiled(*args))
  wall = (time.perf_counter() - began) / calls / steps_per_call
  directory = tempfile.mkdtemp(prefix='ncg_profile_')
  try:
    jax.profiler.start_trace(directory, create_perfetto_trace=True)
    for _ in range(calls):
      jax.block_until_ready(compiled(*args))
    jax.profiler.stop_trace()
    trace = sorted(glob.glob(f'{directory}/**/*.trace.json.gz', recursive=True))[-1]
    with gzip.open(trace) as f:
      data = json.load(f)
  finally:
    shutil.rmtree(directory, ignore_errors=True)
  events = data['traceEvents'] if isinstance(data, dict) else data
  totals = self_times(events)
  steps = calls * steps_per_call
  ops = {op: us / steps / 1e3 for op, us in totals.items()
         if op in lines and us > 0}
  return wall * 1e3, ops, {op: classify(op, lines, bodies) for op in ops}


def summarise(name: str, wall_ms: float, ops: dict[str, float],
              kinds: dict[str, str], matmul_flops: float, cost=None) -> dict:
  """The per-class table of :func:`op_profile`'s figures."""
  classes = collections.Counter()
  for op, ms in ops.items():
    classes[kinds[op]] += ms
  if isinstance(cost, list):
    cost = cost[0]
  cost = cost or {}
  return {
      'case': name, 'wall_ms_per_step': wall_ms,
      'profiled_ms_per_step': sum(classes.values()),
      'classes_ms_per_step': dict(classes.most_common()),
      'top_ops': [(op, round(ms, 4), kinds[op])
                  for op, ms in sorted(ops.items(), key=lambda t: -t[1])[:12]],
      'xla_flops': cost.get('flops'), 'matmul_flops': matmul_flops,
      'xla_transcendentals': cost.get('transcendentals'),
      'xla_bytes_accessed': cost.get('bytes accessed'),
  }


def profile_case(name: str, epochs: int = 3) -> dict:
  """Profile of ``epochs`` scanned epochs of one case (see module docstring)."""
  if name == 'ais':
    return profile_ais()
  k, persistent, batch_size = parse_case(name)
  num_steps = NUM_EXAMPLES // batch_size
  x = (jax.random.uniform(jax.random.key(0), (num_steps * batch_size, 784))
       < 0.13).astype(jnp.float32)
  config = train.TrainConfig(k=k, persistent=persistent)
  state = rbm.init(jax.random.key(1), 784, 500, density=0.5)
  trainer = train.make_trainer(config)
  opt_state = trainer.init(state, jax.random.key(2), batch_size)
  epoch = train.make_epoch(config, batch_size)
  args = (state, opt_state, x, jax.random.key(3))
  wall, ops, kinds = op_profile(epoch.lower(*args).compile(), args, epochs,
                                num_steps)
  # XLA's cost analysis counts a loop's body once: the step's own figures
  # (CD-k's k − 1 chain sweeps inside it are counted once, too).
  cost = jax.jit(trainer.step).lower(
      state, opt_state, x[:batch_size], jax.random.key(4)).compile(
          ).cost_analysis()
  matmuls = 2 * k + (5 if persistent else 3)
  return summarise(name, wall, ops, kinds,
                   matmuls * 2 * batch_size * 784 * 500, cost)


def profile_ais(num_temperatures: int = 1001, num_runs: int = 100) -> dict:
  """AIS on the benchmark's 784×500 RBM (experiments.benchmark_ais), per
  temperature; a shortened schedule (the per-temperature work is the same)."""
  from experiments import benchmark_ais  # pylint: disable=g-import-not-at-top
  state = benchmark_ais.benchmark_state(jax.random.key(0))
  betas = jnp.asarray(ais.betas(num_temperatures), jnp.float32)
  args = (sampling.keyed(jax.random.key(1), 'hash'), state, betas, jnp.zeros((784,), jnp.float32))
  compiled = ais_kernels.bernoulli_log_weights.lower(
      *args, num_runs=num_runs, label_units=0).compile()
  k = betas.shape[0]
  wall, ops, kinds = op_profile(compiled, args, 2, k)
  return summarise(f'ais_r{num_runs}', wall, ops, kinds,
                   (2 * k - 3) * 2 * num_runs * 784 * 500 / k)


def main() -> None:
  cases = DEFAULT_CASES
  for arg in sys.argv[1:]:
    if not arg.startswith('--cases='):
      print(f'error: unexpected argument {arg!r} (python -m '
            'experiments.profile_step takes only --cases=a,b,...)',
            file=sys.stderr)
      sys.exit(2)
    cases = tuple(arg.split('=', 1)[1].split(','))
  for name in cases:
    try:
      if name != 'ais':
        parse_case(name)
    except ValueError as e:
      print(f'error: {e}', file=sys.stderr)
      sys.exit(2)
  results = []
  for name in cases:
    r = profile_case(name)
    results.append(r)
    print(f'\n{name}: {r["wall_ms_per_step"]:.3f} ms/step wall, '
          f'{r["profiled_ms_per_step"]:.3f} ms/step in XLA ops; '
          f'XLA cost: {(r["xla_flops"] or 0) / 1e6:.0f} MFLOP '
          f'({r["matmul_flops"] / 1e6:.0f} in matmuls), '
          f'{(r["xla_bytes_accessed"] or 0) / 1e6:.1f} MB accessed')
    for cls, ms in r['classes_ms_per_step'].items():
      print(f'  {cls:>12}: {ms:7.3f} ms/step '
            f'{ms / r["profiled_ms_per_step"]:6.1%}')
    for op, ms, cls in r['top_ops']:
      print(f'      {op:<32} {ms:7.3f} ms  {cls}')
  print(json.dumps(results))


if __name__ == '__main__':
  main()

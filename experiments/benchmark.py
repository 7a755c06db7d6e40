r"""Speed of the NCG train step as a fraction of the machine's peak matmul rate.

    python -m experiments.benchmark --json

Measures, in one run: the peak float32 matmul FLOP/s (a large square jitted
matmul, best of several), then CD-k epochs of a 784×500 NCG-RBM scanned on the
device at several batch sizes, and CD-1 / PCD-1 (the steps researchers run
most) with scikit-learn's BernoulliRBM (PCD-1, float32, same data, batch and
H) timed in the same run, rounds interleaved, the ratio printed. A CD-k step
does 2k + 3 matmuls of 2·B·V·H FLOPs each (data hidden probabilities; 2k − 1
in the chain, whose first hidden sample reuses the data's; the negatives'
hidden probabilities; and G as one matmul over the stacked positive and
negative batch, counted as two); a PCD-k step 2k + 5 (the data's one-step
reconstruction, a diagnostic, costs one more: the chain does not start from
the data; ``TrainConfig(reconstruction=False)`` skips it, timed as
``ncg_pcd1_b*_norecon``). scikit-learn's PCD-1 does 6 (its two outer products separate, no
reconstruction); it is timed with its default BLAS threads and with one, and
the ratios use the faster (on a busy 2-core machine the default collapses).
Also in the run: CD-k at H = 2,000 (``--hidden``), a vmapped population of
16 at B = 50 (``--population``), the parsimonious LeNet-300-100 step
(``--lenet``), AIS (``--ais``), with ``--rng`` the random-number
generators (:mod:`experiments.benchmark_rng`) and with ``--peers``
learnergy's RBM (CD-1 in PyTorch on the CPU, same data, V, H and B,
interleaved with the small-k cases; ratios ``ratio_to_learnergy``). The last line with ``--json``
is one JSON object for tracking runs:

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
_SMALL_K = flags.DEFINE_bool(
    'small_k', True, 'Also time CD-1 and PCD-1 at each batch size and '
    "scikit-learn's BernoulliRBM (PCD-1) beside them.")
_ROUNDS = flags.DEFINE_integer('rounds', 5, 'Interleaved rounds of the small-k '
                               'comparison (medians and ranges reported).')
_HIDDEN = flags.DEFINE_list('hidden', ['500', '2000'],
                            'Hidden-layer sizes H of the CD-k cases (V = 784).')
_POPULATION = flags.DEFINE_integer(
    'population', 16, 'Members of the vmapped population case (CD-k, B = 50, '
    'H = 500); 0 skips it.')
_LENET = flags.DEFINE_bool('lenet', True, 'Also time the parsimonious '
                           'LeNet-300-100 step (needs the "prune" extra).')
_PEERS = flags.DEFINE_bool(
    'peers', False, "Also time learnergy's RBM (CD-1, PyTorch CPU) beside the "
    'small-k cases (extra "peers-torch": pip install learnergy).')
_RNG = flags.DEFINE_bool('rng', False, 'Also time the random-number generators '
                         '(experiments.benchmark_rng: threefry, rbg, '
                         'unsafe_rbg, hash).')


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


def matmuls_per_step(k: int, persistent: bool, reconstruction: bool = True) -> int:
  """Matmuls of 2·B·V·H FLOPs in one CD-k (2k + 3) or PCD-k step (2k + 5;
  2k + 4 without the data's reconstruction)."""
  return 2 * k + (3 + reconstruction + 1 if persistent else 3)


# learnergy's CD-1 step (learnergy.models.bernoulli.RBM.fit): 3 matmuls of
# sampling, the free energies of data and negatives (2) and their gradients
# by autograd (2), and its per-batch pseudo-likelihood (2): about 9.
LEARNERGY_MATMULS = 9


def learnergy_fit(x, batch_size: int, num_hidden: int):
  """A function training learnergy's Bernoulli RBM (CD-1, PyTorch on the CPU)
  for one epoch of ``x`` (N, V) at batch size B; its learning rate as ours."""
  import torch  # pylint: disable=g-import-not-at-top
  from learnergy.models.bernoulli import RBM  # pylint: disable=g-import-not-at-top
  torch.manual_seed(0)
  model = RBM(n_visible=x.shape[1], n_hidden=num_hidden, steps=1,
              learning_rate=0.05, use_gpu=False)
  dataset = torch.utils.data.TensorDataset(torch.from_numpy(x),
                                           torch.zeros(len(x)))
  return lambda: model.fit(dataset, batch_size=batch_size, epochs=1)


def small_k_cases(data: jax.Array, batch_size: int, peak_gflops: float,
                  rounds: int, learnergy: bool = False) -> list[dict]:
  """CD-1, PCD-1 (with and without the reconstruction diagnostic; the NCG
  trainer) and scikit-learn PCD-1 on ``data`` (N, 784).

  One epoch each, ``rounds`` rounds interleaved (ncg CD-1, ncg PCD-1,
  scikit-learn, repeat); returns each case's median with its range, and
  ``ratio_to_sklearn`` for the ncg cases: against the faster of
  scikit-learn's default BLAS threads and one BLAS thread (both timed).
  ``learnergy``: learnergy's RBM (CD-1, PyTorch CPU; :func:`learnergy_fit`)
  too, and ``ratio_to_learnergy`` for the ncg cases.
  """
  import numpy as np  # pylint: disable=g-import-not-at-top
  from sklearn.neural_network import BernoulliRBM  # pylint: disable=g-import-not-at-top
  import threadpoolctl  # pylint: disable=g-import-not-at-top  (scikit-learn's dependency)
  num, num_visible = data.shape
  num_hidden = 500
  num_batches = num // batch_size
  x = np.asarray(data[:num_batches * batch_size], np.float32)
  runs = {}
  for persistent, reconstruction in ((False, True), (True, True), (True, False)):
    config = train.TrainConfig(k=1, persistent=persistent, learning_rate=0.05,
                               reconstruction=reconstruction)
    state = rbm.init(jax.random.key(1), num_visible, num_hidden, density=0.5)
    opt_state = train.make_trainer(config).init(state, jax.random.key(2),
                                                batch_size)
    epoch = train.make_epoch(config, batch_size)
    xj = jnp.asarray(x)
    name = (f'ncg_{"p" if persistent else ""}cd1_b{batch_size}'
            f'{"" if reconstruction else "_norecon"}')
    runs[name] = (
        matmuls_per_step(1, persistent, reconstruction),
        lambda e=epoch, s=state, o=opt_state: e(s, o, xj, jax.random.key(3)))
  model = BernoulliRBM(n_components=num_hidden, batch_size=batch_size,
                       n_iter=1, learning_rate=0.05, random_state=0)
  runs[f'sklearn_pcd1_b{batch_size}'] = (6, lambda: model.fit(x))
  # OpenBLAS's spinning threads collapse when another process holds a core
  # (10× slower on this 2-core machine beside one busy job): scikit-learn is
  # also timed on one BLAS thread, and the ratios use its faster variant.
  def one_thread_fit():
    with threadpoolctl.threadpool_limits(1):
      return model.fit(x)
  runs[f'sklearn_pcd1_b{batch_size}_1thread'] = (6, one_thread_fit)
  if learnergy:
    import torch  # pylint: disable=g-import-not-at-top
    fit = learnergy_fit(x, batch_size, num_hidden)
    runs[f'learnergy_cd1_b{batch_size}'] = (LEARNERGY_MATMULS, fit)

    def one_torch_thread(threads=torch.get_num_threads()):
      torch.set_num_threads(1)  # as scikit-learn: spinning threads may collapse
      try:
        return fit()
      finally:
        torch.set_num_threads(threads)
    runs[f'learnergy_cd1_b{batch_size}_1thread'] = (LEARNERGY_MATMULS,
                                                     one_torch_thread)
  for _, fn in runs.values():
    jax.block_until_ready(fn())           # compile / warm up
  seconds = {name: [] for name in runs}
  for _ in range(rounds):
    for name, (_, fn) in runs.items():
      began = time.perf_counter()
      jax.block_until_ready(fn())
      seconds[name].append(time.perf_counter() - began)
  cases = []
  for name, (matmuls, _) in runs.items():
    median = float(np.median(seconds[name]))
    gflops = (num_batches * matmuls * 2 * batch_size * num_visible * num_hidden
              / median / 1e9)
    cases.append({'name': name, 'examples_per_s': num_batches * batch_size / median,
                  'examples_per_s_range': [num_batches * batch_size / max(seconds[name]),
                                           num_batches * batch_size / min(seconds[name])],
                  'gflops': gflops, 'fraction_of_peak': gflops / peak_gflops})
  sklearn_rate = max(c['examples_per_s'] for c in cases
                     if c['name'].startswith('sklearn'))
  peers = {name: [c['examples_per_s'] for c in cases
                  if c['name'].startswith(name)]
           for name in ('sklearn', 'learnergy')}
  for case in cases:
    if case['name'].startswith('ncg'):
      for name, rates in peers.items():
        if rates:
          case[f'ratio_to_{name}'] = case['examples_per_s'] / max(rates)
  return cases


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


def population_case(name: str, members: int, batch_size: int, k: int,
                    peak_gflops: float, min_seconds: float = 2.0) -> dict:
  """Times scanned CD-k epochs of ``members`` vmapped 784×500 NCG-RBMs."""
  num_batches = max(4, 1000 // batch_size)
  x = (jax.random.uniform(jax.random.key(0), (num_batches * batch_size, 784))
       < 0.13).astype(jnp.float32)
  config = train.TrainConfig(k=k)
  keys = jax.random.split(jax.random.key(1), members)
  state = jax.vmap(lambda key: rbm.init(key, 784, 500, density=0.5))(keys)
  trainer = train.make_trainer(config)
  opt_state = jax.vmap(lambda s: trainer.init(s, None, batch_size))(state)
  epoch = train.make_epoch(config, batch_size, population=True)
  epoch_keys = jax.random.split(jax.random.key(3), members)
  seconds = best_seconds(lambda: epoch(state, opt_state, x, epoch_keys),
                         min_seconds)
  flops = members * num_batches * (2 * k + 3) * 2 * batch_size * 784 * 500
  gflops = flops / seconds / 1e9
  return {'name': name, 'examples_per_s': members * num_batches * batch_size
          / seconds, 'gflops': gflops, 'fraction_of_peak': gflops / peak_gflops}


def lenet_case(peak_gflops: float, batch_size: int = 100,
               min_seconds: float = 2.0) -> dict:
  """Times the parsimonious LeNet-300-100 step (Bernoulli gates, θ = ½).

  FLOPs counted: 8 passes of 2·MACs·B per step (784·300 + 300·100 + 100·10
  MACs per example): the two antithetic networks' forward and backward
  passes (3 each) and the Taylor control variate's forward and input-side
  backward pass (2); XLA's own count of the step is reported beside it.
  """
  from ncg.parsimonious import mlp  # pylint: disable=g-import-not-at-top
  from ncg.parsimonious import train as prune_train  # pylint: disable=g-import-not-at-top
  arch = mlp.architecture(784, (300, 100))
  config = prune_train.Config(learning_rate=1e-3, theta_learning_rate=0.1,
                              penalty=1e-4, penalty_scale=(1.0, 1.0, 1.0),
                              prior_variance=1.0, num_train=60000)
  trainer = prune_train.make_trainer(config)
  state = trainer.init(jax.random.key(0), arch, 784, 0.5)
  steps = 50
  x = (jax.random.uniform(jax.random.key(1), (steps, batch_size, 784))
       < 0.13).astype(jnp.float32)
  y = jax.random.randint(jax.random.key(2), (steps, batch_size), 0, 10)
  keys = jax.random.split(jax.random.key(3), steps)

  @jax.jit
  def run(state):
    def body(s, inputs):
      s, _ = trainer.step(arch, s, *inputs)
      return s, None
    return jax.lax.scan(body, state, (x, y, keys))[0]
  seconds = best_seconds(lambda: run(state), min_seconds)
  macs = 784 * 300 + 300 * 100 + 100 * 10
  flops = steps * 8 * 2 * macs * batch_size
  cost = jax.jit(lambda s, a, b, c: trainer.step(arch, s, a, b, c)).lower(
      state, x[0], y[0], keys[0]).compile().cost_analysis()
  if isinstance(cost, list):
    cost = cost[0]
  gflops = flops / seconds / 1e9
  return {'name': f'lenet300_100_b{batch_size}',
          'examples_per_s': steps * batch_size / seconds, 'gflops': gflops,
          'fraction_of_peak': gflops / peak_gflops,
          'xla_flops_per_step': (cost or {}).get('flops')}


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  peak = peak_matmul_gflops(_PEAK_SIZE.value, _MIN_SECONDS.value)
  print(f'peak float32 matmul ({_PEAK_SIZE.value}²): {peak:.1f} GFLOP/s '
        f'on {jax.devices()[0].device_kind}')
  cases = []
  def report(case):
    cases.append(case)
    print(f'{case["name"]:>20}: {case["examples_per_s"]:9.0f} examples/s, '
          f'{case["gflops"]:6.1f} GFLOP/s = {case["fraction_of_peak"]:.0%} of peak')
  for hidden, batch_size, rng in itertools.product(
      map(int, _HIDDEN.value), map(int, _BATCHES.value), ('hash', 'threefry')):
    if rng == 'threefry' and hidden != 500:
      continue  # the generators are compared at H = 500 only
    suffix = '' if rng == 'hash' else '_threefry'  # the default trainer's first
    suffix = ('' if hidden == 500 else f'_h{hidden}') + suffix
    report(cd_case(f'ncg_cd{_K.value}_b{batch_size}{suffix}', batch_size,
                   _K.value, peak, num_hidden=hidden,
                   min_seconds=_MIN_SECONDS.value, rng=rng))
  if _POPULATION.value:
    report(population_case(f'ncg_cd{_K.value}_b50_pop{_POPULATION.value}',
                           _POPULATION.value, 50, _K.value, peak,
                           _MIN_SECONDS.value))
  if _LENET.value:
    try:
      import flax  # pylint: disable=g-import-not-at-top,unused-import
    except ImportError:
      print('LeNet-300-100 skipped: flax is not installed (extra "prune")')
    else:
      report(lenet_case(peak, min_seconds=_MIN_SECONDS.value))
  if _SMALL_K.value:
    try:
      import sklearn  # pylint: disable=g-import-not-at-top,unused-import
    except ImportError:
      print('small-k cases skipped: scikit-learn is not installed (extra "peers")')
    else:
      from ncg import data as data_lib  # pylint: disable=g-import-not-at-top
      digits = data_lib.load('embedded', binarization='threshold').train.x
      learnergy = _PEERS.value
      if learnergy:
        try:
          import learnergy as _  # pylint: disable=g-import-not-at-top
        except ImportError:
          print('learnergy skipped: not installed (extra "peers-torch")')
          learnergy = False
      for batch_size in map(int, _BATCHES.value):
        for case in small_k_cases(digits, batch_size, peak, _ROUNDS.value,
                                  learnergy):
          cases.append(case)
          low, high = case['examples_per_s_range']
          ratio = ''.join(
              f', {case[f"ratio_to_{name}"]:.2f}× {label}'
              for name, label in (('sklearn', 'scikit-learn'),
                                  ('learnergy', 'learnergy'))
              if f'ratio_to_{name}' in case)
          print(f'{case["name"]:>20}: {case["examples_per_s"]:9.0f} examples/s '
                f'({low:.0f}–{high:.0f}), {case["gflops"]:6.1f} GFLOP/s = '
                f'{case["fraction_of_peak"]:.0%} of peak{ratio}')
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
  if _RNG.value:
    from experiments import benchmark_rng  # pylint: disable=g-import-not-at-top
    for case in benchmark_rng.rng_cases(_ROUNDS.value):
      unit = 'ns_per_draw' if 'ns_per_draw' in case else 'examples_per_s'
      low, high = case['range']
      print(f'{"rng_" + case["name"]:>24}: {case[unit]:10.2f} {unit} '
            f'({low:.2f}–{high:.2f})')
      cases.append(dict(case, name='rng_' + case['name']))
  # A busy machine depresses the peak more than the cases: take the larger of
  # two peak measurements, before and after, and recompute the fractions.
  peak_after = peak_matmul_gflops(_PEAK_SIZE.value, _MIN_SECONDS.value)
  if peak_after > peak:
    print(f'peak measured again after the cases: {peak_after:.1f} GFLOP/s '
          '(fractions below use it)')
    peak = peak_after
    for case in cases:
      if 'gflops' in case:
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

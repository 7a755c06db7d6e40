r"""Evaluates a trained RBM: log-likelihood (AIS, exact where feasible), accuracy, samples.

    python -m experiments.evaluate --workdir=runs/default
    python -m experiments.evaluate --workdir=runs/mnist --ais_runs=100 \
        --ais_temperatures=0 --sample_steps=1000

Restores the latest checkpoint of a workdir written by ``experiments/train.py``
and writes ``eval.json`` into it (figures under ``workdir/figures``). Existing
results are never overwritten: if ``eval.json`` exists the record goes to
``eval-2.json``, ``eval-3.json``, … (the first free name, claimed atomically),
and its figures carry the same stem (``figures/eval-2_samples_noise.png``).

What it measures (nats; Salakhutdinov & Murray 2008 protocol):

* log Z by AIS (``--ais_runs`` runs, ``--ais_temperatures`` temperatures, 0 =
  the authors' 14,501; base model fit to the training data's base rates) with
  its ±3σ interval, and exactly when min(V−L, H) ≤ ``--exact_max_log2``;
* average log p(x) on train / validation / test with both (the AIS interval
  gives a range: log p = −F − log Z); for a joint RBM the label is summed out
  (log p(x)), and log p(x, y) is reported as well;
* accuracy of the exact rule p(y | x) ∝ exp(−F(x, y)) for a joint RBM, and of a
  softmax-regression probe on p(h | x) for any labelled data set;
* pseudo-log-likelihood and reconstruction error on (a subset of) the test set;
* figures: samples from noise and from test data after ``--sample_steps``
  Gibbs sweeps, one chain trajectory, the AIS log weights.

Bad input (missing workdir, not a workdir, no checkpoint, invalid AIS
settings) ends with one line on stderr and exit code 2.
"""

from __future__ import annotations

import functools
import json
import math
import os
import tempfile
import time
import warnings
from typing import Any

from absl import app
from absl import flags
from absl import logging
import jax
import jax.numpy as jnp
import numpy as np

from experiments import preemption
from experiments import rbm_run
from experiments import workdir as workdir_lib
from ncg import classification
from ncg import data as data_lib
from ncg import estimators
from ncg import rbm
from ncg import sampling
from ncg.errors import check

# The flags live in their own FlagValues: experiments/train.py imports this
# module for its in-training evaluations and defines --workdir and --config in
# the global FLAGS.
FLAGS = flags.FlagValues()
_WORKDIR = flags.DEFINE_string('workdir', None, 'Workdir of a trained run.',
                               flag_values=FLAGS)
_AIS_RUNS = flags.DEFINE_integer('ais_runs', 100, 'AIS runs (>= 2).',
    flag_values=FLAGS)
_AIS_TEMPERATURES = flags.DEFINE_integer(
    'ais_temperatures', 0,
    'AIS temperatures (>= 2); 0 = Salakhutdinov & Murray\'s 14,501.',
    flag_values=FLAGS)
_AIS_BASE = flags.DEFINE_enum(
    'ais_base', 'data', ['data', 'uniform'],
    'AIS base model: base rates of the training data, or uniform.',
    flag_values=FLAGS)
_EXACT_MAX_LOG2 = flags.DEFINE_integer(
    'exact_max_log2', 25,
    'Compute log Z exactly when it needs at most 2^this terms (-1 = never).',
    flag_values=FLAGS)
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of AIS, the probe and sampling.',
    flag_values=FLAGS)
_PROBE = flags.DEFINE_bool('probe', True, 'Train the linear probe on p(h|x).',
    flag_values=FLAGS)
_SAMPLE_CHAINS = flags.DEFINE_integer('sample_chains', 64,
                                      'Chains for the sample figures.',
    flag_values=FLAGS)
_SAMPLE_STEPS = flags.DEFINE_integer('sample_steps', 1000,
                                     'Gibbs sweeps of the sample chains.',
    flag_values=FLAGS)
_PL_EXAMPLES = flags.DEFINE_integer(
    'pl_examples', 1000,
    'Test examples for the pseudo-likelihood (0 = all; it costs N·V·H).',
    flag_values=FLAGS)

RESULT_STEM = 'eval'


def _mean(x) -> float:
  return float(np.mean(np.asarray(x, np.float64)))


def base_visible_bias(x: np.ndarray, y: np.ndarray, label_units: int,
                      eps: float = 1e-3) -> jax.Array:
  """AIS base-model biases fit to training data: base rates, label log-freqs."""
  bits = rbm.base_rate_visible_bias(jnp.asarray(x), eps)
  if not label_units:
    return bits
  freq = np.bincount(np.asarray(y), minlength=label_units)[:label_units]
  freq = np.clip(freq / max(freq.sum(), 1), eps, None)
  return jnp.concatenate([bits, jnp.log(jnp.asarray(freq, bits.dtype))])


def _splits(dataset: data_lib.Dataset) -> dict[str, data_lib.Split]:
  splits = {'train': dataset.train, 'test': dataset.test}
  if len(dataset.valid.x):
    splits['valid'] = dataset.valid
  return splits


def likelihoods(state: rbm.RBMState, dataset: data_lib.Dataset,
                label_units: int, log_z: jax.Array, tag: str,
                log_z_low: jax.Array | None = None,
                log_z_high: jax.Array | None = None) -> dict[str, float]:
  """Average log p(x) (and log p(x, y) for joint RBMs) of each split."""
  out = {}
  for split, s in _splits(dataset).items():
    neg_f = _batched(lambda x: estimators.log_likelihood(
        state, x, 0.0, label_units=label_units), s.x)
    out[f'{split}_log_likelihood_{tag}'] = _mean(neg_f) - float(log_z)
    if log_z_low is not None:
      # Z in [Z_low, Z_high]  ⇒  log p in [−F − log Z_high, −F − log Z_low].
      out[f'{split}_log_likelihood_{tag}_low'] = _mean(neg_f) - float(log_z_high)
      out[f'{split}_log_likelihood_{tag}_high'] = _mean(neg_f) - float(log_z_low)
    if label_units:
      v = classification.joint_visible(s.x, s.y, label_units)
      out[f'{split}_joint_log_likelihood_{tag}'] = _mean(_batched(
          lambda v: estimators.log_likelihood(state, v, log_z,
                                              label_units=label_units), v))
  return out


def _batched(fn, x, batch_size: int = 5000) -> np.ndarray:
  """fn over rows of x in batches (bounded memory), concatenated (float64)."""
  return np.concatenate([np.asarray(fn(jnp.asarray(x[i:i + batch_size])),
                                    np.float64)
                         for i in range(0, len(x), batch_size)])


@functools.partial(jax.jit, static_argnums=(3, 4, 5))
def _sample(key: jax.Array, state: rbm.RBMState, starts: jax.Array,
            num_steps: int, num_frames: int, label_units: int):
  """Runs Gibbs chains from ``starts`` (C, V) for ``num_steps`` sweeps.

  Returns (final, frames): p(v | h) of the final states (C, V) and of the
  states after every ⌊num_steps/num_frames⌋ sweeps, (num_frames, C, V).
  """
  every = max(1, num_steps // num_frames)
  k_traj, k_rest, k_mf = jax.random.split(key, 3)
  states = sampling.chain_trajectory(k_traj, state, starts, every * num_frames,
                                     every, label_units)
  final = states[-1]
  if num_steps > every * num_frames:
    final = sampling.sample_chains(k_rest, state, final,
                                   num_steps - every * num_frames, label_units)
  mean_field = functools.partial(sampling.mean_field_image, k_mf, state)
  return mean_field(final), jax.vmap(mean_field)(states)


def sample_figures(key: jax.Array, state: rbm.RBMState,
                   dataset: data_lib.Dataset, label_units: int, *,
                   num_chains: int, num_steps: int, figures_dir: str,
                   prefix: str, num_frames: int = 10) -> list[str]:
  """Samples from noise and from test data, and their trajectories, as PNGs.

  ``num_chains`` chains start from uniform noise (a joint RBM's label units
  cycle through the classes) and as many from the first test examples; each
  runs ``num_steps`` block-Gibbs sweeps. The pictures show p(v | h) of the
  final states; the trajectory shows 8 chains from noise at ``num_frames``
  times.
  """
  from experiments import figures  # pylint: disable=g-import-not-at-top
  if dataset.image_shape is None or num_chains <= 0 or num_steps <= 0:
    return []
  features = dataset.num_features
  k_noise, k_chains = jax.random.split(key)
  dtype = state.W.dtype
  noise = sampling.random_visible(k_noise, num_chains, state.num_visible, dtype)
  test = dataset.test
  idx = np.arange(min(num_chains, len(test.x)))
  start = jnp.asarray(test.x[idx], dtype)
  if label_units:
    labels = jax.nn.one_hot(jnp.arange(num_chains) % label_units, label_units,
                            dtype=dtype)
    noise = noise.at[:, features:].set(labels)
    start = classification.joint_visible(start, test.y[idx], label_units)
  final, frames = _sample(k_chains, state, jnp.concatenate([noise, start]),
                          num_steps, num_frames, label_units)
  final, frames = np.asarray(final[:, :features]), np.asarray(
      frames[:, :min(8, num_chains), :features])
  paths = []
  for name, images, what in (('samples_noise', final[:num_chains], 'noise'),
                             ('samples_data', final[num_chains:], 'test data')):
    paths.append(figures.image_grid(
        os.path.join(figures_dir, f'{prefix}_{name}.png'), images,
        dataset.image_shape,
        title=f'p(v|h) after {num_steps} Gibbs sweeps from {what}'))
  every = max(1, num_steps // num_frames)
  paths.append(figures.trajectory_grid(
      os.path.join(figures_dir, f'{prefix}_trajectory.png'), frames,
      dataset.image_shape, steps=[every * (i + 1) for i in range(num_frames)],
      title='Gibbs chains from noise (p(v|h))'))
  return paths


def evaluate(key: jax.Array,
             state: rbm.RBMState,
             dataset: data_lib.Dataset,
             *,
             label_units: int = 0,
             ais_runs: int = 100,
             ais_temperatures: int | None = None,
             ais_base: str = 'data',
             exact_max_log2: int = 25,
             probe: bool = True,
             pl_examples: int = 1000,
             figures_dir: str | None = None,
             figure_prefix: str = RESULT_STEM,
             sample_chains: int = 64,
             sample_steps: int = 1000) -> dict[str, Any]:
  """All measurements of one model as a JSON-safe dict of numbers.

  Args:
    key: PRNG key (AIS, probe, samples).
    state: the RBM; a joint RBM's last ``label_units`` visible units are the
      one-hot label.
    dataset: the data it was trained on (x without labels).
    label_units: L (0 for a plain RBM).
    ais_runs: AIS runs M.
    ais_temperatures: schedule length; None or 0 for the authors' 14,501.
    ais_base: 'data' (base-rate base model) or 'uniform'.
    exact_max_log2: exact log Z when it needs ≤ 2^this terms; -1 never.
    probe: train the linear probe (needs labels, ≥ 2 classes).
    pl_examples: test examples for the pseudo-likelihood (0 = all).
    figures_dir: write sample and AIS figures there (None: no figures).
    figure_prefix: file-name prefix of the figures.
    sample_chains, sample_steps: the sample figures' chains.

  Returns:
    A flat dict: the AIS settings (``ais_runs``, ``ais_temperatures``,
    ``ais_base``), ``log_z_ais`` with ``_low``/``_high``, ``log_z_exact`` (or
    None), ``{train,valid,test}_log_likelihood_{ais,exact}`` (average log p(x),
    nats; AIS with ``_low``/``_high``), accuracies, pseudo-likelihood,
    reconstruction error, timings and figure paths.
  """
  check(ais_base in ('data', 'uniform'),
        f'ais_base must be data or uniform, got {ais_base!r}')
  check(int(ais_runs) >= 2, f'ais_runs must be >= 2, got {ais_runs}')
  temps = None if not ais_temperatures else int(ais_temperatures)
  check(temps is None or temps >= 2,
        f'ais_temperatures must be 0 (full schedule) or >= 2, got '
        f'{ais_temperatures}')
  check(state.num_visible == dataset.num_features + label_units,
        f'the RBM has {state.num_visible} visible units but the data have '
        f'{dataset.num_features} features and {label_units} labels')
  began = time.perf_counter()
  k_ais, k_probe, k_samples = jax.random.split(key, 3)
  betas = estimators.ais_betas(temps)
  out: dict[str, Any] = {
      'num_visible': state.num_visible, 'num_hidden': state.num_hidden,
      'label_units': label_units, 'density': float(rbm.density(state)),
      'ais_runs': int(ais_runs), 'ais_temperatures': int(len(betas)),
      'ais_base': ais_base, 'ais_rng': 'hash'}

  # log Z by AIS.
  base = (base_visible_bias(dataset.train.x, dataset.train.y, label_units)
          if ais_base == 'data' else 'uniform')
  t = time.perf_counter()
  ais = estimators.ais_log_partition(k_ais, state, num_runs=int(ais_runs),
                                     betas=betas, base_visible_bias=base,
                                     label_units=label_units)
  jax.block_until_ready(ais)
  out['ais_seconds'] = time.perf_counter() - t
  out.update(log_z_ais=float(ais.log_z), log_z_ais_low=float(ais.log_z_low),
             log_z_ais_high=float(ais.log_z_high),
             log_z_base=float(ais.log_z_base),
             ais_log_weight_std=float(np.std(np.asarray(ais.log_weights))),
             ais_interval_unbounded=bool(not np.isfinite(float(ais.log_z_low))))
  if out['ais_interval_unbounded']:
    warnings.warn(f'AIS ({ais_base} base): the ±3σ interval of log Z is '
                  'unbounded below; the estimate is not reliable (more runs, '
                  'more temperatures, or the base-rate base)', stacklevel=2)
  out.update(likelihoods(state, dataset, label_units, ais.log_z, 'ais',
                         ais.log_z_low, ais.log_z_high))

  # Exact log Z where feasible.
  _, log2_terms = estimators.count_configurations(state, label_units)
  out['log_z_exact'] = None
  if 0 <= exact_max_log2 and log2_terms <= min(
      exact_max_log2, estimators.MAX_EXACT_LOG2_CONFIGURATIONS):
    t = time.perf_counter()
    log_z = estimators.exact_log_partition(state, label_units=label_units)
    out['log_z_exact'] = float(log_z)
    out['exact_seconds'] = time.perf_counter() - t
    out.update(likelihoods(state, dataset, label_units, log_z, 'exact'))

  # Classification.
  test = dataset.test
  if label_units:
    out['train_accuracy'] = classification.accuracy(
        state, dataset.train.x, dataset.train.y, label_units)
    out['test_accuracy'] = classification.accuracy(state, test.x, test.y,
                                                   label_units)
  if probe and dataset.num_classes >= 2 and np.all(dataset.train.y >= 0):
    t = time.perf_counter()
    result = classification.linear_probe(
        k_probe, state, dataset.train.x, dataset.train.y, test.x, test.y,
        num_classes=dataset.num_classes, label_units=label_units)
    out.update(probe_train_accuracy=result.train_accuracy,
               probe_test_accuracy=result.test_accuracy,
               probe_seconds=time.perf_counter() - t)

  # Pseudo-likelihood and reconstruction on the test set.
  n_pl = len(test.x) if pl_examples <= 0 else min(pl_examples, len(test.x))
  v_test = (classification.joint_visible(test.x, test.y, label_units)
            if label_units else jnp.asarray(test.x))
  out['test_pseudo_log_likelihood'] = _mean(estimators.pseudo_log_likelihood(
      state, v_test[:n_pl], label_units=label_units))
  out['pseudo_log_likelihood_examples'] = n_pl
  out['test_reconstruction_error'] = _mean(
      estimators.reconstruction_error(state, v_test))

  if figures_dir is not None:
    from experiments import figures  # pylint: disable=g-import-not-at-top
    paths = sample_figures(k_samples, state, dataset, label_units,
                           num_chains=sample_chains, num_steps=sample_steps,
                           figures_dir=figures_dir, prefix=figure_prefix)
    paths.append(figures.histogram(
        os.path.join(figures_dir, f'{figure_prefix}_ais_log_weights.png'),
        {'log w': np.asarray(ais.log_weights)}, xlabel='log weight (nats)',
        title=f'AIS: {int(ais_runs)} runs, {len(betas)} temperatures'))
    out['figures'] = [os.path.basename(p) for p in paths]
  out['seconds'] = time.perf_counter() - began
  return out


# ----------------------------------------------------------------------------
# Entry point.


def free_result_name(workdir: str, stem: str = RESULT_STEM) -> str:
  """The first of stem.json, stem-2.json, stem-3.json… absent from workdir."""
  for n in range(1, 1_000_000):
    name = f'{stem}.json' if n == 1 else f'{stem}-{n}.json'
    if not os.path.exists(os.path.join(workdir, name)):
      return name
  raise RuntimeError('no free result name')  # unreachable in practice


def write_new_json(workdir: str, name: str, record: dict[str, Any]) -> str:
  """Writes ``record`` under ``name`` or the next free name; never overwrites.

  The JSON is written to a temporary file and hard-linked into place, which
  fails rather than replaces if the name was taken meanwhile (then the next
  free name is tried). Returns the path written.
  """
  fd, tmp = tempfile.mkstemp(dir=workdir, prefix='.eval-', suffix='.tmp')
  try:
    with os.fdopen(fd, 'w') as f:
      json.dump(record, f, indent=2, sort_keys=True, allow_nan=True)
    stem = name[:-len('.json')].split('-')[0]
    while True:
      path = os.path.join(workdir, name)
      try:
        os.link(tmp, path)
        return path
      except FileExistsError:
        name = free_result_name(workdir, stem)
  finally:
    os.unlink(tmp)


def json_safe(value: Any) -> Any:
  """A non-finite float as a string ('-inf'), so the JSON stays standard."""
  if isinstance(value, float) and not math.isfinite(value):
    return str(value)  # '-inf' for an unbounded interval end
  return value


def main(argv):
  check(len(argv) == 1, f'unexpected arguments: {" ".join(argv[1:])}')
  workdir = _WORKDIR.value
  check(bool(workdir), '--workdir is required')
  check(os.path.isdir(workdir), f'--workdir {workdir} is not a directory')
  check(os.access(workdir, os.W_OK), f'--workdir {workdir} is not writable')
  check(_SEED.value >= 0, f'--seed must be >= 0, got {_SEED.value}')
  check(_EXACT_MAX_LOG2.value >= -1,
        f'--exact_max_log2 must be >= -1 (-1 = never), got {_EXACT_MAX_LOG2.value}')
  check(_PL_EXAMPLES.value >= 0,
        f'--pl_examples must be >= 0 (0 = all), got {_PL_EXAMPLES.value}')
  check(_AIS_RUNS.value >= 2, f'--ais_runs must be >= 2, got {_AIS_RUNS.value}')
  check(_AIS_TEMPERATURES.value == 0 or _AIS_TEMPERATURES.value >= 2,
        '--ais_temperatures must be 0 (the full schedule) or >= 2, got '
        f'{_AIS_TEMPERATURES.value}')
  check(_SAMPLE_CHAINS.value >= 0 and _SAMPLE_STEPS.value >= 0,
        '--sample_chains and --sample_steps must be >= 0')
  logging.set_verbosity(logging.WARNING)  # orbax logs every restore at INFO
  run = rbm_run.load_trained(workdir)
  name = free_result_name(workdir)
  stem = name[:-len('.json')]
  result = evaluate(
      jax.random.key(_SEED.value), run.state, run.dataset,
      label_units=run.label_units, ais_runs=_AIS_RUNS.value,
      ais_temperatures=_AIS_TEMPERATURES.value, ais_base=_AIS_BASE.value,
      exact_max_log2=_EXACT_MAX_LOG2.value, probe=_PROBE.value,
      pl_examples=_PL_EXAMPLES.value,
      figures_dir=os.path.join(workdir, workdir_lib.FIGURE_DIR),
      figure_prefix=stem, sample_chains=_SAMPLE_CHAINS.value,
      sample_steps=_SAMPLE_STEPS.value)
  result = {'workdir': os.path.abspath(workdir), 'epoch': run.epoch,
            'dataset': run.dataset.name, 'seed': _SEED.value,
            **{k: json_safe(v) for k, v in result.items()}}
  path = write_new_json(workdir, name, result)
  summary = [f'log Z (AIS) = {result["log_z_ais"]:.3f} '
             f'[{result["log_z_ais_low"]}, {result["log_z_ais_high"]:.3f}]']
  if result['log_z_exact'] is not None:
    summary.append(f'log Z (exact) = {result["log_z_exact"]:.3f}')
  summary.append(f'test log p(x) (AIS) = '
                 f'{result["test_log_likelihood_ais"]:.3f} nats')
  for k in ('test_accuracy', 'probe_test_accuracy'):
    if k in result:
      summary.append(f'{k} = {result[k]:.4f}')
  print('\n'.join(summary))
  print(f'Wrote {path}')


def parse_flags(argv: list[str]) -> list[str]:
  """Parses this script's own flags (usage errors: one line, exit 2)."""
  return workdir_lib.parse_flags(argv, FLAGS)


if __name__ == '__main__':
  app.run(workdir_lib.clean_errors(
      preemption.interruptible(main, 'evaluation')), flags_parser=parse_flags)

"""Measurements of a trained RBM, flag-free: log-likelihood (AIS, exact), accuracy, samples.

The library behind ``python -m experiments.evaluate`` (experiments/evaluate.py,
over experiments/evaluate_run.py) and the in-training evaluations of
experiments/rbm_run.py and experiments/sweep_run.py; it defines no flags and
imports no entry point.

What :func:`evaluate` measures (nats; Salakhutdinov & Murray 2008 protocol):

* log Z by AIS (``ais_runs`` runs, ``ais_temperatures`` temperatures, 0 = the
  authors' 14,501; base model fit to the training data's base rates) with its
  ±3σ interval, and exactly when min(V−L, H) ≤ ``exact_max_log2``;
* average log p(x) on train / validation / test with both (the AIS interval
  gives a range: log p = −F − log Z); for a joint RBM the label is summed out
  (log p(x)), and log p(x, y) is reported as well;
* accuracy of the exact rule p(y | x) ∝ exp(−F(x, y)) for a joint RBM (and of
  the NCG reference's mean-field rule, ``test_accuracy_mean_field``), and of a
  softmax-regression probe on p(h | x) for any labelled data set;
* pseudo-log-likelihood and reconstruction error on (a subset of) the test set;
* figures: samples from noise and from test data after ``sample_steps`` Gibbs
  sweeps, one chain trajectory, the AIS log weights.

Results files are never overwritten (:func:`write_new_json`: eval.json, then
eval-2.json, …); :func:`fold_into_summary` copies an evaluation's headline
fields into a run's summary.json, which experiments/report.py reads.
"""

from __future__ import annotations

import functools
import json
import math
import os
import tempfile
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from experiments import workdir as workdir_lib
from ncg import checkpoint
from ncg import classification
from ncg import data as data_lib
from ncg import distributed
from ncg import estimators
from ncg import precision
from ncg import rbm
from ncg import sampling
from ncg.errors import check

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
      'ais_base': ais_base, 'ais_rng': 'hash',
      'environment': precision.environment()}

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
  # An unbounded interval is recorded (ais_interval_unbounded) and said once,
  # by the run's headline; no warning per evaluation.
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
    # the NCG reference's one-pass mean-field rule (labels clamped at ½)
    out['test_accuracy_mean_field'] = classification.accuracy(
        state, test.x, test.y, label_units, rule='mean_field')
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
  free name is tried). Returns the path written. Several hosts: process 0
  alone writes (the others get the path asked for).
  """
  if not distributed.is_writer():
    return os.path.join(workdir, name)
  fd, tmp = tempfile.mkstemp(dir=workdir, prefix='.eval-', suffix='.tmp')
  checkpoint.follow_umask(tmp)
  try:
    with os.fdopen(fd, 'w') as f:
      json.dump(workdir_lib.finite_json(record), f, indent=2, sort_keys=True,
                allow_nan=False)
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
  """A non-finite float as None (JSON null), so the JSON stays standard.

  In a record an AIS interval end of null is unbounded (the ±3σ lower end of
  Z is ≤ 0: ``ais_interval_unbounded`` is true).
  """
  if isinstance(value, float) and not math.isfinite(value):
    return None
  return value


def _finite(value: Any) -> float | None:
  """float(value) if finite (also the 'inf' strings of older files), else None."""
  try:
    value = float(value)
  except (TypeError, ValueError):
    return None
  return value if math.isfinite(value) else None



# The fields of an evaluation that a run's summary.json carries (None where a
# run was not evaluated); experiments/report.py reads them from there.
SUMMARY_FIELDS = (
    'test_log_likelihood_ais', 'test_log_likelihood_ais_low',
    'test_log_likelihood_ais_high', 'train_log_likelihood_ais',
    'test_log_likelihood_exact', 'log_z_ais', 'ais_runs', 'ais_temperatures',
    'test_accuracy', 'test_accuracy_mean_field', 'probe_test_accuracy',
    'test_pseudo_log_likelihood')


def summary_fields(evaluation: dict[str, Any]) -> dict[str, Any]:
  """The :data:`SUMMARY_FIELDS` of an evaluation record (None when absent)."""
  return {name: evaluation.get(name) for name in SUMMARY_FIELDS}


def summary_line(evaluation: dict[str, Any]) -> str:
  """One line: AIS log-likelihoods and accuracies that are present."""
  parts = [f'{name}={evaluation[name]:.2f}' for name in (
      'train_log_likelihood_ais', 'test_log_likelihood_ais',
      'test_log_likelihood_exact') if evaluation.get(name) is not None]
  parts += [f'{name}={evaluation[name]:.4f}' for name in sorted(evaluation)
            if name.endswith('accuracy') and evaluation[name] is not None]
  return (', '.join(parts) + f' (AIS: {evaluation.get("ais_runs")} runs, '
          f'{evaluation.get("ais_temperatures")} temperatures)')


read_json = workdir_lib.read_json


def fold_into_summary(directory: str, evaluation: dict[str, Any], epoch: int,
                      source: str) -> dict[str, Any] | None:
  """Copies an evaluation's :data:`SUMMARY_FIELDS` into directory/summary.json.

  The summary (written at the end of training) then reports this evaluation:
  its fields are replaced, ``evaluated_epoch`` is ``epoch`` and
  ``evaluation_file`` names ``source`` (e.g. 'eval-2.json'). Returns the new
  summary, or None when the directory has no summary.json (a run that did not
  finish: the evaluation stays in its own file only).
  """
  path = os.path.join(directory, 'summary.json')
  if not os.path.isfile(path):
    return None
  summary = read_json(path)
  summary.update(summary_fields(evaluation), evaluated_epoch=int(epoch),
                 evaluation_file=source)
  workdir_lib.write_json(directory, 'summary.json', summary)
  return summary


def _interval(record: dict[str, Any], prefix: str) -> str:
  value = record.get(f'{prefix}test_log_likelihood_ais')
  if value is None:
    return 'not evaluated'
  low = record.get(f'{prefix}test_log_likelihood_ais_low')
  high = record.get(f'{prefix}test_log_likelihood_ais_high')
  low, high = _finite(low), _finite(high)
  if low is None:
    return f'{float(value):.1f}'
  if high is None:  # log Z's interval is unbounded below (null in the JSON)
    return f'{float(value):.1f} (≥ {low:.1f} at 3σ, unbounded above)'
  return f'{float(value):.1f} [{low:.1f}, {high:.1f}]'


def _count(n: Any) -> str:
  return f'{n:,}' if isinstance(n, int) else str(n)


def headline(summary: dict[str, Any]) -> str:
  """What a finished run learned, in a few lines, from its summary.json record.

  Test log p(v) by AIS with its ±3σ interval, against the same estimate for
  the run's starting point (``start_*`` fields) when present; density from
  start to end; connections added and removed over the run.
  """
  lines = []
  if summary.get('test_log_likelihood_ais') is not None:
    gain = ''
    if summary.get('start_test_log_likelihood_ais') is not None:
      delta = (summary['test_log_likelihood_ais'] -
               summary['start_test_log_likelihood_ais'])
      gain = (f'; at the start {_interval(summary, "start_")} '
              f'({delta:+.1f} nats)')
    lines.append(f'test log p(v) = {_interval(summary, "")} nats per example '
                 f'(AIS, {summary.get("ais_runs")} runs × '
                 f'{summary.get("ais_temperatures")} temperatures){gain}')
    if (_finite(summary.get('test_log_likelihood_ais_low')) is not None and
        _finite(summary.get('test_log_likelihood_ais_high')) is None):
      lines.append('  (the ±3σ interval of log Z is unbounded below with these '
                   'runs, so log p is unbounded above; more runs and temperatures '
                   'tighten it: ncg-evaluate --ais_runs=100 --ais_temperatures=0)')
    if summary.get('test_log_likelihood_exact') is not None:
      lines.append(f'test log p(v) exact = '
                   f'{summary["test_log_likelihood_exact"]:.2f} nats')
  for name in ('test_accuracy', 'probe_test_accuracy'):
    if summary.get(name) is not None:
      lines.append(f'{name.replace("_", " ")} = {100 * summary[name]:.1f}%')
  if summary.get('density') is not None:
    start = summary.get('start_density', summary.get('density0'))
    lines.append(
        f'density {float(start):.3f} → {float(summary["density"]):.3f} '
        f'({summary.get("connectivity")}): {_count(summary.get("added_total"))} '
        f'connections added, {_count(summary.get("removed_total"))} removed over '
        f'{summary.get("epochs")} epochs')
  return '\n'.join(lines)

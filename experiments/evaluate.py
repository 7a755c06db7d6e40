r"""Evaluates a trained RBM: log-likelihood (AIS, exact where feasible), accuracy, samples.

    ncg-evaluate --workdir=runs/default
    ncg-evaluate --workdir=runs/mnist --ais_runs=100 --ais_temperatures=0 \
        --sample_steps=1000
    ncg-evaluate --workdir=runs/sweep            # every member
    ncg-evaluate --workdir=runs/sweep --member=2  # one member

(``python -m experiments.evaluate`` in a clone.)

Restores the latest model of a workdir written by ``experiments/train.py``
(without re-reading its data to rebuild it) and writes ``eval.json`` into it
(figures under ``workdir/figures``); for a workdir of ``experiments/sweep.py``
it evaluates every member (or ``--member``) into ``members/m<i>/``. Existing
results are never overwritten: if ``eval.json`` exists the record goes to
``eval-2.json``, ``eval-3.json``, … (the first free name, claimed atomically),
and its figures carry the same stem (``figures/eval-2_samples_noise.png``).
The headline fields (log-likelihoods, accuracies, the AIS settings) are
copied into the run's summary.json (a sweep's: the member's and the list of
members), which ``ncg-report`` reads.

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
settings) ends with one line on stderr and exit code 2. The measurements are
experiments/evaluation.py (flag-free, also used during training); the
workdir logic is experiments/evaluate_run.py.
"""

import os

from absl import app
from absl import flags
from absl import logging

from experiments import evaluate_run
from experiments import preemption
from experiments import workdir as workdir_lib
from ncg.errors import check

_WORKDIR = flags.DEFINE_string('workdir', None,
                               'Workdir of a trained run or of a sweep.')
_MEMBER = flags.DEFINE_integer(
    'member', None, 'Sweep workdirs: evaluate this member only (default: all).')
_AIS_RUNS = flags.DEFINE_integer('ais_runs', 100, 'AIS runs (>= 2).')
_AIS_TEMPERATURES = flags.DEFINE_integer(
    'ais_temperatures', 0,
    'AIS temperatures (>= 2); 0 = Salakhutdinov & Murray\'s 14,501.')
_AIS_BASE = flags.DEFINE_enum(
    'ais_base', 'data', ['data', 'uniform'],
    'AIS base model: base rates of the training data, or uniform.')
_EXACT_MAX_LOG2 = flags.DEFINE_integer(
    'exact_max_log2', 25,
    'Compute log Z exactly when it needs at most 2^this terms (-1 = never).')
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of AIS, the probe and sampling.')
_PROBE = flags.DEFINE_bool('probe', True, 'Train the linear probe on p(h|x).')
_SAMPLE_CHAINS = flags.DEFINE_integer('sample_chains', 64,
                                      'Chains for the sample figures.')
_SAMPLE_STEPS = flags.DEFINE_integer('sample_steps', 1000,
                                     'Gibbs sweeps of the sample chains.')
_PL_EXAMPLES = flags.DEFINE_integer(
    'pl_examples', 1000,
    'Test examples for the pseudo-likelihood (0 = all; it costs N·V·H).')


def _report(result: evaluate_run.Result) -> None:
  r = result.record
  low = ('unbounded' if r['log_z_ais_low'] is None
         else f'{r["log_z_ais_low"]:.3f}')
  lines = [f'log Z (AIS) = {r["log_z_ais"]:.3f} [{low}, {r["log_z_ais_high"]:.3f}]']
  if r['log_z_exact'] is not None:
    lines.append(f'log Z (exact) = {r["log_z_exact"]:.3f}')
  lines.append(f'test log p(x) (AIS) = {r["test_log_likelihood_ais"]:.3f} nats')
  for k in ('test_accuracy', 'probe_test_accuracy'):
    if k in r:
      lines.append(f'{k} = {r[k]:.4f}')
  print('\n'.join(lines))
  print(f'Wrote {result.path}')


def main(argv):
  check(len(argv) == 1, f'unexpected arguments: {" ".join(argv[1:])}')
  logging.set_verbosity(logging.WARNING)  # orbax logs every restore at INFO
  settings = evaluate_run.Settings(
      ais_runs=_AIS_RUNS.value, ais_temperatures=_AIS_TEMPERATURES.value,
      ais_base=_AIS_BASE.value, exact_max_log2=_EXACT_MAX_LOG2.value,
      seed=_SEED.value, probe=_PROBE.value,
      sample_chains=_SAMPLE_CHAINS.value, sample_steps=_SAMPLE_STEPS.value,
      pl_examples=_PL_EXAMPLES.value)
  results = evaluate_run.evaluate_workdir(_WORKDIR.value, settings, _MEMBER.value)
  for result in results:
    if len(results) > 1 or _MEMBER.value is not None:
      print(f'{os.path.basename(result.directory)}:')
    _report(result)
  if len(results) > 1:  # a sweep: its members grouped by settings, over seeds
    from experiments import runs_report  # pylint: disable=g-import-not-at-top
    print('\nThe sweep, mean ± std over seeds (ncg-report '
          f'{_WORKDIR.value} also draws it):')
    print(runs_report.table(runs_report.group(runs_report.collect([_WORKDIR.value]))))


def cli():
  """The ``ncg-evaluate`` console script (and ``python -m``)."""
  app.run(workdir_lib.clean_errors(
      preemption.interruptible(main, 'evaluation')),
          flags_parser=workdir_lib.parse_flags)


if __name__ == '__main__':
  cli()

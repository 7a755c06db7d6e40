r"""The NCG reference's own likelihood reading of finished runs: train set, uniform-base AIS.

    python -m experiments.studies.paper_reading runs/starts_mnist/ncg_p0.1_small ...

The authors' code reports the MNIST log-likelihood on the *training* set with
AIS from a *uniform* base model (visible biases 0). For every member of each
sweep workdir (or a single run) this runs that AIS (100 runs, the full
14,501-temperature schedule unless --ais_temperatures) and adds to its
summary.json

    log_z_ais_uniform (+ _low, _high),
    train_log_likelihood_ais_uniform = −mean_train F(v) − log Z_uniform (+ _low, _high),

beside the project's own reading (test set, base-rate base: the fields that
are already there). Members that already have the fields are skipped, so a
cut-off call resumes. The RESULTS.md table "the reference's reading" reads them.
"""

from __future__ import annotations

import glob
import os
import time

from absl import app
from absl import flags
import jax

from experiments import evaluation
from experiments import rbm_run
from experiments import workdir as workdir_lib
from ncg import estimators

_RUNS = flags.DEFINE_integer('ais_runs', 100, 'AIS runs.')
_TEMPS = flags.DEFINE_integer('ais_temperatures', 0, '0 = the full 14,501.')
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of the AIS runs.')

FIELD = 'train_log_likelihood_ais_uniform'


def uniform_reading(key: jax.Array, workdir: str, member: int | None,
                    runs: int, temperatures: int) -> dict:
  """The uniform-base AIS log Z and train log p of one model (nats)."""
  trained = rbm_run.load_trained(workdir, member)
  ais = estimators.ais_log_partition(
      key, trained.state, num_runs=runs,
      betas=estimators.ais_betas(temperatures or None),
      base_visible_bias='uniform', label_units=trained.label_units)
  reading = evaluation.likelihoods(trained.state, trained.dataset,
                                   trained.label_units, ais.log_z,
                                   'ais_uniform', ais.log_z_low, ais.log_z_high)
  return {'log_z_ais_uniform': float(ais.log_z),
          'log_z_ais_uniform_low': float(ais.log_z_low),
          'log_z_ais_uniform_high': float(ais.log_z_high),
          **{k: v for k, v in reading.items() if k.startswith('train_')},
          'ais_uniform_runs': runs,
          'ais_uniform_temperatures': int(len(estimators.ais_betas(
              temperatures or None)))}


def main(argv):
  key = jax.random.key(_SEED.value)
  for workdir in argv[1:]:
    members = sorted(glob.glob(os.path.join(workdir, 'members', 'm*', 'summary.json')))
    targets = ([(int(os.path.basename(os.path.dirname(m))[1:]), os.path.dirname(m))
                for m in members] or [(None, workdir)])
    for member, directory in targets:
      path = os.path.join(directory, 'summary.json')
      if not os.path.isfile(path):
        print(f'{directory}: not finished, skipped', flush=True)
        continue
      summary = workdir_lib.read_json(path)
      if summary.get(FIELD) is not None:
        continue
      began = time.perf_counter()
      summary.update(uniform_reading(jax.random.fold_in(key, member or 0),
                                     workdir, member, _RUNS.value, _TEMPS.value))
      workdir_lib.write_json(directory, 'summary.json', summary)
      print(f'{directory}: train log p (uniform-base AIS) = {summary[FIELD]:.2f}, '
            f'test (base-rate) = {summary.get("test_log_likelihood_ais")}, '
            f'{time.perf_counter() - began:.0f} s', flush=True)


if __name__ == '__main__':
  app.run(workdir_lib.clean_errors(main), flags_parser=workdir_lib.parse_flags)

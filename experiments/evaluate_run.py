"""The logic of experiments/evaluate.py: evaluate a run's or a sweep's models.

A workdir of experiments/train.py holds one model; a workdir of
experiments/sweep.py holds a population (config.json has a ``sweep`` grid),
whose members are evaluated one by one (all of them, or the one chosen by
``member``) into their ``members/m<i>/`` directories. Each evaluation goes to
a new ``eval.json`` (``eval-2.json``, …; never overwritten) with figures under
the same stem, and its headline fields are folded into the summary.json that
experiments/report.py reads (the member's, and the sweep's list of members).
Models are restored without their data (:func:`experiments.rbm_run.load_model`);
the data set is loaded once, for the likelihoods.
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

import jax

from experiments import evaluation
from experiments import rbm_run
from experiments import workdir as workdir_lib
from ncg import distributed
from ncg.errors import check


class Settings(NamedTuple):
  """How to evaluate (the flags of experiments/evaluate.py)."""
  ais_runs: int = 100
  ais_temperatures: int = 0      # 0: Salakhutdinov & Murray's 14,501
  ais_base: str = 'data'         # data | uniform
  exact_max_log2: int = 25       # -1: never exact
  seed: int = 0
  probe: bool = True
  sample_chains: int = 64
  sample_steps: int = 1000
  pl_examples: int = 1000        # 0: all


def check_settings(s: Settings) -> None:
  """InputError (one line, exit 2 in the entry point) for invalid settings."""
  check(s.seed >= 0, f'--seed must be >= 0, got {s.seed}')
  check(s.exact_max_log2 >= -1,
        f'--exact_max_log2 must be >= -1 (-1 = never), got {s.exact_max_log2}')
  check(s.pl_examples >= 0,
        f'--pl_examples must be >= 0 (0 = all), got {s.pl_examples}')
  check(s.ais_runs >= 2, f'--ais_runs must be >= 2, got {s.ais_runs}')
  check(s.ais_temperatures == 0 or s.ais_temperatures >= 2,
        '--ais_temperatures must be 0 (the full schedule) or >= 2, got '
        f'{s.ais_temperatures}')
  check(s.sample_chains >= 0 and s.sample_steps >= 0,
        '--sample_chains and --sample_steps must be >= 0')


class Result(NamedTuple):
  """One evaluation: the directory, the file written and its record."""
  directory: str
  path: str
  record: dict[str, Any]


def sweep_size(config) -> int:
  """Members of a sweep's config (0 for a single run)."""
  sweep = config.get('sweep') if hasattr(config, 'get') else None
  return len(sweep['seed']) if sweep else 0


def evaluate_model(directory: str, model: rbm_run.Model, dataset,
                   settings: Settings) -> Result:
  """Evaluates one model into ``directory`` (eval[-N].json, figures, summary)."""
  os.makedirs(workdir_lib.figure_path(directory, ''), exist_ok=True)
  name, reservation = reserve_result_name(directory)
  try:
    return _evaluate_model(directory, model, dataset, settings, name)
  finally:
    if reservation is not None:
      workdir_lib.unlock(*reservation)


def reserve_result_name(directory: str) -> tuple[str, tuple[str, int] | None]:
  """(eval[-N].json, its reservation): the first name no file and no live
  evaluation has.

  Two evaluations of one directory at once would otherwise both pick
  eval.json, write their figures (figures/eval_*.png) over each other, and
  one record would land in eval-2.json with the other's figures. Each
  reserves its name by holding the lock of ``.eval[-N].json.lock``
  (:func:`experiments.workdir.try_lock`; released, and the file removed,
  when it is done; a killed evaluation's lock is free again). Several hosts:
  the writer reserves; the others take the first free name.
  """
  if not distributed.is_writer():
    return evaluation.free_result_name(directory), None
  for n in range(1, 1_000_000):
    name = 'eval.json' if n == 1 else f'eval-{n}.json'
    if os.path.exists(os.path.join(directory, name)):
      continue
    path = os.path.join(directory, f'.{name}.lock')
    try:
      fd, _ = workdir_lib.try_lock(path)
    except OSError:  # a file system without locks: as before, unreserved
      return name, None
    if fd is None:
      continue  # another evaluation is writing this one
    if os.path.exists(os.path.join(directory, name)):  # it just finished
      workdir_lib.unlock(path, fd)
      continue
    os.pwrite(fd, (workdir_lib.owner_text() + '\n').encode(), 0)
    return name, (path, fd)
  raise RuntimeError('no free result name')  # unreachable in practice


def _evaluate_model(directory: str, model: rbm_run.Model, dataset,
                    settings: Settings, name: str) -> Result:
  stem = name[:-len('.json')]
  record = evaluation.evaluate(
      jax.random.key(settings.seed), model.state, dataset,
      label_units=model.label_units, ais_runs=settings.ais_runs,
      ais_temperatures=settings.ais_temperatures, ais_base=settings.ais_base,
      exact_max_log2=settings.exact_max_log2, probe=settings.probe,
      pl_examples=settings.pl_examples,
      figures_dir=workdir_lib.figure_path(directory, ''), figure_prefix=stem,
      sample_chains=settings.sample_chains, sample_steps=settings.sample_steps)
  record = {'workdir': os.path.abspath(directory), 'epoch': model.epoch,
            'dataset': dataset.name, 'seed': settings.seed,
            **{k: evaluation.json_safe(v) for k, v in record.items()}}
  path = evaluation.write_new_json(directory, name, record)
  evaluation.fold_into_summary(directory, record, model.epoch,
                               os.path.basename(path))
  return Result(directory, path, record)


def evaluate_workdir(workdir: str, settings: Settings,
                     member: int | None = None) -> list[Result]:
  """Evaluates a run, or a sweep's members (all, or ``member``)."""
  check(bool(workdir), '--workdir is required')
  check(os.path.isdir(workdir), f'--workdir {workdir} is not a directory')
  check(os.access(workdir, os.W_OK), f'--workdir {workdir} is not writable')
  check_settings(settings)
  config = workdir_lib.load_config(workdir)
  check('num_hidden' in config.get('model', {}),
        f'{workdir} is not an RBM workdir (a run of experiments.prune? its '
        'test error, MACs and widths are in its summary.json)')
  size = sweep_size(config)
  if not size:
    check(member is None, f'--member is for sweep workdirs; {workdir} holds '
          'a single run')
    model = rbm_run.load_model(workdir)
    return [evaluate_model(workdir, model, rbm_run.load_dataset(model.config),
                           settings)]
  check(member is None or 0 <= member < size,
        f'--member must be in [0, {size}) for the sweep in {workdir}, got {member}')
  summary_path = os.path.join(workdir, 'summary.json')
  population = (evaluation.read_json(summary_path)
                if os.path.isfile(summary_path) else None)
  diverged = {m['member'] for m in (population or {}).get('members', [])
              if m.get('diverged_epoch')}
  chosen = [member] if member is not None else [
      i for i in range(size) if i not in diverged]
  dataset = rbm_run.load_dataset(config)
  results = []
  for i in chosen:
    model = rbm_run.load_model(workdir, i)
    result = evaluate_model(os.path.join(workdir, 'members', f'm{i}'), model,
                            dataset, settings)
    results.append(result)
    member_summary = os.path.join(result.directory, 'summary.json')
    if population is not None and os.path.isfile(member_summary):
      updated = evaluation.read_json(member_summary)
      population['members'] = [updated if m.get('member') == i else m
                               for m in population['members']]
  if population is not None:
    workdir_lib.write_json(workdir, 'summary.json', population)
  return results

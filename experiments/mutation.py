r"""Mutation testing of the maths modules with mutmut (slow; not part of CI).

    python -m experiments.mutation --modules=rbm,sampling,train,estimators,classification

Copies the library and the tests to ``--workdir`` (default /tmp/ncg-mutation;
the working tree is never touched), runs ``mutmut run`` there on the named
modules against the fast unit tests listed in setup.cfg's ``[mutmut]``
section (tests marked ``slow`` are skipped), and prints one line per module:
killed / total mutants and the score, then the surviving mutants. Rerunning
the command resumes (mutmut keeps its results in ``<workdir>/mutants``);
``--fresh`` starts over. ``mutmut show <name>`` in ``<workdir>`` prints a
mutant's diff.

mutmut 3 does not mutate decorated functions, and most of the numerics here
are ``@jax.jit`` functions, so the copy rewrites each top-level

    @functools.partial(jax.jit, static_argnames=...)     def f(...): ...
    def f(...): ...                                      f = functools.partial(
                                                  →          jax.jit, ...)(f)

(the same function, jitted after its definition) before mutmut sees it. Each
mutant runs in a fresh process forked from mutmut's fork server, so no jit
cache of the original code is reused; ``tests/conftest.py`` clears the jit
caches before every test while mutmut collects which tests call which
function. Counting: killed and timeouts count as killed; mutants no
selected test reaches ("no tests") count as survivors.
"""

from __future__ import annotations

import ast
import collections
import glob
import json
import os
import random
import shutil
import subprocess
import sys

from absl import app
from absl import flags

_MODULES = flags.DEFINE_list(
    'modules', ['rbm', 'sampling', 'train', 'rewiring', 'analytics',
                'estimators', 'partition', 'ais', 'ais_kernels',
                'classification', 'parsimonious'],
    'Modules of ncg/ to mutate (parsimonious = the whole subpackage).')
_WORKDIR = flags.DEFINE_string(
    'workdir', '/tmp/ncg-mutation',
    'Where the copies (one per module) and mutmut\'s state live.')
_MAX_CHILDREN = flags.DEFINE_integer('max_children', 1,
                                     'Mutants tested in parallel.')
_FRESH = flags.DEFINE_bool('fresh', False, 'Delete the workdir first.')
_SAMPLE = flags.DEFINE_integer(
    'sample', 0, 'Test only this many mutants per module, drawn at random '
    '(seeded) from all of its mutants; 0 tests all. The score is then an '
    'estimate over the sample.')
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of --sample.')
_RETRY = flags.DEFINE_bool('retry_survivors', False,
                           'Test the survivors of the last run again (after '
                           'adding tests).')
_COMMIT = flags.DEFINE_string(
    'commit', '', 'Copy the sources and tests of this git commit (git '
    'archive) instead of the working tree, so that a score names the code it '
    'measured; other engineers\' uncommitted edits stay out.')
_REPORT_ONLY = flags.DEFINE_bool('report_only', False,
                                 'Only print the scores of the last run.')

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The fast unit tests run against each module's mutants (setup.cfg's
# selection, `tests`, is narrowed to these in the copy: mutmut then maps only
# these tests to functions, and a mutant runs the ones that reach it).
MODULE_TESTS = {
    'rbm': ('tests/test_rbm.py',),
    'sampling': ('tests/test_sampling_exact.py', 'tests/test_sampling.py'),
    'train': ('tests/test_train_mutants.py', 'tests/test_train_independent.py',
              'tests/test_train.py', 'tests/test_connectivity_modes.py'),
    'rewiring': ('tests/test_rewiring_exact.py',
                 'tests/test_connectivity_modes.py'),
    'analytics': ('tests/test_analytics.py', 'tests/test_connectivity_modes.py'),
    'estimators': ('tests/test_estimators.py',),
    'partition': ('tests/test_partition.py', 'tests/test_estimators.py'),
    'ais': ('tests/test_ais.py', 'tests/test_estimators.py'),
    'ais_kernels': ('tests/test_estimators_mutants.py', 'tests/test_ais.py',
                    'tests/test_estimators.py', 'tests/test_ais_base.py'),
    'classification': ('tests/test_classification_mutants.py',
                       'tests/test_classification.py'),
    'parsimonious': ('tests/test_parsimonious_gates.py',
                     'tests/test_parsimonious_models.py',
                     'tests/test_parsimonious_shrink.py',
                     'tests/test_parsimonious_train.py',
                     'tests/test_parsimonious_complexity.py',
                     'tests/test_parsimonious_l0.py',
                     'tests/test_parsimonious_analysis.py',
                     'tests/test_parsimonious_mutants.py'),
}
MODULE_PATHS = {'parsimonious': 'ncg/parsimonious/*'}
SELECTION = 'pytest_add_cli_args_test_selection =\n    tests\n'
WARMUP = 'forkserver_warmup = none\n'
PRELOAD = ('jax', 'jax.numpy', 'numpy', 'optax', 'ncg.rbm', 'ncg.sampling',
           'ncg.train', 'ncg.estimators', 'ncg.ais', 'ncg.ais_kernels',
           'ncg.partition', 'ncg.classification',
           'tests.conftest')
COPIED = ('ncg', 'tests', 'setup.cfg', 'pyproject.toml')
KILLED = {1, 3, 36, -24, 152, 37}   # mutmut exit codes counted as killed
                                    # (test failure, timeout, type check)
STATUS = {0: 'survived', 33: 'no tests', 34: 'skipped', 35: 'suspicious',
          5: 'no tests', -11: 'segfault'}


def _is_jit(node: ast.expr) -> bool:
  src = ast.unparse(node)
  return src == 'jax.jit' or src.startswith('functools.partial(jax.jit')


def unjit_decorators(source: str) -> str:
  """Moves the decorators of top-level jitted functions below them."""
  tree = ast.parse(source)
  lines = source.splitlines(keepends=True)
  drop, tail = set(), []
  for node in tree.body:
    if not isinstance(node, ast.FunctionDef) or not any(
        _is_jit(d) for d in node.decorator_list):
      continue
    # @A @B def f → f = A(B(f)): every decorator of a jitted function moves
    # (e.g. @precision.highest under the jit).
    wrapped = node.name
    for decorator in reversed(node.decorator_list):
      drop.update(range(decorator.lineno - 1, decorator.end_lineno))
      wrapped = f'{ast.unparse(decorator)}({wrapped})'
    tail.append(f'{node.name} = {wrapped}\n')
  if not tail:
    return source
  kept = [line for i, line in enumerate(lines) if i not in drop]
  return ''.join(kept) + '\n\n# experiments/mutation.py: jit after definition\n' + ''.join(tail)


def prepare(workdir: str, module: str) -> None:
  """Copies the sources and tests to workdir, rewriting jit decorators."""
  os.makedirs(workdir, exist_ok=True)
  for name in COPIED:
    source, target = os.path.join(REPO, name), os.path.join(workdir, name)
    if _COMMIT.value:
      if os.path.isdir(target):
        shutil.rmtree(target)
      continue
    if os.path.isdir(source):
      shutil.rmtree(target, ignore_errors=True)
      shutil.copytree(source, target,
                      ignore=shutil.ignore_patterns('__pycache__'))
    else:
      shutil.copy2(source, target)
  if _COMMIT.value:
    archive = subprocess.run(['git', 'archive', _COMMIT.value, *COPIED],
                             cwd=REPO, check=True, capture_output=True).stdout
    subprocess.run(['tar', '-x', '-C', workdir], input=archive, check=True)
  for path in glob.glob(os.path.join(workdir, 'ncg', '**', '*.py'),
                        recursive=True):
    with open(path) as f:
      source = f.read()
    rewritten = unjit_decorators(source)
    if rewritten != source:
      with open(path, 'w') as f:
        f.write(rewritten)
  cfg = os.path.join(workdir, 'setup.cfg')
  with open(cfg) as f:
    text = f.read()
  assert SELECTION in text and WARMUP in text, 'setup.cfg [mutmut] changed'
  text = text.replace(SELECTION, 'pytest_add_cli_args_test_selection =\n'
                      + ''.join(f'    {t}\n' for t in MODULE_TESTS[module]
                                # a test file newer than --commit is left out
                                if os.path.exists(os.path.join(workdir, t))))
  # The fork server imports JAX and the (mutated) library once; importing
  # them starts no threads and no backend, so forking stays safe.
  with open(os.path.join(workdir, 'preload.txt'), 'w') as f:
    f.write('\n'.join(PRELOAD) + '\n')
  # Only this module's file(s) are mutated in its copy (generating every
  # module's mutants for each copy costs minutes).
  start = text.index('only_mutate =\n')
  end = text.index('pytest_add_cli_args_test_selection =')
  path = MODULE_PATHS.get(module, f'ncg/{module}.py')
  text = text[:start] + f'only_mutate =\n    {path}\n' + text[end:]
  with open(cfg, 'w') as f:
    f.write(text.replace(WARMUP, 'forkserver_warmup = import\n'
                         'preload_modules_file = preload.txt\n'))


def xla_cache_env(workdir: str) -> dict[str, str]:
  """The environment of mutmut: one persistent XLA cache per module copy.

  Every mutant runs in a fresh process, so without it each one compiles all
  of its tests' programs again. A program is keyed by its HLO: a mutated
  function traces to a different program and compiles anew, the unchanged
  ones are read from the cache (no number changes).
  """
  return dict(os.environ,
              JAX_COMPILATION_CACHE_DIR=os.path.join(workdir, 'xla-cache'),
              JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS='0',
              JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES='-1')


def module_of(path: str) -> str:
  rel = os.path.relpath(path, 'mutants/ncg')
  parts = rel.split(os.sep)
  return parts[0] if len(parts) > 1 else parts[0].removesuffix('.py.meta')


def all_mutants(workdir: str, module: str) -> list[str]:
  """Names of every mutant of a module (after mutmut generated them)."""
  names = []
  for path in glob.glob(os.path.join(workdir, 'mutants', 'ncg', '**',
                                     '*.py.meta'), recursive=True):
    if module_of(os.path.relpath(path, workdir)) == module:
      with open(path) as f:
        names.extend(json.load(f)['exit_code_by_key'])
  return sorted(names)


def sample_of(workdir: str, module: str) -> list[str] | None:
  """The seeded random sample of --sample mutants (None: all)."""
  if not _SAMPLE.value:
    return None
  names = all_mutants(workdir, module)
  rng = random.Random(f'{_SEED.value}-{module}')
  return sorted(rng.sample(names, min(_SAMPLE.value, len(names))))


def _tested(workdir: str, module: str) -> set[str]:
  """Mutants of a module that already have a result."""
  out = set()
  for path in glob.glob(os.path.join(workdir, 'mutants', 'ncg', '**',
                                     '*.py.meta'), recursive=True):
    if module_of(os.path.relpath(path, workdir)) == module:
      with open(path) as f:
        out.update(k for k, v in json.load(f)['exit_code_by_key'].items()
                   if v is not None)
  return out


def scores(workdir: str, modules, only=None) -> dict:
  """{module: (killed, total, survivors)} from mutmut's .meta files."""
  out = {}
  cwd = os.getcwd()
  os.chdir(workdir)
  try:
    by_module = collections.defaultdict(dict)
    for path in glob.glob('mutants/ncg/**/*.py.meta', recursive=True):
      with open(path) as f:
        by_module[module_of(path)].update(json.load(f)['exit_code_by_key'])
  finally:
    os.chdir(cwd)
  for module in modules:
    codes = by_module.get(module, {})
    if only is not None:
      codes = {k: v for k, v in codes.items() if k in only}
    done = {k: v for k, v in codes.items() if v is not None}
    survivors = sorted(f'{k} ({STATUS.get(v, v)})' for k, v in done.items()
                       if v not in KILLED)
    out[module] = (len(done) - len(survivors), len(done), len(codes),
                   survivors)
  return out


def main(argv):
  del argv
  for module in _MODULES.value:
    workdir = os.path.join(_WORKDIR.value, module)
    if _FRESH.value:
      shutil.rmtree(workdir, ignore_errors=True)
    run = [sys.executable, '-m', 'mutmut', 'run',
           f'--max-children={_MAX_CHILDREN.value}']
    env = xla_cache_env(workdir)
    if not _REPORT_ONLY.value:
      prepare(workdir, module)
      if _SAMPLE.value and not all_mutants(workdir, module):
        # Generates the mutants and the test map, tests no mutant.
        subprocess.run(run + [f'ncg.{module}.x_no_such_function*'],
                       cwd=workdir, check=False, env=env)
      names = sample_of(workdir, module)
      if names is None:
        subprocess.run(run + [f'ncg.{module}.*'], cwd=workdir, check=False,
                       env=env)
      else:  # explicit names are always rerun: skip those with a result
        todo = [n for n in names if n not in _tested(workdir, module)]
        if _RETRY.value:
          todo += [n.split()[0] for n in scores(workdir, [module], names)[
              module][3]]
        if todo:
          subprocess.run(run + todo, cwd=workdir, check=False, env=env)
    if not os.path.isdir(workdir):
      print(f'{module}: not run')
      continue
    killed, done, total, survivors = scores(
        workdir, [module], sample_of(workdir, module))[module]
    score = f'{100 * killed / done:.1f}%' if done else 'n/a'
    print(f'{module}: {killed}/{done} killed ({score}); {total} mutants',
          flush=True)
    for name in survivors:
      print(f'  {name}')


if __name__ == '__main__':
  app.run(main)

"""Run configurations: ml_collections config files with a ``get_config()``.

The entry points' default configs are found here through :func:`path`, so the
console scripts (``ncg-train`` …) work from any directory, and
:func:`resolve_argv` lets ``--config=NAME`` name a config of this package
(``--config=mnist``) as well as any file path.
"""

from __future__ import annotations

import os
import re
import sys

DIRECTORY = os.path.dirname(os.path.abspath(__file__))
DATA_VARIABLE = 'NCG_DATA'   # a directory laid out like the repository's ../shared/data
REPOSITORY_DATA = os.path.join('..', 'shared', 'data')


def data_path(relative: str) -> str:
  """Where a packaged config looks for its data files by default.

  ``$NCG_DATA/relative`` when ``NCG_DATA`` is set; otherwise the repository's
  layout ``../shared/data/relative`` when it exists (a clone's studies run
  from its root); otherwise '' (unset: the run says which
  ``--config.data.path`` to pass). ``relative`` is e.g. ``'mnist'`` (the IDX
  files) or ``'uci/mushrooms.libsvm'``.
  """
  root = os.environ.get(DATA_VARIABLE)
  if root:
    return os.path.join(root, relative)
  repository = os.path.join(REPOSITORY_DATA, relative)
  return repository if os.path.exists(repository) else ''


def names() -> list[str]:
  """The configs that ship with the package (file names without ``.py``)."""
  return sorted(f[:-3] for f in os.listdir(DIRECTORY)
                if f.endswith('.py') and not f.startswith('_'))


def path(name: str) -> str:
  """The absolute path of the packaged config ``name`` (e.g. ``'default'``)."""
  return os.path.join(DIRECTORY, name + '.py')


def resolve_argv(argv: list[str]) -> list[str]:
  """``--config=NAME`` → the packaged config's path, when NAME is not a file.

  Anything else (a file that exists, an unknown name, ``--config.x=...``) is
  left as it is, so the flag parser reports it as before. A directory is
  never a config file: ``mnist/`` (the data) beside ``--config=mnist`` does
  not hide the packaged config.
  """
  out = []
  for arg in argv:
    if arg.startswith('--config='):
      value = arg[len('--config='):]
      stem, _, override = value.partition(':')  # config_flags' 'file:arg'
      if not os.path.isfile(stem) and stem in names():
        arg = '--config=' + path(stem) + (':' + override if override else '')
    out.append(arg)
  return out


def define_flag(default: str, help_string: str):
  """Defines the ``--config`` flag of an entry point, defaulting to ``path(default)``.

  ml_collections reads ``--config.x=...`` overrides while defining the flag,
  so an unknown field there would be a traceback at import time: it ends
  here as one ``error:`` line and exit code 2, as every other usage error.
  """
  from ml_collections import config_flags  # pylint: disable=g-import-not-at-top
  from experiments import workdir as workdir_lib  # pylint: disable=g-import-not-at-top
  argv = resolve_argv(sys.argv)
  try:
    return config_flags.DEFINE_config_file('config', path(default), help_string,
                                           sys_argv=argv)
  except (AttributeError, KeyError) as e:
    key, hint = unknown_field(e)
    culprit = [a for a in argv[1:] if a.startswith('--config.') and
               f'.{key}' in a.split('=')[0]]
    workdir_lib.fail(f'unknown config field {key!r}'
                     + (f' in {culprit[0]}' if culprit else '')
                     + (f' (did you mean {hint!r}?)' if hint else '')
                     + '; --help lists the fields that exist')


def unknown_field(e: BaseException) -> tuple[str, str | None]:
  """(field, suggestion) of ml_collections' unknown-field error.

  Its KeyError (inside an AttributeError) reads ``'epochz'`` + newline +
  ``Did you mean "epochs" instead of "epochz"?``; the field and the hint
  come back bare.
  """
  while e.args and isinstance(e.args[0], BaseException):  # AttributeError(KeyError)
    e = e.args[0]
  text = str(e.args[0]) if e.args else str(e)
  lines = text.splitlines() or ['']
  key = lines[0].strip().strip('"\'')
  match = re.search(r'Did you mean "([^"]+)"', text)
  return key, (match.group(1) if match else None)


def describe_missing(value: str) -> str:
  """What to say of a ``--config=`` value that names no file: the packaged names."""
  return (f'{value} is neither a file nor a packaged config; packaged configs: '
          + ', '.join(names()))

"""Range and type checks of config values, as tables (one rule per field).

The library checks what it needs (``ncg.train.TrainConfig``, ``ncg.rbm.init``,
``ncg.parsimonious.train.validate``); these tables add the fields only the
entry points read and the signs the library cannot guess (a negative weight
scale trains a degenerate model, a negative AIS schedule length crashes late).
A violated rule is an :class:`ncg.errors.InputError` naming the field, the
allowed range and the value, raised before the workdir is touched.
"""

from __future__ import annotations

import ast
import math
from typing import Any, NamedTuple, Sequence

import jax
import ml_collections
import numpy as np

from ncg.errors import InputError, check


class Rule(NamedTuple):
  """``low (<|<=) config.<path> (<|<=) high``; None = unbounded.

  ``integer``: the value must be an int (bools are refused either way);
  ``also``: values allowed outside the range (e.g. 0 = "the default"; None
  = a field left unset, an ml_collections placeholder); ``items``: the field
  is a tuple (``--config.model.widths='(300,100)'``) whose every element
  obeys the rule, with at least ``min_items`` (0 or 1) of them.
  """
  path: str
  low: float | None = None
  high: float | None = None
  low_open: bool = False
  high_open: bool = False
  integer: bool = False
  also: tuple = ()
  items: bool = False
  min_items: int = 0

  def describe(self) -> str:
    parts = []
    if self.low is not None:
      parts.append(f'{">" if self.low_open else ">="} {self.low:g}')
    if self.high is not None:
      parts.append(f'{"<" if self.high_open else "<="} {self.high:g}')
    kind = 'an integer' if self.integer else 'a number'
    text = f'{kind} ' + ' and '.join(parts) if parts else kind
    return text + ''.join(f' or {v!r}' for v in self.also)


def _get(config: ml_collections.ConfigDict, path: str) -> Any:
  value = config
  for part in path.split('.'):
    value = value[part]
  return value


def _obeys(rule: Rule, value: Any) -> bool:
  if value is None and None in rule.also:
    return True
  good_type = (isinstance(value, int) if rule.integer
               else isinstance(value, (int, float)))
  return (good_type and not isinstance(value, bool) and math.isfinite(value)
          and (value in rule.also or (
              (rule.low is None or value > rule.low or
               (not rule.low_open and value == rule.low))
              and (rule.high is None or value < rule.high or
                   (not rule.high_open and value == rule.high)))))


def _element(text: Any) -> Any:
  """An element of a tuple field as given: a number, or the text of one
  (``--config.model.widths=7`` gives ``('7',)``); anything else as it is."""
  if not isinstance(text, str):
    return text
  try:
    return ast.literal_eval(text.strip())
  except (ValueError, SyntaxError, MemoryError, RecursionError):
    return text


def check_config(config: ml_collections.ConfigDict, rules: Sequence[Rule]) -> None:
  """Raises InputError for the first value that breaks its rule."""
  for rule in rules:
    try:
      value = _get(config, rule.path)
    except (KeyError, AttributeError):
      continue  # an older workdir's config.json, written before the field existed
    if not rule.items:
      check(_obeys(rule, value), f'{rule.path} must be {rule.describe()}, got '
            f'{value!r}')
      continue
    check(isinstance(value, (tuple, list)) and len(value) >= rule.min_items
          and all(_obeys(rule, _element(v)) for v in value),
          f'{rule.path} must be a {"non-empty " if rule.min_items else ""}'
          f'tuple of {_plural(rule.describe())} (e.g. --config.{rule.path}='
          f'\'(1,2)\'), got {value!r}')


def _plural(description: str) -> str:
  return description.replace('an integer', 'integers').replace('a number',
                                                               'numbers')


RBM_RULES = (
    Rule('data.seed', 0, integer=True),
    Rule('data.validation_size', 0, integer=True, also=(None,)),
    Rule('data.bars_size', 2, integer=True),
    Rule('model.num_visible', 1, integer=True, also=(None,)),
    Rule('model.num_hidden', 1, integer=True),
    Rule('model.density', 0, 1),
    Rule('model.weight_scale', 0, low_open=True),
    Rule('train.k', 1, integer=True),
    Rule('train.learning_rate', 0, low_open=True),
    Rule('train.strength_learning_rate', 0, also=(None,)),
    Rule('train.momentum', 0, 1, high_open=True),
    Rule('train.batch_size', 1, integer=True),
    Rule('train.epochs', 1, integer=True),
    Rule('train.checkpoint_every', 1, integer=True),
    Rule('train.checkpoint_minutes', 0),
    Rule('train.log_every', 1, integer=True),
    Rule('train.rewire_fraction', 0, 1),
    Rule('train.rewire_every', 0, integer=True),
    Rule('train.rewire_until', 0, 1),
    Rule('train.new_weight_scale', 0),
    Rule('train.l1_penalty', 0),
    Rule('train.magnitude_threshold', 0),
    Rule('train.hysteresis', 0, 0.5, high_open=True),
    Rule('train.free_energy_examples', 1, integer=True),
    Rule('train.data_shards', 1, integer=True),  # 1 = no data parallelism
    Rule('eval.every', 0, integer=True),
    Rule('eval.ais_runs', 2, integer=True),
    Rule('eval.ais_temperatures', 2, integer=True, also=(0,)),  # 0 = the full schedule
    Rule('figures.num_samples', 1, integer=True),
    Rule('figures.gibbs_steps', 0, integer=True),
)
"""What an RBM run config (experiments/configs/default.py) must satisfy."""

PRUNE_RULES = (
    Rule('train.seed', 0, integer=True),
    Rule('data.validation_size', 0, integer=True, also=(None,)),
    Rule('train.epochs', 1, integer=True),
    Rule('train.batch_size', 1, integer=True),
    Rule('train.learning_rate', 0, low_open=True),
    Rule('train.theta_learning_rate', 0, low_open=True),
    Rule('train.theta_init', 0, 1, low_open=True),
    Rule('train.penalty', 0),
    Rule('train.prior_variance', 0, low_open=True),
    Rule('train.decide_epoch', 0, integer=True),
    Rule('train.grace_epochs', 0, integer=True),
    Rule('train.chunk_steps', 1, integer=True),
    Rule('train.shrink_fraction', 0, 1),
    Rule('train.theta_averaging', 0, 1, high_open=True),
    Rule('train.theta_decay_power', 0),
    Rule('train.explore', 0, 1),
    Rule('train.init_scale', 0, low_open=True),
    Rule('analysis.marginal_examples', 0, integer=True),  # 0: skip the check
    # tuple-valued fields: every element (--config.model.widths='(300,100)')
    Rule('model.widths', 1, integer=True, items=True, min_items=1),
    Rule('train.dropout', 0, 1, high_open=True, items=True),
    Rule('train.penalty_scale', 0, items=True),
    Rule('train.theta_init_per_group', 0, 1, low_open=True, items=True),
)
"""What a parsimonious run config (experiments/configs/prune_*.py) must satisfy."""


def free_memory() -> tuple[int | None, str]:
  """(bytes free where a run's arrays live, the memory's name).

  An accelerator's own count (``memory_stats``: limit − in use, summed over
  the local devices), else the host's available memory (``MemAvailable`` of
  /proc/meminfo: a CPU backend's arrays are host arrays); None where
  neither is known (then nothing is refused).
  """
  devices = jax.local_devices()
  try:
    stats = [d.memory_stats() for d in devices]
  except Exception:  # pylint: disable=broad-except
    stats = [None]
  if all(s and 'bytes_limit' in s for s in stats):
    free = sum(s['bytes_limit'] - s.get('bytes_in_use', 0) for s in stats)
    return free, f'{devices[0].platform.upper()} device'
  try:
    with open('/proc/meminfo') as f:
      for line in f:
        if line.startswith('MemAvailable:'):
          return int(line.split()[1]) * 1024, 'host'
  except (OSError, ValueError, IndexError):
    pass
  return None, ''


def _size(n: float) -> str:
  for unit in ('bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'):
    if n < 1024 or unit == 'PiB':
      return f'{n:.0f} {unit}' if unit == 'bytes' else f'{n:.1f} {unit}'
    n /= 1024
  return ''  # unreachable


def nbytes(tree: Any) -> int:
  """Bytes of the arrays of a pytree (abstract ones included: jax.eval_shape)."""
  return int(sum(math.prod(leaf.shape) * np.dtype(leaf.dtype).itemsize
                 for leaf in jax.tree.leaves(tree)))


def check_memory(tree: Any, field: str, value: Any, what: str) -> None:
  """InputError when the arrays of ``tree`` (abstract: nothing is allocated)
  cannot fit the free memory (:func:`free_memory`).

  ``tree`` is what training keeps (parameters, optimizer state, chains);
  the steps need more than that, so a run refused here could never train.
  The message gives the size asked, the memory free and the largest
  ``field`` (now ``value``; the size grows with it about linearly) that fits,
  or for a tuple (widths) the share of the size asked that fits.
  """
  need = nbytes(tree)
  free, where = free_memory()
  if free is None or need <= free:
    return
  if isinstance(value, int):
    fits = f'at most about {field}={int(value * free / need)} fits'
  else:  # a tuple of widths: the share of the memory asked that is free
    fits = f'about {100 * free / need:.2g}% of that fits'
  raise InputError(
      f'{what} with {field}={value} needs {_size(need)} for its parameters '
      f'and training state alone, but {_size(free)} of {where} memory is '
      f'free: {fits} (before the working memory of a step)')

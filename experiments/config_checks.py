"""Range and type checks of config values, as tables (one rule per field).

The library checks what it needs (``ncg.train.TrainConfig``, ``ncg.rbm.init``,
``ncg.parsimonious.train.validate``); these tables add the fields only the
entry points read and the signs the library cannot guess (a negative weight
scale trains a degenerate model, a negative AIS schedule length crashes late).
A violated rule is an :class:`ncg.errors.InputError` naming the field, the
allowed range and the value, raised before the workdir is touched.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple, Sequence

import ml_collections

from ncg.errors import InputError, check


class Rule(NamedTuple):
  """``low (<|<=) config.<path> (<|<=) high``; None = unbounded.

  ``integer``: the value must be an int (bools are refused either way);
  ``also``: values allowed outside the range (e.g. 0 = "the default"; None
  = a field left unset, an ml_collections placeholder).
  """
  path: str
  low: float | None = None
  high: float | None = None
  low_open: bool = False
  high_open: bool = False
  integer: bool = False
  also: tuple = ()

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


def check_config(config: ml_collections.ConfigDict, rules: Sequence[Rule]) -> None:
  """Raises InputError for the first value that breaks its rule."""
  for rule in rules:
    try:
      value = _get(config, rule.path)
    except (KeyError, AttributeError):
      continue  # an older workdir's config.json, written before the field existed
    if value is None and None in rule.also:
      continue
    good_type = (isinstance(value, int) if rule.integer
                 else isinstance(value, (int, float)))
    ok = (good_type and not isinstance(value, bool) and math.isfinite(value)
          and (value in rule.also or (
              (rule.low is None or value > rule.low or
               (not rule.low_open and value == rule.low))
              and (rule.high is None or value < rule.high or
                   (not rule.high_open and value == rule.high)))))
    check(ok, f'{rule.path} must be {rule.describe()}, got {value!r}')


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
)
"""What a parsimonious run config (experiments/configs/prune_*.py) must satisfy."""

"""Connectivity modes as a table: what each does in training and how runs report it.

A mode is one row of :data:`MODES` (``TrainConfig.connectivity`` picks one):
what the trainer does besides the CD step on W ⊙ A, b, c (learned strengths,
an L1 term, a rewiring rule and whether it reads the CD statistics), and what
the layers above need to know without branching on its name — whether its
mask is all ones, whether its rewiring schedule spans the run, which
``TrainConfig`` settings a run's summary records for it, and its label in
reports (with the settings the label shows).

A new mode is a row here plus, if it rewires, a pure ``rewire(config, key,
state, gradient, step) → state`` (:mod:`ncg.rewiring` holds the rules), and a
case in tests/test_connectivity_modes.py.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, NamedTuple

from ncg import rewiring


class Mode(NamedTuple):
  """One connectivity mode.

  Attributes:
    learns_strength: strengths follow the network gradient W ⊙ G (NCG); the
      final density is learned, so reports give one row per initial density.
    l1: the weights' ascent direction gets −λ·sign(W).
    rewire: ``rewire(config, key, state, gradient, step) → state`` applied
      every ``rewire_every`` steps (None: never).
    needs_gradient: ``rewire`` reads the CD statistics G of a minibatch.
    dense_mask: the mask is all ones (the run starts at density 1).
    spans_run: the rewiring schedule is a fraction of the run's steps
      (``rewire_until``), so the run's length is part of it: a finished run
      cannot be extended.
    records: the ``TrainConfig`` fields a run's summary records for this mode
      alone (None in the summaries of other modes).
    label: its name in reports.
    short: its short name in cross-study tables (experiments/rbm_readings.py:
      "SET at density 0.1", "NCG from p = 1").
    shows: (summary field, symbol) pairs its report label shows, as
      ``label (symbol = value, …)``, when the first field is recorded.
  """
  learns_strength: bool = False
  l1: bool = False
  rewire: Callable | None = None
  needs_gradient: bool = False
  dense_mask: bool = False
  spans_run: bool = False
  records: tuple[str, ...] = ()
  label: str = ''
  short: str = ''
  shows: tuple[tuple[str, str], ...] = ()


def set_rewire(config, key, state, gradient, step):
  """SET (:func:`ncg.rewiring.set_rewire`) at ``config.rewire_fraction``."""
  del gradient, step
  return rewiring.set_rewire(key, state, config.rewire_fraction,
                             config.new_weight_scale, config.label_units)


def rigl_rewire(config, key, state, gradient, step):
  """RigL (:func:`ncg.rewiring.rigl_rewire`), its fraction decaying by a
  cosine until ``config.rewire_until`` steps (constant when that is 0)."""
  del key
  fraction = (rewiring.cosine_fraction(step, config.rewire_fraction,
                                       config.rewire_until)
              if config.rewire_until > 0 else config.rewire_fraction)
  return rewiring.rigl_rewire(state, gradient, fraction, config.label_units)


_ZETA = (('rewire_fraction', 'ζ'),)

MODES = {
    'ncg': Mode(learns_strength=True, label='NCG', short='NCG'),
    'dense': Mode(dense_mask=True, label='dense', short='dense'),
    'fixed': Mode(label="fixed random mask at NCG's final density",
                  short='fixed random mask'),
    'set': Mode(rewire=set_rewire, records=('rewire_fraction',),
                label="SET at NCG's final density", short='SET', shows=_ZETA),
    'rigl': Mode(rewire=rigl_rewire, needs_gradient=True, spans_run=True,
                 records=('rewire_fraction',),
                 label="RigL at NCG's final density", short='RigL',
                 shows=_ZETA),
    'l1': Mode(l1=True, dense_mask=True, records=('l1_penalty',),
               label='dense + L1', short='dense + L1',
               shows=(('l1_penalty', 'λ'), ('magnitude_threshold', 'τ'))),
}
CONNECTIVITY_MODES = tuple(MODES)
DENSE_MODES = tuple(name for name, mode in MODES.items() if mode.dense_mask)
# Every field some mode records (each summary has them all, None where unused).
RECORDED = tuple(dict.fromkeys(f for mode in MODES.values() for f in mode.records))


def recorded_settings(name: str, config: Any) -> dict[str, Any]:
  """{field: value for mode ``name``, None otherwise} over :data:`RECORDED`
  (``config``: a TrainConfig or ``config.train``, read by attribute)."""
  records = MODES[name].records
  return {f: getattr(config, f) if f in records else None for f in RECORDED}


def label(name: str, summary: Mapping[str, Any]) -> str:
  """The mode's report label with the settings it shows, read from a run's
  summary: e.g. "SET at NCG's final density (ζ = 0.3)"."""
  mode = MODES[name]
  if not mode.shows or summary.get(mode.shows[0][0]) is None:
    return mode.label
  return mode.label + ' (' + ', '.join(
      f'{symbol} = {summary[field]:g}' for field, symbol in mode.shows) + ')'

"""Parsimonious deep networks: Bernoulli unit gates learned with the weights.

A re-derivation of Guenter & Sideris (arXiv 2205.04650); the maths is in
``docs/parsimonious.md``. One module per idea:

* :mod:`~ncg.parsimonious.architecture`: the Architecture record and NetKind.
* :mod:`~ncg.parsimonious.mlp`, :mod:`~ncg.parsimonious.lenet5`: one module per
  network kind; :mod:`~ncg.parsimonious.models` holds their table (KINDS).
* :mod:`~ncg.parsimonious.gates`: antithetic gate sampling, the unbiased
  θ-gradient estimator, the flattening hyper-prior and its closed forms.
* :mod:`~ncg.parsimonious.l0`: hard-concrete gates (the L0 baseline).
* :mod:`~ncg.parsimonious.shrink`: removing θ = 0 units from weights, θ and
  optimizer state (the arrays really shrink).
* :mod:`~ncg.parsimonious.complexity`: multiply-accumulates and parameters.
* :mod:`~ncg.parsimonious.config`: the trainer's settings and their checks.
* :mod:`~ncg.parsimonious.objective`: the terms of the objective J(W, θ).
* :mod:`~ncg.parsimonious.estimators`: the θ-gradient estimators (a table).
* :mod:`~ncg.parsimonious.methods`: the kinds of gate — Bernoulli, L0, dense (a table).
* :mod:`~ncg.parsimonious.trainer`: the pure trainer (``make_trainer`` → init/step).
* :mod:`~ncg.parsimonious.epoch`: the epoch with on-line shrinking, the run's schedule.
* :mod:`~ncg.parsimonious.final`: finalize (the deterministic network) and its error.
* :mod:`~ncg.parsimonious.train`: the public names of the seven above, one import away.
* :mod:`~ncg.parsimonious.prices`, :mod:`~ncg.parsimonious.finetune`,
  :mod:`~ncg.parsimonious.averaging`, :mod:`~ncg.parsimonious.local`: the price
  rows, the deterministic phase, the weight average, the exact hidden-unit differences.
* :mod:`~ncg.parsimonious.analysis`: Δ_j on held-out data against the decisions.
"""

try:
  import flax  # pylint: disable=unused-import
except ImportError as e:  # the only package beyond ncg's core that this needs
  raise ImportError("ncg.parsimonious needs flax: pip install 'ncg[prune]'") from e

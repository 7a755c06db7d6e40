"""Parsimonious deep networks: Bernoulli unit gates learned with the weights.

A re-derivation of Guenter & Sideris (arXiv 2205.04650); the maths is in
``docs/parsimonious.md``. One module per idea:

* :mod:`~ncg.parsimonious.models`: architectures and gated flax networks.
* :mod:`~ncg.parsimonious.gates`: antithetic gate sampling, the unbiased
  θ-gradient estimator, the flattening hyper-prior and its closed forms.
* :mod:`~ncg.parsimonious.shrink`: removing θ = 0 units from weights, θ and
  optimizer state (the arrays really shrink).
* :mod:`~ncg.parsimonious.complexity`: multiply-accumulates and parameters.
* :mod:`~ncg.parsimonious.train`: the objective, the projected update with
  optax and the training epoch with on-line shrinking.
"""

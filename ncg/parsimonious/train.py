"""Training a gated network, one import away: the public names of the modules that hold it.

The pieces, one concern per module (docs/parsimonious.md §5–§8a):

* :mod:`~ncg.parsimonious.config`: :class:`Config` (static, hashable settings) and
  :func:`validate`, the one place they are checked; :func:`initial_gates`.
* :mod:`~ncg.parsimonious.objective`: the terms of J(W, θ) — the data loss, the
  coupled slab prior, the price (and its ramp), the sharpened hyper-prior.
* :mod:`~ncg.parsimonious.estimators`: the θ-gradient estimators as a table
  (:data:`ESTIMATORS`: 'antithetic', 'taylor_cv', 'local').
* :mod:`~ncg.parsimonious.methods`: the kinds of gate as a table (:data:`METHODS`:
  'bernoulli', 'l0', 'dense'), the θ step size, :func:`method_config`.
* :mod:`~ncg.parsimonious.trainer`: ``make_trainer(config)`` → ``Trainer(init, step)``,
  pure; :class:`TrainState`.
* :mod:`~ncg.parsimonious.epoch`: a training epoch with on-line shrinking and the
  epochs of a run (:class:`Schedule`, :func:`run_epoch`).
* :mod:`~ncg.parsimonious.final`: the deterministic network (:func:`finalize`) and
  its evaluation.

``from ncg.parsimonious import train`` gives all of them, e.g.::

  trainer = train.make_trainer(train.Config(learning_rate=1e-3, theta_learning_rate=10.,
                                            penalty=1e-3, penalty_scale=(1., 1., 1.),
                                            prior_variance=1., num_train=50_000))
  state = trainer.init(key, arch, 784, theta_init=0.5)
  state, metrics = trainer.step(arch, state, x, y, key)
"""

# pylint: disable=unused-import
from ncg.parsimonious.config import Config, THETA_OPTIMIZERS, initial_gates, validate
from ncg.parsimonious.epoch import (EpochMetrics, Schedule, chunk_fn, epoch_order,
                                    removable_units, run_epoch, train_epoch,
                                    worth_shrinking)
from ncg.parsimonious.estimators import ESTIMATORS, Estimator, theta_gradient_estimate
from ncg.parsimonious.final import (error_rate, evaluation_params, final_gates,
                                    finalize, fold_gates, gate_probabilities,
                                    theta_histogram, undecided)
from ncg.parsimonious.methods import (L0_RATE_FACTOR, METHODS, MODE_THRESHOLD, NEVER,
                                      Method, method_config, sampling_probabilities,
                                      theta_step_size)
from ncg.parsimonious.objective import (SHARPNESS_EDGE, StepMetrics, per_example_loss,
                                        price, price_factor, sharpening, sharpness_at,
                                        weight_prior)
from ncg.parsimonious.trainer import Trainer, TrainState, make_trainer

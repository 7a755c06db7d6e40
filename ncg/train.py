"""CD-k and PCD-k training of an RBM with network connectivity gradients (NCG), one
import away: the public names of the modules that hold it.

The pieces, one concern per module (the maths: docs/ncg.md):

* :mod:`ncg.train_config`: :class:`TrainConfig` (static, hashable settings,
  checked in one place) and :func:`check_model`.
* :mod:`ncg.phases`: the positive and negative phase of a minibatch
  (:func:`phases`: CD-k from the data, PCD-k from persistent chains, or
  parallel tempering: a ladder of tempered persistent chains) and the
  statistics they give (:func:`cd_statistics`: G, Δb, Δc;
  :func:`expected_statistics`; the network gradient W ⊙ G).
* :mod:`ncg.trainer`: ``make_trainer(config)`` → :class:`Trainer` (init, step,
  rewire), pure; :class:`TrainerState`, :class:`StepMetrics`,
  :func:`hysteresis_band`.
* :mod:`ncg.epoch`: an epoch scanned on the device (:func:`run_epoch`,
  :func:`make_epoch` for one model or a population), :class:`EpochMetrics`.
* :mod:`ncg.modes`: the connectivity modes as a table (:data:`MODES`: 'ncg',
  'dense', 'fixed', 'set', 'rigl', 'l1').
* :mod:`ncg.hidden_kinds`: how the hidden units are learned, as a table
  (:data:`HIDDEN`: 'fixed', 'ncg_h', 'gated'), :func:`remove_units` (a gated
  run's θ = 0 units leave the arrays between epochs), :func:`effective_model`.

``from ncg import train`` gives all of them, e.g.::

  config = train.TrainConfig(k=1, persistent=True, learning_rate=0.05)
  opt_state = train.make_trainer(config).init(state, key, batch_size=50)
  state, opt_state, metrics = train.make_epoch(config, 50)(state, opt_state, x, key)
"""

# pylint: disable=unused-import
from ncg.epoch import (EpochMetrics, connectivity_summary, effective_density,
                       flip_transitions, free_energy_gap, make_epoch, run_epoch,
                       scan_steps, swap_rates)
from ncg.hidden_kinds import (HIDDEN_KINDS, HiddenKind, effective_model, gated_model,
                              keep_training_units, remove_units)
from ncg.hidden_kinds import KINDS as HIDDEN
from ncg.modes import CONNECTIVITY_MODES, DENSE_MODES, MODES, Mode
from ncg.phases import (Phases, Statistics, cd_statistics, expected_statistics,
                        network_gradient, no_swaps, persistent_negatives, phases,
                        reconstruction_error)
from ncg.train_config import (OPTIMIZERS, STRENGTH_LR_FACTOR, TrainConfig,
                              check_model)
from ncg.trainer import (NEAR_THRESHOLD_BAND, PARAMS, STRENGTH, StepMetrics,
                         Trainer, TrainerState, connect_label_units,
                         hysteresis_band, make_optimizer, make_trainer,
                         mask_changes, near_threshold)

"""The deterministic phase: plain training of the final network once the gates have decided.

The gated phase (epochs 1 … E − F) trains the weights *under the gates'
noise*: every step samples z ~ q̃(θ), so the weights are fit to an average over
sub-networks, as in dropout, and while θ moves they are fit to sub-networks
that will not survive. Once the architecture is chosen that noise has no
purpose. The paper's "prune early, train the small net cheaply" is, here, the
last F epochs of the same run:

1. :func:`ncg.parsimonious.train.finalize` at the end of epoch E − F: units
   with θ < ½ leave, θ ≥ ½ is folded into the weights (exact for gates at 0 or
   1; the undecided gates left are counted in the summary), every gate is 1;
2. the final network is trained by the ``dense`` method (θ fixed at 1, one
   deterministic pass per step, no price: the architecture cannot change),
   starting from the gated phase's weights with a *fresh* Adam state and a
   fresh cosine decay over the F epochs. The weight prior stays (the slab of
   every weight now in use), so the objective is the MAP objective of the final
   network. With drop rates (``train.dropout``) the phase trains under dropout
   instead (method 'dropout'): the gates' noise, which regularised the weights
   during the gated phase, is replaced by a fixed one.

The architecture is that of step 1 (test: no unit is added or removed), and the
cost of the phase is F epochs at the final width, one pass per step
(``summary.json``: ``train_mac_epochs`` counts it).
"""

from __future__ import annotations

import jax.numpy as jnp

from ncg.parsimonious import train as train_lib
from ncg.parsimonious.architecture import Architecture


def finetune_config(config: train_lib.Config, steps: int,
                    dropout: tuple[float, ...] = ()) -> train_lib.Config:
  """The trainer config of the deterministic phase: ``config``'s weights' settings
  with the dense method and a cosine decay over ``steps`` (0: constant rate).

  ``dropout``: drop rates per gate group; if any is > 0 the phase trains under
  dropout (method 'dropout'), a regulariser of the small network in place of
  the gates' noise that the gated phase had.
  """
  regularised = any(r > 0 for r in dropout)
  return train_lib.method_config(config._replace(
      method='dropout' if regularised else 'dense',
      dropout=tuple(float(r) for r in dropout) if regularised else (),
      decay_steps=int(steps), decide_step=0))


def start(arch: Architecture, config: train_lib.Config, state: train_lib.TrainState,
          finetune_trainer: train_lib.Trainer) -> tuple[Architecture, train_lib.TrainState]:
  """(final architecture, fresh state of ``finetune_trainer``) from the gated phase's end.

  Args:
    arch, state: the gated network and its training state (``config``'s method).
    config: the gated phase's trainer config (its method decides the final gates).
    finetune_trainer: ``make_trainer(finetune_config(config, steps))``.

  Returns:
    The deterministic network (:func:`train_lib.finalize` of the evaluation
    parameters) with every gate at 1, step 0 and a fresh optimizer state.
  """
  evaluated = state._replace(params=train_lib.evaluation_params(config, state))
  arch, final = train_lib.finalize(arch, config, evaluated)
  params = {'weights': final.params['weights'],
            'theta': tuple(jnp.ones_like(t) for t in final.params['theta'])}
  return arch, train_lib.TrainState(jnp.zeros((), jnp.int32), params,
                                    finetune_trainer.tx.init(params))

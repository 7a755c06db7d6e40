"""ncg: learning the structure of a network together with its parameters.

Modules, one idea each:
  rbm             the RBM with learned connectivity: state, energies, conditionals
  sampling        block-Gibbs kernels and chains; threefry or hash uniforms
  train           CD-k / PCD-k / parallel-tempering training with network
                  connectivity gradients (NCG): a facade over
    train_config    TrainConfig and its checks
    phases          the CD / PCD phases and their sufficient statistics
    trainer         make_trainer (init, step), TrainerState, StepMetrics
    epoch           run_epoch, make_epoch, EpochMetrics
  modes           the connectivity modes as a table (ncg, dense, fixed, set, rigl, l1)
  strength_rules  NCG strength rules (the reference's, the scale-free one)
  rewiring        SET and RigL prune-and-regrow at a fixed density
  tempering       parallel tempering: ladders, swaps, a sampler and a negative phase
  hidden_units    hidden-unit gates and the likelihood gradient with respect to them
  hidden_kinds    how the hidden units are learned, as a table (fixed, ncg_h, gated)
  estimators      likelihoods, pseudo-likelihood; the partition functions re-exported
  partition       the exact partition function (a chunked sum over the smaller layer)
  ais             AIS building blocks: schedule, increments, compensated sum, anneal, summary
  ais_kernels     the AIS kernel and estimator of each visible-unit type
  units           the visible-unit table (binary, Gaussian)
  classification  exact p(y|x) of a joint RBM; a linear probe on p(h|x)
  data            data sets and minibatches
  analytics       degrees and flip statistics of a mask (numpy)
  precision       matmul precision of the estimators on every backend
  distributed     populations, minibatches and hosts over devices (sharding)
  errors          InputError, the one exception for invalid user input
  inputs          cheap checks of the data public functions are given
  checkpoint      save and load a model alone (orbax, imported when used)
  resume          save and load a whole training state, to resume exactly
  estimator       ncg.RBM: fit/partial_fit/transform/score_samples/sample/save/load
                  in scikit-learn's conventions (scikit-learn optional; imported
                  on first use of ncg.RBM)
  parsimonious/   Bernoulli-gated networks that prune their units while training
                  (needs flax: pip install 'ncg[prune]')

``import ncg`` and every module above except ``parsimonious`` need jax, optax
and numpy only; readers of other formats import their package when called.
"""

from ncg.errors import InputError
from ncg.rbm import GaussianRBMState, RBMState

__version__ = '0.1.0'

__all__ = ['GaussianRBMState', 'InputError', 'RBM', 'RBMState', '__version__']


def __getattr__(name):
  if name == 'RBM':  # lazily: ncg.estimator imports scikit-learn when present
    from ncg.estimator import RBM  # pylint: disable=g-import-not-at-top
    return RBM
  raise AttributeError(f'module {__name__!r} has no attribute {name!r}')

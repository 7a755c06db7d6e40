"""ncg: learning the structure of a network together with its parameters.

Modules, one idea each:
  rbm             the RBM with learned connectivity: state, energies, conditionals
  sampling        block-Gibbs kernels and chains; threefry or hash uniforms
  train           CD-k / PCD-k training with network connectivity gradients (NCG)
  estimators      exact and AIS partition functions, likelihoods, pseudo-likelihood
  classification  exact p(y|x) of a joint RBM; a linear probe on p(h|x)
  data            data sets and minibatches
  errors          InputError, the one exception for invalid user input
  parsimonious/   Bernoulli-gated networks that prune their units while training
"""

from ncg.errors import InputError
from ncg.rbm import RBMState

__all__ = ['InputError', 'RBMState']

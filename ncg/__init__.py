"""ncg: learning the structure of a network together with its parameters.

Modules, one idea each:
  rbm          the RBM with learned connectivity: state, energies, conditionals
  sampling     block-Gibbs kernels and chains
  train        CD-k / PCD-k training with network connectivity gradients (NCG)
  data         data sets and minibatches
  errors       InputError, the one exception for invalid user input
"""

from ncg.errors import InputError
from ncg.rbm import RBMState

__all__ = ['InputError', 'RBMState']

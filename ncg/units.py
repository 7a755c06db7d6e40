"""Visible unit types: binary (Bernoulli) and real-valued (Gaussian) visible layers.

An RBM's hidden layer is binary; its visible layer is one of the rows of
:data:`VISIBLE`, selected by a static name (``TrainConfig.visible``). The
state (:class:`ncg.rbm.RBMState`: W, b, c, strengths) is the same for both, and
so are the connectivity mask A = [α > ½] and the effective weights W ⊙ A.

**Bernoulli** (the binary RBM of :mod:`ncg.rbm`), v ∈ {0, 1}^V.

**Gaussian, unit variance** (the Gaussian–Bernoulli RBM of Hinton &
Salakhutdinov 2006 with σ_i = 1, for data standardised to zero mean and unit
variance per feature), v ∈ ℝ^V, h ∈ {0, 1}^H:

    E(v, h) = ½‖v − b‖² − cᵀh − vᵀ(W ⊙ A)h
    p(h_j = 1 | v) = σ(c_j + v(W ⊙ A)_{:,j})           (as for binary units)
    p(v | h)       = N(b + (W ⊙ A)h, I)
    F(v) = ½‖v − b‖² − Σ_j softplus(c_j + v(W ⊙ A)_{:,j}),   p(v) = e^{−F(v)}/Z
    F(h) = −cᵀh − ½ Σ_i [(b_i + (W ⊙ A)_{i,:}h)² − b_i²] − (V/2) log 2π
    log Z = log Σ_h e^{−F(h)}                           (2^H terms, exact)

F(h) is the Gaussian integral ∫ e^{−E(v, h)} dv in closed form: completing the
square, −½(v_i − b_i)² + v_i a_i = −½(v_i − b_i − a_i)² + ½[(b_i + a_i)² − b_i²]
with a = (W ⊙ A)h, and each ∫ e^{−½u²} du = √(2π).

Training is unchanged: ∂(−E)/∂W_ij = v_i h_j, ∂(−E)/∂b_i = v_i − b_i (the b_i
cancels between the phases) and ∂(−E)/∂c_j = h_j, so the CD statistics G, Δb,
Δc, the weight update A ⊙ G and the network gradient W ⊙ G of NCG have the
same form; only the visible sampler of the Gibbs chain differs
(:data:`ncg.sampling.VISIBLE_SAMPLERS`). Start from small weights
(``rbm.init(..., weight_init='normal', weight_scale=0.01)``): U[−1, 1] weights
on hundreds of units make p(v | h) means of ±10 and more.

AIS for Gaussian units anneals the interaction only, from N(b, I) × uniform h
(:func:`ncg.ais_kernels.gaussian_kernel`); each row of the table names its
type's AIS kernel and estimator, exact log Z is :mod:`ncg.partition`'s.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from ncg import ais_kernels
from ncg import inputs
from ncg import partition
from ncg import precision
from ncg import rbm
from ncg import sampling
from ncg.ais_kernels import gaussian_ais_log_partition
from ncg.errors import check
from ncg.rbm import RBMState

__all__ = [
    'LOG_2PI', 'VISIBLE', 'VisibleUnits', 'gaussian_ais_log_partition',
    'gaussian_exact_log_partition', 'gaussian_free_energy',
    'gaussian_hidden_free_energy', 'get', 'log_likelihood',
]

LOG_2PI = rbm.LOG_2PI


# ----------------------------------------------------------------------------
# Gaussian (unit-variance) visible units.


def _gaussian(state: RBMState) -> RBMState:
  return rbm.as_visible(state, 'gaussian')


def gaussian_free_energy(state: RBMState, v: jax.Array) -> jax.Array:
  """F(v) = ½‖v − b‖² − Σ_j softplus(c_j + v(W ⊙ A)_j), (..., V) → (...)
  (:func:`ncg.rbm.free_energy` of the state as a Gaussian–Bernoulli RBM)."""
  return rbm.free_energy(_gaussian(state), v)


def gaussian_hidden_free_energy(state: RBMState, h: jax.Array) -> jax.Array:
  """F(h) = −cᵀh − ½Σ_i[(b_i + (W ⊙ A)_i h)² − b_i²] − (V/2) log 2π, (..., H) → (...).

  The marginal over the visible layer (a Gaussian integral): p(h) = e^{−F(h)}/Z
  (:func:`ncg.rbm.hidden_free_energy` of the state as a Gaussian–Bernoulli RBM).
  """
  return rbm.hidden_free_energy(_gaussian(state), h)


@jax.jit
@precision.highest
def gaussian_exact_log_partition(state: RBMState) -> jax.Array:
  """Exact log Z of a Gaussian–Bernoulli RBM: log Σ_h e^{−F(h)} over 2^H states
  (:func:`ncg.partition.exact_log_partition` of the state read as Gaussian).

  Float64 when x64 is enabled. Raises InputError past 2^26 terms.
  """
  return partition.exact_log_partition(_gaussian(state))


# ----------------------------------------------------------------------------
# The table.


class VisibleUnits(NamedTuple):
  """The functions that depend on the visible unit type.

  Attributes:
    name: the key in :data:`VISIBLE`.
    binary: the data must be exactly 0/1.
    mean: E[v | h] from the pre-activation b + (W ⊙ A)h, (..., V) → (..., V).
    sample: ``(key, pre-activation, label_units) → (v, E[v | h])`` (the key's
      generator draws: :mod:`ncg.sampling`).
    free_energy: ``(state, v) → F(v)``.
    hidden_free_energy: ``(state, h) → F(h)`` (the visible layer summed or
      integrated out).
    exact_log_partition: ``state → log Z``.
    ais_kernel: ``(state, num_runs, ...) →`` :class:`ncg.ais.AISKernel`, the
      type's AIS kernel (:mod:`ncg.ais_kernels`; binary units also take
      ``base_visible_bias``, ``label_units`` and ``hashed``), which
      :func:`ncg.ais.anneal` drives.
    ais_log_partition: ``(key, state, *, num_runs, betas, rng, ...) →
      AISResult`` (binary units also take ``base_visible_bias``).
  """
  name: str
  binary: bool
  mean: Callable[[jax.Array], jax.Array]
  sample: Callable
  free_energy: Callable[[RBMState, jax.Array], jax.Array]
  hidden_free_energy: Callable[[RBMState, jax.Array], jax.Array]
  exact_log_partition: Callable[[RBMState], jax.Array]
  ais_kernel: Callable
  ais_log_partition: Callable


VISIBLE = {
    'bernoulli': VisibleUnits(
        'bernoulli', True, jax.nn.sigmoid,
        sampling.VISIBLE_SAMPLERS['bernoulli'],
        lambda state, v: rbm.free_energy(rbm.as_visible(state, 'bernoulli'), v),
        lambda state, h: rbm.hidden_free_energy(rbm.as_visible(state, 'bernoulli'), h),
        partition.exact_log_partition,
        ais_kernels.bernoulli_kernel,
        ais_kernels.ais_log_partition),
    'gaussian': VisibleUnits(
        'gaussian', False, lambda pre_activation: pre_activation,
        sampling.VISIBLE_SAMPLERS['gaussian'], gaussian_free_energy,
        gaussian_hidden_free_energy, gaussian_exact_log_partition,
        ais_kernels.gaussian_kernel, gaussian_ais_log_partition),
}


def get(name: str) -> VisibleUnits:
  """The row of :data:`VISIBLE` called ``name`` (InputError if unknown)."""
  check(name in VISIBLE, f'unknown visible unit type {name!r}; choose one of '
        f'{tuple(VISIBLE)}')
  return VISIBLE[name]


def log_likelihood(state: RBMState, v: jax.Array, log_z: jax.Array,
                   visible: str | None = None) -> jax.Array:
  """Per-example log p(v) = −F(v) − log Z, (N, V) → (N,), in nats.

  ``visible`` defaults to the state's own type (``state.visible``); a
  different one is an InputError, and so is v that does not fit it
  (:func:`ncg.inputs.check_data`: width, float dtype, 0/1 for binary units). For Gaussian units this is a log density
  (of standardised data: add −Σ_i log s_i for the density of the original
  units, s_i their scales).
  """
  visible = state.visible if visible is None else visible
  inputs.check_data(v, state.num_visible, visible, 'v')
  check(visible == state.visible,
        f'log_likelihood(visible={visible!r}) of an RBM with {state.visible!r} '
        'visible units')
  dtype = precision.wide_float()
  return -get(visible).free_energy(state, v).astype(dtype) - log_z

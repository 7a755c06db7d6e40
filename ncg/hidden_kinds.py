"""How an RBM's hidden units are learned, as a table (:data:`KINDS`; docs/ncg.md §8).

``TrainConfig.hidden`` picks a row. The trainer state holds the kind's gate
state (``TrainerState.hidden``: (H,) or None) and every step

1. draws the step's gates s ∈ {0, 1}^H (:attr:`HiddenKind.gates`; None = all on),
2. trains the gated RBM (:func:`ncg.hidden_units.gated`: W ⊙ A and c times s)
   with the usual statistics, times s (:func:`gated_statistics`: the chain rule
   back to the ungated W, c and strengths, so an off unit's weights are frozen),
3. moves the gate state along its own gradient (:attr:`HiddenKind.step`).

Rows:

* 'fixed': no gates (the RBM as before, bit for bit).
* 'ncg_h': NCG-H. A continuous s′_j ∈ [0, 1], s_j = [s′_j > ½],
  s′ ← clip(s′ + η_s g, 0, 1) with g the CD/PCD estimate of ∂ log p/∂s_j
  (:func:`ncg.hidden_units.cd_unit_gradient`); units stay in the arrays and
  can come back.
* 'gated': Bernoulli gates z_j ~ Bernoulli(θ_j), one draw per step, with the
  parsimonious side's θ machinery (:mod:`ncg.parsimonious`: its Config, the
  Robbins–Monro step ``methods.theta_step_size``, the projection with θ = 0
  absorbing ``methods.bernoulli_project``, the sharpened hyper-prior
  ``objective.sharpening``, the removal ``shrink``). The θ-gradient of the
  objective J(θ) = E_q[mean log p_z(data)] − (λ/N) Σ θ_j [− (γ/N) Σ H_ε(θ_j)]
  is E_q[Δ_j] − λ/N − …, with Δ_j in closed form through the free energy
  (:func:`ncg.hidden_units.cd_gate_difference`), so one draw of z estimates it
  without the antithetic pair. A unit at θ = 0 is never drawn again and leaves
  the arrays between epochs (:func:`remove_units`); the epoch re-jits at the
  new width. Needs flax (``ncg[prune]``), imported when a gated step is built.

:func:`effective_model` is the RBM a run evaluates and saves: the units that
are on (ncg_h: s′ > ½; gated: the posterior mode θ ≥ ½) with the others
deleted, which leaves p(v) unchanged (docs/ncg.md §8).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ncg import hidden_units
from ncg import rbm
from ncg.rbm import RBMState

if TYPE_CHECKING:
  from ncg.train_config import TrainConfig

GATE_STREAM = 0x6A7E  # fold_in(step key, GATE_STREAM): the step's gate draw
NCG_H_THRESHOLD = 0.5   # s_j = [s′_j > ½]
MODE_THRESHOLD = 0.5    # the gated kind's final network keeps θ ≥ ½


class HiddenKind(NamedTuple):
  """One way of learning the hidden units.

  Attributes:
    init: (config, H, dtype) → the (H,) gate state at the start, or None.
    gates: (config, hidden, key) → the step's (H,) gates in {0, 1}, or None
      (all on; the step is then the plain RBM's).
    step: (config, hidden, model, batch, negatives, s, step) → the new gate
      state; ``model`` is the ungated RBM (W ⊙ A, b, c), ``negatives`` (B, V)
      the chains' samples of the gated one. None: the state never moves.
    on: hidden → (H,) bool, the units of the effective model (None: all).
    alive: hidden → (H,) bool, the units that stay in the arrays (None: the
      kind never removes units).
    label: its name in reports.
  """
  init: Callable[..., jax.Array | None]
  gates: Callable[..., jax.Array | None]
  step: Callable[..., jax.Array] | None = None
  on: Callable[[jax.Array], jax.Array] | None = None
  alive: Callable[[jax.Array], jax.Array] | None = None
  label: str = ''


def _no_state(config, num_hidden, dtype):
  del config, num_hidden, dtype


def _constant_state(config, num_hidden, dtype):
  return jnp.full((num_hidden,), config.hidden_init, dtype)


def _ncg_h_on(s_prime: jax.Array) -> jax.Array:
  return s_prime > NCG_H_THRESHOLD


def _ncg_h_gates(config, s_prime, key):
  del config, key
  return _ncg_h_on(s_prime).astype(s_prime.dtype)


def ncg_h_step(config, s_prime, model, batch, negatives, s, step):
  """s′ ← clip(s′ + η_s g, 0, 1), g = ⟨σ(s a) a⟩_data − ⟨σ(s a) a⟩_negatives
  (η_s = 0 for the first ``hidden_grace_steps`` steps)."""
  g = hidden_units.cd_unit_gradient(model, batch, negatives, s)
  rate = jnp.where(step < config.hidden_grace_steps, 0.0, config.hidden_learning_rate)
  return jnp.clip(s_prime + rate * g, 0.0, 1.0).astype(s_prime.dtype)


def _gated_gates(config, theta, key):
  del config
  u = jax.random.uniform(jax.random.fold_in(key, GATE_STREAM), theta.shape,
                         theta.dtype)
  return (u < theta).astype(theta.dtype)


@functools.lru_cache(maxsize=32)
def gate_config(config: TrainConfig) -> Any:
  """The parsimonious side's :class:`ncg.parsimonious.config.Config` of a
  gated RBM trainer: its θ settings (plain projected SGD, no averaging or
  exploration: the closed-form Δ_j needs neither), the rest unused."""
  from ncg.parsimonious import config as config_lib  # pylint: disable=import-outside-toplevel
  decay = config.hidden_decay_steps
  return config_lib.Config(
      learning_rate=config.learning_rate,
      theta_learning_rate=config.hidden_learning_rate,
      penalty=config.hidden_penalty, penalty_scale=(1.0,), prior_variance=1.0,
      num_train=1, method='bernoulli', theta_optimizer='sgd',
      theta_decay_steps=decay or 1.0, theta_decay_power=1.0 if decay else 0.0,
      grace_steps=config.hidden_grace_steps, theta_averaging=0.0, explore=0.0,
      sharpness=config.hidden_sharpness)


def gate_price(config: TrainConfig, theta: jax.Array, step) -> jax.Array:
  """The gate terms of −J per example: (λ/N) Σ θ_j (the flattening hyper-prior
  at its optimal π: ``gates.gate_elbo_term`` = −λθ) + (γ_t/N) Σ H_ε(θ_j)."""
  from ncg.parsimonious import objective  # pylint: disable=import-outside-toplevel
  pconfig = gate_config(config)
  return pconfig.penalty * jnp.sum(theta) + objective.sharpening(pconfig, [theta], step)


def gated_step(config, theta, model, batch, negatives, z, step):
  """θ ← Π(θ − η_t ∂(−J)/∂θ), ∂(−J)/∂θ_j = −Δ_j + λ/N + (γ_t/N) H_ε′(θ_j),
  with θ = 0 absorbing (the parsimonious projection) and η_t its
  Robbins–Monro step (0 in the grace period)."""
  from ncg.parsimonious import methods  # pylint: disable=import-outside-toplevel
  pconfig = gate_config(config)
  difference = hidden_units.cd_gate_difference(model, batch, negatives, z)
  price_gradient = jax.grad(lambda t: gate_price(config, t, step))(theta)
  rate = methods.theta_step_size(pconfig, step)
  new = theta - rate * (price_gradient - difference)
  return methods.bernoulli_project(pconfig, (theta,), (new,))[0].astype(theta.dtype)


KINDS: dict[str, HiddenKind] = {
    'fixed': HiddenKind(init=_no_state, gates=lambda config, hidden, key: None,
                        label='fixed H'),
    'ncg_h': HiddenKind(init=_constant_state, gates=_ncg_h_gates, step=ncg_h_step,
                        on=_ncg_h_on, label='NCG-H'),
    'gated': HiddenKind(init=_constant_state, gates=_gated_gates, step=gated_step,
                        on=lambda theta: theta >= MODE_THRESHOLD,
                        alive=lambda theta: theta > 0, label='Bernoulli-gated H'),
}
HIDDEN_KINDS = tuple(KINDS)


def gated_statistics(statistics: RBMState, s: jax.Array) -> RBMState:
  """(G ⊙ s, Δb, Δc ⊙ s, G ⊙ s): the gated RBM's statistics (V, H), (V,), (H,)
  carried back to the ungated W, c and strengths (W_eff = W ⊙ A ⊙ s, c_eff =
  c ⊙ s), so an off unit's weights, bias and strengths get no step."""
  G, db, dc = statistics[:3]
  return type(statistics)(G * s, db, dc * s, G * s)


def width(config: TrainConfig, hidden: jax.Array | None, num_hidden: int) -> jax.Array:
  """The units on (int32 scalar): H for 'fixed', Σ[s′ > ½] for 'ncg_h', and
  for 'gated' the units the arrays keep, max(Σ[θ > 0], 1) (:func:`remove_units`)."""
  kind = KINDS[config.hidden]
  if hidden is None or (kind.alive or kind.on) is None:
    return jnp.asarray(num_hidden, jnp.int32)
  if kind.alive is not None:
    return jnp.maximum(jnp.sum(kind.alive(hidden), dtype=jnp.int32), 1)
  return jnp.sum(kind.on(hidden), dtype=jnp.int32)


def _keep(mask: np.ndarray, hidden: np.ndarray) -> np.ndarray:
  """Indices of the units to keep; never none (the largest gate stays)."""
  mask = np.array(mask, bool)
  if not mask.any():
    mask[np.argmax(hidden)] = True
  return np.flatnonzero(mask)


def keep_units(state: RBMState, index: np.ndarray) -> RBMState:
  """The RBM with only hidden units ``index``: columns of W and strength, c."""
  take = lambda x, axis: jnp.asarray(np.take(np.asarray(x), index, axis=axis))
  return type(state)(take(state.W, 1), state.b, take(state.c, 0),
                     take(state.strength, 1))


def effective_model(config: TrainConfig, state: RBMState, hidden) -> RBMState:
  """The RBM of the units that are on (host side), the others deleted: the
  state itself for 'fixed'. p(v) is that of the gated RBM (docs/ncg.md §8)."""
  on = KINDS[config.hidden].on
  if on is None or hidden is None:
    return state
  hidden = np.asarray(hidden)
  return keep_units(state, _keep(np.asarray(on(hidden)), hidden))


def gated_model(config: TrainConfig, state: RBMState, hidden) -> RBMState:
  """The effective RBM at full width (jittable): the units off get c_j = 0 and
  strengths 0 (no connection), so they add log 2 to every −F(v) and p(v) is
  the gated RBM's, with the mask of the units on kept; the state for 'fixed'."""
  on = KINDS[config.hidden].on
  if on is None or hidden is None:
    return state
  s = on(hidden).astype(state.W.dtype)
  return state._replace(c=state.c * s, strength=state.strength * s)


def keep_training_units(state: RBMState, opt_state, index: np.ndarray
                        ) -> tuple[RBMState, Any]:
  """(state, opt_state) with only hidden units ``index`` (host side): W, c and
  strength columns, the optimizer state's parameter-shaped leaves
  (:func:`ncg.parsimonious.shrink.slice_state_like_params`), the flip counts
  and the gate state. PCD chains hold visible states only and are kept."""
  from ncg.parsimonious import shrink  # pylint: disable=import-outside-toplevel
  columns, units = shrink.Selector({1: index}), shrink.Selector({0: index})
  selectors = type(state)(columns, shrink.Selector(), units, columns)
  optimizer = shrink.slice_state_like_params(opt_state.optimizer, state, selectors)
  hidden = None if opt_state.hidden is None else units(opt_state.hidden)
  return keep_units(state, index), opt_state._replace(
      optimizer=optimizer, flips=columns(opt_state.flips), hidden=hidden)


def remove_units(config: TrainConfig, state: RBMState, opt_state) -> tuple[RBMState, Any, int]:
  """(state, opt_state, units removed): the units whose gate can never be on
  again ('gated': θ = 0; never the last one) leave the arrays
  (:func:`keep_training_units`). Kinds that never remove units, or nothing to
  remove: the arguments unchanged and 0. A jitted epoch re-traces at the new
  width; a compiled one must be compiled again."""
  alive = KINDS[config.hidden].alive
  if alive is None or opt_state.hidden is None:
    return state, opt_state, 0
  hidden = np.asarray(opt_state.hidden)
  index = _keep(np.asarray(alive(hidden)), hidden)
  if len(index) == hidden.shape[0]:
    return state, opt_state, 0
  return (*keep_training_units(state, opt_state, index), hidden.shape[0] - len(index))

"""``ncg.RBM``: the common case as a scikit-learn-style estimator.

    model = ncg.RBM(100, connectivity='ncg', k=1, epochs=20).fit(X)   # X: (N, V) in {0, 1}
    features = model.transform(X)          # p(h = 1 | x), (N, H)
    log_p = model.score_samples(X)         # log p(x), nats; model.score_method_ says how
    images = model.sample(16)              # Gibbs chains from noise, (16, V)
    model.save('my_rbm'); model = ncg.RBM.load('my_rbm')

A thin layer over the functional API, which stays the primary interface:
:func:`ncg.rbm.init`, :func:`ncg.train.make_trainer` / :func:`ncg.train.make_epoch`
(one jitted epoch per call), :mod:`ncg.estimators` for log Z and log p,
:func:`ncg.sampling.sample_chains`, :mod:`ncg.resume` for save/load. Epoch e uses
``fold_in(key(seed), e)``, so ``fit`` with E epochs equals E calls of
``partial_fit`` (one epoch each) on the same data, bit for bit.

Conventions of scikit-learn (https://scikit-learn.org/stable/developers/develop.html):
``__init__`` only stores its arguments; ``fit``/``partial_fit`` return self;
learned attributes end in ``_`` (``components_`` (H, V) = (W ⊙ A)ᵀ,
``intercept_hidden_``, ``intercept_visible_``, ``strength_``, ``history_``: one
dict of epoch metrics per epoch, ``n_iter_``: epochs done, ``n_features_in_``);
``get_params``/``set_params``; usable in a ``Pipeline`` (e.g. after a
``Binarizer`` or ``StandardScaler``, before a classifier). scikit-learn is
optional: with it installed the class derives from its ``TransformerMixin``
and ``BaseEstimator`` and validates input with its ``validate_data``; without
it the same methods work on numpy arrays (``import ncg`` needs jax, optax and
numpy only; this module is imported when ``ncg.RBM`` is first used).

Binary visible units need 0/1 data: pass it, or set ``binarize=t`` to use
``X > t``. ``visible='gaussian'`` takes real-valued (standardised) data.

``score_samples``: log p(x) = −F(x) − log Z with log Z exact (by enumeration,
:func:`ncg.estimators.exact_log_partition`) when ``2^min(V, H)`` ≤
``2^exact_max_log2``, else by AIS (``ais_runs`` runs × ``ais_temperatures``
temperatures from the base-rate base model of the training data; Gaussian
units: :func:`ncg.units.gaussian_ais_log_partition`), computed once per fit
with a fixed key, so scores do not depend on which rows are scored together.
``score_method_`` ('exact' or 'ais') and ``log_partition_`` say which.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ncg import estimators
from ncg import rbm
from ncg import resume
from ncg import sampling
from ncg import train
from ncg import units
from ncg.errors import InputError, check

try:  # scikit-learn is optional
  from sklearn.base import BaseEstimator as _Base
  from sklearn.base import TransformerMixin as _Transformer
  from sklearn.exceptions import NotFittedError
  from sklearn.utils.validation import validate_data as _validate_data
except ImportError:  # the same methods without it
  _validate_data = None

  class NotFittedError(ValueError, AttributeError):
    """The estimator is used before ``fit``."""

  class _Transformer:
    """fit_transform = fit then transform (scikit-learn's TransformerMixin)."""

    def fit_transform(self, X, y=None, **fit_params):
      return self.fit(X, y, **fit_params).transform(X)

  class _Base:
    """get_params/set_params from ``__init__``'s keyword arguments."""

    @classmethod
    def _param_names(cls):
      import inspect  # pylint: disable=g-import-not-at-top
      return sorted(p for p in inspect.signature(cls.__init__).parameters
                    if p != 'self')

    def get_params(self, deep=True):
      del deep
      return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params):
      for name, value in params.items():
        check(name in self._param_names(), f'unknown parameter {name!r} of '
              f'{type(self).__name__}; choose from {self._param_names()}')
        setattr(self, name, value)
      return self

    def __repr__(self):
      return f'{type(self).__name__}(num_hidden={self.num_hidden!r}, ...)'

_EPOCHS: dict = {}   # (TrainConfig, batch size) → jitted epoch, shared by instances
_LEARNED = ('components_', 'intercept_hidden_', 'intercept_visible_', 'strength_')


def _epoch_fn(config: train.TrainConfig, batch_size: int):
  key = (config, batch_size)
  if key not in _EPOCHS:
    _EPOCHS[key] = train.make_epoch(config, batch_size)
  return _EPOCHS[key]


class RBM(_Transformer, _Base):
  """An RBM with learned connectivity, trained by CD-k / PCD-k (see the module).

  Args:
    num_hidden: H.
    connectivity: a mode of :data:`ncg.train.MODES` ('ncg', 'dense', 'fixed',
      'set', 'rigl', 'l1').
    density: the initial fraction of connections present.
    k: Gibbs sweeps per negative sample.
    persistent: PCD-k instead of CD-k.
    learning_rate, strength_learning_rate, optimizer: as :class:`ncg.train.TrainConfig`.
    batch_size: minibatch size (at most the number of examples of the first fit).
    epochs: passes over X in ``fit``.
    weight_init, weight_scale: the initial weights (:func:`ncg.rbm.init`).
    base_rate_bias: start the visible biases at the training data's log-odds.
    visible: 'bernoulli' (0/1 data) or 'gaussian' (standardised real data).
    binarize: None (X must be 0/1 for binary units) or a threshold t: X > t.
    rng: the Gibbs chains' generator ('hash', 'threefry', …).
    seed: the seed of everything random (init, data order, chains, AIS).
    exact_max_log2: exact log Z up to 2^this terms, else AIS.
    ais_runs, ais_temperatures: the AIS settings of ``score_samples``.
    callback: ``callback(estimator, epoch, metrics: dict)`` after each epoch;
      returning False stops ``fit``.
    progress: a tqdm progress bar over the epochs (if tqdm is installed).
  """

  def __init__(self, num_hidden: int = 64, *, connectivity: str = 'ncg',
               density: float = 1.0, k: int = 1, persistent: bool = False,
               learning_rate: float = 0.05, strength_learning_rate: float | None = None,
               optimizer: str = 'sgd', batch_size: int = 50, epochs: int = 10,
               weight_init: str = 'normal', weight_scale: float = 0.01,
               base_rate_bias: bool = True, visible: str = 'bernoulli',
               binarize: float | None = None, rng: str = 'hash', seed: int = 0,
               exact_max_log2: int = 20, ais_runs: int = 100,
               ais_temperatures: int = 1000, callback: Callable | None = None,
               progress: bool = False):
    self.num_hidden = num_hidden
    self.connectivity = connectivity
    self.density = density
    self.k = k
    self.persistent = persistent
    self.learning_rate = learning_rate
    self.strength_learning_rate = strength_learning_rate
    self.optimizer = optimizer
    self.batch_size = batch_size
    self.epochs = epochs
    self.weight_init = weight_init
    self.weight_scale = weight_scale
    self.base_rate_bias = base_rate_bias
    self.visible = visible
    self.binarize = binarize
    self.rng = rng
    self.seed = seed
    self.exact_max_log2 = exact_max_log2
    self.ais_runs = ais_runs
    self.ais_temperatures = ais_temperatures
    self.callback = callback
    self.progress = progress

  # ------------------------------------------------------------------ input

  def __sklearn_tags__(self):
    tags = super().__sklearn_tags__()
    tags.transformer_tags.preserves_dtype = []   # float32 out, whatever comes in
    tags.non_deterministic = False
    return tags

  def __sklearn_is_fitted__(self) -> bool:
    return hasattr(self, 'components_')

  def _data(self, X, reset: bool) -> np.ndarray:
    """X as float32 (N, V), checked; binarized if asked; 0/1 for binary units."""
    if _validate_data is not None:
      X = _validate_data(self, X, reset=reset, dtype=np.float64)
    else:
      check(not hasattr(X, 'tocsr'), 'sparse input is not supported: pass X.toarray()')
      X = np.asarray(X)
      check(not np.iscomplexobj(X), 'Complex data not supported')
      X = np.asarray(X, np.float64)
      check(X.ndim == 2, f'Expected 2D array, got {X.ndim}D array instead: Reshape '
            'your data with X.reshape(-1, 1) (one feature) or X.reshape(1, -1) (one sample)')
      check(X.shape[0] > 0 and X.shape[1] > 0,
            f'Found array with shape {X.shape}: at least one sample and one feature needed')
      check(bool(np.all(np.isfinite(X))), 'Input X contains NaN or infinity')
      if reset:
        self.n_features_in_ = X.shape[1]
      else:
        check(X.shape[1] == self.n_features_in_,
              f'X has {X.shape[1]} features, but {type(self).__name__} is expecting '
              f'{self.n_features_in_} features as input')
    if self.binarize is not None:
      X = X > self.binarize
    X = np.asarray(X, np.float32)
    if self.visible == 'bernoulli':
      check(bool(np.all((X == 0) | (X == 1))),
            'X is not binary (values other than 0 and 1) but the RBM has binary '
            'visible units: pass 0/1 data, set binarize=<threshold>, or use '
            "visible='gaussian' for standardised real-valued data")
    return X

  def _check_fitted(self):
    if not self.__sklearn_is_fitted__():
      raise NotFittedError(f'This {type(self).__name__} instance is not fitted yet: '
                           'call fit or partial_fit first')

  # --------------------------------------------------------------- training

  def _config(self) -> train.TrainConfig:
    return train.TrainConfig(
        k=int(self.k), persistent=bool(self.persistent), connectivity=self.connectivity,
        learning_rate=float(self.learning_rate),
        strength_learning_rate=self.strength_learning_rate, optimizer=self.optimizer,
        rng=self.rng, visible=self.visible)

  def _start(self, X: np.ndarray) -> None:
    """A fresh model, trainer state and history for data like X."""
    check(isinstance(self.num_hidden, (int, np.integer)) and self.num_hidden >= 1,
          f'num_hidden must be an integer >= 1, got {self.num_hidden!r}')
    check(isinstance(self.batch_size, (int, np.integer)) and self.batch_size >= 1,
          f'batch_size must be an integer >= 1, got {self.batch_size!r}')
    self._train_config = self._config()
    self._batch = int(min(self.batch_size, X.shape[0]))
    key_init, key_chains = jax.random.split(jax.random.key(int(self.seed)))
    bias = None
    if self.base_rate_bias:
      bias = (rbm.base_rate_visible_bias(jnp.asarray(X)) if self.visible == 'bernoulli'
              else jnp.asarray(X.mean(0)))
    state = rbm.init(key_init, X.shape[1], int(self.num_hidden),
                     density=float(self.density), weight_init=self.weight_init,
                     weight_scale=float(self.weight_scale), visible_bias=bias,
                     visible=self.visible)
    self._opt_state = train.make_trainer(self._train_config).init(
        state, key_chains, self._batch)
    self._set_state(state)
    self.visible_mean_ = X.mean(0)
    self.history_ = []
    self.n_iter_ = 0

  def _set_state(self, state: rbm.RBMState) -> None:
    self.components_ = np.asarray(rbm.effective_weights(state)).T
    self.intercept_hidden_ = np.asarray(state.c)
    self.intercept_visible_ = np.asarray(state.b)
    self.strength_ = np.asarray(state.strength)
    self._state = state
    for name in ('log_partition_', 'score_method_'):
      self.__dict__.pop(name, None)

  def _epoch(self, X: np.ndarray) -> bool:
    """One epoch on X; False when the callback asks to stop."""
    check(X.shape[0] >= self._batch,
          f'{X.shape[0]} examples are fewer than the batch size {self._batch} of '
          'this estimator (fixed by its first fit)')
    key = jax.random.fold_in(jax.random.key(int(self.seed) + 1), self.n_iter_)
    state, self._opt_state, m = _epoch_fn(self._train_config, self._batch)(
        self._state, self._opt_state, jnp.asarray(X), key)
    self._set_state(state)
    self.n_iter_ += 1
    metrics = {'epoch': self.n_iter_,
               **{name: float(value) for name, value in m._asdict().items()}}
    self.history_.append(metrics)
    if self.callback is not None:
      return self.callback(self, self.n_iter_, metrics) is not False
    return True

  def fit(self, X, y=None):
    """Trains a fresh model for ``epochs`` epochs on X (N, V); y is ignored."""
    del y
    X = self._data(X, reset=True)
    self._start(X)
    epochs = range(int(self.epochs))
    if self.progress:
      try:
        import tqdm  # pylint: disable=g-import-not-at-top
        epochs = tqdm.tqdm(epochs, desc='fit', unit='epoch')
      except ImportError:
        pass
    for _ in epochs:
      if not self._epoch(X):
        break
    return self

  def partial_fit(self, X, y=None):
    """One more epoch on X (the first call starts the model); y is ignored."""
    del y
    first = not self.__sklearn_is_fitted__()
    X = self._data(X, reset=first)
    if first:
      self._start(X)
    self._epoch(X)
    return self

  # -------------------------------------------------------------- inference

  @property
  def state_(self) -> rbm.RBMState:
    """The model as an :class:`ncg.rbm.RBMState` (for the functional API)."""
    self._check_fitted()
    return self._state

  def transform(self, X):
    """p(h = 1 | x), (N, V) → (N, H), float32."""
    self._check_fitted()
    X = self._data(X, reset=False)
    return np.asarray(rbm.hidden_probs(self._state, jnp.asarray(X)))

  def _log_partition(self) -> float:
    if 'log_partition_' not in self.__dict__:
      state = self._state
      _, log2_terms = estimators.count_configurations(state)
      if log2_terms <= self.exact_max_log2:
        self.log_partition_ = float(estimators.exact_log_partition(state))
        self.score_method_ = 'exact'
      else:
        key = jax.random.key(int(self.seed) + 2)
        if self.visible == 'bernoulli':
          base = rbm.base_rate_visible_bias(jnp.asarray(self.visible_mean_[None]))
          result = estimators.ais_log_partition(
              key, state, num_runs=int(self.ais_runs), betas=int(self.ais_temperatures),
              base_visible_bias=base)
        else:
          result = units.gaussian_ais_log_partition(
              key, state, num_runs=int(self.ais_runs), betas=int(self.ais_temperatures))
        self.log_partition_ = float(result.log_z)
        self.score_method_ = 'ais'
    return self.log_partition_

  def score_samples(self, X):
    """log p(x) per example, (N,), nats (see the module: exact or AIS)."""
    self._check_fitted()
    X = self._data(X, reset=False)
    log_z = self._log_partition()
    return np.asarray(estimators.log_likelihood(self._state, jnp.asarray(X), log_z),
                      np.float64)

  def score(self, X, y=None):
    """The mean log p(x) over X (nats per example); y is ignored."""
    del y
    return float(np.mean(self.score_samples(X)))

  def sample(self, n_samples: int = 16, steps: int = 1000, seed: int | None = None):
    """``n_samples`` visible vectors after ``steps`` Gibbs sweeps from noise, (n, V)."""
    self._check_fitted()
    key = jax.random.key(int(self.seed) + 3 if seed is None else int(seed))
    key_start, key_chains = jax.random.split(key)
    start = sampling.random_visible(key_start, int(n_samples), self.n_features_in_)
    if self.visible != 'bernoulli':
      start = jnp.asarray(np.broadcast_to(self.visible_mean_, start.shape), jnp.float32)
    chains = jax.jit(sampling.sample_chains, static_argnums=3)(
        key_chains, self._state, start, int(steps))
    return np.asarray(chains)

  # ------------------------------------------------------------ save / load

  def save(self, path: str) -> str:
    """The model, its trainer state and these parameters, to ``path`` (ncg.resume)."""
    self._check_fitted()
    params = {k: v for k, v in self.get_params().items() if k != 'callback'}
    return resume.save(path, self._train_config, self._state, self._opt_state,
                       epoch=self.n_iter_, metadata={
                           'estimator': params, 'batch': self._batch,
                           'history': self.history_,
                           'visible_mean': self.visible_mean_.tolist()})

  @classmethod
  def load(cls, path: str) -> 'RBM':
    """An estimator saved by :meth:`save`, ready to transform, score or train on."""
    saved = resume.load(path)
    meta = saved.metadata
    check('estimator' in meta, f'{path} was not saved by ncg.RBM.save')
    model = cls(**meta['estimator'])
    model._train_config = saved.config  # pylint: disable=protected-access
    model._batch = int(meta['batch'])  # pylint: disable=protected-access
    model._opt_state = saved.opt_state  # pylint: disable=protected-access
    model._set_state(saved.state)  # pylint: disable=protected-access
    model.n_features_in_ = int(saved.state.W.shape[0])
    model.visible_mean_ = np.asarray(meta['visible_mean'], np.float64)
    model.history_ = list(meta['history'])
    model.n_iter_ = int(meta['epoch'])
    return model


__all__ = ['RBM', 'NotFittedError', 'InputError']

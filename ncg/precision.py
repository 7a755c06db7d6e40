"""Matmul precision of the estimators: the same numbers on every backend.

A CPU computes float32 matmuls in float32, but an accelerator's default is
faster and coarser: TF32 on recent NVIDIA GPUs (10-bit mantissa), bfloat16
passes on TPUs. Training tolerates that; a likelihood does not (a 784×500
free energy summed at TF32 is off by ~0.1 nats per example, more than the
differences the project reports). :func:`highest` traces a function under
``jax.default_matmul_precision('highest')``, so every ``dot_general`` inside
carries ``precision = HIGHEST`` in the lowered program whatever the backend
or the caller's setting. The estimators (exact log Z, AIS, log p, p(y | x))
are wrapped. The training step's precision is a choice
(``TrainConfig.matmul_precision``, :func:`training`): the backend default
(the default, so earlier runs' numbers stand), float32, or bfloat16 operands
with float32 accumulation.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

ESTIMATOR_PRECISION = 'highest'
# TrainConfig.matmul_precision -> jax.default_matmul_precision (None: leave
# the backend's default). 'BF16_BF16_F32' is XLA's dot algorithm with
# bfloat16 operands and float32 accumulation, float32 in and out, so the
# parameters, optimizer state and every sum outside the matmuls stay float32.
TRAINING_PRECISIONS = {
    'default': None,
    'float32': 'float32',
    'bfloat16': 'BF16_BF16_F32',
}


def highest(fn):
  """``fn`` traced (and so lowered) with every matmul at HIGHEST precision.

  Put it under ``jax.jit`` (``@jax.jit`` above ``@highest``): the context is
  entered while tracing, so the precision is baked into the program.
  """
  @functools.wraps(fn)
  def wrapped(*args, **kwargs):
    with jax.default_matmul_precision(ESTIMATOR_PRECISION):
      return fn(*args, **kwargs)
  return wrapped


def wide_float():
  """The estimators' accumulation dtype: float64 when ``jax_enable_x64`` is
  on, else float32 (exact log Z, AIS log weights, log p)."""
  return jax.dtypes.canonicalize_dtype(jnp.float64)


def training(name: str):
  """Decorator: trace under the training precision ``name`` (see above).

  ``'default'`` returns the function untouched (same program, same numbers
  as before the option existed).
  """
  setting = TRAINING_PRECISIONS[name]

  def decorate(fn):
    if setting is None:
      return fn

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
      with jax.default_matmul_precision(setting):
        return fn(*args, **kwargs)
    return wrapped
  return decorate


def environment() -> dict[str, str]:
  """What a record should say about where its numbers were computed."""
  import jaxlib  # pylint: disable=g-import-not-at-top
  device = jax.devices()[0]
  return {
      'backend': jax.default_backend(),
      'device_kind': device.device_kind,
      'device_count': jax.device_count(),
      'process_count': jax.process_count(),
      'jax_version': jax.__version__,
      'jaxlib_version': jaxlib.__version__,
      'default_matmul_precision': str(jax.config.jax_default_matmul_precision
                                      or 'default'),
      'estimator_matmul_precision': ESTIMATOR_PRECISION,
      'prng_impl': str(jax.config.jax_default_prng_impl),
      'x64': bool(jax.config.jax_enable_x64),
  }

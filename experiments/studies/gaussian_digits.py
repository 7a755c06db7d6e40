r"""A Gaussian–Bernoulli RBM with NCG connectivity on the standardised embedded digits.

    python -m experiments.studies.gaussian_digits            # docs/ncg.md §6's run
    python -m experiments.studies.gaussian_digits 0.005 60 200

Arguments (positional, optional): learning rate η (0.01), epochs (30), hidden
units H (100). Trains 784×H unit-variance Gaussian visible units (CD-1, batch
50, NCG from density 0.5, weights N(0, 0.01²)) on the 3,500 training digits
z-scored per pixel (``data.load('embedded', binarization='none',
standardize=True)``), and prints per epoch the reconstruction error, density
and connections added/removed, then the test average log density by AIS (64
runs, 2,000 temperatures) before and after training, beside the independent
N(0, 1) per standardised pixel. Uses the library only (jax, optax, numpy).
"""

from __future__ import annotations

import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from ncg import data
from ncg import rbm
from ncg import train
from ncg import units


def _evaluate(state, test, tag):
  result = units.get('gaussian').ais_log_partition(
      jax.random.key(2), state, num_runs=64, betas=2000)
  log_p = units.log_likelihood(state, test, result.log_z, 'gaussian')
  print(f'{tag}: log Z {float(result.log_z):.2f} [{float(result.log_z_low):.2f}, '
        f'{float(result.log_z_high):.2f}]  test log p(v) {float(jnp.mean(log_p)):.2f} '
        f'nats  density {float(rbm.density(state)):.3f}', flush=True)


def main(argv: list[str]) -> None:
  if len(argv) > 4:
    print('error: at most 3 arguments: learning rate, epochs, hidden units',
          file=sys.stderr)
    sys.exit(2)
  try:
    learning_rate = float(argv[1]) if len(argv) > 1 else 0.01
    epochs = int(argv[2]) if len(argv) > 2 else 30
    num_hidden = int(argv[3]) if len(argv) > 3 else 100
  except ValueError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(2)
  dataset = data.load('embedded', binarization='none', standardize=True)
  x, test = jnp.asarray(dataset.train.x), jnp.asarray(dataset.test.x)
  state = rbm.init(jax.random.key(0), x.shape[1], num_hidden, density=0.5,
                   weight_init='normal', weight_scale=0.01, visible='gaussian')
  config = train.TrainConfig(k=1, connectivity='ncg', learning_rate=learning_rate,
                             visible='gaussian')
  opt_state = train.make_trainer(config).init(state, jax.random.key(1),
                                              batch_size=50)
  epoch_fn = train.make_epoch(config, batch_size=50)
  _evaluate(state, test, 'start')
  began = time.time()
  for epoch in range(1, epochs + 1):
    state, opt_state, m = epoch_fn(state, opt_state, x, jax.random.key(10 + epoch - 1))
    print(f'{epoch} recon {float(m.reconstruction_error):.1f} density '
          f'{float(m.density):.3f} added {int(m.added)} removed {int(m.removed)} '
          f'{time.time() - began:.0f}s', flush=True)
  _evaluate(state, test, f'after {epochs} epochs')
  base = (-0.5 * test.shape[1] * np.log(2 * np.pi)
          - 0.5 * float(jnp.mean(jnp.sum(test ** 2, -1))))
  print(f'independent N(0, 1) per standardised pixel: test log p(v) {base:.2f} nats')


if __name__ == '__main__':
  main(sys.argv)

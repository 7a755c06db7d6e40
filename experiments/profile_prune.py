r"""What one step of a parsimonious run costs, by phase: the studies' budget in ratios.

    python -m experiments.profile_prune --widths=300,100 --batch_size=256

Times the compiled step of LeNet-300-100 (or a wider start) in each regime a run of
docs/parsimonious.md §8a goes through — the dense network (the deterministic phase
and the warm-up's cost per pass), the gated step with the Taylor control variate
(three passes), the gated step with the exact hidden-unit differences ('local':
three passes + two difference calls), the warm-up with 'local' (one pass + one
difference call) — and prints one JSON line per regime with the milliseconds per
step and the ratio to the dense step measured in the same process. Ratios only: the
machine is shared.
"""

from __future__ import annotations

import json

from absl import app
from absl import flags
import jax
import jax.numpy as jnp

from experiments import workdir as workdir_lib
from experiments.benchmark import best_seconds   # also defines --min_seconds
from ncg.parsimonious import local
from ncg.parsimonious import mlp
from ncg.parsimonious import train as prune_train

_WIDTHS = flags.DEFINE_list('widths', ['300', '100'], 'Hidden widths of the start.')
_BATCH = flags.DEFINE_integer('batch_size', 256, 'Minibatch size.')
_STEPS = flags.DEFINE_integer('steps', 20, 'Steps per timed call.')

# regime → (Config overrides, θ at the start): what a run's epochs do per step
REGIMES = {
    'dense': (dict(method='dense'), 1.0),
    'gated_taylor': (dict(estimator='taylor_cv'), 0.5),
    'gated_local': (dict(estimator='local'), 0.5),
    'warmup_local': (dict(estimator='local', warmup_steps=10 ** 9, grace_steps=10 ** 9), 0.5),
}


def time_regime(arch, overrides: dict, theta: float, batch: int, steps: int,
                min_seconds: float) -> float:
  """Seconds per step of the compiled step under ``overrides``."""
  config = prune_train.Config(learning_rate=3e-3, theta_learning_rate=10.0, penalty=1e-3,
                              penalty_scale=(1.0,) * len(arch.widths), prior_variance=0.05,
                              num_train=50000, **overrides)
  trainer = prune_train.make_trainer(config)
  state = trainer.init(jax.random.key(0), arch, arch.widths[0], theta)
  x = (jax.random.uniform(jax.random.key(1), (steps, batch, arch.widths[0])) < 0.13
       ).astype(jnp.float32)
  y = jax.random.randint(jax.random.key(2), (steps, batch), 0, 10)
  keys = jax.random.split(jax.random.key(3), steps)

  @jax.jit
  def run(state):
    def body(s, inputs):
      s, _ = trainer.step(arch, s, *inputs)
      return s, None
    return jax.lax.scan(body, state, (x, y, keys))[0]
  return best_seconds(lambda: run(state), min_seconds) / steps


def main(argv):
  del argv
  arch = mlp.architecture(784, tuple(int(w) for w in _WIDTHS.value))
  dense = None
  for name, (overrides, theta) in REGIMES.items():
    seconds = time_regime(arch, overrides, theta, _BATCH.value, _STEPS.value,
                          flags.FLAGS.min_seconds)
    dense = dense or seconds
    print(json.dumps({'regime': name, 'widths': list(arch.widths), 'batch_size': _BATCH.value,
                      'ms_per_step': 1e3 * seconds, 'ratio_to_dense': seconds / dense,
                      'difference_macs_per_example': local.difference_macs(arch),
                      'forward_macs_per_example': mlp.macs(arch)}))


if __name__ == '__main__':
  app.run(workdir_lib.clean_errors(main), flags_parser=workdir_lib.parse_flags)

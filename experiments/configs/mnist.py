"""The reference's MNIST protocol: 60k stochastically binarized digits, H = 500,
CD-10, batch 50, η = 0.01, η_α = 5η, 200 epochs, likelihood every 10 epochs.

    ncg-train --config=mnist \
        --config.model.density=0.1 --workdir=runs/mnist/ncg_p0.1
Baselines: --config.train.connectivity=dense | fixed (with the same density).
"""

from experiments import configs
from experiments.configs import default


def get_config():
  config = default.get_config()
  config.train.baseline = ''  # no baseline beside (the default run's is dense)
  config.data.name = 'mnist_idx'
  config.data.path = configs.data_path('mnist')  # $NCG_DATA/mnist, or pass it
  config.train.learning_rate = 0.01
  config.model.base_rate_bias = False  # the reference starts from zero biases
  config.train.epochs = 200
  config.train.checkpoint_every = 5
  config.eval.every = 10
  config.eval.ais_runs = 100
  config.eval.ais_temperatures = 1000
  config.eval.final = True
  return config

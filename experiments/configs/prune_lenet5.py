"""LeNet-5-Caffe (conv 20 → conv 50 → dense 800 → 500 → 10) on full MNIST.

    python -m experiments.prune --config=experiments/configs/prune_lenet5.py \
        --workdir=runs/prune/lenet5_s0
"""

from experiments.configs import prune_lenet300


def get_config():
  config = prune_lenet300.get_config()
  config.model.net = 'lenet5'
  config.model.widths = (20, 50, 500)
  config.train.epochs = 24
  config.train.decide_epoch = 2
  # price of a unit relative to a dense unit, roughly its MACs: conv0 filter,
  # conv1 filter, flattened feature, dense unit
  config.train.penalty_scale = (5.0, 10.0, 0.5, 1.0)
  return config

"""LeNet-5-Caffe (conv 20 → conv 50 → dense 800 → 500 → 10) on MNIST, 50,000 / 10,000 / test.

    python -m experiments.prune --config=experiments/configs/prune_lenet5.py \
        --workdir=runs/prune/lenet5_s0

Units are priced by their share of the MACs (``train.price='macs'``): a unit
of group g costs λ/N times the MACs it adds to the start network over those
of a dense unit (conv0 filter ≈ 117, conv1 filter ≈ 40, flattened feature
≈ 0.6, dense unit 1).
"""

from experiments.configs import prune_lenet300


def get_config():
  config = prune_lenet300.get_config()
  config.model.net = 'lenet5'
  config.model.widths = (20, 50, 500)
  config.train.epochs = 30
  config.train.price = 'macs'
  config.train.penalty = 2e-5
  return config

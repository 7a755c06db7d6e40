"""LeNet-5-Caffe (conv 20 → conv 50 → dense 800 → 500 → 10) on full MNIST.

    python -m experiments.prune --config=experiments/configs/prune_lenet5.py \
        --workdir=runs/prune/lenet5_s0
"""

from experiments.configs import prune_lenet300


def get_config():
  config = prune_lenet300.get_config()
  config.model.net = 'lenet5'
  config.model.widths = (20, 50, 500)
  config.train.epochs = 40
  config.train.decide_epoch = 10
  config.train.penalty = 5e-4
  config.train.prior_variance = 0.05
  # Price of a unit relative to a dense unit (conv0 filter, conv1 filter,
  # flattened feature, dense unit): a filter costs 10^4-10^5 MACs against a
  # dense unit's ~10^2, and pricing filters 20x was what kept the net under the
  # ~153K MACs of BC-GHS on a 50k/10k validation split (5 and 10x: ~245K MACs).
  config.train.penalty_scale = (20.0, 20.0, 0.5, 1.0)
  return config

"""LeNet-300-100 (784-300-100-10, inputs gated too) on full MNIST.

    python -m experiments.prune --config=experiments/configs/prune_lenet300.py \
        --workdir=runs/prune/lenet300_s0
Wider starts: ``--config.model.widths='(1000,1000)'``; the dense baseline
(every gate fixed at 1, one deterministic pass per step): ``--config.train.gated=False``.
"""

import ml_collections


def get_config():
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.data = ml_collections.ConfigDict()
  config.data.name = 'mnist_idx'          # or 'embedded', 'tfds:mnist'
  config.data.path = '../shared/data/mnist'
  config.data.validation_size = 0         # 0: none; the test split is reported
  config.model = ml_collections.ConfigDict()
  config.model.net = 'mlp'                # 'mlp' or 'lenet5'
  config.model.widths = (300, 100)        # mlp: hidden widths; lenet5: (conv0, conv1, dense)
  config.train = ml_collections.ConfigDict()
  config.train.epochs = 60                # after decide_epoch an epoch costs ~0.1-0.2 s
  config.train.batch_size = 256
  config.train.learning_rate = 1e-3       # Adam, weights
  config.train.cosine_decay = True        # of the weights' learning rate, over the run
  config.train.gated = True               # False: the dense network (θ fixed at 1)
  config.train.theta_optimizer = 'adam'   # projected 'adam' or 'sgd' on θ
  config.train.theta_learning_rate = 0.05
  config.train.theta_init = 0.9
  config.train.penalty = 1e-4             # λ/N: nats per example per surviving unit
  config.train.penalty_scale = ()         # per gate group multipliers; () = all 1
  config.train.prior_variance = 0.05      # σ² of the Gaussian slab on the weights
  config.train.estimator = 'taylor_cv'    # or 'antithetic'
  config.train.decide_epoch = 15          # round θ to 0/1 after this epoch (0: never)
  config.train.chunk_steps = 50           # updates between shrink checks
  config.train.shrink_fraction = 0.1      # shrink once a group can lose >= 10% (0: always)
  return config

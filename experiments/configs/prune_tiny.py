"""A seconds-long run for tests: a 784-32-16-10 gated MLP on the embedded digits."""

from ml_collections import config_dict

from experiments.configs import prune_lenet300


def get_config():
  config = prune_lenet300.get_config()
  config.data.name = 'embedded'
  config.data.path = ''
  config.data.validation_size = config_dict.placeholder(int)  # unset: the embedded set's 500 held-out digits
  config.model.widths = (32, 16)
  config.train.epochs = 3
  config.train.batch_size = 100
  config.train.penalty = 2e-3
  config.train.theta_learning_rate = 20.0
  # the flattening recipe from θ = 0.9: with these short, steep settings it prunes
  # moderately in 3 epochs (the sharpened default from ½ empties the tiny net)
  config.train.theta_init = 0.9
  config.train.sharpness = 0.0
  config.train.grace_epochs = 1
  config.train.chunk_steps = 20
  config.train.shrink_fraction = 0.5       # few shapes: each one compiles
  config.analysis.marginal_examples = 200
  return config

"""4×4 bars and stripes (30 patterns): small enough for exact likelihoods."""

from experiments.configs import default


def get_config():
  config = default.get_config()
  config.train.baseline = ''  # no baseline beside (the default run's is dense)
  config.data.name = 'bars_and_stripes'
  config.data.bars_size = 4
  config.model.num_hidden = 16
  config.train.k = 1
  config.train.batch_size = 10
  config.train.learning_rate = 0.05
  config.train.epochs = 500
  config.train.checkpoint_every = 50
  config.train.free_energy_examples = 30
  config.eval.final = True
  return config

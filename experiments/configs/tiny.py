"""A seconds-long run for tests and smoke checks: 64 hidden units, 2 epochs."""

from experiments.configs import default


def get_config():
  config = default.get_config()
  config.train.baseline = ''  # no baseline beside (the default run's is dense)
  config.model.num_hidden = 64
  config.train.k = 1
  config.train.epochs = 2
  config.train.batch_size = 100
  config.train.free_energy_examples = 200
  config.eval.final = False
  config.eval.ais_runs = 16
  config.eval.ais_temperatures = 100
  config.figures.num_samples = 16
  config.figures.gibbs_steps = 20
  return config

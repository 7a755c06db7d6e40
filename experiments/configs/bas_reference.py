"""The NCG reference's bars-and-stripes protocol: 4×4 (30 patterns), exact likelihood.

H = 16, CD-10, batch 5, η = 0.01, η_α = 5η, plain SGD, weights U[−1, 1] and
zero biases, 6,000 epochs, the exact average NLL of the 30 patterns every 100
epochs (its minimum is log 30 ≈ 3.40 nats). Run as a population:

    python -m experiments.sweep --config=experiments/configs/bas_reference.py \
        --densities=1,0.5,0.1,0 --seeds=0,1,2,3,4,5,6,7,8,9 --workdir=runs/bas/ncg
"""

from experiments.configs import default


def get_config():
  config = default.get_config()
  config.train.baseline = ''  # no baseline beside (the default run's is dense)
  config.data.name = 'bars_and_stripes'
  config.data.bars_size = 4
  config.model.num_hidden = 16
  config.model.base_rate_bias = False   # the reference starts from zero biases
  config.train.k = 10
  config.train.batch_size = 5
  config.train.learning_rate = 0.01
  config.train.epochs = 6000
  config.train.checkpoint_every = 500
  config.train.log_every = 100
  config.train.free_energy_examples = 30
  config.eval.every = 100               # exact NLL curve (sweep)
  config.eval.final = True
  config.eval.ais_runs = 100
  config.eval.ais_temperatures = 1000   # exact log Z is the measure here; AIS is a check
  config.figures.num_samples = 30
  config.figures.gibbs_steps = 1000
  return config

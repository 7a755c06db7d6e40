"""LeNet-300-100 (784-300-100-10, inputs gated too) on MNIST, 50,000 / 10,000 / test.

    python -m experiments.prune --config=experiments/configs/prune_lenet300.py \
        --workdir=runs/prune/lenet300_s0
Wider starts: ``--config.model.widths='(1200,400)'``; the dense baseline
(every gate fixed at 1, one deterministic pass per step): ``--config.train.method=dense``
(or the older ``--config.train.gated=False``);
the L0 hard-concrete baseline: ``--config.train.method=l0``. The last 10,000
training digits are held out for choosing settings (validation error).
"""

import ml_collections

from experiments import configs


def get_config():
  config = ml_collections.ConfigDict()
  config.data = ml_collections.ConfigDict()
  config.data.name = 'mnist_idx'          # or 'embedded', 'tfds:mnist'
  config.data.path = configs.data_path('mnist')  # $NCG_DATA/mnist, a clone's ../shared, or pass it
  config.data.validation_size = 10000     # held out of training; unset = the data set's default
  config.model = ml_collections.ConfigDict()
  config.model.net = 'mlp'                # a kind of ncg.parsimonious.models.KINDS
  config.model.widths = (300, 100)        # mlp: hidden widths; lenet5: (conv0, conv1, dense)
  config.train = ml_collections.ConfigDict()
  config.train.seed = 0
  config.train.epochs = 60
  config.train.batch_size = 256
  config.train.learning_rate = 1e-3       # Adam, weights
  config.train.cosine_decay = True        # of the weights' learning rate, over the run
  config.train.init_scheme = 'lecun'      # 'lecun' or 'he' (kernels; biases 0)
  config.train.init_scale = 1.0           # multiplies the initial kernels
  config.train.method = 'bernoulli'       # or 'l0' (hard-concrete baseline), 'dense' (θ fixed at 1)
  config.train.gated = True               # False: the older spelling of method='dense'
  config.train.theta_optimizer = 'sgd'    # projected 'sgd' (the method) or 'adam'
  config.train.theta_learning_rate = 3.0  # η₀ of η_t = η₀ / (1 + (t − G)/τ)^κ
  config.train.theta_decay_epochs = 5.0   # τ in epochs (> 0)
  config.train.theta_decay_power = 1.0    # κ in (0.5, 1]
  config.train.theta_averaging = 0.99     # β: θ follows an exponential average of its gradient
  config.train.explore = 0.02             # ε: gates sampled from min(θ, 1 − ε)
  config.train.sharpness = 1e-3           # γ/N: sharpened hyper-prior, pull of θ to 0/1 (0: flat)
  config.train.sharpness_final = 1.0      # r: γ_t linear from γ (after grace) to r γ at the last step (1: constant)
  config.train.grace_epochs = 2           # G: θ does not move (no unit leaves) before
  config.train.theta_init = 0.5          # the maximum-entropy start: H_ε pulls neither way
  config.train.theta_init_per_group = ()  # one θ_init per gate group (overrides theta_init)
  config.train.warmup_epochs = 0          # first epochs of the grace with every gate on (dense)
  config.train.finetune_epochs = 0        # last epochs: the final net trained deterministically
  config.train.finetune_learning_rate = 0.0  # Adam step of the deterministic phase (0: learning_rate)
  config.train.dropout = ()               # drop rate per gate group: method 'dropout', or the deterministic phase
  config.train.penalty = 1e-4             # λ/N: nats per example per surviving unit
  config.train.price = 'unit'             # 'unit': λ per unit; 'macs': × the unit's start MAC share;
                                          # 'fanout': × its outgoing weights (L0); 'expected_macs':
                                          # penalty per MAC of the sampled net (ncg/parsimonious/prices.py)
  config.train.penalty_scale = ()         # per-group multipliers of the price row
  config.train.penalty_ramp_epochs = 0.0  # the price rises from 0 over this many epochs after the grace
  config.train.gate_rate_factor = 10.0    # L0: log α's Adam rate / the weights' rate
  config.train.gate_clamp = 0.0           # L0: |log α| clipped to this (0: not clipped)
  config.train.weight_ema = 0.0           # β of a weight average used for evaluation (0: none)
  config.train.prior_variance = 0.05      # σ² of the Gaussian slab on the weights
  config.train.coupled_prior = True       # slab prior paid only by weights in use (× θ)
  config.train.estimator = 'taylor_cv'    # or 'antithetic', 'local' (exact hidden-unit differences)
  config.train.difference_examples = 0    # 'local': differences on this many examples per batch (0: all)
  config.train.decide_epoch = 0           # 0: θ decides itself; else fold θ after this epoch
  config.train.chunk_steps = 50           # updates between shrink checks
  config.train.shrink_fraction = 0.2      # shrink once a group can lose >= 20% (0: always, 1: never)
  config.analysis = ml_collections.ConfigDict()
  config.analysis.marginal_examples = 10000  # validation digits for the Δ_j check (0: skip)
  config.analysis.audit_removed = True    # Δ_j of every unit as it leaves the arrays (same digits)
  return config

"""NCG-RBM on the embedded MNIST subset: the default run (about 1.5 minutes on a 2-core CPU).

The reference's settings (H = 500, CD-10, batch 50, η_α = 5η, SGD, weights
U[−1, 1]) with an initial density of 0.5, on the 3,500 training digits that ship
with the package (ncg/embedded). Two changes make 20 short epochs (1,400 updates) give real digits:
η = 0.1 (the reference's other learning rate; with 0.01 the U[−1, 1] weights
barely move in 1,400 steps) and visible biases from the data's base rates.
"""

from ml_collections import config_dict


def get_config() -> config_dict.ConfigDict:
  config = config_dict.ConfigDict()

  config.data = config_dict.ConfigDict()
  config.data.name = 'embedded'   # embedded | mnist_idx | tfds:NAME | mushrooms | connect4 | bars_and_stripes
  config.data.path = ''           # directory or file the source reads ('' = none)
  config.data.binarization = 'stochastic'  # stochastic | threshold (RBMs need binary data)
  config.data.seed = 0            # seed of the stochastic binarization
  config.data.validation_size = config_dict.placeholder(int)  # unset = the data set's default
  config.data.bars_size = 4
  config.data.bars_reference_set = False  # bars_and_stripes: the NCG reference's 32-sample set (all-off, all-on twice)

  config.model = config_dict.ConfigDict()
  config.model.num_visible = config_dict.placeholder(int)  # unset = the data's; else must match it
  config.model.num_hidden = 500
  config.model.density = 0.5      # initial connection density p in [0, 1]
  config.model.density_from = ''  # run dir / summary.json whose final density replaces density
  config.model.weight_init = 'uniform'  # uniform: U[-s, s] | normal: N(0, s²)
  config.model.weight_scale = 1.0
  config.model.base_rate_bias = True    # visible biases from the data's base rates
  config.model.labels = False     # joint RBM with one-hot label units (classification)

  config.train = config_dict.ConfigDict()
  config.train.connectivity = 'ncg'  # ncg | dense | fixed | set | rigl | l1
  config.train.baseline = 'dense'    # trained beside the run in <workdir>/baseline_<mode>/ ('' = none)
  config.train.rewire_fraction = 0.3   # set/rigl: ζ, fraction of present connections swapped
  config.train.rewire_every = 0        # set/rigl: steps between rewirings (0 = after each epoch)
  config.train.rewire_until = 0.75     # rigl: ζ decays (cosine) to 0 at this fraction of the run
  config.train.new_weight_scale = 0.05  # set: new weights N(0, s²) (the reference's N(0,1)/20)
  config.train.l1_penalty = 1e-4       # l1: λ of λ‖W‖₁ (per example, nats)
  config.train.magnitude_threshold = 0.01  # effective density counts |W| > τ
  config.train.hysteresis = 0.0        # ncg: flips jump to the far edge of ½ ± h (0 = off)
  config.train.strength_rule = 'reference'  # ncg: reference (W ⊙ G) | normalized (scale-free, docs/ncg.md §2a)
  config.train.hidden = 'fixed'       # hidden units: fixed | ncg_h (NCG-H: s′ > ½) | gated (Bernoulli θ, units removed); docs/ncg.md §8
  config.train.hidden_learning_rate = 0.05  # ncg_h: η_s of s′; gated: η₀ of θ
  config.train.hidden_init = 1.0      # ncg_h/gated: s′ or θ of every unit at the start, in (0, 1]
  config.train.hidden_penalty = 1e-3  # gated: λ/N, a unit's price (nats per example)
  config.train.hidden_sharpness = 0.0  # gated: γ/N of the sharpened hyper-prior (pulls θ to 0/1)
  config.train.hidden_grace_steps = 0  # ncg_h/gated: steps before s′ or θ moves
  config.train.hidden_decay_steps = 0.0  # gated: τ of θ's step η₀/(1 + t/τ) (0 = constant)
  config.train.k = 10
  config.train.persistent = False    # PCD-k instead of CD-k
  config.train.temperatures = 1      # PCD: K rungs of a parallel-tempering ladder per chain (1 = PCD; docs/ncg.md §7)
  config.train.beta_min = 0.1        # PT: the hottest rung's β (geometric ladder 1 … beta_min)
  config.train.reconstruction = True  # PCD: also reconstruct the data for the metric (1 matmul)
  config.train.matmul_precision = 'default'  # default (backend's) | float32 | bfloat16 (f32 accumulation)
  config.train.data_shards = 1       # >1: each minibatch over this many devices (B a multiple)
  config.train.rng = 'hash'          # Gibbs draws' generator: hash (fast on CPU) | threefry | rbg | unsafe_rbg
  config.train.learning_rate = 0.1
  config.train.strength_learning_rate = config_dict.placeholder(float)  # unset = 5 × learning_rate
  config.train.optimizer = 'sgd'     # sgd | momentum | adam
  config.train.momentum = 0.9
  config.train.batch_size = 50
  config.train.epochs = 20          # may grow when a finished run is resumed (extends it)
  config.train.seed = 0
  config.train.checkpoint_every = 1  # epochs
  config.train.log_every = 1         # sweep: epochs between metrics lines (exact-NLL epochs always logged)
  config.train.checkpoint_minutes = 0.0  # and after an epoch once this many minutes passed (0 = off)
  config.train.free_energy_examples = 500  # subset sizes for the F gap

  config.eval = config_dict.ConfigDict()
  config.eval.every = 0            # epochs between evaluations (0 = at the end only if final)
  config.eval.final = True         # evaluate (AIS, accuracy) after the last epoch, and the start
  config.eval.ais_runs = 100
  config.eval.ais_temperatures = 1000  # in-training AIS uses this shorter schedule

  config.figures = config_dict.ConfigDict()
  config.figures.num_samples = 100
  config.figures.gibbs_steps = 1000
  return config

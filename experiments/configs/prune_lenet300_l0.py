"""The L0 baseline as Louizos, Welling & Kingma (2018) ran it on LeNet-300-100.

    python -m experiments.prune --config=experiments/configs/prune_lenet300_l0.py \
        --workdir=runs/prune/l0_paper_s0

The authors' code (their ``L0MLP`` and training loop), in this project's terms:
hard-concrete gates on the inputs of every dense layer (pixels, hidden 1, hidden 2),
a price of λ per *outgoing weight* (``price='fanout'``: a pixel pays λ·300/N, a
first-layer unit λ·100/N, a second-layer unit λ·10/N, at the start widths, since L0
removes nothing while training), the L2 prior weighted by P(z ≠ 0) with the paper's
weight decay 5·10⁻⁴ per example (σ² = 1/(5·10⁻⁴ N) = 0.04 for N = 50,000),
keep-probabilities 0.8 on pixels and 0.5 on hidden units at the start, log α with
Adam at the weights' rate and clipped to [−log 100, log 100] after every step,
batch 100, Adam 10⁻³ without decay, 200 epochs, and the weights' moving average
(β = 0.999, debiased) for evaluation and the final network; test gates
min(1, max(0, σ(log α)(ζ − γ) + γ)) folded into the weights. The per-layer λ
(``penalty_scale`` multiplies the fan-out row) are set so that the network lands
near the published 266-88-33 (26.6K MACs); docs/parsimonious.md §10 says how they
were found. ``train.epochs`` may be cut to what the machine allows (say so).
"""

import math

from experiments.configs import prune_lenet300


def get_config():
  config = prune_lenet300.get_config()
  t = config.train
  t.method = 'l0'
  t.epochs = 200
  t.batch_size = 100
  t.learning_rate = 1e-3
  t.cosine_decay = False
  t.grace_epochs = 0
  t.price = 'fanout'
  t.penalty = 0.1 / 50000                 # λ/N per outgoing weight, λ = 0.1
  t.penalty_scale = (1.0, 1.0, 1.0)       # per-layer λ multipliers (calibrated: §10)
  t.prior_variance = 0.04                 # weight decay 5e-4 per example
  t.theta_init = 0.5
  t.theta_init_per_group = (0.8, 0.5, 0.5)
  t.gate_rate_factor = 1.0
  t.gate_clamp = math.log(100.0)
  t.weight_ema = 0.999
  t.explore = 0.0
  t.sharpness = 0.0
  config.analysis.marginal_examples = 0
  return config

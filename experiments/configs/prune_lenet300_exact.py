"""LeNet-300-100 with exact hidden-unit differences and the flattening hyper-prior.

    python -m experiments.prune --config=experiments/configs/prune_lenet300_exact.py \
        --workdir=runs/prune/exact_s0

The recipe of docs/parsimonious.md §9e (study ``exact``): the θ-gradient of the
hidden units is the exact difference ℓ(z_j = 1) − ℓ(z_j = 0) (``estimator='local'``,
≈ 1 % of the Taylor estimator's variance), no sharpening (γ = 0), so a gate is
held at a vertex only by its own Δ_j + λ/N, and larger θ steps (η₀ = 10) that
the low variance allows. At λ/N = 10⁻³ its final widths do not depend on the
starting width (1×, 2×, 4×); ≈ 2–3 % of the gates are still undecided after
10 epochs. MLPs only (the differences are written for dense layers).
"""

from experiments.configs import prune_lenet300


def get_config():
  config = prune_lenet300.get_config()
  config.train.estimator = 'local'
  config.train.sharpness = 0.0
  config.train.theta_learning_rate = 10.0
  config.train.penalty = 1e-3
  return config

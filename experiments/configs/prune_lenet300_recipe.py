"""LeNet-300-100, the recipe whose final networks compete (docs/parsimonious.md §8a, §9c).

    python -m experiments.prune --config=experiments/configs/prune_lenet300_recipe.py \
        --workdir=runs/prune/recipe_s0

The exact-difference recipe (configs/prune_lenet300_exact.py: estimator 'local', γ = 0,
η₀ = 10) with what the gated phase lacked, each chosen on the validation digits
(``python -m experiments.prune_studies recipe_probes``): the weights' Adam step 3·10⁻³
(cosine decay), pixels at 0.3 of a hidden unit's price, 10 gated epochs (2 of grace),
then 90 epochs of the deterministic phase (``finetune_epochs``: the final network
trained alone, fresh Adam and cosine schedule; at the final widths an epoch costs
≈ 1/100 of a gated one, so the 100-epoch protocol costs less wall time than the dense
network's 100 epochs). Every unit leaving the arrays is audited on 1,000 held-out
digits. ``--config.train.penalty`` sets the size: 2·10⁻⁴ for L0's 26.6K MACs, 10⁻³
for VIBNet's 9.6K. The dense warm-up (``warmup_epochs``) and the price ramp
(``penalty_ramp_epochs``) are options the probes measured (docs §9c).
"""

from experiments.configs import prune_lenet300_exact


def get_config():
  config = prune_lenet300_exact.get_config()
  t = config.train
  t.learning_rate = 3e-3
  t.epochs = 100
  t.finetune_epochs = 90
  t.penalty = 1e-3
  t.penalty_scale = (0.3, 1.0, 1.0)
  config.analysis.marginal_examples = 1000
  return config

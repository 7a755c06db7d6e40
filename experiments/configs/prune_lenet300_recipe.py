"""LeNet-300-100, the recipe whose final networks compete (docs/parsimonious.md §8a, §9c).

    python -m experiments.prune --config=experiments/configs/prune_lenet300_recipe.py \
        --workdir=runs/prune/recipe_s0

The exact-difference recipe (configs/prune_lenet300_exact.py: estimator 'local', γ = 0,
η₀ = 10) with what the gated phase lacked, each chosen on the validation digits
(``python -m experiments.prune_studies recipe_probes``): the weights' Adam step 3·10⁻³
(cosine decay), a dense warm-up over the 2-epoch grace period (every gate on; θ
starts moving from weights trained without the gates' noise), pixels at 0.3 of a
hidden unit's price, 10 gated epochs, then 20 epochs of the deterministic phase
(``finetune_epochs``: the final network trained alone, fresh Adam and cosine
schedule). Every unit leaving the arrays is audited on 1,000 held-out digits.
``--config.train.penalty`` sets the size: 3·10⁻⁴ lands near L0's 26.6K MACs, 10⁻³
below VIBNet's 9.6K.
"""

from experiments.configs import prune_lenet300_exact


def get_config():
  config = prune_lenet300_exact.get_config()
  t = config.train
  t.learning_rate = 3e-3
  t.epochs = 30
  t.finetune_epochs = 20
  t.warmup_epochs = 2
  t.penalty = 1e-3
  t.penalty_scale = (0.3, 1.0, 1.0)
  config.analysis.marginal_examples = 1000
  return config

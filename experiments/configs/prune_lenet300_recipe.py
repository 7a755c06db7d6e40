"""LeNet-300-100, the recipe whose final networks compete (docs/parsimonious.md §8a, §9g).

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
digits. The first 2 epochs train the dense network (``warmup_epochs``: the first
decisions rest on trained weights) and the price then ramps in over 4 epochs
(``penalty_ramp_epochs``), chosen on validation at the full 100-epoch protocol
(``prune_studies ramp_probes``, then ``compete_ramp`` at 3 seeds: validation 2.06 % at
≈ 22K MACs against 2.17 % without them; docs §9h). ``--config.train.penalty`` sets the
size: 10⁻³ (the default) for L0's 26.6K MACs, 4·10⁻³ for VIBNet's 9.6K. Without the
warm-up and the ramp (``--config.train.warmup_epochs=0
--config.train.penalty_ramp_epochs=0``) the same sizes need 2·10⁻⁴ and 10⁻³: the
recipe of ``prune_studies compete`` (docs §9g).
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
  t.warmup_epochs = 2
  t.penalty_ramp_epochs = 4
  config.analysis.marginal_examples = 1000
  return config

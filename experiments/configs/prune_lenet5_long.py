"""LeNet-5-Caffe, the recipe with a 50-epoch deterministic phase (docs/parsimonious.md §9j).

    python -m experiments.prune --config=experiments/configs/prune_lenet5_long.py \
        --workdir=runs/prune/lenet5_long_s0

configs/prune_lenet5_recipe.py (10 gated epochs, 2 of them grace, λ/N = 2·10⁻⁴) with the
setting chosen on the validation digits (``prune_studies lenet5_probes``): the final
network trained alone for 50 epochs instead of 20 (60 in all) and the weights' Adam step
3·10⁻³ (the MLP recipe's; it also prunes more in the gated phase at the same price).
3 seeds (``lenet5_seeds``): 0.90 ± 0.12 % test (validation 1.07 ± 0.07 %) at 131K ± 15K
MACs, every seed under BC-GHS's ≈ 153K. The recipe's file is unchanged, so that the
studies run with it keep their meaning.
"""

from experiments.configs import prune_lenet5_recipe


def get_config():
  config = prune_lenet5_recipe.get_config()
  t = config.train
  t.epochs = 60
  t.finetune_epochs = 50
  t.learning_rate = 3e-3
  return config

"""LeNet-5-Caffe with the deterministic phase (docs/parsimonious.md §8a, §9g).

    python -m experiments.prune --config=experiments/configs/prune_lenet5_recipe.py \
        --workdir=runs/prune/lenet5_recipe_s0

configs/prune_lenet5.py (MAC-share price, sharpened hyper-prior, Taylor estimator:
the exact differences exist for dense layers only) cut to 10 gated epochs (2 of
grace) followed by 20 epochs of the deterministic phase (``finetune_epochs``: the
final network trained alone with a fresh Adam state and cosine schedule). λ/N =
2·10⁻⁴ aims between the 10-epoch runs at 10⁻⁴ (275K MACs) and 3·10⁻⁴ (117K), i.e.
at BC-GHS's ≈ 153K. The weights' step stays at Adam 10⁻³: the 3·10⁻³ of the MLP
recipe was chosen on LeNet-300-100's validation digits only and is not carried over
untested.
"""

from experiments.configs import prune_lenet5


def get_config():
  config = prune_lenet5.get_config()
  t = config.train
  t.epochs = 30
  t.finetune_epochs = 20
  t.penalty = 2e-4
  config.analysis.marginal_examples = 1000
  return config

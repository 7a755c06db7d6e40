"""LeNet-300-100, the recipe with a 20-epoch dense warm-up (docs/parsimonious.md §9i, §9j).

    python -m experiments.prune --config=experiments/configs/prune_lenet300_warm.py \
        --workdir=runs/prune/warm_s0

configs/prune_lenet300_recipe.py with its gates deciding on a network trained first:
the first 20 epochs train the dense network (``warmup_epochs`` = ``grace_epochs`` = 20,
as L0 and VIBNet prune pretrained networks), then 8 gated epochs with the price ramped
in over 4, then the recipe's 90 deterministic epochs: 118 in all. Chosen on the
validation digits at each budget (``prune_studies warmup_probes``, ``combined_probes``,
3 seeds each):

* L0's ≤ 26.6K MACs: λ/N = 1.1·10⁻³ with the prices ×(0.1, 1, 3)
  (``--config.train.penalty=1.1e-3 --config.train.penalty_scale='(0.1,1,3)'``):
  191-110-46, validation 1.82 %, test 1.81 ± 0.05 % at 26.4K ± 0.4K (``combined_seeds``;
  one seed of three at 26.8K); the default (λ/N = 10⁻³, the recipe's prices ×(0.3, 1, 1)):
  146-111-75, validation 1.91 %, test 1.91 ± 0.11 % at 25.4K (``probe_seeds``);
* VIBNet's ≤ 9.6K: λ/N = 6·10⁻³ with the prices ×(0.1, 1, 3)
  (``--config.train.penalty=6e-3 --config.train.penalty_scale='(0.1,1,3)'``):
  136-56-22, validation 2.30 %, test 2.30 ± 0.06 % at 9.1K (``combined_seeds``).
"""

from experiments.configs import prune_lenet300_recipe


def get_config():
  config = prune_lenet300_recipe.get_config()
  t = config.train
  t.epochs = 118
  t.grace_epochs = 20
  t.warmup_epochs = 20
  t.penalty_ramp_epochs = 4
  return config

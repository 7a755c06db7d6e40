"""What every pruning study's command line is built from: the configs, the shared
settings of the recipe's studies and the line builder (experiments/prune_studies.py)."""

from __future__ import annotations

LENET300 = '--config=experiments/configs/prune_lenet300.py'
LENET5 = '--config=experiments/configs/prune_lenet5.py'
LENET300_EXACT = '--config=experiments/configs/prune_lenet300_exact.py'
LENET300_RECIPE = '--config=experiments/configs/prune_lenet300_recipe.py'
LENET300_L0 = '--config=experiments/configs/prune_lenet300_l0.py'
LENET5_RECIPE = '--config=experiments/configs/prune_lenet5_recipe.py'


def line(config: str, study: str, run: str, seed: str, epochs: int, **overrides) -> str:
  """``--config=... --config.train.seed=S --config.train.epochs=E --config.<k>=<v> ...
  --workdir=runs/prune/<study>/<run>_s<seed>``; ``a__b`` keys stand for ``a.b``."""
  flags_ = [config, f'--config.train.seed={seed}', f'--config.train.epochs={epochs}']
  flags_ += [f'--config.{k.replace("__", ".")}={v}' for k, v in overrides.items()]
  return ' '.join(flags_ + [f'--workdir=runs/prune/{study}/{run}_s{seed}'])


# the recipe before the warm-up and the price ramp became its default (studies that ran it)
NO_RAMP = dict(train__warmup_epochs=0, train__penalty_ramp_epochs=0)

# λ/N of the recipe's two frontier points (chosen on validation in recipe_probes)
RECIPE_PENALTIES = ('2e-4', '1e-3')
# λ/N of the warm-up + ramp recipe's two frontier points (chosen on validation in ramp_probes)
RAMP_PENALTIES = ('1e-3', '4e-3')
RAMP = dict(train__warmup_epochs=2, train__penalty_ramp_epochs=4)

# the L0 paper's per-layer λ multipliers tried beside it: ≈ 18K and ≈ 8K MACs at 40 epochs
L0_SCALES = ((1, 12, 150), (2, 30, 400))


def scaled_l0(scale) -> tuple[str, dict]:
  """('1-12-150', the penalty_scale override) of a tuple of per-layer multipliers."""
  return ('-'.join(map(str, scale)),
          {'train__penalty_scale': "'(" + ','.join(map(str, scale)) + ")'"})


# the initialisation study of the robustness studies (at the 1× start)
INITIALISATIONS = (('he', dict(train__init_scheme='he')),
                   ('x0.5', dict(train__init_scale=0.5)),
                   ('x2', dict(train__init_scale=2.0)),
                   ('theta0.9', dict(train__theta_init=0.9)))

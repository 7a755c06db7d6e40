#!/usr/bin/env bash
# L1 on bars and stripes at stronger penalties (λ = 0.001 in ncg_bas.sh keeps
# ~98% of the weights above τ = 0.01): λ ∈ {0.01, 0.03}, 10 seeds each.
set -euo pipefail
out=${1:-runs/bas}
for lam in 0.01 0.03; do
  python -m experiments.sweep --config=experiments/configs/bas_reference.py \
    --seeds=0,1,2,3,4,5,6,7,8,9 --config.train.connectivity=l1 \
    --config.train.l1_penalty=$lam --workdir=$out/l1_$lam
done

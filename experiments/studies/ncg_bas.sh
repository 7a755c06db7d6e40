#!/usr/bin/env bash
# The NCG verdict on 4×4 bars and stripes, the reference's own protocol
# (experiments/configs/bas_reference.py: H=16, CD-10, batch 5, η=0.01, 6,000
# epochs, exact NLL every 100 epochs), every method a vmapped population of 10
# seeds. Stage 2 reads NCG's final density (model.density_from). About 30-40 min
# on a 2-core CPU. Then: python -m experiments.collect --study=bas runs/bas/*
set -euo pipefail
out=${1:-runs/bas}
seeds=0,1,2,3,4,5,6,7,8,9
cfg=experiments/configs/bas_reference.py
sweep() { python -m experiments.sweep --config=$cfg --seeds=$seeds "$@"; }

# Stage 1: NCG from four initial densities; the two dense RBMs; L1.
sweep --densities=1,0.5,0.1,0 --workdir=$out/ncg
sweep --config.train.connectivity=dense --workdir=$out/dense_uniform
sweep --config.train.connectivity=dense --config.model.weight_init=normal \
  --config.model.weight_scale=0.01 --config.model.base_rate_bias=True --workdir=$out/dense_small
sweep --config.train.connectivity=l1 --config.train.l1_penalty=0.001 --workdir=$out/l1
# The flip question: η_α/η = 1 and 25 (5 is the reference, in $out/ncg).
sweep --densities=0.5 --config.train.strength_learning_rate=0.01 --workdir=$out/ncg_ratio1
sweep --densities=0.5 --config.train.strength_learning_rate=0.25 --workdir=$out/ncg_ratio25
# A hysteresis band ½ ± h (flips jump to the band's far edge), off in the reference.
for h in 0.05 0.1; do
  sweep --densities=0.5 --config.train.hysteresis=$h --workdir=$out/ncg_hyst$h
done

# Stage 2: random patterns of NCG's final size (mean over its members).
for mode in fixed set rigl; do
  sweep --config.train.connectivity=$mode --config.model.density_from=$out/ncg \
    --config.train.rewire_every=60 --workdir=$out/$mode
done

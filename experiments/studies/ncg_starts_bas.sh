#!/usr/bin/env bash
# Issue 23, bars and stripes: every method from both starts, 10 seeds each.
# The reference start (U[−1, 1] weights, zero biases) is runs/bas (ncg_bas.sh);
# this script adds the small start (N(0, 0.01²) weights, base-rate visible
# biases) for NCG (p = 1, 0.5, 0.1, 0) and for fixed / SET / RigL at that NCG's
# final density, and NCG with the scale-free strength rule
# (train.strength_rule=normalized) from both starts. BAS_SET=reference trains
# on the reference's 32-sample set instead (data.bars_reference_set).
# Each sweep is a vmapped population of 10 seeds (1-2 min on a 2-core CPU);
# reruns resume or print "already complete". Stage argument: small | small_p05 | rule | set32.
set -euo pipefail
stage=${1:?stage: small | small_p05 | rule | set32}
out=${2:-runs/starts_bas}
seeds=0,1,2,3,4,5,6,7,8,9
cfg=experiments/configs/bas_reference.py
small="--config.model.weight_init=normal --config.model.weight_scale=0.01 --config.model.base_rate_bias=True"
sweep() { python -m experiments.sweep --config=$cfg --seeds=$seeds "$@"; }
case $stage in
  small)
    sweep --densities=1,0.5,0.1,0 $small --workdir=$out/ncg_small
    for mode in fixed set rigl; do
      sweep --config.train.connectivity=$mode --config.model.density_from=$out/ncg_small \
        --config.train.rewire_every=60 $small --workdir=$out/${mode}_small
    done ;;
  small_p05)  # fixed / SET / RigL at the final density of NCG p = 0.5 from the small start
    d=${DENSITY:-0.476}
    for mode in fixed set rigl; do
      sweep --config.train.connectivity=$mode --config.model.density=$d \
        --config.train.rewire_every=60 $small --workdir=$out/${mode}_small_d$d
    done ;;
  rule)
    sweep --densities=1,0.5,0.1,0 --config.train.strength_rule=normalized $small \
      --workdir=$out/ncg_norm_small
    sweep --densities=1,0.5,0.1,0 --config.train.strength_rule=normalized \
      --workdir=$out/ncg_norm ;;
  set32)  # the reference's 32-sample set (all-off and all-on twice), reference start
    r="--config.data.bars_reference_set=True --config.train.free_energy_examples=32"
    sweep --densities=1,0.5,0.1 $r --workdir=$out/ncg_set32
    sweep --config.train.connectivity=dense $r --workdir=$out/dense_set32
    sweep --config.train.connectivity=dense $r $small --workdir=$out/dense_small_set32 ;;
  *) echo "unknown stage $stage" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Issue 26, sampling that mixes: parallel tempering against PCD as the negative phase at
# equal Gibbs sweeps per step, on bars and stripes (the reference protocol of
# experiments/configs/bas_reference.py: H = 16, batch 5, η = 0.01, 6,000 epochs, exact NLL
# every 100 epochs), the dense RBM and NCG from p = 1, 10 seeds each (one vmapped
# population per setting, 1-3 min on a 2-core CPU). Per step: PCD-10 runs 10 sweeps of
# its chains; PT with K rungs and k sweeps runs K·k = 10 (K = 5, k = 2; K = 10, k = 1),
# plus the swaps. CD-10 (the reference's phase) is runs/bas (ncg_bas.sh) and
# runs/starts_bas. Reruns resume or print "already complete".
# Usage: ncg_sampling_bas.sh [out]   then
#   python -m experiments.studies.collect --study=sampling_bas runs/sampling_bas/*
set -euo pipefail
out=${1:-runs/sampling_bas}
seeds=0,1,2,3,4,5,6,7,8,9
cfg=experiments/configs/bas_reference.py
sweep() { python -m experiments.sweep --config=$cfg --seeds=$seeds --config.train.persistent=True "$@"; }
for mode in dense ncg; do
  d=""; [ $mode = ncg ] && d="--densities=1"
  sweep --config.train.connectivity=$mode $d --config.train.k=10 --workdir=$out/${mode}_pcd10
  sweep --config.train.connectivity=$mode $d --config.train.k=2 --config.train.temperatures=5 \
    --config.train.beta_min=0.1 --workdir=$out/${mode}_pt5_k2
  sweep --config.train.connectivity=$mode $d --config.train.k=1 --config.train.temperatures=10 \
    --config.train.beta_min=0.1 --workdir=$out/${mode}_pt10_k1
done

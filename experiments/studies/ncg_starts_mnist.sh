#!/usr/bin/env bash
# Issue 23, MNIST: every method from both starts at the 20-epoch protocol of
# ncg_mnist.sh (H=500, CD-10, batch 50, η=0.01, η_α=5η, SGD; 3 seeds each; test
# log p(v) by AIS with 100 runs × 14,501 temperatures, base-rate base; probe).
# The reference start (U[−1, 1], zero biases) of NCG/fixed/SET/RigL and the
# small start (N(0, 0.01²), base-rate visible biases) of dense are runs/mnist
# (ncg_mnist.sh); this adds the other start of each, in the order the verdict
# needs them. Every sweep is resumable; BUDGET (seconds, default 660) bounds
# one call: the running sweep gets SIGTERM at the deadline, finishes its epoch,
# checkpoints and exits 0, and the next call (the same command) resumes it. A
# sweep that reads another's density waits until that one has finished.
# Per member-epoch: 12-60 s on the shared 2-core CPU (load-dependent). SWEEPS
# (budget.sh) picks sweeps by name, e.g. SWEEPS="fixed_small rigl_small".
set -euo pipefail
out=${1:-runs/starts_mnist}
epochs=${EPOCHS:-20}
data=${MNIST:-../shared/data/mnist}
small="--config.model.weight_init=normal --config.model.weight_scale=0.01 --config.model.base_rate_bias=True"
common="--config=experiments/configs/mnist.py --seeds=0,1,2 --config.data.path=$data
  --config.train.epochs=$epochs --config.train.checkpoint_every=1 --config.eval.ais_temperatures=0"
source "$(dirname "$0")/budget.sh"
run $out/ncg_p0.1_small $common --densities=0.1 $small
run $out/fixed_small $common --config.train.connectivity=fixed --config.model.density_from=$out/ncg_p0.1_small $small
run $out/dense_uniform $common --config.train.connectivity=dense
run $out/ncg_p0.1_norm_small $common --densities=0.1 --config.train.strength_rule=normalized $small
run $out/set_small $common --config.train.connectivity=set --config.model.density_from=$out/ncg_p0.1_small $small
run $out/rigl_small $common --config.train.connectivity=rigl --config.model.density_from=$out/ncg_p0.1_small \
  --config.train.rewire_every=100 $small
run $out/ncg_p0.5_small $common --densities=0.5 $small
echo "all sweeps finished"

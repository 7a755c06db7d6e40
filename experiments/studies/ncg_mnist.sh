#!/usr/bin/env bash
# The NCG verdict on full MNIST (60k/10k): the reference's protocol (H=500,
# CD-10, batch 50, η=0.01, η_α=5η, SGD, U[−1,1] weights, zero biases) for
# EPOCHS epochs (default 20), each method a vmapped population of 3 seeds,
# final test log p(v) by AIS (100 runs, the full 14,501-temperature schedule,
# base-rate base model) and the softmax probe on p(h|x). Methods run in order
# of what the verdict needs first; each sweep resumes if interrupted.
# On the shared 2-core CPU one method (3 seeds × 20 epochs) takes 25-70 min.
set -euo pipefail
out=${1:-runs/mnist}
epochs=${EPOCHS:-20}
data=${MNIST:-../shared/data/mnist}
cfg=experiments/configs/mnist.py
sweep() {
  python -m experiments.sweep --config=$cfg --seeds=0,1,2 \
    --config.data.path=$data --config.train.epochs=$epochs \
    --config.train.checkpoint_every=1 --config.eval.ais_temperatures=0 "$@"
}
sweep --densities=0.1 --workdir=$out/ncg_p0.1
sweep --config.train.connectivity=dense --config.model.weight_init=normal \
  --config.model.weight_scale=0.01 --config.model.base_rate_bias=True --workdir=$out/dense_small
sweep --config.train.connectivity=fixed --config.model.density_from=$out/ncg_p0.1 --workdir=$out/fixed
sweep --config.train.connectivity=set --config.model.density_from=$out/ncg_p0.1 --workdir=$out/set
sweep --config.train.connectivity=rigl --config.model.density_from=$out/ncg_p0.1 \
  --config.train.rewire_every=100 --workdir=$out/rigl
sweep --config.train.connectivity=dense --workdir=$out/dense_uniform
sweep --densities=1.0 --workdir=$out/ncg_p1
sweep --config.train.connectivity=l1 --config.train.l1_penalty=0.0001 --workdir=$out/l1
sweep --densities=0.5 --workdir=$out/ncg_p0.5
sweep --densities=0 --workdir=$out/ncg_p0

#!/usr/bin/env bash
# Issue 23, UCI joint RBMs (experiments/configs/uci.py: H=100, CD-1, η=0.1, 50
# epochs, label units always connected, 5 seeds): the small start (N(0, 0.01²)
# weights; base-rate visible biases, as every UCI run) for NCG (p = 0.5, 1) and
# fixed / SET / RigL at that NCG's density; the U[−1, 1] runs are runs/uci
# (ncg_uci.sh). Stage "mf" retrains NCG p = 0.5 and both dense RBMs into
# runs/uci_mf so that the reference's mean-field classifier is read beside the
# exact p(y|x) on the same models (every run now records both).
# Usage: ncg_starts_uci.sh mushrooms|connect4 [small|mf] [out]
set -euo pipefail
name=${1:?mushrooms or connect4}
stage=${2:-small}
out=${3:-runs}
uci=${UCI:-../shared/data/uci}
if [ $name = mushrooms ]; then path=$uci/mushrooms.libsvm; else path=$uci/connect-4-16k.libsvm.gz; fi
small="--config.model.weight_init=normal --config.model.weight_scale=0.01"
sweep() {
  python -m experiments.sweep --config=experiments/configs/uci.py --seeds=0,1,2,3,4 \
    --config.data.name=$name --config.data.path=$path --config.eval.ais_temperatures=1000 "$@"
}
case $stage in
  small)
    o=$out/starts_uci/$name
    sweep --densities=0.5 $small --workdir=$o/ncg_p0.5_small
    sweep --densities=1.0 $small --workdir=$o/ncg_p1_small
    for mode in fixed set rigl; do
      sweep --config.train.connectivity=$mode --config.model.density_from=$o/ncg_p0.5_small \
        --config.train.rewire_every=100 $small --workdir=$o/${mode}_small
    done ;;
  mf)
    o=$out/uci_mf/$name
    sweep --densities=0.5 --workdir=$o/ncg_p0.5
    sweep --config.train.connectivity=dense --workdir=$o/dense_uniform
    sweep --config.train.connectivity=dense $small --workdir=$o/dense_small ;;
  *) echo "unknown stage $stage" >&2; exit 2 ;;
esac

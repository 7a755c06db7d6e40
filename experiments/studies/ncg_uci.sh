#!/usr/bin/env bash
# The classification claim on UCI Mushrooms and Connect-4: joint RBMs (label
# units, always connected; accuracy by the exact p(y|x) ∝ exp(−F(x, y))), H=100,
# CD-1, batch 50, η=0.1, 50 epochs (experiments/configs/uci.py), every method a
# vmapped population of 5 seeds. Stage 2 reads NCG's final density.
set -euo pipefail
out=${1:-runs/uci}
uci=${UCI:-../shared/data/uci}
for name in mushrooms connect4; do
  if [ $name = mushrooms ]; then path=$uci/mushrooms.libsvm; else path=$uci/connect-4-16k.libsvm.gz; fi
  sweep() {
    python -m experiments.sweep --config=experiments/configs/uci.py --seeds=0,1,2,3,4 \
      --config.data.name=$name --config.data.path=$path --config.eval.ais_temperatures=1000 "$@"
  }
  o=$out/$name
  sweep --densities=0.5 --workdir=$o/ncg_p0.5
  sweep --densities=1.0 --workdir=$o/ncg_p1
  sweep --config.train.connectivity=dense --workdir=$o/dense_uniform
  sweep --config.train.connectivity=dense --config.model.weight_init=normal \
    --config.model.weight_scale=0.01 --workdir=$o/dense_small
  sweep --config.train.connectivity=l1 --config.train.l1_penalty=0.001 --workdir=$o/l1
  for mode in fixed set rigl; do
    sweep --config.train.connectivity=$mode --config.model.density_from=$o/ncg_p0.5 \
      --config.train.rewire_every=100 --workdir=$o/$mode
  done
done

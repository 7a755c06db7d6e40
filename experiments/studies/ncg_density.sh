#!/usr/bin/env bash
# Initial against final density of NCG over p ∈ {0, 0.1, …, 1}, each a vmapped
# population: bars and stripes (the reference protocol, 3 seeds, 6,000 epochs)
# and the embedded MNIST subset (the default config: 3,500 digits, H=500,
# CD-10, η=0.1, 20 epochs, 2 seeds; no final evaluation, densities only).
set -euo pipefail
out=${1:-runs/density}
p=0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1
python -m experiments.sweep --config=experiments/configs/bas_reference.py \
  --densities=$p --seeds=0,1,2 --config.eval.final=False --workdir=$out/bas
python -m experiments.sweep --densities=$p --seeds=0,1 --config.eval.final=False \
  --workdir=$out/embedded

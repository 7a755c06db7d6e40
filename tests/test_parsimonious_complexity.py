"""MACs, FLOPs and parameter counts, checked by hand and against the real arrays."""

from __future__ import annotations

import jax
import numpy as np

from ncg.parsimonious import complexity, models


def test_mlp_counts_by_hand():
  arch = models.mlp(784, (300, 100))
  assert complexity.macs(arch) == 784 * 300 + 300 * 100 + 100 * 10 == 266_200
  assert complexity.flops(arch) == 532_400
  assert complexity.num_params(arch) == 266_200 + 300 + 100 + 10
  # VIBNet's 97-71-33: 9,560 MACs, the published "19.1K FLOPs" is 2 · MACs
  small = models.mlp(97, (71, 33))
  assert complexity.macs(small) == 97 * 71 + 71 * 33 + 33 * 10 == 9_560
  assert complexity.flops(small) == 19_120


def test_lenet5_counts_by_hand():
  arch = models.lenet5()               # 20-50-800-500
  conv0 = 24 * 24 * 20 * 25            # output positions · filters · 5·5·1
  conv1 = 8 * 8 * 50 * (25 * 20)       # output positions · filters · 5·5·20
  assert complexity.macs(arch) == conv0 + conv1 + 800 * 500 + 500 * 10 == 2_293_000
  assert complexity.num_params(arch) == 431_080
  # BC-GHS 5-10-76-16: ≈153K MACs (published as "158K FLOPs")
  ghs = models.Architecture('lenet5', (5, 10, 76, 16), 10, tuple(range(76)))
  assert complexity.macs(ghs) == 24 * 24 * 5 * 25 + 8 * 8 * 10 * 125 + 76 * 16 + 160 == 153_376


def test_param_count_matches_the_network_arrays():
  for arch, d in ((models.mlp(20, (7, 3), num_classes=4), 20),
                  (models.Architecture('lenet5', (3, 4, 50, 6), 10, tuple(range(50))), 784)):
    weights = models.init_weights(jax.random.key(0), arch, d)
    assert sum(np.size(w) for w in jax.tree.leaves(weights)) == complexity.num_params(arch)

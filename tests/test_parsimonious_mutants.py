"""Exact checks of ncg.parsimonious's bookkeeping that the training tests pass over.

Written against mutants of the mutation run (WORKSPACE.md, "Mutation testing"):
the test error counted example by example in several batches (a batch loop
over the wrong axis drops examples), the θ histogram's last bin (θ = 1 exactly)
and the projection onto [0, 1] on both sides.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from ncg.parsimonious import gates, models, train


def test_error_rate_counts_every_example_of_every_batch():
  # N = 7 examples of D = 3 inputs in batches of 2 (the last one short): a
  # loop over D instead of N would see only 4 examples.
  arch = models.mlp(3, (4,), num_classes=3)
  config = train.Config(1e-3, 0.1, 0.0, (1.0, 1.0), 1.0, 7)
  rng = np.random.default_rng(0)
  weights = {'params': {
      'dense0': {'kernel': rng.normal(size=(3, 4)), 'bias': rng.normal(size=4)},
      'out': {'kernel': rng.normal(size=(4, 3)), 'bias': rng.normal(size=3)}}}
  thetas = (np.array([0.9, 0.2, 0.6]), np.array([0.5, 0.49, 1.0, 0.7]))
  x = rng.normal(size=(7, 3))
  # The deterministic network by hand: gate θ where θ ≥ ½, else 0.
  g_in, g_hidden = (np.where(t >= 0.5, t, 0.0) for t in thetas)
  w = weights['params']
  hidden = np.maximum(0.0, (x * g_in) @ w['dense0']['kernel'] + w['dense0']['bias'])
  logits = (hidden * g_hidden) @ w['out']['kernel'] + w['out']['bias']
  predicted = np.argmax(logits, -1)
  wrong = np.array([0, 0, 0, 0, 1, 1, 1])      # the last three (2 batches) wrong
  y = (predicted + wrong) % 3
  params = {'weights': weights, 'theta': thetas}
  assert train.error_rate(arch, config, params, x, y, batch_size=2) == 3 / 7


def test_theta_histogram_and_undecided_count_by_hand():
  thetas = [jnp.array([0.0, 0.05, 0.1, 0.55, 0.99, 1.0, 1.0]), jnp.array([1.0])]
  got = train.theta_histogram(thetas, bins=10)
  # [0, .1): 0 and .05; [.1, .2): .1; [.5, .6): .55; [.9, 1): .99; θ = 1: two
  assert got == [[2, 1, 0, 0, 0, 1, 0, 0, 0, 1, 2], [0] * 10 + [1]]
  assert train.theta_histogram(thetas, bins=2) == [[3, 2, 2], [0, 0, 1]]
  assert train.undecided(thetas) == 4


def test_project_clips_to_the_unit_box_on_both_sides():
  theta = jnp.array([-0.5, 0.0, 0.3, 1.0, 1.7])
  np.testing.assert_array_equal(gates.project(theta), [0.0, 0.0, 0.3, 1.0, 1.0])

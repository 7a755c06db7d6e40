"""The connectivity figure of an RBM run: one PNG a person can read.

Six panels: the visible degree as an image (which pixels keep connections),
the hidden-degree histogram, the masks of a few hidden units as images, the
connections added and removed per epoch, the histogram of per-connection
flip counts, and the density (mask and effective) with the fraction of
strengths near the threshold per epoch. Data without an image shape get a
bar plot of the visible degree instead of the image and no mask grid.
"""

from __future__ import annotations

from typing import Any, Sequence

from matplotlib.figure import Figure
import numpy as np

from experiments import figures
from ncg import analytics
from ncg import rbm

MASK_GRID = 16  # hidden units shown in the mask panel
# subplot margins of the 15 × 8.5 in figure (fractions of the figure)
MARGINS = dict(left=0.06, right=0.97, bottom=0.07, top=0.9, wspace=0.3, hspace=0.35)


def _epoch_axis(ax):
  ax.xaxis.get_major_locator().set_params(integer=True)
  ax.set_xlabel('epoch')


def connectivity_figure(path: str, state: rbm.RBMState, flips,
                        records: Sequence[dict[str, Any]],
                        image_shape: tuple[int, int] | None,
                        label_units: int = 0, title: str = '') -> str:
  """Writes the six-panel connectivity figure of one model to ``path``.

  Args:
    path: output PNG.
    state: the trained RBM.
    flips: (V, H) per-connection flip counts of the run (or None).
    records: the run's per-epoch metrics (``epoch``, ``added``, ``removed``,
      ``density``, optional ``effective_density``, ``near_threshold``).
    image_shape: (rows, cols) of the data, or None.
    label_units: label rows to leave out.
    title: suptitle.
  """
  A = analytics.mask(state)
  A = A[:A.shape[0] - label_units] if label_units else A
  vdeg = analytics.visible_degree(state, label_units)
  hdeg = analytics.hidden_degree(state, label_units)
  fig = Figure(figsize=(15, 8.5))
  axes = fig.subplots(2, 3)

  ax = axes[0, 0]
  if image_shape is not None:
    im = ax.imshow(vdeg.reshape(image_shape), cmap='viridis', vmin=0,
                   vmax=max(1, vdeg.max()))
    fig.colorbar(im, ax=ax, fraction=0.046, label='hidden units connected')
    ax.set_xticks([])
    ax.set_yticks([])
  else:
    ax.bar(np.arange(len(vdeg)), vdeg, width=1.0)
    ax.set(xlabel='visible unit', ylabel='hidden units connected')
  ax.set_title(f'visible degree (Σ = {int(vdeg.sum()):,} connections)')

  ax = axes[0, 1]
  ax.hist(hdeg, bins=min(40, max(5, A.shape[1] // 5)))
  ax.set(xlabel='visible units connected', ylabel='hidden units',
         title=f'hidden degree (mean {hdeg.mean():.1f} of {A.shape[0]})')

  ax = axes[0, 2]
  if image_shape is not None:
    count = min(MASK_GRID, A.shape[1])
    order = np.argsort(-hdeg)[np.linspace(0, A.shape[1] - 1, count).astype(int)]
    cols = int(np.ceil(np.sqrt(count)))
    rows_ = int(np.ceil(count / cols))
    r, c = image_shape
    tile = np.full((rows_ * (r + 1) - 1, cols * (c + 1) - 1), np.nan)
    for n, j in enumerate(order):
      y, x = divmod(n, cols)
      tile[y * (r + 1):y * (r + 1) + r, x * (c + 1):x * (c + 1) + c] = (
          A[:, j].reshape(image_shape))
    ax.imshow(tile, cmap='Greys', vmin=0, vmax=1, interpolation='nearest')
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f'masks of {count} hidden units (degree high → low)')
  else:
    ax.imshow(A.T, aspect='auto', cmap='Greys', interpolation='nearest')
    ax.set(xlabel='visible unit', ylabel='hidden unit', title='mask')

  epochs = [r['epoch'] for r in records]
  ax = axes[1, 0]
  ax.plot(epochs, [r['added'] for r in records], 'o-', ms=3, label='added')
  ax.plot(epochs, [r['removed'] for r in records], 's-', ms=3, label='removed')
  ax.set(ylabel='connections per epoch', title='added / removed')
  if any(r['added'] or r['removed'] for r in records):
    ax.set_yscale('log')
  ax.legend(fontsize=8)
  _epoch_axis(ax)

  ax = axes[1, 1]
  if flips is not None:
    f = np.asarray(flips)
    f = (f[:f.shape[0] - label_units] if label_units else f).ravel()
    stats = analytics.flip_statistics(f.reshape(-1, 1))
    ax.hist(f, bins=np.arange(0, max(2, f.max() + 2)) - 0.5 if f.max() < 60
            else 60, log=True)
    ax.set(xlabel='flips of one connection over the run', ylabel='connections',
           title=f'ever flipped {100 * stats["ever_flipped"]:.1f}%, '
                 f'≥2 flips {100 * stats["flipped_repeatedly"]:.1f}%')
  else:
    ax.set_axis_off()

  ax = axes[1, 2]
  ax.plot(epochs, [r['density'] for r in records], 'o-', ms=3, label='density (mask)')
  if records and 'effective_density' in records[0]:
    ax.plot(epochs, [r['effective_density'] for r in records], 's-', ms=3,
            label='effective (|W| > τ)')
  if records and 'near_threshold' in records[0]:
    ax.plot(epochs, [r['near_threshold'] for r in records], '^-', ms=3,
            label='strengths within 0.05 of ½')
  ax.set(ylabel='fraction of connections', title='density over training')
  ax.set_ylim(0, 1.02)
  ax.legend(fontsize=8)
  _epoch_axis(ax)
  if title:
    fig.suptitle(title)
  # Fixed margins rather than tight_layout: the panels' labels are the same
  # for every run, and measuring every tick label's extent took half of the
  # figure's time (≈ 0.5 s of ≈ 1.4 s per figure, once per sweep member).
  fig.subplots_adjust(**MARGINS)
  return figures.save(fig, path, dpi=90, tight=False)  # several hosts: process 0 draws

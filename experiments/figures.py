"""Figures as PNG files (matplotlib's Figure API): generic, side effects only.

Every function takes the output path first, writes one PNG (creating its
directory) and returns the path. Inputs are numpy-convertible arrays.
Figures are ``matplotlib.figure.Figure`` objects rendered straight to PNG: no
pyplot state, and the user's matplotlib backend is never switched.
"""

from __future__ import annotations

import math
import os
from typing import Mapping, Sequence

import matplotlib
from matplotlib.figure import Figure
import numpy as np

from experiments import atomic


def save(fig, path: str, dpi: int = 100, tight: bool = True) -> str:
  """Renders ``fig`` to a temporary file beside ``path``, then renames it
  over ``path``: a reader (or a second writer) sees the old PNG or the new
  one, never half of one, and a kill leaves no truncated figure
  (:func:`experiments.atomic.write`; several hosts: process 0 draws).
  ``tight``: crop to the drawn area (``bbox_inches='tight'``)."""
  extra = {'bbox_inches': 'tight'} if tight else {}
  return atomic.write(path, lambda f: fig.savefig(f, format='png', dpi=dpi, **extra),
                      binary=True, suffix='.tmp.png')


def _axes(figsize: tuple[float, float]):
  fig = Figure(figsize=figsize)
  return fig, fig.subplots()


def tile(images: np.ndarray, image_shape: tuple[int, int], ncols: int,
         pad: int = 1, pad_value: float = np.nan) -> np.ndarray:
  """Tiles (N, rows·cols) images into one (R·(rows+pad)−pad, …) array.

  Missing cells and the padding are ``pad_value`` (NaN shows as background).
  """
  images = np.asarray(images, np.float64).reshape((-1,) + tuple(image_shape))
  n, (r, c) = images.shape[0], image_shape
  nrows = max(1, math.ceil(n / ncols))
  out = np.full((nrows * (r + pad) - pad, ncols * (c + pad) - pad), pad_value)
  for i, image in enumerate(images):
    y, x = divmod(i, ncols)
    out[y * (r + pad):y * (r + pad) + r, x * (c + pad):x * (c + pad) + c] = image
  return out


def image_grid(path: str, images, image_shape: tuple[int, int], *,
               ncols: int | None = None, title: str | None = None,
               symmetric: bool = False, cmap: str | None = None,
               vmin: float | None = None, vmax: float | None = None,
               cell_inches: float = 0.5, per_image: bool = False,
               dpi: int = 100) -> str:
  """A grid of images, e.g. samples or filters.

  Args:
    path: output PNG.
    images: (N, rows·cols) or (N, rows, cols), values such as probabilities.
    image_shape: (rows, cols).
    ncols: images per row (default ≈ √N).
    title: figure title.
    symmetric: a diverging colour map centred at 0 with limits ±max|x|
      (weights, filters); otherwise grey levels on [min(0, x), max(1, x)].
    cmap, vmin, vmax: override the colour map and limits.
    cell_inches: size of one image in the figure.
    per_image: with ``symmetric``, each image scaled by its own max|x| (to
      [−1, 1]), so a filter of small weights is as legible as a large one.
    dpi: pixels per inch of the PNG.
  """
  images = np.asarray(images, np.float64).reshape(
      (-1, image_shape[0] * image_shape[1]))
  if symmetric and per_image and images.size:
    scale = np.nanmax(np.abs(images), axis=1, keepdims=True)
    images = images / np.where(scale > 0, scale, 1.0)
  n = max(images.shape[0], 1)
  ncols = ncols or math.ceil(math.sqrt(n))
  if symmetric:
    bound = float(np.nanmax(np.abs(images))) if images.size else 1.0
    bound = bound or 1.0
    cmap, vmin, vmax = (cmap or 'RdBu_r',
                        -bound if vmin is None else vmin,
                        bound if vmax is None else vmax)
  else:
    cmap = cmap or 'gray'
    vmin = min(0.0, float(np.nanmin(images))) if vmin is None else vmin
    vmax = max(1.0, float(np.nanmax(images))) if vmax is None else vmax
  grid = tile(images, image_shape, ncols)
  nrows = max(1, math.ceil(n / ncols))
  aspect = image_shape[0] / image_shape[1]
  fig, ax = _axes((max(2.0, ncols * cell_inches),
                   max(2.0, nrows * cell_inches * aspect) + 0.4))
  colour_map = matplotlib.colormaps[cmap].with_extremes(bad='white')
  ax.imshow(grid, cmap=colour_map, vmin=vmin, vmax=vmax,
            interpolation='nearest')
  ax.set_axis_off()
  if title:
    ax.set_title(title)
  return save(fig, path, dpi)


def trajectory_grid(path: str, frames, image_shape: tuple[int, int], *,
                    steps: Sequence[int] | None = None,
                    title: str | None = None, cell_inches: float = 0.5) -> str:
  """Chains over time: one row per chain, one column per recorded step.

  Args:
    path: output PNG.
    frames: (T, C, rows·cols) states or p(v | h) of C chains at T times.
    image_shape: (rows, cols).
    steps: the T sweep numbers, written under the columns.
    title: figure title.
    cell_inches: size of one image.
  """
  frames = np.asarray(frames, np.float64)
  num_t, num_c = frames.shape[:2]
  images = frames.transpose(1, 0, 2).reshape(num_t * num_c, -1)
  grid = tile(images, image_shape, num_t)
  fig, ax = _axes((max(2.0, num_t * cell_inches),
                   max(2.0, num_c * cell_inches) + 0.6))
  colour_map = matplotlib.colormaps['gray'].with_extremes(bad='white')
  ax.imshow(grid, cmap=colour_map, vmin=0.0, vmax=1.0, interpolation='nearest')
  ax.set_yticks([])
  if steps is not None:
    width = image_shape[1] + 1
    ax.set_xticks([i * width + image_shape[1] / 2 for i in range(num_t)])
    ax.set_xticklabels([str(s) for s in steps], fontsize=7, rotation=90)
    ax.set_xlabel('Gibbs sweep')
  else:
    ax.set_xticks([])
  if title:
    ax.set_title(title)
  return save(fig, path)


def line_plot(path: str, x, series: Mapping[str, Sequence[float]], *,
              xlabel: str = '', ylabel: str = '', title: str | None = None,
              logy: bool = False, bands: Mapping[str, tuple] | None = None
              ) -> str:
  """Curves sharing an x axis, e.g. metrics over epochs.

  Args:
    path: output PNG.
    x: (T,) x values.
    series: label → (T,) y values (NaN gaps allowed).
    xlabel, ylabel, title: labels.
    logy: logarithmic y axis.
    bands: label → (low, high) arrays shaded around the curve of that label
      (e.g. an AIS ±3σ interval).
  """
  fig, ax = _axes((5.5, 3.8))
  for label, y in series.items():
    line, = ax.plot(x, np.asarray(y, np.float64), 'o-', ms=3, label=label)
    if bands and label in bands:
      low, high = bands[label]
      ax.fill_between(x, np.asarray(low, np.float64),
                      np.asarray(high, np.float64), alpha=0.2,
                      color=line.get_color())
  ax.set(xlabel=xlabel, ylabel=ylabel)
  if logy:
    ax.set_yscale('log')
  if title:
    ax.set_title(title)
  if len(series) > 1:
    ax.legend(fontsize=8)
  ax.grid(alpha=0.3)
  return save(fig, path)


def histogram(path: str, values: Mapping[str, Sequence[float]], *,
              bins: int = 30, xlabel: str = '', title: str | None = None
              ) -> str:
  """Overlaid histograms, e.g. AIS log weights or per-example log p(v)."""
  fig, ax = _axes((5.5, 3.8))
  for label, v in values.items():
    ax.hist(np.asarray(v, np.float64), bins=bins, alpha=0.6, label=label)
  ax.set(xlabel=xlabel, ylabel='count')
  if title:
    ax.set_title(title)
  if len(values) > 1:
    ax.legend(fontsize=8)
  return save(fig, path)

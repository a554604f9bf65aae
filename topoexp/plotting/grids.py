"""Image grids of generated samples: one array for W&B and figures, tiled figures for reports."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

__all__ = ["grid_figure", "image_grid", "tiled_grids"]


def image_grid(images: np.ndarray, ncol: int = 8, pad: int = 1) -> np.ndarray:
    """Tile ``images`` ((N, 1, H, W) or (N, H, W), values in [0, 1]) into one (rows·H, ncol·W)
    array, row-major, with ``pad`` pixels of 1.0 between the tiles; empty cells stay 1.0."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 4:
        images = images[:, 0]
    if images.ndim != 3 or len(images) == 0:
        raise ValueError(f"expected images (N, [1,] H, W) with N ≥ 1, got {images.shape}")
    n, h, w = images.shape
    ncol = max(1, min(ncol, n))
    nrow = math.ceil(n / ncol)
    grid = np.ones((nrow * (h + pad) - pad, ncol * (w + pad) - pad), dtype=np.float32)
    for i, img in enumerate(images):
        r, c = divmod(i, ncol)
        grid[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = img
    return grid


def grid_figure(images: np.ndarray, title: str = "", ncol: int = 8) -> Figure:
    """A figure of :func:`image_grid` in grey levels (0 black, 1 white)."""
    fig = Figure(figsize=(4, 4 * math.ceil(len(images) / ncol) / ncol + 0.4))
    ax = fig.add_subplot()
    ax.imshow(image_grid(images, ncol), cmap="gray", vmin=0, vmax=1)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    return fig


def tiled_grids(
    cells: dict[tuple[str, str], np.ndarray | None],
    rows: Sequence[str],
    cols: Sequence[str],
    title: str = "",
    ncol: int = 8,
    row_label: str = "latent",
) -> Figure:
    """The paper's table layout: one grid per (row, column) cell; a missing cell says "not run"."""
    fig = Figure(figsize=(2.6 * len(cols) + 0.6, 2.6 * len(rows) + 0.5))
    axes = fig.subplots(len(rows), len(cols), squeeze=False)
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            ax = axes[i][j]
            ax.set_xticks([])
            ax.set_yticks([])
            images = cells.get((r, c))
            if images is None:
                ax.text(0.5, 0.5, "not run", ha="center", va="center", transform=ax.transAxes)
            else:
                ax.imshow(image_grid(images, ncol), cmap="gray", vmin=0, vmax=1)
            if i == 0:
                ax.set_title(c)
            if j == 0:
                ax.set_ylabel(f"{row_label} {r}")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig

"""Figures of the topological adversarial attacks: the source × target grid (the paper's Figure
12) and original / adversarial pairs (its Figure 13)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

__all__ = ["examples_figure", "grid_axes", "grid_figure"]


def grid_axes(ax, images: np.ndarray, success: np.ndarray, title: str = "") -> None:
    """Draw ``images (C, C, 1|-, H, W)`` tiled, row = source class, column = target class; the
    diagonal holds the originals; successful attacks are outlined in red."""
    c = images.shape[0]
    h, w = images.shape[-2:]
    pad = 2
    canvas = np.ones((c * (h + pad) + pad, c * (w + pad) + pad))
    for i in range(c):
        for j in range(c):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            canvas[y : y + h, x : x + w] = images[i, j].reshape(h, w)
    ax.imshow(canvas, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    for i in range(c):
        for j in range(c):
            if i != j and success[i, j]:
                y, x = pad + i * (h + pad) - 1, pad + j * (w + pad) - 1
                ax.add_patch(Rectangle((x - 0.5, y - 0.5), w + 1, h + 1, fill=False,
                                       edgecolor="red", linewidth=1.2))  # fmt: skip
    ticks = [pad + k * (h + pad) + h / 2 for k in range(c)]
    ax.set_xticks(ticks, [str(k) for k in range(c)])
    ax.set_yticks(ticks, [str(k) for k in range(c)])
    ax.set_xlabel("target class")
    ax.set_ylabel("source class")
    n_ok = int(sum(success[i, j] for i in range(c) for j in range(c) if i != j))
    ax.set_title(f"{title}\n{n_ok} of {c * (c - 1)} attacks succeed (red)", fontsize=9)


def grid_figure(images: np.ndarray, success: np.ndarray, title: str = "") -> Figure:
    """One model's grid (see :func:`grid_axes`)."""
    fig = Figure(figsize=(5.2, 5.6))
    grid_axes(fig.add_subplot(), images, success, title)
    fig.tight_layout()
    return fig


def _order(arrays: dict[str, np.ndarray]) -> np.ndarray:
    """Successful attacks first (in index order), then the failed ones."""
    success = arrays["success"].astype(bool)
    return np.concatenate([np.nonzero(success)[0], np.nonzero(~success)[0]])


def examples_figure(arrays: dict[str, np.ndarray], n: int, title: str = "") -> Figure:
    """``n`` pairs (original, adversarial) of ``attacks.npz``, successful attacks first."""
    order = _order(arrays)[:n]
    fig = Figure(figsize=(2.0 * max(len(order), 1), 2.6))
    for k, i in enumerate(order):
        for row, key in enumerate(("originals", "adversarial")):
            ax = fig.add_subplot(2, max(len(order), 1), row * max(len(order), 1) + k + 1)
            ax.imshow(arrays[key][i].squeeze(), cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(f"label {arrays['labels'][i]}", fontsize=8)
            else:
                hit = bool(arrays["success"][i])
                ax.set_title(
                    f"→ {arrays['targets'][i]}: {arrays['final_pred'][i]} {'✓' if hit else '✗'}",
                    fontsize=8,
                    color="red" if hit else "black",
                )
    fig.suptitle(f"{title}: original (top), adversarial (bottom)", fontsize=9)
    fig.tight_layout()
    return fig

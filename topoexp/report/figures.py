"""Figures: latent scatter plots like the TopoAE paper's Figures 3 and 4."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure


def scatter_latents(ax: Axes, latents: np.ndarray, labels: np.ndarray, title: str = "") -> None:
    """Scatter 2-D latents coloured by class; the largest class (the big sphere) is drawn first."""
    classes, counts = np.unique(labels, return_counts=True)
    cmap = plt.get_cmap("tab20" if len(classes) > 10 else "tab10")
    for rank, cls in enumerate(classes[np.argsort(-counts, kind="stable")]):
        mask = labels == cls
        colour = cmap(int(np.searchsorted(classes, cls)) % cmap.N)
        ax.scatter(
            latents[mask, 0],
            latents[mask, 1],
            s=2,
            color=colour,
            alpha=0.6 if rank == 0 else 0.9,
            linewidths=0,
            label=str(int(cls)) if float(cls).is_integer() else str(cls),
        )
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def latent_scatter(latents: np.ndarray, labels: np.ndarray, title: str = "") -> Figure:
    """One latent space as a figure."""
    if latents.shape[1] < 2:
        latents = np.column_stack([latents[:, 0], np.zeros(len(latents))])
    fig, ax = plt.subplots(figsize=(4, 4))
    scatter_latents(ax, latents[:, :2], labels, title)
    return fig

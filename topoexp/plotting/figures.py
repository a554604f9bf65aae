"""Figures: latent scatter plots like the TopoAE paper's Figures 3 and 4."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import ticker
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
    ax.legend(title="class", fontsize=6, title_fontsize=7, markerscale=4, loc="center left",
              bbox_to_anchor=(1.0, 0.5), frameon=False)  # fmt: skip
    return fig


def loss_curves(history: list[dict[str, float]], title: str = "") -> Figure:
    """Training and validation loss per epoch (the best epoch marked), log scale when positive."""
    epochs = [int(r["epoch"]) for r in history]  # 0-based, as best_epoch in metrics.json
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for key, label in (("train/loss", "training"), ("val/loss", "validation")):
        values = [r.get(key, np.nan) for r in history]
        ax.plot(epochs, values, label=label, marker="." if len(epochs) < 30 else None)
    values = np.array([r.get("val/loss", np.nan) for r in history], dtype=float)
    if np.isfinite(values).any():
        best = int(np.nanargmin(values))
        ax.axvline(epochs[best], color="0.6", linestyle=":", label=f"best_epoch {epochs[best]}")
    train = np.array([r.get("train/loss", np.nan) for r in history], dtype=float)
    if np.all(np.concatenate([values, train]) > 0):
        ax.set_yscale("log")
        # plain numbers, at most 1, 2 and 5 per decade (the default's minor labels overlap)
        ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:.3g}"))
        ax.yaxis.set_minor_locator(ticker.LogLocator(subs=(2.0, 5.0)))
        ax.yaxis.set_minor_formatter(ticker.FuncFormatter(lambda v, _: f"{v:.3g}"))
    ax.set_xlabel("epoch (0-based, as best_epoch in metrics.json)")
    ax.set_ylabel("loss")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig

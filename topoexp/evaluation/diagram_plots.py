"""Figures of data vs latent persistence diagrams on shared axes (for saving or logging)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from topoexp.evaluation.diagrams import split_essential

__all__ = ["diagram_limits", "plot_diagrams"]

_STYLES = ({"marker": "o", "color": "tab:blue"}, {"marker": "^", "color": "tab:orange"})


def diagram_limits(*dgms: np.ndarray, margin: float = 0.05) -> tuple[float, float]:
    """Common axis limits ``(lo, hi)`` covering the finite values of all ``dgms``."""
    finite = [split_essential(d)[0] for d in dgms]
    births = [split_essential(d)[1][:, 0] for d in dgms]
    values = np.concatenate([f.ravel() for f in finite] + births + [np.zeros(1)])
    lo, hi = float(values.min()), float(values.max())
    span = hi - lo if hi > lo else 1.0
    return lo - margin * span, hi + margin * span


def _draw(ax: Axes, dgm: np.ndarray, label: str, style: dict, inf_y: float, size: float) -> None:
    finite, essential = split_essential(dgm)
    ax.scatter(
        finite[:, 0], finite[:, 1], s=size, alpha=0.6, label=f"{label} ({len(finite)})", **style
    )
    if len(essential):
        ax.scatter(
            essential[:, 0],
            np.full(len(essential), inf_y),
            s=3 * size,
            alpha=0.9,
            label=f"{label} essential ({len(essential)})",
            **(style | {"marker": "*"}),
        )


def plot_diagrams(
    dgms_X: Sequence[np.ndarray],
    dgms_Z: Sequence[np.ndarray],
    *,
    dims: Sequence[int] | None = None,
    labels: tuple[str, str] = ("data", "latent"),
    title: str | None = None,
    side_by_side: bool = False,
    size: float = 8.0,
    panel_inches: float = 3.6,
) -> Figure:
    """Data and latent diagrams per dimension on the same axis limits, with the diagonal.

    One row per dimension in ``dims`` (default: all). By default both diagrams share one panel
    (overlay); ``side_by_side`` draws them in two panels with identical limits. Essential bars are
    drawn as stars on a dashed ``∞`` line above the finite points. The figure is a bare
    ``matplotlib.figure.Figure`` (no pyplot state): ``fig.savefig(path)`` or log it.
    """
    dims = list(range(min(len(dgms_X), len(dgms_Z)))) if dims is None else list(dims)
    ncols = 2 if side_by_side else 1
    fig = Figure(figsize=(panel_inches * ncols, panel_inches * len(dims)), layout="constrained")
    axes = fig.subplots(len(dims), ncols, squeeze=False)
    for row, dim in zip(axes, dims, strict=True):
        lo, hi = diagram_limits(dgms_X[dim], dgms_Z[dim])
        inf_y = hi + 0.05 * (hi - lo)
        top = inf_y + 0.05 * (hi - lo)
        pairs = list(zip((dgms_X[dim], dgms_Z[dim]), labels, _STYLES, strict=True))
        panels = [(row[0], pairs)] if ncols == 1 else [(row[0], pairs[:1]), (row[1], pairs[1:])]
        for ax, content in panels:
            ax.plot([lo, top], [lo, top], color="0.5", lw=0.8)
            ax.axhline(inf_y, color="0.5", lw=0.8, ls="--")
            for dgm, label, style in content:
                _draw(ax, dgm, label, style, inf_y, size)
            ax.set_xlim(lo, top)
            ax.set_ylim(lo, top)
            ax.set_aspect("equal")
            ax.set_xlabel("birth")
            ax.set_ylabel("death")
            names = ", ".join(label for _, label, _ in content)
            ax.set_title(f"H{dim}" if ncols == 1 else f"H{dim}: {names}")
            ax.legend(loc="lower right", fontsize="small")
    if title:
        fig.suptitle(title)
    return fig

"""Figures of optimised parameters: point clouds, images and coefficient vectors."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["draw_parameters", "loss_curve", "parameters_figure"]


def draw_parameters(ax: Any, theta: np.ndarray, kind: str, title: str = "") -> None:
    """Draw one state of the parameters on ``ax`` (a 3-D axis for 3-D points)."""
    if kind == "points":
        if theta.shape[1] == 3:
            ax.scatter(theta[:, 0], theta[:, 1], theta[:, 2], s=6, c="k")
        else:
            ax.scatter(theta[:, 0], theta[:, 1], s=6, c="k")
            ax.set_aspect("equal")
    elif kind == "image":
        ax.imshow(theta, cmap="gray")
        ax.set_xticks([])
        ax.set_yticks([])
    else:
        ax.plot(theta, lw=1)
    ax.set_title(title, fontsize=9)


def parameters_figure(
    states: list[tuple[str, np.ndarray]], kind: str, title: str = "", reference: Any = None
) -> Any:
    """A row of panels: ``states`` (label, parameters), and the reference when given."""
    import matplotlib.pyplot as plt

    panels = ([("true", reference)] if reference is not None else []) + list(states)
    three_d = kind == "points" and panels[0][1].shape[1] == 3
    fig = plt.figure(figsize=(3.0 * len(panels), 3.0))
    for k, (label, theta) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), k + 1, **({"projection": "3d"} if three_d else {}))
        draw_parameters(ax, np.asarray(theta), kind, label)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def loss_curve(history: list[dict[str, float]], title: str = "") -> Any:
    """Objective, data term and penalty against the step."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    steps = [h["step"] for h in history]
    for key in ("loss", "data_loss", "penalty"):
        ax.plot(steps, [h[key] for h in history], label=key)
    ax.set_xlabel("step")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig

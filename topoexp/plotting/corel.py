"""Figures of the one-class task: AUC against m per class, death times per branch."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from topoexp.evaluation.one_class import OneClassResult

__all__ = ["auc_against_m", "death_time_boxes"]


def auc_against_m(results: dict[str, OneClassResult], title: str = "") -> Figure:
    """Mean AUC (thick) and per-class AUC (thin) against the support size ``m``."""
    fig = Figure(figsize=(5, 3.5))
    ax = fig.subplots()
    keys = list(results)
    x = np.arange(len(keys))
    per_class = np.stack([results[k].auc_per_class for k in keys])  # (m values, classes)
    classes = results[keys[0]].classes
    for k, c in enumerate(classes):
        ax.plot(x, per_class[:, k], lw=0.8, alpha=0.6, label=f"class {int(c)}")
    ax.plot(x, per_class.mean(1), "k-o", lw=2.5, label="mean")
    ax.set_xticks(x, keys)
    ax.set_xlabel("m (stored samples per class)")
    ax.set_ylabel("AUC")
    ax.set_title(title, fontsize=9)
    if len(classes) <= 10:
        ax.legend(fontsize=6, ncol=2)
    return fig


def death_time_boxes(per_batch: np.ndarray, title: str = "", eta: float = 2.0) -> Figure:
    """Box plots per branch of the batches' mean death time, with min and max whiskers marked.

    ``per_batch`` is ``(n_branches, n_batches, 3)`` (min, mean, max per batch).
    """
    fig = Figure(figsize=(max(4.0, 0.35 * len(per_batch) + 2), 3.5))
    ax = fig.subplots()
    positions = np.arange(len(per_batch))
    ax.boxplot(list(per_batch[..., 1]), positions=positions, widths=0.6, showfliers=False)
    ax.plot(positions, per_batch[..., 0].mean(1), "v", color="tab:blue", label="mean of min")
    ax.plot(positions, per_batch[..., 2].mean(1), "^", color="tab:red", label="mean of max")
    ax.axhline(eta, color="grey", ls="--", lw=1, label=f"η = {eta:g}")
    ax.set_xticks(positions, [str(b) for b in positions], fontsize=7)
    ax.set_xlabel("branch")
    ax.set_ylabel("ℓ1 death time")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    return fig

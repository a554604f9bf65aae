"""The topology-layer paper's Figure-10 evaluation of a generator, plus topological counts.

Each of ``computations`` computations ``c`` draws, with seed ``seed + c``, ``n_l2`` generated
images and as many random real test images, and scores

- ``mmd_l2``, ``cov_l2``: :func:`~topoexp.evaluation.mmd_cov.mmd_cov` of the L2 distances
  between the images, on the [-1, 1] scale of the generator;
- ``inception``: the classifier Inception score of the ``n_l2`` generated images (committed MNIST
  classifier, images mapped to [0, 1]);
- ``mmd_wass``, ``cov_wass``: the same on the first ``n_wass`` generated and real images with
  the 1-Wasserstein distance between their PD0 (superlevel sets, :mod:`topoexp.evaluation.pd0`);
- ``one_component``: fraction of the generated images whose superlevel set ``{x > threshold}``
  is connected; ``h0_bars``: mean number of finite H0 bars longer than ``eps``;
  ``topology_loss``: mean E(1, 0, 2; PD0) (essential death → −1: the sum of the finite bars).

Returns the mean over the computations under each name and the standard deviation (ddof 0)
under ``<name>_std``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from topoexp.evaluation.generative import classifier_outputs, inception_score
from topoexp.evaluation.mmd_cov import l2_distances, mmd_cov
from topoexp.evaluation.pd0 import (
    components_above,
    long_bars,
    pd0_bars,
    pd0_diagrams,
    wasserstein_matrix,
)

__all__ = ["METRICS", "figure10_metrics", "topology_counts"]

METRICS = (
    "mmd_l2",
    "cov_l2",
    "mmd_wass",
    "cov_wass",
    "inception",
    "one_component",
    "h0_bars",
    "topology_loss",
)


def topology_counts(images: Tensor, complex: str, threshold: float, eps: float) -> dict[str, float]:
    """``one_component``, ``h0_bars`` and ``topology_loss`` of images in [-1, 1]."""
    bars = pd0_bars(images, complex)
    length = bars[..., 0] - bars[..., 1]
    finite = np.where(np.isfinite(length), length, 0.0).sum(axis=-1)
    return {
        "one_component": float((components_above(bars, threshold) == 1).mean()),
        "h0_bars": float(long_bars(bars, eps).mean()),
        "topology_loss": float(finite.mean()),
    }


def figure10_metrics(
    sample: Callable[[int, torch.Generator], Tensor],
    test_images: Tensor,
    classifier: torch.nn.Module,
    *,
    computations: int = 5,
    n_l2: int = 1000,
    n_wass: int = 100,
    seed: int = 0,
    complex: str = "delaunay",
    internal_p: float = float("inf"),
    threshold: float = 0.0,
    eps: float = 0.1,
) -> dict[str, float]:
    """Mean and std over ``computations`` of the module's metrics.

    ``sample(n, generator)`` returns ``n`` generated images ``(n, 1, 28, 28)`` in [-1, 1];
    ``test_images`` are real images in [-1, 1].
    """
    n_wass = min(n_wass, n_l2)
    if len(test_images) < n_l2:
        raise ValueError(f"{len(test_images)} test images cannot give {n_l2} per computation")
    rows: list[dict[str, float]] = []
    for c in range(computations):
        gen = torch.Generator().manual_seed(seed + c)
        fake = sample(n_l2, gen).reshape(n_l2, 1, 28, 28).to(torch.float32)
        real = test_images[torch.randperm(len(test_images), generator=gen)[:n_l2]]
        real = real.reshape(n_l2, 1, 28, 28)
        row: dict[str, float] = {}
        row["mmd_l2"], row["cov_l2"] = mmd_cov(l2_distances(real, fake))
        logits = classifier_outputs(classifier, (fake + 1) / 2).logits
        row["inception"] = inception_score(logits)
        wass = wasserstein_matrix(
            pd0_diagrams(real[:n_wass], complex), pd0_diagrams(fake[:n_wass], complex), internal_p
        )
        row["mmd_wass"], row["cov_wass"] = mmd_cov(wass)
        row |= topology_counts(fake, complex, threshold, eps)
        rows.append(row)
    out: dict[str, float] = {}
    for key in METRICS:
        values = np.array([r[key] for r in rows])
        out[key], out[f"{key}_std"] = float(values.mean()), float(values.std())
    out["computations"] = float(computations)
    return out

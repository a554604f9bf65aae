"""Minimum matching distance and coverage of Achlioptas et al. (2018), as the topology-layer
paper's Figure 10 uses them (``spec/evaluation_anchors.md``).

With ``D[i, j]`` the distance between reference (real) sample ``i`` and generated sample ``j``:

    MMD = (1 / |R|) Σ_i min_j D[i, j]        (each reference sample's nearest generated one)
    COV = |{ argmin_i D[i, j] : j }| / |R|    (reference samples that are the nearest reference
                                              neighbour of at least one generated sample)

Ties in ``argmin_i`` go to the lowest reference index (numpy's ``argmin``).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

__all__ = ["l2_distances", "mmd_cov"]


def mmd_cov(distances: np.ndarray | Tensor) -> tuple[float, float]:
    """``(MMD, COV)`` of a ``(n_reference, n_generated)`` distance matrix."""
    d = np.asarray(distances.cpu() if isinstance(distances, Tensor) else distances, np.float64)
    if d.ndim != 2 or 0 in d.shape:
        raise ValueError(f"expected a non-empty (n_reference, n_generated) matrix, got {d.shape}")
    if not np.isfinite(d).all():
        raise ValueError("the distance matrix holds non-finite values")
    mmd = float(d.min(axis=1).mean())
    cov = len(np.unique(d.argmin(axis=0))) / d.shape[0]
    return mmd, float(cov)


def l2_distances(reference: Tensor, generated: Tensor, block: int = 1024) -> Tensor:
    """``(n_ref, n_gen)`` Euclidean distances between flattened images, float64, in blocks."""
    r = reference.reshape(len(reference), -1).to(torch.float64)
    g = generated.reshape(len(generated), -1).to(torch.float64)
    if r.shape[1] != g.shape[1]:
        raise ValueError(f"images of {r.shape[1]} and {g.shape[1]} values cannot be compared")
    rows = []
    for s in range(0, len(r), block):
        sq = torch.cdist(r[s : s + block], g, compute_mode="donot_use_mm_for_euclid_dist")
        rows.append(sq)
    return torch.cat(rows)

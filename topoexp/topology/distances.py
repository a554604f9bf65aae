"""Pairwise distances of point clouds for persistence: ℓ_p for any p ≥ 1, batched.

Computed by direct differences (no ``‖a‖² + ‖b‖² − 2ab`` expansion) wherever a gradient is needed,
so the diagonal and duplicate points are exactly 0 and their gradient is 0 rather than NaN.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["data_distances", "pairwise_distances"]


def pairwise_distances(x: Tensor, p: float = 2.0) -> Tensor:
    """ℓ_p distance matrix of the rows of ``x``: ``(B, D) → (B, B)`` or ``(n, B, D) → (n, B, B)``.

    ``p = 2`` is the Euclidean distance (TopoAE), ``p = 1`` the ℓ1 distance (COREL). Differentiable;
    the gradient at coincident points is 0.
    """
    if p < 1:
        raise ValueError(f"p must be ≥ 1 for a metric, got {p}")
    return torch.cdist(x, x, p=float(p), compute_mode="donot_use_mm_for_euclid_dist")


@torch.no_grad()
def data_distances(x: Tensor) -> Tensor:
    """Euclidean distance matrix of rows that need no gradient: ``‖a‖² + ‖b‖² − 2ab`` in float64.

    One matrix product instead of ``B²·D`` differences (20× faster for an MNIST batch), and more
    accurate than the direct float32 computation. Squared distances below the expansion's
    rounding bound (``16 ε (‖a‖² + ‖b‖²)``) are set to 0, so the diagonal and duplicate points are
    exactly 0 as with direct differences.
    """
    x64 = x.to(torch.float64)
    sq = (x64 * x64).sum(dim=1)
    norms = sq[:, None] + sq[None, :]
    d2 = norms - 2.0 * (x64 @ x64.T)
    d2[d2 <= 16 * torch.finfo(torch.float64).eps * norms] = 0.0
    return d2.sqrt_().to(x.dtype)

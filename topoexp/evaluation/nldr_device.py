"""The NLDR measures of :mod:`topoexp.evaluation.nldr` computed with torch, on any device.

For a run on CUDA the distances, the stable ranks (kNN) and the density row sums of each block
of rows are computed on the GPU; only the ``k_max`` neighbour ranks per row and the row sums
come back to the host, where the numba path's accumulator finishes the measures. Definitions,
tie order (the point itself first, then equal distances by index) and formulas are those of
:mod:`topoexp.evaluation.nldr`; distances are Euclidean in float64, computed coordinate-wise
(no Gram matrix), so exact duplicates tie exactly. On the CPU the numba path stays the default
(it is faster there); this one equals it to 1e-10 (``tests/test_nldr_device.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from topoexp.evaluation.nldr import (
    DEFAULT_SIGMAS,
    NLDRCurves,
    _Accumulator,
    _as_points,
    _check_block_size,
    _check_sigmas,
    _check_sizes,
    _neighbourhood_sizes,
)

__all__ = ["nldr_curves_torch"]

#: Distances per block on the device (about 2 GiB of float64 working memory in all).
_DEVICE_BLOCK_ELEMENTS = 1 << 26


def _distances(rows: Tensor, points: Tensor) -> Tensor:
    return torch.cdist(rows, points, compute_mode="donot_use_mm_for_euclid_dist")


def _max_distance(points: Tensor, block: int) -> float:
    return max(
        float(_distances(points[s : s + block], points).max()) for s in range(0, len(points), block)
    )


def _ranks(d: Tensor, start: int) -> tuple[Tensor, Tensor]:
    """``(order, rank)`` of each row of the block ``d`` (rows ``start ..``): the stable argsort
    with the row's own point first, and its inverse permutation."""
    rows = torch.arange(len(d), device=d.device)
    d = d.clone()
    d[rows, rows + start] = -1.0  # the point itself first, before any duplicate
    order = torch.sort(d, dim=1, stable=True).indices
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(d.shape[1], device=d.device).expand_as(order))
    return order, rank


@torch.no_grad()
def nldr_curves_torch(
    X: object,
    Z: object,
    *,
    sigmas: Sequence[float] = DEFAULT_SIGMAS,
    k_min: int = 10,
    k_max: int = 200,
    k_step: int = 10,
    block_size: int | None = None,
    device: str | torch.device = "cuda",
) -> NLDRCurves:
    """:func:`~topoexp.evaluation.nldr.nldr_curves` with the block work on ``device``."""
    x_np, z_np = _as_points(X, "X"), _as_points(Z, "Z")
    ks = _neighbourhood_sizes(k_min, k_max, k_step)
    sigmas = _check_sigmas(sigmas)
    k = int(ks[-1])
    _check_sizes(x_np, z_np, k)
    n = len(x_np)
    if block_size is None:
        block_size = max(1, min(n, _DEVICE_BLOCK_ELEMENTS // n))
    block = _check_block_size(block_size, n)
    x = torch.as_tensor(x_np, dtype=torch.float64, device=device)
    z = torch.as_tensor(z_np, dtype=torch.float64, device=device)
    mx, mz = _max_distance(x, block), _max_distance(z, block)
    for name, m in (("X", mx), ("Z", mz)):
        if m == 0.0:
            raise ValueError(f"all points of {name} coincide; KL_σ is undefined")
    inv_sigmas = torch.as_tensor([1.0 / s for s in sigmas], dtype=torch.float64, device=device)
    acc = _Accumulator(n, ks, len(sigmas))
    for start in range(0, n, block):
        dx = _distances(x[start : start + block], x)
        dz = _distances(z[start : start + block], z)
        rows = slice(start, start + len(dx))
        acc.px[rows] = _density_rows(dx / mx, inv_sigmas)
        acc.pz[rows] = _density_rows(dz / mz, inv_sigmas)
        acc.sq[rows] = (dx - dz).square().sum(dim=1).cpu().numpy()
        order_x, rank_x = _ranks(dx, start)
        order_z, rank_z = _ranks(dz, start)
        rx_of_z = rank_x.gather(1, order_z[:, 1 : k + 1])
        rz_of_x = rank_z.gather(1, order_x[:, 1 : k + 1])
        acc.add_ranks(
            rx_of_z.cpu().numpy().astype(np.int64), rz_of_x.cpu().numpy().astype(np.int64)
        )
    return acc.result(sigmas)


def _density_rows(d: Tensor, inv_sigmas: Tensor) -> np.ndarray:
    """``Σ_j exp(-d_ij² / σ)`` of each row, one column per σ."""
    squared = d.square()
    sums = [torch.exp(-squared * inv).sum(dim=1) for inv in inv_sigmas]
    return torch.stack(sums, dim=1).cpu().numpy()

"""Precision, recall (Kynkäänniemi et al. 2019), density and coverage (Naeem et al. 2020).

With r_k(x) the distance of x to its k-th nearest neighbour within its own set (the point itself
not counted), real features x_1 … x_N and generated features y_1 … y_M:

    precision = (1/M) Σ_j 1[∃ i: ‖y_j − x_i‖ < r_k(x_i)]
    recall    = (1/N) Σ_i 1[∃ j: ‖x_i − y_j‖ < r_k(y_j)]
    density   = (1/(kM)) Σ_j Σ_i 1[‖y_j − x_i‖ < r_k(x_i)]
    coverage  = (1/N) Σ_i 1[min_j ‖x_i − y_j‖ < r_k(x_i)]

the definitions (strict inequalities included) of the ``prdc`` package, computed in row blocks of
the distance matrices so that no N × M matrix is held: one pass over each of real × real,
fake × fake and real × fake, float64. The comparisons are made between squared distances
(‖a‖² + ‖b‖² − 2ab, one matrix product per block), which order pairs as the distances do.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["kth_neighbour_radii", "prdc"]

BLOCK = 1024


def _squared_distances(a: Tensor, b: Tensor, b_sq: Tensor) -> Tensor:
    """Squared Euclidean distances (len(a), len(b)): ``‖a‖² + ‖b‖² − 2ab`` in float64."""
    return torch.addmm(b_sq[None, :], a, b.T, alpha=-2.0).add_(a.square().sum(1, keepdim=True))


def _kth_squared_radii(x: Tensor, k: int, block: int) -> Tensor:
    sq = x.square().sum(1)
    out = torch.empty(len(x), dtype=torch.float64)
    for s in range(0, len(x), block):
        d2 = _squared_distances(x[s : s + block], x, sq)
        rows = torch.arange(d2.shape[0])
        d2[rows, rows + s] = 0.0  # the point itself, exactly
        out[s : s + block] = d2.topk(k + 1, dim=1, largest=False).values[:, -1]
    return out.clamp_min_(0.0)


def kth_neighbour_radii(x: Tensor, k: int, block: int = BLOCK) -> Tensor:
    """Distance of each row of ``x`` to its k-th nearest other row (itself not counted)."""
    if not 1 <= k < len(x):
        raise ValueError(f"k must be in [1, {len(x) - 1}] for {len(x)} points, got {k}")
    return _kth_squared_radii(torch.as_tensor(x).to(torch.float64), k, block).sqrt_()


@torch.no_grad()
def prdc(real: Tensor, fake: Tensor, k: int = 5, block: int = BLOCK) -> dict[str, float]:
    """``precision``, ``recall``, ``density``, ``coverage`` of features ``fake`` vs ``real``."""
    real = torch.as_tensor(real).to(torch.float64)
    fake = torch.as_tensor(fake).to(torch.float64)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(
            f"real and fake must be (N, d) and (M, d) features, got {tuple(real.shape)} and "
            f"{tuple(fake.shape)}"
        )
    for name, x in (("real", real), ("fake", fake)):
        if not 1 <= k < len(x):
            raise ValueError(f"k must be in [1, {len(x) - 1}] for {len(x)} {name} points, got {k}")
    r2_real = _kth_squared_radii(real, k, block)
    r2_fake = _kth_squared_radii(fake, k, block)
    fake_sq = fake.square().sum(1)
    in_real_ball = torch.zeros(len(fake), dtype=torch.bool)  # precision
    real_balls = torch.zeros(len(fake), dtype=torch.int64)  # density
    covered = torch.empty(len(real), dtype=torch.bool)  # coverage
    recalled = torch.empty(len(real), dtype=torch.bool)  # recall
    for s in range(0, len(real), block):
        d2 = _squared_distances(real[s : s + block], fake, fake_sq)  # (b, M)
        inside = d2 < r2_real[s : s + block, None]
        in_real_ball |= inside.any(0)
        real_balls += inside.sum(0)
        covered[s : s + block] = inside.any(1)  # ⇔ min_j d < r_k(x_i)
        recalled[s : s + block] = (d2 < r2_fake[None, :]).any(1)
    return {
        "precision": float(in_real_ball.double().mean()),
        "recall": float(recalled.double().mean()),
        "density": float(real_balls.double().sum() / (k * len(fake))),
        "coverage": float(covered.double().mean()),
    }

"""Synthetic linear-regression problems of the TopologyLayer paper (spec B.4, README example).

``y = X β* + σ ε`` with ``X`` of iid standard normal rows and ``ε`` standard normal. The true
coefficient vectors ``β*``:

- ``"123"`` / ``"101"``: entries drawn uniformly with replacement from {1, 2, 3} / {−1, 0, 1}
  (Figure 5; weak-alpha penalties);
- ``"sinusoid"``: ``cos((2·3 − 1) π t)``, ``t = linspace(0, 1, p)``;
  ``"sawtooth"``: ``(t mod 1)·2 − 1``, ``t = linspace(0, 3, p)``;
  ``"boxcar"``: ``2·[(t mod 1) > 0.5] − 1``, ``t = linspace(0, 3, p)`` (Figure 6; three peaks,
  superlevel level-set penalties);
- :func:`ring_image`: the README's "noisy circle" ``exp(−(r − n/3)² / (2n))`` on an ``n × n``
  grid, ``r`` the distance to the centre (Figure 7 and the README example).

Everything is batched over leading dimensions and drawn from an explicit ``torch.Generator``.
"""

from __future__ import annotations

import math
from typing import Literal, get_args

import torch
from torch import Tensor

__all__ = [
    "BETA_KINDS",
    "BetaKind",
    "beta_star",
    "min_norm_least_squares",
    "prediction_mse",
    "regression_data",
    "ring_image",
]

BetaKind = Literal["123", "101", "sinusoid", "sawtooth", "boxcar"]
BETA_KINDS: tuple[str, ...] = get_args(BetaKind)
_VALUES = {"123": (1.0, 2.0, 3.0), "101": (-1.0, 0.0, 1.0)}
N_PEAKS = 3


def beta_star(
    kind: str,
    p: int = 100,
    batch: tuple[int, ...] = (),
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
) -> Tensor:
    """True coefficients ``(*batch, p)``; random kinds draw one vector per batch entry."""
    if kind not in BETA_KINDS:
        raise ValueError(f"kind must be one of {BETA_KINDS}, got {kind!r}")
    if kind in _VALUES:
        values = torch.tensor(_VALUES[kind], dtype=dtype)
        idx = torch.randint(0, 3, (*batch, p), generator=generator)
        return values[idx]
    if kind == "sinusoid":
        t = torch.linspace(0, 1, p, dtype=dtype)
        beta = torch.cos((2 * N_PEAKS - 1) * math.pi * t)
    else:
        t = torch.linspace(0, N_PEAKS, p, dtype=dtype)
        frac = torch.remainder(t, 1.0)
        beta = frac * 2 - 1 if kind == "sawtooth" else 2 * (frac > 0.5).to(dtype) - 1
    return beta.expand(*batch, p).clone()


def ring_image(size: int = 50, dtype: torch.dtype = torch.float64) -> Tensor:
    """The README's ring ``exp(−(r − size/3)² / (2·size))``, ``(size, size)``, values in (0, 1]."""
    idx = torch.arange(size, dtype=dtype)
    centre = (size - 1) / 2
    r = torch.sqrt((idx[:, None] - centre) ** 2 + (idx[None, :] - centre) ** 2)
    return torch.exp(-((r - size / 3) ** 2) / (2 * size))


def regression_data(
    beta: Tensor, n: int, sigma: float, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """``X (*batch, n, p)`` iid N(0, 1) and ``y = X β + σ ε (*batch, n)`` for ``β (*batch, p)``."""
    if n < 1:
        raise ValueError(f"n must be ≥ 1, got {n}")
    if sigma < 0:
        raise ValueError(f"sigma must be ≥ 0, got {sigma}")
    *batch, p = beta.shape
    X = torch.randn((*batch, n, p), generator=generator, dtype=beta.dtype)
    noise = torch.randn((*batch, n), generator=generator, dtype=beta.dtype)
    y = (X @ beta.unsqueeze(-1)).squeeze(-1) + sigma * noise
    return X, y


def min_norm_least_squares(X: Tensor, y: Tensor, rcond: float = 1e-4) -> Tensor:
    """The minimum-norm least-squares solution ``(*batch, p)`` (``np.linalg.lstsq(X, y,
    rcond)``: singular values below ``rcond`` × the largest are treated as zero)."""
    return (torch.linalg.pinv(X, rtol=rcond) @ y.unsqueeze(-1)).squeeze(-1)


def prediction_mse(
    beta_hat: Tensor, beta: Tensor, n_test: int = 10_000, generator: torch.Generator | None = None
) -> Tensor:
    """Mean ``(X' β* − X' β̂)²`` over ``n_test`` fresh noise-free Gaussian rows ``(*batch,)``.

    One set of rows is shared by the batch; the value is ``δᵀ (X'ᵀX' / n_test) δ`` with
    ``δ = β̂ − β*`` (its expectation is ``‖δ‖²``).
    """
    p = beta.shape[-1]
    X = torch.randn((n_test, p), generator=generator, dtype=beta.dtype)
    gram = X.T @ X / n_test
    delta = (beta_hat - beta).to(beta.dtype)
    return torch.einsum("...i,ij,...j->...", delta, gram, delta)

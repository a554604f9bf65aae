"""Homological regularisation of a latent batch (spec C.2): unit-ball penalty and 0-dim deaths.

For latents z_1 … z_B of one batch,

    h(z) = λ_ball · Σ_i max(‖z_i‖² − 1, 0)  −  λ_death · Σ_t d_t

where d_t are the finite death times of the 0-dim Vietoris–Rips persistence of the batch. Every
point is born at 0, and the finite deaths are the lengths of the minimum-spanning-tree edges; with
the original code's ``max_edge_length = 0.5`` the complex holds only edges of length ≤ 0.5, so a
merge at a longer edge never happens and that component stays essential: the reward is the sum of
the MST edges of length ≤ 0.5. The original code uses the squared norm and one coefficient
λ = 5e-3 for both terms; the paper writes max(‖z_i‖ − 1, 0) (``ball_norm="norm"``).

As everywhere in topoexp, the MST is computed on detached distances and the gradient is that of
the selected edges' lengths. :class:`HomologicalLoss` computes h(z) and its gradient in one
compiled pass (:func:`_regulariser_kernel`) inside one autograd node: the ball penalty plus the
compiled kernels of :func:`topoexp.topology.deaths.death_times0`'s ``"fused"`` backend. Composed
from torch ops (``BallPenalty`` and ``death_times0``, the tested reference) the regulariser
made a 784-64-64-10 training step 1.15–1.21× slower than the plain step at batch 128 on one
thread, fused 1.08–1.15× at 128 and 512 (``benchmarks/bench_homreg.py``, ratios in one run).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from numba import njit
from torch import Tensor, nn

from topoexp.topology.deaths import euclidean_deaths, scatter_death_gradient

__all__ = [
    "BALL_NORMS",
    "BallPenalty",
    "HomologicalLoss",
    "kl_divergence",
]

BALL_NORMS = ("squared", "norm")


def _check_latents(z: Tensor) -> None:
    if not isinstance(z, Tensor) or z.ndim != 2:
        shape = tuple(z.shape) if hasattr(z, "shape") else type(z).__name__
        raise ValueError(f"latents must be a (B, n) tensor, got {shape}")


class BallPenalty(nn.Module):
    """Σ_i max(‖z_i‖² − 1, 0) (``norm="squared"``, the code) or Σ_i max(‖z_i‖ − 1, 0) (paper)."""

    def __init__(self, norm: str = "squared") -> None:
        super().__init__()
        if norm not in BALL_NORMS:
            raise ValueError(f"ball_norm must be one of {BALL_NORMS}, got {norm!r}")
        self.norm = norm

    def extra_repr(self) -> str:
        return f"norm={self.norm!r}"

    def forward(self, z: Tensor) -> Tensor:
        _check_latents(z)
        sq = z.square().sum(dim=1)
        if self.norm == "squared":
            return (sq - 1.0).clamp_min(0.0).sum()
        # sqrt only where ‖z‖ > 1: no infinite derivative at z = 0 times a zero relu derivative.
        return torch.where(sq > 1.0, sq.clamp_min(1.0).sqrt() - 1.0, 0.0).sum()


@njit(cache=True, nogil=True)
def _regulariser_kernel(
    Z: np.ndarray,
    squared: bool,
    cutoff: float,
    ball_coef: float,
    death_coef: float,
    grad: np.ndarray,
) -> tuple[float, float, int, bool]:
    """Ball penalty, finite death sum, their count, and ∂h/∂Z into ``grad`` (zeroed, float64).

    ``cutoff < 0`` means none. The deaths are the MST lengths ≤ cutoff (sorted, so a prefix);
    ∂d_ij/∂z_i = (z_i − z_j)/d_ij (0 for coincident points). Last value: False on NaN input.
    """
    B, n = Z.shape
    ball = 0.0
    for i in range(B):
        s = 0.0
        for k in range(n):
            s += np.float64(Z[i, k]) ** 2
        if s > 1.0:
            if squared:
                ball += s - 1.0
                for k in range(n):
                    grad[i, k] += ball_coef * 2.0 * Z[i, k]
            else:
                r = np.sqrt(s)
                ball += r - 1.0
                for k in range(n):
                    grad[i, k] += ball_coef * Z[i, k] / r
    death, count = 0.0, 0
    if death_coef > 0.0 and B >= 2:
        pairs = np.empty((B - 1, 2), np.int64)
        lengths = np.empty(B - 1)
        count = euclidean_deaths(Z, cutoff, pairs, lengths)
        if count < 0:
            return ball, death, 0, False
        for t in range(count):
            death += lengths[t]
        scatter_death_gradient(Z, pairs, lengths, np.full(count, -death_coef), grad)
    return ball, death, count, True


class _FusedRegulariser(torch.autograd.Function):
    """h(z) as one autograd node; the second output holds (ball, death sum, count), no grad."""

    @staticmethod
    def forward(ctx, z, squared, cutoff, ball_coef, death_coef):  # type: ignore[override]
        Z = z.detach().cpu().numpy()
        grad = np.zeros(Z.shape)
        ball, death, count, ok = _regulariser_kernel(
            Z, squared, -1.0 if cutoff is None else cutoff, ball_coef, death_coef, grad
        )
        if not ok:  # NaN latents: a NaN loss, which the trainer stops on (keeping its checkpoints)
            ball = death = float("nan")
            grad[:] = 0.0
        ctx.save_for_backward(torch.from_numpy(grad).to(device=z.device, dtype=z.dtype))
        terms = torch.tensor([ball, death, count], dtype=torch.float64)
        ctx.mark_non_differentiable(terms)
        return z.new_tensor(ball_coef * ball - death_coef * death), terms

    @staticmethod
    def backward(ctx, grad_loss, _grad_terms):  # type: ignore[override]
        (grad,) = ctx.saved_tensors
        return grad_loss * grad, None, None, None, None


def _coef(name: str, value: float | None, default: float) -> float:
    value = default if value is None else value
    if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite float ≥ 0, got {value!r}")
    return float(value)


class HomologicalLoss(nn.Module):
    """h(z) = λ_ball · ball penalty − λ_death · Σ finite 0-dim death times, on one latent batch.

    Args:
        coef: λ, the one coefficient of the original code (5e-3) for both terms.
        ball_coef, death_coef: separate coefficients; ``None`` uses ``coef``. ``death_coef=0``
            is the paper's disk-penalty-only ablation (no persistence is computed).
        ball_norm: ``"squared"`` max(‖z‖² − 1, 0) as the code, ``"norm"`` max(‖z‖ − 1, 0) as the
            paper.
        cutoff: Rips ``max_edge_length`` (0.5 in the code); ``None`` rewards every MST edge.
    """

    def __init__(
        self,
        coef: float = 5e-3,
        ball_coef: float | None = None,
        death_coef: float | None = None,
        ball_norm: str = "squared",
        cutoff: float | None = 0.5,
    ) -> None:
        super().__init__()
        self.coef = _coef("coef", coef, 0.0)
        self.ball_coef = _coef("ball_coef", ball_coef, self.coef)
        self.death_coef = _coef("death_coef", death_coef, self.coef)
        if cutoff is not None and (not isinstance(cutoff, int | float) or not cutoff > 0):
            raise ValueError(f"cutoff must be a float > 0 or None, got {cutoff!r}")
        self.cutoff = None if cutoff is None else float(cutoff)
        self.ball = BallPenalty(ball_norm)

    def extra_repr(self) -> str:
        return (
            f"ball_coef={self.ball_coef}, death_coef={self.death_coef}, cutoff={self.cutoff}, "
            f"ball_norm={self.ball.norm!r}"
        )

    def forward(self, z: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """Weighted loss and detached terms: ``ball_penalty``, ``death_sum``, ``n_deaths``.

        The disk-penalty-only ablation (``death_coef=0``) computes no persistence.
        """
        _check_latents(z)
        loss, terms = _FusedRegulariser.apply(
            z, self.ball.norm == "squared", self.cutoff, self.ball_coef, self.death_coef
        )
        ball, death_sum, n_deaths = terms.unbind()
        return loss, {"ball_penalty": ball, "death_sum": death_sum, "n_deaths": n_deaths}


def kl_divergence(
    mu: Tensor, log_var: Tensor, batch_size: int | None = None, n_pixels: int = 784
) -> Tensor:
    """The VAE's KL term as the original code computes it (spec C.2).

    −½ Σ (1 + log σ² − μ² − σ²) summed over batch and latent dimensions, divided by
    ``batch_size · n_pixels`` (the elements of the mean BCE). The code divides by the
    configured batch size even for a smaller last batch; ``None`` uses the actual batch size.
    """
    b = mu.shape[0] if batch_size is None else int(batch_size)
    return -0.5 * (1 + log_var - mu.square() - log_var.exp()).sum() / (b * n_pixels)

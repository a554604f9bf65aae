"""Death-time statistics over random batches: the paper's (α̂, ε̂, β̂) and Figure 6.

For a set of points (a toy mapping's outputs, or one branch of a backbone's latents) draw
``n_batches`` random batches of ``batch_size`` points (each without replacement), compute the 0-dim
Vietoris–Rips death times of every batch under ℓ_p, and summarise each batch by the min, mean and
max of its ``batch_size − 1`` death times. The paper's (α̂, ε̂, β̂) are the means of those three over
the batches (Figure 2: 3,000 batches of 50 points). The batches of all branches go through
batched pairing calls of a few MB each.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from topoexp.topology.deaths import death_times0

__all__ = ["DeathTimeSummary", "batch_death_times", "death_time_summary"]


@dataclass
class DeathTimeSummary:
    """Per-batch statistics and their means, per branch."""

    per_batch: np.ndarray  #: (n_branches, n_batches, 3): min, mean, max of each batch's deaths

    @property
    def alpha(self) -> np.ndarray:
        """α̂ per branch: the mean over batches of the smallest death time."""
        return self.per_batch[..., 0].mean(-1)

    @property
    def epsilon(self) -> np.ndarray:
        """ε̂ per branch: the mean over batches of the mean death time."""
        return self.per_batch[..., 1].mean(-1)

    @property
    def beta(self) -> np.ndarray:
        """β̂ per branch: the mean over batches of the largest death time."""
        return self.per_batch[..., 2].mean(-1)

    def as_dict(self, prefix: str = "death_time") -> dict[str, float]:
        """``{prefix}.{alpha,epsilon,beta}`` (mean over branches) and ``….b<k>`` per branch."""
        out: dict[str, float] = {}
        for name, values in (("alpha", self.alpha), ("epsilon", self.epsilon), ("beta", self.beta)):
            out[f"{prefix}.{name}"] = float(values.mean())
            if len(values) > 1:
                for b, v in enumerate(values):
                    out[f"{prefix}.{name}.b{b:02d}"] = float(v)
        return out


def batch_death_times(
    points: np.ndarray | torch.Tensor,
    n_branches: int = 1,
    batch_size: int = 50,
    n_batches: int = 3000,
    seed: int = 0,
    p: float = 1.0,
) -> np.ndarray:
    """Death times of random batches: ``(n_branches, n_batches, batch_size − 1)``, float64.

    ``points`` is ``(N, n_branches · d)``; branch ``b`` is columns ``[b·d, (b+1)·d)``. The same
    batches (row indices) are used for every branch.
    """
    x = torch.as_tensor(np.asarray(points) if not torch.is_tensor(points) else points)
    x = x.detach().to(torch.float64).cpu()
    if x.dim() != 2 or x.shape[1] % n_branches:
        raise ValueError(
            f"points must have shape (N, n_branches · d) with n_branches = {n_branches}, "
            f"got {tuple(x.shape)}"
        )
    if not 2 <= batch_size <= len(x):
        raise ValueError(f"batch_size must be in [2, {len(x)}], got {batch_size}")
    if n_batches < 1:
        raise ValueError(f"n_batches must be ≥ 1, got {n_batches}")
    rng = np.random.default_rng(seed)
    rows = np.argsort(rng.random((n_batches, len(x))), axis=1)[:, :batch_size]
    branches = x.view(len(x), n_branches, -1).transpose(0, 1)  # (n_branches, N, d)
    batches = branches[:, torch.from_numpy(rows)].flatten(0, 1)  # (n_branches·n_batches, B, d)
    # Chunks of ~8 MB of distance matrices: one pairing call each.
    chunk = max(1, 2**20 // (batch_size * batch_size))
    deaths = torch.cat([death_times0(c, p).deaths for c in batches.split(chunk)])
    return deaths.view(n_branches, n_batches, batch_size - 1).numpy()


def death_time_summary(
    points: np.ndarray | torch.Tensor,
    n_branches: int = 1,
    batch_size: int = 50,
    n_batches: int = 3000,
    seed: int = 0,
    p: float = 1.0,
) -> DeathTimeSummary:
    """(α̂, ε̂, β̂) per branch over random batches (module docstring)."""
    deaths = batch_death_times(points, n_branches, batch_size, n_batches, seed, p)
    stats = np.stack([deaths.min(-1), deaths.mean(-1), deaths.max(-1)], axis=-1)
    return DeathTimeSummary(per_batch=stats)

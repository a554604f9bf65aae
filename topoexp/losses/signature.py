"""The topological signature loss of Topological Autoencoders (spec §2.3, step 7)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, get_args

import torch
from torch import Tensor, nn

from topoexp.config.markers import ArgumentError
from topoexp.topology.pairing import death_times, pairing0

__all__ = ["MATCH_EDGES", "MatchEdges", "SignatureLoss", "cycle_pairs"]

MatchEdges = Literal["symmetric", "none", "random"]
MATCH_EDGES: tuple[str, ...] = get_args(MatchEdges)


def _shared_edges(pairs_a: Tensor, pairs_b: Tensor, n: int) -> Tensor:
    """How many index pairs (i < j) occur in both (k, 2) lists."""
    codes_a = pairs_a[:, 0] * n + pairs_a[:, 1]
    codes_b = pairs_b[:, 0] * n + pairs_b[:, 1]
    return torch.isin(codes_a, codes_b).sum()


def _random_pairs(n: int, device: torch.device) -> Tensor:
    """The control pairing: (randperm(n − 1), randperm(n − 1)); index n − 1 never occurs."""
    first = torch.randperm(max(n - 1, 0), device=device)
    second = torch.randperm(max(n - 1, 0), device=device)
    return torch.stack([first, second], dim=1)


def cycle_pairs(D: Tensor) -> Tensor:
    """Critical edges of the finite dimension-1 Rips bars of positive length of ``D``.

    Returns ``(k, 2, 2)`` int64: for each bar its birth edge ``(i, j)`` and death edge ``(k, l)``
    (computed on the detached matrix).
    """
    from topoexp.topology.rips import rips_barcodes

    h1 = rips_barcodes(D.detach(), maxdim=1, distance_matrix=True)[1]
    keep = h1.is_finite & (h1.deaths > h1.births)
    return torch.stack([h1.birth_cells[keep], h1.death_cells[keep]], dim=1).to(D.device)


def _squared_gap(D_a: Tensor, D_b: Tensor, pairs: Tensor) -> Tensor:
    """Σ over (i, j) in ``pairs`` of (D_a[i, j] − D_b[i, j])²."""
    return (death_times(D_a, pairs) - death_times(D_b, pairs)).square().sum()


class SignatureLoss(nn.Module):
    """Topological error between a data and a latent distance matrix of one batch.

    With π_X, π_Z the 0-dim persistence pairings (MST edges) of D_X and D_Z:

        L_XZ = Σ_{(i,j) ∈ π_X} (D_X[i,j] − D_Z[i,j])²
        L_ZX = Σ_{(i,j) ∈ π_Z} (D_Z[i,j] − D_X[i,j])²
        loss = c · (L_XZ + L_ZX) / B                         ("symmetric")

    where B is the batch size (only if ``divide_by_batch``) and c = ½ if ``half`` (the paper's
    ½‖·‖² per direction) else 1 (the original code). Variants of ``match_edges``:

    - ``"none"``: c · Σ_k (D_X[π_X]_k − D_Z[π_Z]_k)² / B, each space's own MST lengths compared
      position by position in increasing order.
    - ``"random"`` (control): the symmetric formula with one random pairing
      (randperm(B − 1), randperm(B − 1)) used for both directions; index B − 1 never occurs and self
      pairs (i, i) are possible. Uses the global torch RNG.

    ``dims=[0, 1]`` adds the dimension-1 signature (the original code's ``use_cycles``, switched
    off there): for every finite Rips H1 bar of positive length of D_X, with birth edge b and
    death edge d, (D_X[b] − D_Z[b])² + (D_X[d] − D_Z[d])², and the same over the bars of D_Z, with
    the same ``half`` and division by B (``"symmetric"`` only). ``dims=[0]`` (default) is the
    published loss.

    Pairings are computed on detached matrices; gradients flow through the gathered distances only.
    """

    def __init__(
        self,
        match_edges: MatchEdges = "symmetric",
        half: bool = False,
        divide_by_batch: bool = True,
        dims: Sequence[Literal[0, 1]] = (0,),
    ) -> None:
        super().__init__()
        if match_edges not in MATCH_EDGES:
            raise ArgumentError("match_edges", f"must be one of {MATCH_EDGES}, got {match_edges!r}")
        for name, flag in (("half", half), ("divide_by_batch", divide_by_batch)):
            if not isinstance(flag, bool):
                raise ArgumentError(name, f"must be a bool, got {flag!r}")
        if sorted(set(dims)) not in ([0], [0, 1]):
            raise ArgumentError("dims", f"must be [0] or [0, 1], got {list(dims)!r}")
        dims = sorted(set(dims))
        if 1 in dims and match_edges != "symmetric":
            raise ArgumentError("dims", "dimension 1 needs match_edges='symmetric'")
        self.match_edges = match_edges
        self.half = half
        self.divide_by_batch = divide_by_batch
        self.dims = tuple(dims)

    def extra_repr(self) -> str:
        extra = f", dims={list(self.dims)}" if self.dims != (0,) else ""
        return (
            f"match_edges={self.match_edges!r}, half={self.half}, "
            f"divide_by_batch={self.divide_by_batch}{extra}"
        )

    def forward(self, D_X: Tensor, D_Z: Tensor) -> Tensor:
        """The scalar loss for (B, B) distance matrices D_X and D_Z (:meth:`terms`: its parts)."""
        return self.terms(D_X, D_Z)[0]

    def terms(self, D_X: Tensor, D_Z: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """Scalar loss and detached diagnostics for (B, B) distance matrices D_X and D_Z.

        Diagnostics: ``matched_pairs_0d`` (edges shared by the MSTs π_X and π_Z, for every
        variant), ``distance1_2`` (L_XZ) and ``distance2_1`` (L_ZX): raw sums over the pairs the
        variant uses (π_X and π_Z for ``"none"``), without ``half`` or the division by B.
        """
        _check_pair(D_X, D_Z)
        n = D_X.shape[0]
        mst_X, mst_Z = _pairings(D_X, D_Z)
        if self.match_edges == "random":
            pi_X = pi_Z = _random_pairs(n, D_X.device)
        else:
            pi_X, pi_Z = mst_X, mst_Z
        dist_12 = _squared_gap(D_X, D_Z, pi_X)
        dist_21 = _squared_gap(D_Z, D_X, pi_Z)
        if self.match_edges == "none":
            loss = (death_times(D_X, pi_X) - death_times(D_Z, pi_Z)).square().sum()
        else:
            loss = dist_12 + dist_21
        cycles: dict[str, Tensor] = {}
        if 1 in self.dims:
            cyc_12 = _squared_cycle_gap(D_X, D_Z, cycle_pairs(D_X))
            cyc_21 = _squared_cycle_gap(D_Z, D_X, cycle_pairs(D_Z))
            loss = loss + cyc_12 + cyc_21
            cycles = {"distance1_2_1d": cyc_12.detach(), "distance2_1_1d": cyc_21.detach()}
        if self.half:
            loss = 0.5 * loss
        if self.divide_by_batch:
            loss = loss / n
        metrics = {
            "matched_pairs_0d": _shared_edges(mst_X, mst_Z, n),
            "distance1_2": dist_12.detach(),
            "distance2_1": dist_21.detach(),
            **cycles,
        }
        return loss, metrics


def _squared_cycle_gap(D_a: Tensor, D_b: Tensor, cycles: Tensor) -> Tensor:
    """Σ over the birth and death edges of ``cycles (k, 2, 2)`` of (D_a[e] − D_b[e])²."""
    edges = cycles.reshape(-1, 2)
    return (death_times(D_a, edges) - death_times(D_b, edges)).square().sum()


def _check_pair(D_X: Tensor, D_Z: Tensor) -> None:
    """Both inputs must be square (B, B) tensors of the same shape."""
    for name, D in (("D_X", D_X), ("D_Z", D_Z)):
        if not isinstance(D, Tensor) or D.ndim != 2 or D.shape[0] != D.shape[1]:
            shape = tuple(D.shape) if hasattr(D, "shape") else type(D).__name__
            raise ValueError(f"{name} must be a square (B, B) tensor, got {shape}")
    if D_X.shape != D_Z.shape or D_X.shape[0] == 0:
        raise ValueError(
            f"D_X and D_Z must have the same non-empty shape, got {tuple(D_X.shape)} and "
            f"{tuple(D_Z.shape)}"
        )
    if D_X.device != D_Z.device:
        raise ValueError(f"D_X and D_Z are on different devices: {D_X.device} vs {D_Z.device}")


def _pairings(D_X: Tensor, D_Z: Tensor) -> tuple[Tensor, Tensor]:
    """π_X and π_Z of the detached matrices (one host transfer when the dtypes agree)."""
    if D_X.dtype != D_Z.dtype:
        return pairing0(D_X), pairing0(D_Z)
    pairs = pairing0(torch.stack([D_X.detach(), D_Z.detach()]))
    return pairs[0], pairs[1]

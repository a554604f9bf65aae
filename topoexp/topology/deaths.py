"""0-dim Vietoris–Rips death times of point clouds or distance matrices, differentiable.

Every point is born at 0 and its component dies at the length of the minimum-spanning-tree edge
that merges it, so the finite 0-dim deaths of a cloud of ``B`` points are the ``B − 1`` MST edge
lengths (spec §2.4). :func:`death_times0` is the one implementation behind every loss and
evaluator that needs them (COREL's connectivity loss and death-time statistics, the homological
regulariser, the latent total persistence):

- the MST is found on detached values, so the pairing itself carries no gradient;
- the deaths are then read from the differentiable input at the tree edges: recomputed as
  ``‖x_i − x_j‖_p`` from points (one gather of both ends per edge, so the backward pass never
  touches the other ``B²`` distances), or gathered from a distance matrix;
- ``cutoff`` is gudhi's ``max_edge_length``: edges longer than it never enter, so those merges do
  not happen and the bars stay essential (death ``+inf``, no gradient), as in :class:`Barcode`;
- :meth:`H0Deaths.barcode` gives the whole H0 :class:`Barcode` (with the essential bar and the
  critical cells), the bars of :func:`~topoexp.topology.rips.rips_barcodes` in dimension 0.

Two backends compute the same deaths:

- ``"pairing"`` (any p, points or distances): :func:`~topoexp.topology.pairing.pairing0` on the
  ℓ_p distances by direct differences (:func:`~topoexp.topology.distances.pairwise_distances`),
  ties broken in ``(length, i, j)`` order; values in the input's dtype;
- ``"fused"`` (Euclidean points): one compiled pass from the coordinates, Prim on float64 squared
  distances (:func:`euclidean_deaths`, on :func:`~topoexp.topology.pairing.euclidean_mst`) and a
  compiled backward (:func:`scatter_death_gradient`). The same kernels form the death term of
  :class:`~topoexp.losses.homological.HomologicalLoss`, which fuses them with its ball penalty
  into a single autograd node. Deaths equal the pairing backend's to float rounding (float64
  lengths cast to the input's dtype); edges whose lengths tie after rounding may be paired
  differently, with equal deaths.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np
import torch
from numba import njit
from torch import Tensor

from topoexp.topology.barcode import Barcode
from topoexp.topology.distances import pairwise_distances
from topoexp.topology.pairing import death_times, euclidean_mst, pairing0
from topoexp.topology.unionfind import flag_h0

__all__ = ["BACKENDS", "H0Deaths", "death_times0", "euclidean_deaths", "scatter_death_gradient"]

Backend = Literal["pairing", "fused"]
BACKENDS: tuple[str, ...] = ("pairing", "fused")


class H0Deaths(NamedTuple):
    """``deaths (…, B − 1)``, increasing (``+inf`` beyond the cutoff), differentiable in the
    input; ``pairs (…, B − 1, 2)`` the int64 MST edges ``(i, j)``, ``i < j``, in the same order."""

    deaths: Tensor
    pairs: Tensor

    def barcode(self) -> Barcode:
        """The whole H0 :class:`Barcode`: ``B`` bars, these ``B − 1`` then the essential one.

        Birth cells ``(v, v)``: the vertex whose component each edge kills (Kruskal along the
        edges, the smaller index older), vertex 0 for the essential bar; bars beyond the cutoff
        are essential too (death cell ``-1``). The bars of
        :func:`~topoexp.topology.rips.rips_barcodes`, dimension 0, in the same order.
        """
        lead, m = self.deaths.shape[:-1], self.deaths.shape[-1]
        pairs = self.pairs.reshape(-1, m, 2).cpu().numpy()
        births = np.zeros((len(pairs), m + 1), np.int64)
        _kruskal_births(np.ascontiguousarray(pairs), births)
        finite = torch.isfinite(self.deaths).reshape(-1, m).cpu().numpy()
        dcells = np.where(finite[..., None], pairs, -1)
        dcells = np.concatenate([dcells, np.full((len(pairs), 1, 2), -1, np.int64)], axis=1)
        deaths = torch.cat([self.deaths, torch.full_like(self.deaths[..., :1], float("inf"))], -1)
        device = self.deaths.device
        return Barcode(
            torch.zeros_like(deaths),
            deaths,
            0,
            torch.from_numpy(np.stack([births, births], -1)).reshape(*lead, m + 1, 2).to(device),
            torch.from_numpy(dcells).reshape(*lead, m + 1, 2).to(device),
        )


@njit(cache=True, nogil=True)
def _kruskal_births(pairs: np.ndarray, births: np.ndarray) -> None:
    """Row by row: the dying vertex of each tree edge, in the edges' order (all of them merge)."""
    m = pairs.shape[1]
    birth_v = np.empty(m, np.int64)
    death_k = np.empty(m, np.int64)
    for b in range(pairs.shape[0]):
        k = flag_h0(pairs[b], m + 1, birth_v, death_k)
        for t in range(k):
            births[b, death_k[t]] = birth_v[t]


@njit(cache=True, nogil=True)
def scatter_death_gradient(
    Z: np.ndarray, pairs: np.ndarray, lengths: np.ndarray, weights: np.ndarray, grad: np.ndarray
) -> None:
    """``grad += Σ_t weights[t] · ∂‖z_i − z_j‖/∂Z`` over the first ``len(weights)`` edges.

    ∂d_ij/∂z_i = (z_i − z_j)/d_ij = −∂d_ij/∂z_j, in float64; coincident points get 0.
    """
    n = Z.shape[1]
    for t in range(weights.shape[0]):
        d = lengths[t]
        if d > 0.0:
            i, j = pairs[t, 0], pairs[t, 1]
            for k in range(n):
                g = weights[t] * (np.float64(Z[i, k]) - np.float64(Z[j, k])) / d
                grad[i, k] += g
                grad[j, k] -= g


@njit(cache=True, nogil=True)
def euclidean_deaths(Z: np.ndarray, cutoff: float, pairs: np.ndarray, lengths: np.ndarray) -> int:
    """The fused backend's forward for one cloud ``Z (B, d)``, callable from other kernels.

    Writes the MST edges and their float64 Euclidean lengths, increasing, into ``pairs (B − 1,
    2)`` and ``lengths (B − 1,)``; returns how many lengths are ≤ ``cutoff`` (a prefix; all of
    them when ``cutoff < 0``), or −1 when NaN coordinates would be needed.
    """
    m = Z.shape[0] - 1
    if m < 1:
        return 0
    if not euclidean_mst(Z, pairs, lengths):
        return -1
    count = 0
    while count < m and not (cutoff >= 0.0 and lengths[count] > cutoff):
        count += 1
    return count


@njit(cache=True, nogil=True)
def _fused_forward(
    Z: np.ndarray, cutoff: float, pairs: np.ndarray, lengths: np.ndarray, counts: np.ndarray
) -> bool:
    """:func:`euclidean_deaths` of each cloud of a ``(b, B, d)`` stack; False on NaN coordinates."""
    for c in range(Z.shape[0]):
        counts[c] = euclidean_deaths(Z[c], cutoff, pairs[c], lengths[c])
        if counts[c] < 0:
            return False
    return True


@njit(cache=True, nogil=True)
def _fused_backward(
    Z: np.ndarray, pairs: np.ndarray, lengths: np.ndarray, weights: np.ndarray, grad: np.ndarray
) -> None:
    for c in range(Z.shape[0]):
        scatter_death_gradient(Z[c], pairs[c], lengths[c], weights[c], grad[c])


class _FusedDeaths(torch.autograd.Function):
    """Euclidean MST lengths of a ``(b, B, d)`` stack, compiled forward and backward; the
    lengths above ``cutoff`` (float64 comparison, as the homological loss's) become ``+inf``."""

    @staticmethod
    def forward(ctx, z, cutoff):  # type: ignore[override]
        zd = z.detach()
        if zd.dtype not in (torch.float32, torch.float64):
            zd = zd.to(torch.float64)
        Z = np.ascontiguousarray(zd.cpu().numpy())
        b, m = Z.shape[0], max(Z.shape[1] - 1, 0)
        pairs = np.zeros((b, m, 2), np.int64)
        lengths = np.zeros((b, m))
        counts = np.zeros(b, np.int64)
        if m and not _fused_forward(Z, -1.0 if cutoff is None else cutoff, pairs, lengths, counts):
            raise ValueError("death_times0: NaN coordinates would be needed to connect the points")
        ctx.Z, ctx.pairs, ctx.lengths = Z, pairs, lengths
        ctx.essential = np.arange(m)[None, :] >= counts[:, None]
        deaths = np.where(ctx.essential, np.inf, lengths)
        pairs_t = torch.from_numpy(pairs).to(z.device)
        ctx.mark_non_differentiable(pairs_t)
        return torch.from_numpy(deaths).to(device=z.device, dtype=z.dtype), pairs_t

    @staticmethod
    def backward(ctx, grad_deaths, _grad_pairs):  # type: ignore[override]
        weights = np.array(grad_deaths.detach().cpu().numpy(), dtype=np.float64)
        weights[ctx.essential] = 0.0  # infinite deaths carry no gradient
        grad = np.zeros(ctx.Z.shape)
        _fused_backward(ctx.Z, ctx.pairs, ctx.lengths, weights, grad)
        return torch.from_numpy(grad).to(device=grad_deaths.device, dtype=grad_deaths.dtype), None


def _point_deaths(z: Tensor, p: float) -> H0Deaths:
    """Pairing backend on a ``(b, B, d)`` stack of points."""
    with torch.no_grad():
        pairs = pairing0(pairwise_distances(z.detach(), p=p))
    rows = torch.arange(z.shape[0], device=z.device)[:, None]
    diff = z[rows, pairs[..., 0]] - z[rows, pairs[..., 1]]  # (b, B − 1, d)
    deaths = diff.abs().sum(-1) if p == 1 else torch.linalg.vector_norm(diff, ord=p, dim=-1)
    return H0Deaths(deaths, pairs)


def death_times0(
    x: Tensor,
    p: float = 2.0,
    *,
    distance_matrix: bool = False,
    cutoff: float | None = None,
    backend: Backend = "pairing",
) -> H0Deaths:
    """Finite 0-dim Vietoris–Rips death times of one or a batch of point clouds (module docstring).

    Args:
        x: points ``(B, d)`` or ``(n, B, d)``; with ``distance_matrix=True`` distances ``(B, B)``
            or ``(n, B, B)`` (only the upper triangle is read; ``p`` is then not used).
        p: the ℓ_p metric of the points, ``p ≥ 1`` (2: Euclidean, 1: COREL's ℓ1).
        cutoff: largest edge length in the complex (gudhi's ``max_edge_length``); deaths above
            it become ``+inf`` (compared in the input's dtype, by the fused backend in float64,
            as the homological loss). ``None``: every MST edge.
        backend: ``"pairing"`` or ``"fused"`` (Euclidean points only).

    Returns:
        :class:`H0Deaths` with the batch shape of ``x`` (``(B − 1,)`` for one cloud).
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"expected a torch.Tensor, got {type(x).__name__}")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if not float(p) >= 1:
        raise ValueError(f"p must be ≥ 1 for a metric, got {p}")
    if cutoff is not None and not float(cutoff) >= 0:
        raise ValueError(f"cutoff must be ≥ 0 or None, got {cutoff!r}")
    if x.ndim not in (2, 3) or (distance_matrix and x.shape[-1] != x.shape[-2]):
        expected = "(B, B) or (n, B, B) distances" if distance_matrix else "(B, d) or (n, B, d)"
        raise ValueError(f"expected {expected}, got shape {tuple(x.shape)}")
    single = x.ndim == 2
    if single:
        x = x.unsqueeze(0)
    if distance_matrix:
        if backend == "fused":
            raise ValueError("backend='fused' reads point coordinates, not a distance matrix")
        pairs = pairing0(x)
        out = H0Deaths(death_times(x, pairs), pairs)
    elif backend == "fused":
        if float(p) != 2:
            raise ValueError(f"backend='fused' computes Euclidean deaths (p=2), got p={p}")
        out = H0Deaths(*_FusedDeaths.apply(x, None if cutoff is None else float(cutoff)))
    else:
        out = _point_deaths(x, float(p))
    deaths, pairs = out
    if cutoff is not None and backend == "pairing":  # in the input's dtype
        deaths = torch.where(deaths.detach() <= cutoff, deaths, float("inf"))
    if single:
        return H0Deaths(deaths[0], pairs[0])
    return H0Deaths(deaths, pairs)

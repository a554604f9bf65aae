"""Vietoris–Rips (flag) persistence of a point cloud or a distance matrix, differentiable.

Vertices enter at 0 and a simplex at its longest edge, so every finite birth and death is the
length of one edge (spec B.1). The complex holds all simplices up to dimension ``maxdim + 1``;
as in TopologyLayer every bar is returned, zero-length ones included: ``n`` bars in dimension 0
(the last one essential) and ``#edges − (n − 1)`` in dimension 1 for a connected cloud.

How the critical edges are found (numbers from ``benchmarks/bench_topology_layer.py``):

- dimension 0: the minimum spanning tree of :func:`topoexp.topology.pairing0` (the pairs TopoAE's
  signature uses, ties broken in ``(length, i, j)`` order) and a union-find for the dying vertex;
- dimension 1: ripser (cohomology with clearing and emergent pairs; far faster than anything
  practical to write here) gives the values of the bars of positive length, and each value is
  mapped back to *the* edge of that length. ripser works in float32, so this needs the float32
  edge lengths at those values to be distinct; when one is not (ties, as on a lattice, or
  lengths equal in float32), the pairs come from gudhi's ``flag_persistence_generators``
  instead, which is exact for any ties but ~15× slower than ripser. The remaining edges outside
  the spanning tree are the births of zero-length bars ``(ℓ_e, ℓ_e)`` at their own edge ``e``.
  ``maxdim >= 2`` always uses gudhi.

The benchmark measures the whole layer (distances, pairs, gather, backward) against ripser alone.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from topoexp.topology._common import detached_numpy, edge_lengths, flag_barcode
from topoexp.topology.barcode import Barcode
from topoexp.topology.pairing import pairing0
from topoexp.topology.unionfind import flag_h0

__all__ = ["flag_h0_pairs", "rips_barcodes"]


def flag_h0_pairs(sorted_edges: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Birth cells ``(n, 2)`` and death cells ``(n, 2)`` of dimension 0 from edges in filtration
    order: merges first (in order), then the essential bar(s) of each component (death ``-1``)."""
    birth_v = np.empty(max(n - 1, 0), np.int64)
    death_e = np.empty(max(n - 1, 0), np.int64)
    k = flag_h0(np.ascontiguousarray(sorted_edges, dtype=np.int64), n, birth_v, death_e)
    birth_v, death_e = birth_v[:k], death_e[:k]
    survivors = np.setdiff1d(np.arange(n), birth_v)
    births = np.concatenate([birth_v, survivors])
    deaths = np.concatenate(
        [sorted_edges[death_e].reshape(-1, 2), np.full((len(survivors), 2), -1)]
    )
    return np.stack([births, births], 1), deaths.astype(np.int64)


def _as_distance_matrix(x: Tensor, distance_matrix: bool) -> tuple[np.ndarray, object]:
    """Detached float64 symmetric distances, and a function giving differentiable edge lengths."""
    if not isinstance(x, Tensor):
        raise TypeError(f"expected a torch.Tensor, got {type(x).__name__}")
    if distance_matrix:
        if x.ndim != 2 or x.shape[0] != x.shape[1]:
            raise ValueError(f"expected an (n, n) distance matrix, got shape {tuple(x.shape)}")
        D = detached_numpy(x, "distance matrix").astype(np.float64)
        D = np.triu(D, 1)
        D = D + D.T
        if (D < 0).any():
            raise ValueError("distance matrix has negative entries")

        def lengths(edges: Tensor) -> Tensor:
            lo, hi = edges.min(dim=1).values, edges.max(dim=1).values
            return x[lo, hi]

        return D, lengths
    if x.ndim != 2:
        raise ValueError(f"expected an (n, d) point cloud, got shape {tuple(x.shape)}")
    pts = detached_numpy(x, "points").astype(np.float64)
    D = np.sqrt(np.square(pts[:, None, :] - pts[None, :, :]).sum(-1))
    return D, lambda edges: edge_lengths(x, edges)


def _ripser_h1(D: np.ndarray, tree: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Critical edges of all dimension-1 bars from ripser's values; None if a value is ambiguous."""
    import ripser

    n = D.shape[0]
    dgm = ripser.ripser(D, maxdim=1, distance_matrix=True)["dgms"][1]
    iu, ju = np.triu_indices(n, 1)
    L32 = D[iu, ju].astype(np.float32)
    by = np.argsort(L32, kind="stable")
    Ls = L32[by]
    vals = dgm.astype(np.float32).ravel()
    lo = np.searchsorted(Ls, vals, "left")
    hi = np.searchsorted(Ls, vals, "right")
    if len(vals) and not np.all(hi - lo == 1):
        return None
    cells = by[lo].reshape(-1, 2)  # (k, 2) edge ids (birth, death)
    edge_id = np.full((n, n), -1, np.int64)
    edge_id[iu, ju] = np.arange(len(iu))
    in_tree = np.zeros(len(iu), bool)
    in_tree[edge_id[tree[:, 0], tree[:, 1]]] = True
    born = np.zeros(len(iu), bool)
    born[cells[:, 0]] = True
    if (born & in_tree).any() or len(np.unique(cells[:, 0])) != len(cells):
        return None
    zero = np.flatnonzero(~in_tree & ~born)
    birth_ids = np.concatenate([cells[:, 0], zero])
    death_ids = np.concatenate([cells[:, 1], zero])
    edges = np.stack([iu, ju], 1)
    return edges[birth_ids], edges[death_ids]


def _gudhi_flag(D: np.ndarray, maxdim: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per dimension 1..maxdim: (birth edges, death edges or -1) from gudhi, all bars."""
    import gudhi

    st = gudhi.RipsComplex(distance_matrix=D).create_simplex_tree(max_dimension=maxdim + 1)
    return gudhi_flag_pairs(st, maxdim)


def gudhi_flag_pairs(st: object, maxdim: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per dimension 1..maxdim: critical edges (birth, death or -1) of a flag simplex tree."""
    st.compute_persistence(min_persistence=-1.0, persistence_dim_max=True)
    _, regular, _, essential = st.flag_persistence_generators()
    out = []
    for d in range(1, maxdim + 1):
        reg = regular[d - 1] if d - 1 < len(regular) else np.zeros((0, 4), np.int64)
        ess = essential[d - 1] if d - 1 < len(essential) else np.zeros((0, 2), np.int64)
        reg = np.asarray(reg, np.int64).reshape(-1, 4)
        ess = np.asarray(ess, np.int64).reshape(-1, 2)
        births = np.sort(np.concatenate([reg[:, :2], ess]), axis=1)
        deaths = np.concatenate([np.sort(reg[:, 2:], axis=1), np.full((len(ess), 2), -1)])
        out.append((births, deaths))
    return out


def rips_barcodes(x: Tensor, maxdim: int = 1, distance_matrix: bool = False) -> list[Barcode]:
    """Rips barcodes of dimensions ``0..maxdim``.

    Args:
        x: ``(n, d)`` points (Euclidean distances) or, with ``distance_matrix=True``, an
            ``(n, n)`` distance matrix (its upper triangle is read).
        maxdim: highest homology dimension.

    Returns:
        one :class:`Barcode` per dimension; values differentiable in ``x``.
    """
    if not isinstance(maxdim, int) or maxdim < 0:
        raise ValueError(f"maxdim must be a non-negative int, got {maxdim!r}")
    D, lengths = _as_distance_matrix(x, distance_matrix)
    n = D.shape[0]
    if n == 0:
        raise ValueError("empty point cloud")
    tree = pairing0(D) if n > 1 else np.zeros((0, 2), np.int64)
    out = [flag_barcode(lengths, 0, *flag_h0_pairs(tree, n), like=_like(x))]
    if maxdim == 0:
        return out
    pairs = _ripser_h1(D, tree) if maxdim == 1 and n > 2 else None
    higher = [pairs] if pairs is not None else _gudhi_flag(D, maxdim)
    for d, (b, dd) in enumerate(higher, start=1):
        out.append(flag_barcode(lengths, d, b, dd, like=_like(x)))
    return out


def _like(x: Tensor) -> Tensor:
    return x if x.is_floating_point() else x.to(torch.get_default_dtype())

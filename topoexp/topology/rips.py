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
  instead, which is exact for any ties but 13–16× slower than ripser (benchmark). The
  remaining edges outside the spanning tree are the births of zero-length bars ``(ℓ_e, ℓ_e)``
  at their own edge ``e``. A bar shorter than float32 resolution, dropped by ripser, becomes
  such a zero-length bar.
  ``maxdim >= 2`` always uses gudhi.

With gradients the whole layer (distances, pairs, gather, backward) takes 1.2–1.45× the time of
ripser alone on 100 points (benchmark; target ≤ 1.5×).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import torch
from torch import Tensor

from topoexp.topology._common import detached_numpy, flag_barcodes
from topoexp.topology.barcode import Barcode
from topoexp.topology.pairing import pairing0
from topoexp.topology.unionfind import flag_h0

__all__ = ["flag_h0_pairs", "rips_barcodes"]


def flag_h0_pairs(
    sorted_ids: np.ndarray, edges: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Dimension-0 birth vertices and death edge ids (``-1`` last: one per component) from the
    edge ids ``sorted_ids`` in filtration order (``edges`` the complex's edge list)."""
    m = max(n - 1, 0)
    birth_v = np.empty(m, np.int64)
    death_k = np.empty(m, np.int64)
    k = flag_h0(np.ascontiguousarray(edges[sorted_ids], dtype=np.int64), n, birth_v, death_k)
    birth_v, death_k = birth_v[:k], death_k[:k]
    alive = np.ones(n, bool)
    alive[birth_v] = False
    survivors = np.flatnonzero(alive)
    births = np.concatenate([birth_v, survivors])
    deaths = np.concatenate([np.asarray(sorted_ids)[death_k], np.full(len(survivors), -1)])
    return births, deaths.astype(np.int64)


@cache
def _triu(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Upper-triangle edges ``(E, 2)`` of n points in row-major order, and an (n, n) id table."""
    iu, ju = np.triu_indices(n, 1)
    ids = np.full((n, n), -1, np.int64)
    ids[iu, ju] = np.arange(len(iu))
    ids[ju, iu] = ids[iu, ju]
    edges = np.stack([iu, ju], 1)
    edges.flags.writeable = False
    ids.flags.writeable = False
    return edges, ids


def _as_distance_matrix(x: Tensor, distance_matrix: bool) -> tuple[np.ndarray, Tensor]:
    """Detached float64 symmetric distances, and the differentiable upper triangle ``(E,)``."""
    if not isinstance(x, Tensor):
        raise TypeError(f"expected a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        x = x.to(torch.get_default_dtype())
    if distance_matrix:
        if x.ndim != 2 or x.shape[0] != x.shape[1]:
            raise ValueError(f"expected an (n, n) distance matrix, got shape {tuple(x.shape)}")
        D = detached_numpy(x, "distance matrix").astype(np.float64)
        D = np.triu(D, 1)
        D = D + D.T
        if (D < 0).any():
            raise ValueError("distance matrix has negative entries")
        iu, ju = np.triu_indices(x.shape[0], 1)
        return D, x[torch.from_numpy(iu).to(x.device), torch.from_numpy(ju).to(x.device)]
    if x.ndim != 2:
        raise ValueError(f"expected an (n, d) point cloud, got shape {tuple(x.shape)}")
    detached_numpy(x, "points")  # rejects NaN / inf
    values = torch.nn.functional.pdist(x)  # upper triangle, row-major: the order of _triu
    from scipy.spatial.distance import squareform

    D = squareform(values.detach().cpu().numpy().astype(np.float64), checks=False)
    return D, values


def _lookup(L32: np.ndarray, vals: np.ndarray) -> np.ndarray | None:
    """Index of the unique entry of ``L32`` equal to each value; None if one is not unique."""
    if len(vals) * len(L32) <= 4_000_000:
        hits = L32[None, :] == vals[:, None]
        if not (hits.sum(1) == 1).all():
            return None
        return hits.argmax(1)
    by = np.argsort(L32, kind="stable")
    lo = np.searchsorted(L32[by], vals, "left")
    hi = np.searchsorted(L32[by], vals, "right")
    return by[lo] if np.all(hi - lo == 1) else None


def _ripser_h1(D: np.ndarray, tree_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Birth and death edge ids of all dimension-1 bars (ripser's values mapped back to their
    edges, then one zero-length bar per remaining edge outside the spanning tree); None if a
    value does not identify a unique edge."""
    import ripser

    n = D.shape[0]
    dgm = ripser.ripser(D, maxdim=1, distance_matrix=True)["dgms"][1]
    edges, _ = _triu(n)
    L32 = D[edges[:, 0], edges[:, 1]].astype(np.float32)
    cells = _lookup(L32, dgm.astype(np.float32).ravel())
    if cells is None:
        return None
    cells = cells.reshape(-1, 2)
    used = np.zeros(len(edges), bool)
    used[tree_ids] = True
    if used[cells[:, 0]].any():
        return None
    used[cells[:, 0]] = True
    if int(used.sum()) != len(tree_ids) + len(cells):  # a birth edge repeated
        return None
    zero = np.flatnonzero(~used)
    return np.concatenate([cells[:, 0], zero]), np.concatenate([cells[:, 1], zero])


def _gudhi_flag(D: np.ndarray, maxdim: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per dimension 1..maxdim: (birth, death) edge ids of all bars, from gudhi."""
    import gudhi

    st = gudhi.RipsComplex(distance_matrix=D).create_simplex_tree(max_dimension=maxdim + 1)
    _, ids = _triu(D.shape[0])
    return [
        (ids[b[:, 0], b[:, 1]], np.where(d[:, 0] >= 0, ids[d[:, 0], d[:, 1]], -1))
        for b, d in gudhi_flag_pairs(st, maxdim)
    ]


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
    D, values = _as_distance_matrix(x, distance_matrix)
    n = D.shape[0]
    if n == 0:
        raise ValueError("empty point cloud")
    edges, ids = _triu(n)
    tree = pairing0(D) if n > 1 else np.zeros((0, 2), np.int64)
    tree_ids = ids[tree[:, 0], tree[:, 1]]
    pairs = [flag_h0_pairs(tree_ids, edges, n)]
    if maxdim >= 1:
        h1 = _ripser_h1(D, tree_ids) if maxdim == 1 and n > 2 else None
        pairs += [h1] if h1 is not None else _gudhi_flag(D, maxdim)
    return flag_barcodes(
        lambda idx: values[torch.from_numpy(idx).to(values.device)], edges, pairs, values
    )

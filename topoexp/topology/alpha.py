"""Weak alpha persistence: the flag (Rips) filtration restricted to the Delaunay triangulation.

As TopologyLayer's ``AlphaLayer`` (spec B.1): the complex is rebuilt from the current points at
every call (scipy's Delaunay, simplices up to dimension ``maxdim + 1``); vertices enter at 0, a
simplex at its longest edge. Points on a line (``(n, 1)`` input) use the path through the sorted
values. Every bar is returned, zero-length ones included.

Which algorithm computes the pairs (``benchmarks/bench_topology_layer.py``, 100 points in 2-D):

- dimension 0: Kruskal's union-find over the Delaunay edges sorted by ``(length, i, j)``;
- dimension 1 in 2-D: the triangulation is a disc, so the compiled dual union-find of
  :mod:`topoexp.topology.unionfind` pairs it (one bar per triangle, the cycle it kills), with
  edges and faces read off scipy's neighbour table. Beyond the Delaunay call this is 4–4.6× faster
  than filling a gudhi simplex tree and asking for ``flag_persistence_generators``, the peer's
  method; the whole layer with gradients takes 1.5–1.8× the peer's time (target ≤ 2×).
- dimension >= 1 in 3-D and above: gudhi's simplex tree on the Delaunay faces.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import combinations

import numpy as np
import torch
from numba import njit
from torch import Tensor

from topoexp.topology._common import detached_numpy, edge_lengths, flag_barcodes
from topoexp.topology.barcode import Barcode
from topoexp.topology.rips import flag_h0_pairs, gudhi_flag_pairs
from topoexp.topology.unionfind import flag_h0, flag_h1_planar

__all__ = ["delaunay_complex", "weak_alpha_barcode_1d", "weak_alpha_barcodes"]


@njit(cache=True, nogil=True)
def _line_cells(
    idx: np.ndarray, values: np.ndarray, bcells: np.ndarray, dcells: np.ndarray
) -> None:
    """Critical cells of the path through each row's sorted values (``idx`` the sort order).

    Kruskal over the path's edges in ``(length, i, j)`` order (a stable sort by length, then
    the short runs of equal length put in ``(i, j)`` order) gives the dying vertex of each edge;
    the essential bar (last) is born at vertex 0, the oldest, and has death cell ``(-1, -1)``.
    """
    n_rows, n = idx.shape
    m = n - 1
    birth_v = np.empty(m, np.int64)
    death_k = np.empty(m, np.int64)
    e = np.empty((m, 2), np.int64)
    w = np.empty(m)
    sorted_edges = np.empty((m, 2), np.int64)
    for r in range(n_rows):
        for t in range(m):
            a, c = idx[r, t], idx[r, t + 1]
            e[t, 0], e[t, 1] = min(a, c), max(a, c)
            w[t] = abs(values[r, t + 1] - values[r, t])
        o = np.argsort(w, kind="mergesort")
        lo = 0
        while lo < m:
            hi = lo + 1
            while hi < m and w[o[hi]] == w[o[lo]]:
                hi += 1
            for t in range(lo + 1, hi):
                cur, q = o[t], t
                while q > lo and (
                    e[o[q - 1], 0] > e[cur, 0]
                    or (e[o[q - 1], 0] == e[cur, 0] and e[o[q - 1], 1] > e[cur, 1])
                ):
                    o[q] = o[q - 1]
                    q -= 1
                o[q] = cur
            lo = hi
        for t in range(m):
            sorted_edges[t, 0], sorted_edges[t, 1] = e[o[t], 0], e[o[t], 1]
            dcells[r, t, 0], dcells[r, t, 1] = e[t, 0], e[t, 1]
        bcells[r, m, 0] = bcells[r, m, 1] = 0
        dcells[r, m, 0] = dcells[r, m, 1] = -1
        k = flag_h0(sorted_edges, n, birth_v, death_k)
        for t in range(k):
            g = o[death_k[t]]
            bcells[r, g, 0] = bcells[r, g, 1] = birth_v[t]


def weak_alpha_barcode_1d(values: Tensor) -> Barcode:
    """H0 weak alpha barcode of ``n`` points on the line, for any leading batch dimensions.

    In 1-D the Delaunay complex is the path through the sorted values, so bar ``t < n − 1`` is
    ``[0, gap_t]`` for the gap between the ``t``-th and ``(t + 1)``-th smallest value (death cell:
    those two points), and bar ``n − 1`` is ``[0, +inf]``; the birth cells are the vertices that
    :func:`weak_alpha_barcodes` on ``(n, 1)`` points pairs with those gaps (Kruskal in ``(length,
    i, j)`` order, the smaller index older), so the two give the same bars up to their order.
    The gaps are differences of the sorted values (at equal values their gradient is ±1, where
    :func:`weak_alpha_barcodes` gives the length's subgradient 0).
    """
    if not isinstance(values, Tensor) or values.ndim == 0 or values.shape[-1] == 0:
        raise ValueError("expected values of shape (..., n), n ≥ 1")
    ordered = values.sort(dim=-1)
    gaps = ordered.values.diff(dim=-1)
    inf = torch.full_like(values[..., :1], float("inf"))
    deaths = torch.cat([gaps, inf], dim=-1)
    n, lead = values.shape[-1], values.shape[:-1]
    idx = ordered.indices.reshape(-1, n).cpu().numpy()
    bcells = np.empty((len(idx), n, 2), np.int64)
    dcells = np.empty((len(idx), n, 2), np.int64)
    _line_cells(idx, ordered.values.detach().reshape(-1, n).cpu().double().numpy(), bcells, dcells)
    device = values.device
    return Barcode(
        torch.zeros_like(deaths),
        deaths,
        0,
        torch.from_numpy(bcells).reshape(*lead, n, 2).to(device),
        torch.from_numpy(dcells).reshape(*lead, n, 2).to(device),
        sublevel=True,
    )


def _delaunay(points: np.ndarray) -> object:
    from scipy.spatial import Delaunay, QhullError

    try:
        tri = Delaunay(points)
    except QhullError as err:
        raise ValueError(
            "Delaunay triangulation failed (points affinely dependent or too few): "
            f"{str(err).splitlines()[0]}"
        ) from err
    if len(tri.coplanar):
        raise ValueError("Delaunay triangulation dropped coincident points; remove duplicates")
    return tri


def delaunay_complex(points: np.ndarray) -> np.ndarray:
    """Delaunay top simplices ``(m, d + 1)`` (rows sorted) of ``(n, d)`` points, ``d >= 2``."""
    return np.sort(_delaunay(points).simplices.astype(np.int64), axis=1)


def _planar_delaunay(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges ``(E, 2)`` (rows sorted), their faces ``(E, 2)`` (``T`` = outer) and the triangles'
    edge ids ``(T, 3)`` of a 2-D Delaunay triangulation, read off scipy's neighbour table."""
    tri = _delaunay(points)
    simp = tri.simplices.astype(np.int64)
    nb = tri.neighbors.astype(np.int64)
    n_tri = len(simp)
    t = np.arange(n_tri)
    other = ((1, 2), (0, 2), (0, 1))  # the edge opposite local vertex k
    ends = np.stack([simp[:, list(o)] for o in other], 1)  # (T, 3, 2)
    own = (nb < 0) | (t[:, None] < nb)  # each edge listed once, by its lower triangle
    tri_edges = np.full((n_tri, 3), -1, np.int64)
    tri_edges[own] = np.arange(int(own.sum()))
    edges = np.sort(ends[own], axis=1)
    faces = np.stack([np.broadcast_to(t[:, None], nb.shape)[own], nb[own]], 1)
    faces[faces < 0] = n_tri
    tt, kk = np.nonzero(~own)  # the same edge seen from its higher triangle
    s = nb[tt, kk]
    ks = np.argmax(nb[s] == tt[:, None], axis=1)
    tri_edges[tt, kk] = tri_edges[s, ks]
    return edges, faces, tri_edges


def _faces(top: np.ndarray, dim: int) -> np.ndarray:
    """Unique ``dim``-faces (rows sorted, lexicographic order) of the top simplices."""
    cols = list(combinations(range(top.shape[1]), dim + 1))
    return np.unique(np.concatenate([top[:, list(c)] for c in cols]), axis=0)


def _sorted_edges(pts: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edge ids in ``(length, i, j)`` order, and the lengths."""
    length = np.sqrt(np.square(pts[edges[:, 0]] - pts[edges[:, 1]]).sum(-1))
    return np.lexsort((edges[:, 1], edges[:, 0], length)), length


def _lengths_of(x: Tensor, edges: np.ndarray) -> Callable[[np.ndarray], Tensor]:
    """Differentiable lengths of the edges with given ids (rows of ``edges``)."""
    return lambda ids: edge_lengths(x, torch.from_numpy(edges[ids]).to(x.device))


def weak_alpha_barcodes(x: Tensor, maxdim: int = 0) -> list[Barcode]:
    """Weak alpha barcodes of dimensions ``0..maxdim`` of the ``(n, d)`` points ``x``."""
    if not isinstance(x, Tensor):
        raise TypeError(f"expected a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"expected an (n, d) point cloud, got shape {tuple(x.shape)}")
    if not isinstance(maxdim, int) or maxdim < 0:
        raise ValueError(f"maxdim must be a non-negative int, got {maxdim!r}")
    if not x.is_floating_point():
        x = x.to(torch.get_default_dtype())
    pts = detached_numpy(x, "points").astype(np.float64)
    n, d = pts.shape
    empty = np.zeros(0, np.int64)

    if d == 1 or n <= 2:
        path = np.argsort(pts[:, 0], kind="stable")
        edges = np.sort(np.stack([path[:-1], path[1:]], 1), axis=1)
        edges = edges[np.lexsort((edges[:, 1], edges[:, 0]))]
        order, _ = _sorted_edges(pts, edges)
        pairs = [flag_h0_pairs(order, edges, n)] + [(empty, empty)] * maxdim
        return flag_barcodes(_lengths_of(x, edges), edges, pairs, x)

    if d == 2:
        edges, faces, tri_edges = _planar_delaunay(pts)
    else:
        top = delaunay_complex(pts)
        edges = _faces(top, 1)
    order, length = _sorted_edges(pts, edges)
    h0 = flag_h0_pairs(order, edges, n)
    if maxdim == 0:
        return flag_barcodes(_lengths_of(x, edges), edges, [h0], x)
    if d == 2:
        rank = np.empty(len(edges), np.int64)
        rank[order] = np.arange(len(edges))
        birth = np.empty(len(tri_edges), np.int64)
        death = np.empty(len(tri_edges), np.int64)
        flag_h1_planar(rank, faces, tri_edges, birth, death)
        pairs = [h0, (birth, death)] + [(empty, empty)] * (maxdim - 1)
    else:
        import gudhi

        st = gudhi.SimplexTree()
        st.insert_batch(np.arange(n)[None, :], np.zeros(n))
        st.insert_batch(edges.T, length)
        for k in range(2, min(maxdim + 1, d) + 1):
            faces = _faces(top, k)
            sub = list(combinations(range(k + 1), 2))
            flt = np.max(
                [np.sqrt(np.square(pts[faces[:, a]] - pts[faces[:, b]]).sum(-1)) for a, b in sub],
                axis=0,
            )
            st.insert_batch(faces.T, flt)
        codes = edges[:, 0] * n + edges[:, 1]

        def edge_id(e: np.ndarray) -> np.ndarray:
            out = np.searchsorted(codes, e[:, 0] * n + e[:, 1])
            return np.where(e[:, 0] >= 0, out, -1)

        pairs = [h0] + [(edge_id(b), edge_id(dd)) for b, dd in gudhi_flag_pairs(st, maxdim)]
    return flag_barcodes(_lengths_of(x, edges), edges, pairs, x)

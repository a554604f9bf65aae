"""Compiled union-find kernels for the persistence pairs of 0- and planar 1-dimensional homology.

All kernels take a *strict* total order on the cells (ties in the values broken by index), so
their pairs are the unique persistence pairing of that order, the one any exact reduction of the
same order finds. They return critical cells only; values are gathered by the callers.

Lower-star (level set) order: vertices by ``rank`` (a stable argsort of the values); an edge
``{u, v}`` by ``(rank max, rank min)``; a triangle by its three vertex ranks in decreasing order;
a simplex after all simplices of lower dimension with the same top vertex.

0-dimensional pairs (:func:`levelset_h0`, :func:`flag_h0`) are Kruskal's union-find with the
elder rule. 1-dimensional pairs of a *planar* triangulated disc (the Freudenthal grid, a 2-D
Delaunay triangulation) come from duality: an edge that creates a cycle is one that joins two
components of the dual graph (triangles plus one outer cell, joined across edges) when the edges
are added in *decreasing* order, and the cycle dies at the younger of the two components' oldest
triangles (:func:`levelset_h1_planar`, :func:`flag_h1_planar`). Every triangle kills exactly one
cycle, so bar ``t`` of dimension 1 is the one killed by triangle ``t``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "flag_h0",
    "flag_h1_planar",
    "grid_centre_order",
    "grid_extra_bars",
    "levelset_h0",
    "levelset_h1_planar",
]

_OUTER_KEY = np.iinfo(np.int64).max


@njit(cache=True, nogil=True, inline="always")
def _find(parent: np.ndarray, x: int) -> int:
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


@njit(cache=True, nogil=True)
def levelset_h0(
    order: np.ndarray, rank: np.ndarray, indptr: np.ndarray, nbr: np.ndarray, death: np.ndarray
) -> None:
    """0-dim lower-star pairs of a batch of vertex functions on one graph.

    Args:
        order, rank: ``(B, V)`` stable argsort of each row of values and its inverse.
        indptr, nbr: CSR adjacency of the graph (neighbours of ``v`` are
            ``nbr[indptr[v]:indptr[v + 1]]``).
        death: ``(B, V)`` output: the vertex whose value kills the bar born at each vertex, ``-1``
            for the essential bars.
    """
    n_batch, n_vert = order.shape
    parent = np.empty(n_vert, np.int64)
    buf = np.empty(max(1, indptr.shape[0]), np.int64)
    for b in range(n_batch):
        rk = rank[b]
        for v in range(n_vert):
            parent[v] = v
            death[b, v] = -1
        for k in range(n_vert):
            v = order[b, k]
            rv = rk[v]
            cnt = 0
            for p in range(indptr[v], indptr[v + 1]):
                r = rk[nbr[p]]
                if r < rv:  # insertion sort of the lower neighbours' ranks, ascending
                    q = cnt
                    while q > 0 and buf[q - 1] > r:
                        buf[q] = buf[q - 1]
                        q -= 1
                    buf[q] = r
                    cnt += 1
            for q in range(cnt):
                a = _find(parent, order[b, buf[q]])
                c = _find(parent, v)
                if a == c:
                    continue
                if rk[a] < rk[c]:
                    young, old = c, a
                else:
                    young, old = a, c
                parent[young] = old
                death[b, young] = v


@njit(cache=True, nogil=True)
def levelset_h1_planar(
    order: np.ndarray,
    rank: np.ndarray,
    indptr: np.ndarray,
    nbr: np.ndarray,
    nbr_edge: np.ndarray,
    edge_faces: np.ndarray,
    tri: np.ndarray,
    birth: np.ndarray,
    death: np.ndarray,
) -> None:
    """1-dim lower-star pairs of a batch of vertex functions on a planar triangulated disc.

    Args:
        order, rank, indptr, nbr: as in :func:`levelset_h0`; ``nbr_edge`` the edge id of each
            CSR entry.
        edge_faces: ``(E, 2)`` the two faces of each edge (triangle ids, ``T`` = the outer cell).
        tri: ``(T, 3)`` vertices of each triangle.
        birth, death: ``(B, T)`` outputs: the vertex carrying the birth (top vertex of the
            creating edge) and the death (top vertex of the triangle) of the cycle killed by each
            triangle.
    """
    n_batch, n_vert = order.shape
    n_tri = tri.shape[0]
    parent = np.empty(n_tri + 1, np.int64)
    key = np.empty(n_tri + 1, np.int64)
    buf_r = np.empty(max(1, indptr.shape[0]), np.int64)
    buf_e = np.empty(max(1, indptr.shape[0]), np.int64)
    vv = np.int64(n_vert)
    for b in range(n_batch):
        rk = rank[b]
        for t in range(n_tri):
            r0, r1, r2 = rk[tri[t, 0]], rk[tri[t, 1]], rk[tri[t, 2]]
            hi = max(r0, max(r1, r2))
            lo = min(r0, min(r1, r2))
            mid = r0 + r1 + r2 - hi - lo
            key[t] = (hi * vv + mid) * vv + lo
            death[b, t] = order[b, hi]
            birth[b, t] = -1
            parent[t] = t
        key[n_tri] = _OUTER_KEY
        parent[n_tri] = n_tri
        for k in range(n_vert - 1, -1, -1):
            v = order[b, k]
            rv = rk[v]
            cnt = 0
            for p in range(indptr[v], indptr[v + 1]):
                r = rk[nbr[p]]
                if r < rv:  # insertion sort, descending rank of the other endpoint
                    q = cnt
                    while q > 0 and buf_r[q - 1] < r:
                        buf_r[q] = buf_r[q - 1]
                        buf_e[q] = buf_e[q - 1]
                        q -= 1
                    buf_r[q] = r
                    buf_e[q] = nbr_edge[p]
                    cnt += 1
            for q in range(cnt):
                e = buf_e[q]
                a = _find(parent, edge_faces[e, 0])
                c = _find(parent, edge_faces[e, 1])
                if a == c:
                    continue
                if key[a] < key[c]:
                    young, old = a, c
                else:
                    young, old = c, a
                parent[young] = old
                birth[b, young] = v


@njit(cache=True, nogil=True)
def flag_h0(
    edges: np.ndarray, n_vert: int, birth_vertex: np.ndarray, death_edge: np.ndarray
) -> int:
    """0-dim flag pairs: Kruskal over ``edges`` (``(m, 2)``, already in filtration order).

    All vertices are born at 0; among them the smaller index is older. Writes, for the k-th merge,
    the vertex whose component dies and the edge (row of ``edges``) that kills it; returns the
    number of merges (``n_vert - 1`` for a connected graph).
    """
    parent = np.arange(n_vert)
    k = 0
    for e in range(edges.shape[0]):
        a = _find(parent, edges[e, 0])
        c = _find(parent, edges[e, 1])
        if a == c:
            continue
        young, old = (a, c) if a > c else (c, a)
        parent[young] = old
        birth_vertex[k] = young
        death_edge[k] = e
        k += 1
    return k


@njit(cache=True, nogil=True)
def flag_h1_planar(
    edge_rank: np.ndarray,
    edge_faces: np.ndarray,
    tri_edges: np.ndarray,
    birth_edge: np.ndarray,
    death_edge: np.ndarray,
) -> None:
    """1-dim flag pairs of a planar triangulated disc.

    Args:
        edge_rank: ``(E,)`` position of each edge in the filtration order (a permutation).
        edge_faces: ``(E, 2)`` faces of each edge (``T`` = the outer cell).
        tri_edges: ``(T, 3)`` edge ids of each triangle; a triangle enters with its longest edge
            and, among equal longest edges, by the ranks of its edges in decreasing order.
        birth_edge, death_edge: ``(T,)`` outputs: the edge creating and the edge (the longest of
            the triangle) carrying the death of the cycle killed by each triangle.
    """
    n_edge = edge_rank.shape[0]
    n_tri = tri_edges.shape[0]
    ee = np.int64(n_edge)
    parent = np.arange(n_tri + 1)
    key = np.empty(n_tri + 1, np.int64)
    for t in range(n_tri):
        r0, r1, r2 = (
            edge_rank[tri_edges[t, 0]],
            edge_rank[tri_edges[t, 1]],
            edge_rank[tri_edges[t, 2]],
        )
        hi = max(r0, max(r1, r2))
        lo = min(r0, min(r1, r2))
        mid = r0 + r1 + r2 - hi - lo
        key[t] = (hi * ee + mid) * ee + lo
        for j in range(3):
            if edge_rank[tri_edges[t, j]] == hi:
                death_edge[t] = tri_edges[t, j]
        birth_edge[t] = -1
    key[n_tri] = _OUTER_KEY
    by_rank = np.empty(n_edge, np.int64)
    for e in range(n_edge):
        by_rank[edge_rank[e]] = e
    for r in range(n_edge - 1, -1, -1):
        e = by_rank[r]
        a = _find(parent, edge_faces[e, 0])
        c = _find(parent, edge_faces[e, 1])
        if a == c:
            continue
        if key[a] < key[c]:
            young, old = a, c
        else:
            young, old = c, a
        parent[young] = old
        birth_edge[young] = e


@njit(cache=True, nogil=True)
def grid_centre_order(
    order: np.ndarray,
    rank: np.ndarray,
    corners: np.ndarray,
    ext_order: np.ndarray,
    ext_rank: np.ndarray,
    carrier: np.ndarray,
) -> None:
    """Total order of the pixels plus one centre vertex per square (see ``grid_surrogate``).

    Args:
        order, rank: ``(B, V)`` the pixels' order and its inverse.
        corners: ``(S, 4)`` each square's corners ``(tl, tr, bl, br)``.
        ext_order, ext_rank: ``(B, V + S)`` outputs over pixels and centres (centre ``s`` is
            vertex ``V + s``); a centre follows the pixel that carries its value, centres after
            the same pixel by square index.
        carrier: ``(B, S)`` output: the pixel whose value is the centre's,
            ``min(max(tl, br), max(tr, bl))`` in the pixel order.
    """
    n_batch, n_vert = order.shape
    n_sq = corners.shape[0]
    count = np.zeros(n_vert, np.int64)
    start = np.empty(n_vert, np.int64)
    crank = np.empty(n_sq, np.int64)
    for b in range(n_batch):
        rk = rank[b]
        count[:] = 0
        for s in range(n_sq):
            r1 = max(rk[corners[s, 0]], rk[corners[s, 3]])
            r2 = max(rk[corners[s, 1]], rk[corners[s, 2]])
            r = min(r1, r2)
            crank[s] = r
            count[r] += 1
            carrier[b, s] = order[b, r]
        pos = 0
        for r in range(n_vert):
            start[r] = pos
            ext_order[b, pos] = order[b, r]
            pos += 1 + count[r]
        for s in range(n_sq):
            r = crank[s]
            start[r] += 1
            ext_order[b, start[r]] = n_vert + s
        for i in range(n_vert + n_sq):
            ext_rank[b, ext_order[b, i]] = i


@njit(cache=True, nogil=True)
def grid_extra_bars(
    g: np.ndarray,
    order: np.ndarray,
    corners: np.ndarray,
    birth: np.ndarray,
    death: np.ndarray,
    keep: np.ndarray,
) -> None:
    """Mark (``keep = False``) one zero-length bar per square of the ``"grid"`` stand-in.

    Counting edges value by value, the stand-in has per square one more zero-length bar than the
    ``"grid"`` complex, at the value ``max(m, min(p, q))`` with ``m`` the centre's value and
    ``(p, q)`` the other diagonal; one zero-length bar at each such value is left out.

    Args:
        g, order: ``(B, V)`` pixel values and their stable argsort.
        corners: ``(S, 4)`` each square's ``(tl, tr, bl, br)``.
        birth, death: ``(B, K)`` critical pixels of the stand-in's bars.
        keep: ``(B, K)`` output.
    """
    n_batch, n_vert = g.shape
    cls = np.empty(n_vert, np.int64)
    need = np.zeros(n_vert, np.int64)
    for b in range(n_batch):
        c = 0
        for k in range(n_vert):  # dense value classes: equal values share one
            if k > 0 and g[b, order[b, k]] != g[b, order[b, k - 1]]:
                c += 1
            cls[order[b, k]] = c
        need[: c + 1] = 0
        for s in range(corners.shape[0]):
            tl, tr = cls[corners[s, 0]], cls[corners[s, 1]]
            bl, br = cls[corners[s, 2]], cls[corners[s, 3]]
            d1, d2 = max(tl, br), max(tr, bl)
            other = min(tr, bl) if d1 <= d2 else min(tl, br)
            need[max(min(d1, d2), other)] += 1
        for t in range(birth.shape[1]):
            cb = cls[birth[b, t]]
            if cb == cls[death[b, t]] and need[cb] > 0:
                need[cb] -= 1
                keep[b, t] = False
            else:
                keep[b, t] = True

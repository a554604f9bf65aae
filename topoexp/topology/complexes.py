"""Fixed simplicial complexes for level-set filtrations: paths, 2-D grids, any complex.

Grids follow TopologyLayer (spec B.1): for ``size = (width, height)`` the vertex of row ``i`` and
column ``j`` is ``i * width + j`` (an image of shape ``(height, width)`` flattened row-major);
edges go right ``(ind, ind + 1)`` and down ``(ind, ind + width)``;

- ``"freudenthal"`` adds one diagonal ``(ind, ind + width + 1)`` per square and its two triangles;
- ``"grid"`` adds both diagonals and the four triangles on each square's vertices;
- ``"delaunay"`` is scipy's Delaunay triangulation of the lattice points ``(j, i)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

__all__ = ["GRID_COMPLEXES", "SimplicialComplex", "grid_complex", "path_complex"]

GRID_COMPLEXES = ("freudenthal", "grid", "delaunay")


class SimplicialComplex:
    """A finite simplicial complex on vertices ``0 .. n - 1``, built by :meth:`append`.

    As TopologyLayer's ``SimplicialComplex``: the caller adds every face (repeats are ignored);
    :meth:`check` (called by the layers) raises ``ValueError`` for a missing face. Simplices are
    kept as one sorted ``(m, d + 1)`` array per dimension.
    """

    def __init__(self) -> None:
        self._arrays: dict[int, np.ndarray] = {}
        self._pending: list[tuple[int, ...]] = []
        self._checked = False

    def __repr__(self) -> str:
        counts = [len(self.simplices(d)) for d in range(self.dim + 1)]
        return f"SimplicialComplex(simplices per dimension: {counts})"

    def append(self, simplex: Iterable[int]) -> None:
        s = tuple(sorted(int(v) for v in simplex))
        if not s or s[0] < 0 or len(set(s)) != len(s):
            raise ValueError(f"a simplex needs distinct non-negative vertex ids, got {simplex!r}")
        self._pending.append(s)
        self._checked = False

    @classmethod
    def from_simplices(cls, simplices: Iterable[Iterable[int]]) -> SimplicialComplex:
        cx = cls()
        for s in simplices:
            cx.append(s)
        return cx

    @classmethod
    def from_arrays(cls, arrays: Sequence[np.ndarray]) -> SimplicialComplex:
        """A complex from ``(m, d + 1)`` vertex arrays, one per dimension (faces not added)."""
        cx = cls()
        for arr in arrays:
            arr = np.asarray(arr, dtype=np.int64)
            if arr.ndim != 2 or not len(arr):
                continue
            cx._merge(arr.shape[1] - 1, arr)
        return cx

    def _merge(self, dim: int, rows: np.ndarray) -> None:
        rows = np.sort(rows, axis=1)
        if (rows[:, 0] < 0).any() or (rows.shape[1] > 1 and (np.diff(rows, axis=1) == 0).any()):
            raise ValueError("a simplex needs distinct non-negative vertex ids")
        if dim in self._arrays:
            rows = np.concatenate([self._arrays[dim], rows])
        self._arrays[dim] = np.unique(rows, axis=0)
        self._checked = False

    def _flush(self) -> None:
        if not self._pending:
            return
        by_dim: dict[int, list[tuple[int, ...]]] = {}
        for s in self._pending:
            by_dim.setdefault(len(s) - 1, []).append(s)
        self._pending = []
        for dim, rows in by_dim.items():
            self._merge(dim, np.asarray(rows, dtype=np.int64).reshape(len(rows), dim + 1))

    @property
    def dim(self) -> int:
        self._flush()
        return max(self._arrays, default=-1)

    @property
    def n_vertices(self) -> int:
        return len(self.simplices(0))

    def simplices(self, dim: int) -> np.ndarray:
        """``(m, dim + 1)`` int64 array of the ``dim``-simplices, rows sorted, lexicographic."""
        self._flush()
        return self._arrays.get(dim, np.zeros((0, dim + 1), np.int64))

    def check(self) -> None:
        """``ValueError`` unless the vertices are ``0 .. n - 1`` and every face is present."""
        if self._checked and not self._pending:
            return
        verts = self.simplices(0)[:, 0]
        if len(verts) == 0:
            raise ValueError("the complex has no vertices")
        if verts[-1] != len(verts) - 1:
            raise ValueError(f"vertices must be 0 .. {len(verts) - 1} (every vertex appended)")
        for d in range(1, self.dim + 1):
            simp = self.simplices(d)
            if not len(simp):
                continue
            faces = np.concatenate([np.delete(simp, j, axis=1) for j in range(d + 1)])
            present = self.simplices(d - 1)
            both = np.concatenate([present, faces])
            _, inv = np.unique(both, axis=0, return_inverse=True)
            inv = inv.ravel()
            missing = ~np.isin(inv[len(present) :], inv[: len(present)])
            if missing.any():
                face = faces[np.flatnonzero(missing)[0]]
                raise ValueError(f"face {tuple(face.tolist())} of a {d}-simplex was not appended")
        self._checked = True


def path_complex(size: int) -> SimplicialComplex:
    """The path graph ``0 - 1 - ... - (size - 1)`` (TopologyLayer's ``LevelSetLayer1D``)."""
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    idx = np.arange(size)
    return _from_arrays([idx[:, None], np.stack([idx[:-1], idx[1:]], 1)])


def grid_complex(width: int, height: int, kind: str = "freudenthal") -> SimplicialComplex:
    """Triangulated ``width × height`` grid (module docstring)."""
    if kind not in GRID_COMPLEXES:
        raise ValueError(f"complex must be one of {GRID_COMPLEXES}, got {kind!r}")
    if width < 1 or height < 1:
        raise ValueError(f"grid size must be positive, got ({width}, {height})")
    return _from_arrays(list(_grid_arrays(width, height, kind)))


@cache
def _grid_arrays(width: int, height: int, kind: str) -> tuple[np.ndarray, ...]:
    ind = np.arange(width * height).reshape(height, width)
    verts = ind.reshape(-1, 1)
    right = np.stack([ind[:, :-1].ravel(), ind[:, 1:].ravel()], 1)
    down = np.stack([ind[:-1, :].ravel(), ind[1:, :].ravel()], 1)
    tl, tr = ind[:-1, :-1].ravel(), ind[:-1, 1:].ravel()
    bl, br = ind[1:, :-1].ravel(), ind[1:, 1:].ravel()
    if kind == "delaunay":
        if width < 2 or height < 2:
            return verts, np.concatenate([right, down])
        from scipy.spatial import Delaunay

        ii, jj = np.divmod(np.arange(width * height), width)
        tris = np.sort(Delaunay(np.stack([jj, ii], 1).astype(float)).simplices, axis=1)
        edges = np.unique(
            np.concatenate([tris[:, [0, 1]], tris[:, [0, 2]], tris[:, [1, 2]]]), axis=0
        )
        return verts, edges, tris
    edges = [right, down, np.stack([tl, br], 1)]
    tris = [np.stack([tl, tr, br], 1), np.stack([tl, bl, br], 1)]
    if kind == "grid":
        edges.append(np.stack([tr, bl], 1))
        tris += [np.stack([tl, tr, bl], 1), np.stack([tr, bl, br], 1)]
    return verts, np.concatenate(edges), np.concatenate(tris)


def _from_arrays(arrays: Sequence[np.ndarray]) -> SimplicialComplex:
    """A complex built here, valid by construction (no face check needed)."""
    cx = SimplicialComplex.from_arrays(arrays)
    cx._checked = True
    return cx


@dataclass(frozen=True)
class PlanarTriangulation:
    """Arrays the planar union-find kernels need (see :mod:`topoexp.topology.unionfind`).

    ``edges (E, 2)``, ``tris (T, 3)``, CSR adjacency ``indptr, nbr, nbr_edge``, ``edge_faces
    (E, 2)`` (triangle ids, ``T`` = outer cell) and ``tri_edges (T, 3)``.
    """

    n_vertices: int
    edges: np.ndarray
    tris: np.ndarray
    indptr: np.ndarray
    nbr: np.ndarray
    nbr_edge: np.ndarray
    edge_faces: np.ndarray
    tri_edges: np.ndarray


def graph_csr(n_vertices: int, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR adjacency ``(indptr, nbr, nbr_edge)`` of an undirected graph given by its edges."""
    src = np.concatenate([edges[:, 0], edges[:, 1]])
    dst = np.concatenate([edges[:, 1], edges[:, 0]])
    eid = np.concatenate([np.arange(len(edges)), np.arange(len(edges))])
    by = np.argsort(src, kind="stable")
    indptr = np.zeros(n_vertices + 1, np.int64)
    np.cumsum(np.bincount(src, minlength=n_vertices), out=indptr[1:])
    return indptr, dst[by].astype(np.int64), eid[by].astype(np.int64)


def planar_triangulation(
    n_vertices: int, edges: np.ndarray, tris: np.ndarray
) -> PlanarTriangulation:
    """Adjacency arrays of a triangulated disc; ``ValueError`` if an edge has more than 2 faces,
    a triangle edge is missing, or the Euler characteristic is not 1."""
    edges = np.sort(np.asarray(edges, np.int64), axis=1)
    tris = np.sort(np.asarray(tris, np.int64), axis=1)
    n_e, n_t = len(edges), len(tris)
    if n_vertices - n_e + n_t != 1:
        raise ValueError("not a triangulated disc (Euler characteristic != 1)")
    codes = edges[:, 0] * n_vertices + edges[:, 1]
    by = np.argsort(codes)
    tri_codes = np.stack(
        [
            tris[:, 0] * n_vertices + tris[:, 1],
            tris[:, 0] * n_vertices + tris[:, 2],
            tris[:, 1] * n_vertices + tris[:, 2],
        ],
        1,
    )
    pos = np.searchsorted(codes[by], tri_codes)
    pos = np.minimum(pos, n_e - 1)
    tri_edges = by[pos]
    if not np.array_equal(codes[tri_edges], tri_codes):
        raise ValueError("a triangle's edge is not in the complex")
    counts = np.bincount(tri_edges.ravel(), minlength=n_e)
    if counts.max(initial=0) > 2:
        raise ValueError("not planar: an edge lies in more than two triangles")
    edge_faces = np.full((n_e, 2), n_t, np.int64)
    flat_e = tri_edges.ravel()
    flat_t = np.repeat(np.arange(n_t), 3)
    order = np.argsort(flat_e, kind="stable")
    flat_e, flat_t = flat_e[order], flat_t[order]
    first = np.ones(len(flat_e), bool)
    first[1:] = flat_e[1:] != flat_e[:-1]
    edge_faces[flat_e[first], 0] = flat_t[first]
    edge_faces[flat_e[~first], 1] = flat_t[~first]
    indptr, nbr, nbr_edge = graph_csr(n_vertices, edges)
    return PlanarTriangulation(
        n_vertices, edges, tris, indptr, nbr, nbr_edge, edge_faces, tri_edges
    )


@cache
def grid_surrogate(width: int, height: int) -> tuple[np.ndarray, PlanarTriangulation]:
    """A planar stand-in for the ``"grid"`` triangulation's dimension-1 persistence.

    Each square gets a centre vertex, joined to its four corners, with the value
    ``min(max(tl, br), max(tr, bl))``: present exactly when one diagonal of the square is. Square
    by square, the sublevel sets of this planar disc and of the ``"grid"`` complex (both
    diagonals, all four triangles) are contractible pieces glued along the same axis edges, so
    both have the homotopy type of the nerve of the pieces and the same persistence in dimensions
    0 and 1, except for zero-length bars: the disc has one more triangle per square.

    Returns the squares' corners ``(S, 4)`` as ``(tl, tr, bl, br)`` and the disc (centre of
    square ``s`` is vertex ``width * height + s``).
    """
    ind = np.arange(width * height).reshape(height, width)
    corners = np.stack(
        [ind[:-1, :-1].ravel(), ind[:-1, 1:].ravel(), ind[1:, :-1].ravel(), ind[1:, 1:].ravel()], 1
    )
    n_vert = width * height
    centre = n_vert + np.arange(len(corners))
    right = np.stack([ind[:, :-1].ravel(), ind[:, 1:].ravel()], 1)
    down = np.stack([ind[:-1, :].ravel(), ind[1:, :].ravel()], 1)
    spokes = [np.stack([corners[:, k], centre], 1) for k in range(4)]
    edges = np.concatenate([right, down, *spokes])
    tl, tr, bl, br = corners.T
    tris = np.concatenate(
        [
            np.stack([tl, tr, centre], 1),
            np.stack([tr, br, centre], 1),
            np.stack([br, bl, centre], 1),
            np.stack([bl, tl, centre], 1),
        ]
    )
    return corners, planar_triangulation(n_vert + len(corners), edges, tris)

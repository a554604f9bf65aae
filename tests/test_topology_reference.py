"""A literal persistence reduction used as an independent reference by the topology tests.

``reference_diagrams`` runs the textbook Z/2 column reduction on a filtered simplicial complex,
in plain Python, so the other tests compare the layers against code that shares nothing with them
(no union-find, no duality, no gudhi). The tests here check the reference itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np


def reference_diagrams(
    simplices: Sequence[Sequence[int]], values: Sequence[float], maxdim: int
) -> list[np.ndarray]:
    """All bars ``(k, 2)`` (zero-length and infinite included) per dimension ``0..maxdim``.

    Simplices are ordered by ``(value, dimension, position in the list)``; ``values`` must be a
    valid filtration (a face never after its cofaces).
    """
    simps = [tuple(sorted(s)) for s in simplices]
    order = sorted(range(len(simps)), key=lambda i: (values[i], len(simps[i]), i))
    pos = {simps[i]: k for k, i in enumerate(order)}
    cols: list[set[int]] = []
    for i in order:
        s = simps[i]
        cols.append({pos[f] for f in combinations(s, len(s) - 1)} if len(s) > 1 else set())
    owner: dict[int, int] = {}
    paired: dict[int, int] = {}
    for j, col in enumerate(cols):
        while col:
            low = max(col)
            if low not in owner:
                owner[low] = j
                paired[low] = j
                break
            col ^= cols[owner[low]]
    deaths = set(paired.values())
    bars: list[list[tuple[float, float]]] = [[] for _ in range(maxdim + 1)]
    for k, i in enumerate(order):
        d = len(simps[i]) - 1
        if d > maxdim or k in deaths:
            continue
        birth = values[i]
        death = values[order[paired[k]]] if k in paired else np.inf
        bars[d].append((birth, death))
    return [np.asarray(b, dtype=np.float64).reshape(-1, 2) for b in bars]


def lower_star(simplices: Sequence[Sequence[int]], f: np.ndarray) -> list[float]:
    return [float(max(f[v] for v in s)) for s in simplices]


def all_faces(top: np.ndarray, maxdim: int) -> list[tuple[int, ...]]:
    """Every face of dimension <= maxdim of the rows of ``top``."""
    out = set()
    for row in np.asarray(top).tolist():
        for k in range(1, min(len(row), maxdim + 1) + 1):
            out.update(combinations(sorted(row), k))
    return sorted(out, key=lambda s: (len(s), s))


def nonzero(dgm: np.ndarray | object) -> np.ndarray:
    """Rows with birth != death, sorted lexicographically (for multiset comparison)."""
    a = np.asarray(dgm.detach().cpu() if hasattr(dgm, "detach") else dgm, dtype=np.float64)
    a = a[a[:, 0] != a[:, 1]]
    return a[np.lexsort((a[:, 1], a[:, 0]))]


def assert_same_bars(ours: object, theirs: np.ndarray, atol: float = 1e-6) -> None:
    """Equal multisets of non-zero bars (infinite deaths compared exactly)."""
    a, b = nonzero(ours), nonzero(theirs)
    assert a.shape == b.shape, f"{len(a)} bars vs {len(b)}:\n{a}\n{b}"
    np.testing.assert_array_equal(np.isinf(a), np.isinf(b))
    fin = np.isfinite(a)
    np.testing.assert_allclose(a[fin], b[fin], atol=atol, rtol=1e-6)


def assert_same_all_bars(ours: object, theirs: np.ndarray, atol: float = 1e-12) -> None:
    """Equal multisets of all bars: non-zero ones, and the values of the zero-length ones."""
    assert_same_bars(ours, theirs, atol=atol)
    a = np.asarray(ours.detach().cpu() if hasattr(ours, "detach") else ours, dtype=np.float64)
    b = np.asarray(theirs, dtype=np.float64)
    assert len(a) == len(b), f"{len(a)} bars vs {len(b)}"
    za, zb = np.sort(a[a[:, 0] == a[:, 1], 0]), np.sort(b[b[:, 0] == b[:, 1], 0])
    np.testing.assert_allclose(za, zb, atol=atol)


def test_reference_on_a_circle_and_a_filled_triangle() -> None:
    cycle = [(0,), (1,), (2,), (0, 1), (1, 2), (0, 2)]
    d0, d1 = reference_diagrams(cycle, [0, 1, 2, 3, 4, 5], 1)
    np.testing.assert_array_equal(nonzero(d0), [[0, np.inf], [1, 3], [2, 4]])
    np.testing.assert_array_equal(d1, [[5, np.inf]])
    d0, d1 = reference_diagrams([*cycle, (0, 1, 2)], [0, 1, 2, 3, 4, 5, 7], 1)
    np.testing.assert_array_equal(d1, [[5, 7]])


def test_reference_matches_gudhi_on_a_random_complex() -> None:
    import gudhi

    rng = np.random.default_rng(3)
    top = rng.integers(0, 12, size=(15, 3))
    top = top[(top[:, 0] != top[:, 1]) & (top[:, 1] != top[:, 2]) & (top[:, 0] != top[:, 2])]
    simplices = [(v,) for v in range(12)] + [s for s in all_faces(top, 2) if len(s) > 1]
    f = rng.integers(0, 5, size=12).astype(float)
    vals = lower_star(simplices, f)
    ours = reference_diagrams(simplices, vals, 1)
    st = gudhi.SimplexTree()
    for s, v in zip(simplices, vals, strict=True):
        st.insert(list(s), v)
    st.compute_persistence(min_persistence=-1, persistence_dim_max=True)
    for d in (0, 1):
        assert_same_bars(ours[d], st.persistence_intervals_in_dimension(d))

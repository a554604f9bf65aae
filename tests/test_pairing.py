"""0-dim persistence pairs: exact edge list of the original Kruskal, deaths of ripser and gudhi."""

from __future__ import annotations

import gudhi
import numpy as np
import pytest
import ripser
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from topoexp.topology import death_times, pairing0


def pairing0_kruskal(D: np.ndarray) -> np.ndarray:
    """Spec-literal reference (spec §2.4): Kruskal over ``triu_indices_from`` (diagonal included),
    stable argsort, recursive path compression, the larger root index becomes the parent."""
    D = np.asarray(D)
    parent = list(range(D.shape[0]))

    def find(u: int) -> int:
        if parent[u] != u:
            parent[u] = find(parent[u])
        return parent[u]

    rows, cols = np.triu_indices_from(D)
    edges = []
    for k in np.argsort(D[rows, cols], kind="stable"):
        u, v = int(rows[k]), int(cols[k])
        ru, rv = find(u), find(v)
        if u == v or ru == rv:
            continue
        parent[min(ru, rv)] = max(ru, rv)
        edges.append((min(u, v), max(u, v)))
    return np.array(edges, dtype=np.int64).reshape(-1, 2)


def ripser_deaths(D: np.ndarray) -> np.ndarray:
    """Finite 0-dim deaths of ripser (it drops zero-persistence pairs)."""
    dgm = ripser.ripser(D, maxdim=0, distance_matrix=True)["dgms"][0]
    return np.sort(dgm[np.isfinite(dgm[:, 1]), 1])


def gudhi_deaths(D: np.ndarray) -> np.ndarray:
    """Finite 0-dim deaths of gudhi, zero-length bars included."""
    tree = gudhi.RipsComplex(distance_matrix=D).create_simplex_tree(max_dimension=1)
    tree.persistence(min_persistence=-1)
    bars = tree.persistence_intervals_in_dimension(0).reshape(-1, 2)
    return np.sort(bars[np.isfinite(bars[:, 1]), 1])


def euclidean(X: np.ndarray) -> np.ndarray:
    return np.linalg.norm(X[:, None] - X[None], axis=-1)


def sample_matrix(kind: str, m: int, rng: np.random.Generator) -> np.ndarray:
    """Random symmetric distance matrices, generic or full of ties and zeros."""
    if kind == "gauss":
        return euclidean(rng.normal(size=(m, 5)))
    if kind == "duplicates":  # zero distances between distinct points
        X = rng.normal(size=(max(m // 2, 1), 3))
        return euclidean(X[rng.integers(0, len(X), size=m)])
    if kind == "grid":  # Manhattan distances of points on a small grid: many exact ties
        X = rng.integers(0, 4, size=(m, 2))
        return np.abs(X[:, None] - X[None]).sum(-1).astype(float)
    if kind == "integer":  # integer weights, symmetric
        A = rng.integers(0, 4, size=(m, m)).astype(float)
        A = np.triu(A, 1)
        return A + A.T
    raise ValueError(kind)


KINDS = ["gauss", "duplicates", "grid", "integer"]
SIZES = [1, 2, 3, 7, 50]


def assert_tree_order(D: np.ndarray, pairs: np.ndarray) -> None:
    """m − 1 distinct edges i < j spanning all points, weights non-decreasing."""
    m = D.shape[0]
    assert pairs.shape == (max(m - 1, 0), 2)
    assert pairs.dtype == np.int64
    assert np.all(pairs[:, 0] < pairs[:, 1])
    assert len({tuple(p) for p in pairs.tolist()}) == len(pairs)
    assert np.all(np.diff(D[pairs[:, 0], pairs[:, 1]]) >= 0)
    assert len(np.unique(np.concatenate([[0], pairs.ravel()]))) == m


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("m", SIZES)
def test_deaths_match_ripser_and_gudhi(kind: str, m: int) -> None:
    rng = np.random.default_rng(m * 31 + KINDS.index(kind))
    D = sample_matrix(kind, m, rng)
    pairs = pairing0(D)
    assert_tree_order(D, pairs)
    deaths = death_times(D, pairs)
    np.testing.assert_allclose(deaths, gudhi_deaths(D), rtol=1e-12, atol=0)
    # ripser computes in float32 and drops zero-length bars
    np.testing.assert_allclose(deaths[deaths > 0], ripser_deaths(D), rtol=1e-6, atol=0)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("m", SIZES)
def test_edge_list_equals_kruskal(kind: str, m: int) -> None:
    rng = np.random.default_rng(1000 + m * 31 + KINDS.index(kind))
    D = sample_matrix(kind, m, rng)
    np.testing.assert_array_equal(pairing0(D), pairing0_kruskal(D))
    D32 = D.astype(np.float32)  # the original pairs the float32 matrix as it is
    np.testing.assert_array_equal(pairing0(D32), pairing0_kruskal(D32))


def test_small_cases() -> None:
    assert pairing0(np.zeros((1, 1))).shape == (0, 2)
    np.testing.assert_array_equal(pairing0(np.array([[0.0, 5.0], [5.0, 0.0]])), [[0, 1]])
    # all distances tied: the original picks the star around 0 in row-major order
    D = 1.0 - np.eye(4)
    np.testing.assert_array_equal(pairing0(D), [[0, 1], [0, 2], [0, 3]])
    # three points on a line
    D = euclidean(np.array([[0.0], [3.0], [1.0]]))
    np.testing.assert_array_equal(pairing0(D), [[0, 2], [1, 2]])


def test_reads_upper_triangle_only() -> None:
    rng = np.random.default_rng(3)
    D = rng.integers(0, 3, size=(12, 12)).astype(float)  # asymmetric, ties
    np.testing.assert_array_equal(pairing0(D), pairing0_kruskal(D))
    np.testing.assert_array_equal(pairing0(D), pairing0(np.triu(D) + np.triu(D, 1).T))


def test_infinite_and_nan_weights() -> None:
    inf, nan = np.inf, np.nan
    D = np.array([[0, 1, inf, 2], [1, 0, nan, inf], [inf, nan, 0, inf], [2, inf, inf, 0]])
    np.testing.assert_array_equal(pairing0(D), [[0, 1], [0, 3], [0, 2]])
    np.testing.assert_array_equal(pairing0(D), pairing0_kruskal(D))
    D_signed_zero = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, -0.0], [1.0, -0.0, 0.0]])
    np.testing.assert_array_equal(pairing0(D_signed_zero), [[0, 1], [1, 2]])
    D_nan = np.full((3, 3), np.nan)
    with pytest.raises(ValueError, match="NaN"):
        pairing0(D_nan)


symmetric_int = st.integers(1, 10).flatmap(
    lambda m: arrays(np.int64, (m, m), elements=st.integers(0, 3))
)


@settings(max_examples=80, deadline=None)
@given(A=symmetric_int, symmetric=st.booleans())
def test_ties_equal_kruskal_and_gudhi(A: np.ndarray, symmetric: bool) -> None:
    D = A.astype(np.float64)
    if symmetric:
        D = np.triu(D, 1) + np.triu(D, 1).T
    pairs = pairing0(D)
    np.testing.assert_array_equal(pairs, pairing0_kruskal(D))
    if symmetric:
        np.testing.assert_array_equal(death_times(D, pairs), gudhi_deaths(D))


@pytest.mark.parametrize("parallel", [True, False])
def test_batched_equals_unbatched(parallel: bool) -> None:
    rng = np.random.default_rng(5)
    D = np.stack([sample_matrix(k, 20, rng) for k in KINDS * 2])
    pairs = pairing0(D, parallel=parallel)
    assert pairs.shape == (8, 19, 2)
    for b in range(len(D)):
        np.testing.assert_array_equal(pairs[b], pairing0_kruskal(D[b]))
    np.testing.assert_array_equal(
        death_times(D, pairs), np.stack([death_times(D[b], pairs[b]) for b in range(len(D))])
    )
    assert pairing0(D[:1]).shape == (1, 19, 2)
    assert pairing0(D[:0]).shape == (0, 19, 2)
    assert pairing0(np.zeros((3, 1, 1))).shape == (3, 0, 2)


@pytest.mark.parametrize(
    "dtype", [torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.int64]
)
def test_torch_input(dtype: torch.dtype) -> None:
    rng = np.random.default_rng(6)
    D_np = np.stack([sample_matrix("grid", 15, rng) for _ in range(3)])
    D = torch.tensor(D_np).to(dtype)
    pairs = pairing0(D)
    assert isinstance(pairs, torch.Tensor)
    assert pairs.dtype == torch.int64 and pairs.device == D.device
    assert pairs.shape == (3, 14, 2)
    for b in range(3):  # small integers are exact in every dtype
        np.testing.assert_array_equal(pairs[b].numpy(), pairing0_kruskal(D_np[b]))


def test_death_times_gradient() -> None:
    rng = np.random.default_rng(7)
    D = torch.tensor(sample_matrix("gauss", 10, rng), requires_grad=True)
    pairs = pairing0(D)
    assert not pairs.requires_grad
    deaths = death_times(D, pairs)
    assert deaths.shape == (9,)
    deaths.sum().backward()
    expected = torch.zeros(10, 10, dtype=torch.float64)
    expected[pairs[:, 0], pairs[:, 1]] = 1.0
    torch.testing.assert_close(D.grad, expected)
    # batched
    Db = torch.tensor(np.stack([sample_matrix("gauss", 6, rng) for _ in range(2)]))
    Db.requires_grad_(True)
    death_times(Db, pairing0(Db)).sum().backward()
    assert Db.grad.sum().item() == pytest.approx(2 * 5)


def test_deterministic_and_input_untouched() -> None:
    rng = np.random.default_rng(8)
    D = sample_matrix("integer", 30, rng)
    before = D.copy()
    first = pairing0(D)
    for _ in range(3):
        np.testing.assert_array_equal(pairing0(D), first)
    np.testing.assert_array_equal(D, before)
    np.testing.assert_array_equal(pairing0(np.asfortranarray(D)), first)


@pytest.mark.parametrize("shape", [(3,), (3, 4), (2, 3, 4), (2, 2, 3, 3)])
def test_rejects_non_square(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="distance matrix"):
        pairing0(np.zeros(shape))
    with pytest.raises(ValueError, match="distance matrix"):
        pairing0(torch.zeros(shape))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_input() -> None:
    rng = np.random.default_rng(9)
    D_np = sample_matrix("duplicates", 40, rng)
    D = torch.tensor(D_np, device="cuda", requires_grad=True)
    pairs = pairing0(D)
    assert pairs.device == D.device
    np.testing.assert_array_equal(pairs.cpu().numpy(), pairing0_kruskal(D_np))
    death_times(D, pairs).sum().backward()
    assert D.grad.sum().item() == pytest.approx(39)

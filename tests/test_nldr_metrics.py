"""The dimensionality-reduction measures (spec §3.3–3.4) against the published SPHERES numbers,
scikit-learn, a hand computation and a naive dense implementation of the spec's formulas."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.spatial.distance import pdist, squareform
from sklearn.manifold import trustworthiness

from topoexp.data.base import as_arrays
from topoexp.data.spheres import load_spheres
from topoexp.evaluation import nldr
from topoexp.evaluation.nldr import nldr_curves, nldr_metrics

KEYS = ["kl_0.001", "kl_0.01", "kl_0.1", "kl_1", "kl_10", "mrre", "trust", "cont", "rmse"]
LATENT_FILES = {
    "TopoAE": "topoae",
    "PCA": "pca",
    "Isomap": "isomap",
    "UMAP": "umap",
    "Vanilla": "ae",
}


# ------------------------------------------------------------------------------------------------
# naive reference: full n × n matrices, argsort of argsort, straight from the spec


def naive_metrics(
    X: np.ndarray, Z: np.ndarray, ks: range, sigmas: tuple[float, ...] = nldr.DEFAULT_SIGMAS
) -> dict[str, float]:
    """Spec §3.2–3.4 with dense matrices (O(n²) memory)."""
    n = len(X)
    DX, DZ = squareform(pdist(X)), squareform(pdist(Z))

    def order_and_ranks(D: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        D = D.copy()
        np.fill_diagonal(D, -1.0)  # the point itself first, also among duplicates
        order = np.argsort(D, axis=1, kind="stable")
        return order, np.argsort(order, axis=1, kind="stable")

    (ox, rx), (oz, rz) = order_and_ranks(DX), order_and_ranks(DZ)
    out = {}
    for sigma in sigmas:
        p = np.exp(-((DX / DX.max()) ** 2) / sigma).sum(axis=1)
        q = np.exp(-((DZ / DZ.max()) ** 2) / sigma).sum(axis=1)
        p, q = p / p.sum(), q / q.sum()
        out[f"kl_{sigma:g}"] = float(np.sum(p * (np.log(p) - np.log(q))))
    rows = np.arange(n)[:, None]
    trust, cont, mrre = [], [], []
    for k in ks:
        nz, nx = oz[:, 1 : k + 1], ox[:, 1 : k + 1]
        rx_nz, rz_nz, rx_nx, rz_nx = rx[rows, nz], rz[rows, nz], rx[rows, nx], rz[rows, nx]
        scale = 2.0 / (n * k * (2 * n - 3 * k - 1))
        trust.append(1 - scale * np.where(rx_nz > k, rx_nz - k, 0).sum())
        cont.append(1 - scale * np.where(rz_nx > k, rz_nx - k, 0).sum())
        c = n * sum(abs(2 * j - n - 1) / j for j in range(1, k + 1))
        mrre += [
            np.sum(np.abs(rx_nz - rz_nz) / rz_nz) / c,
            np.sum(np.abs(rx_nx - rz_nx) / rx_nx) / c,
        ]
    out["mrre"] = float(np.mean(mrre))
    out["trust"] = float(np.mean(trust))
    out["cont"] = float(np.mean(cont))
    out["rmse"] = float(np.sqrt(np.sum((DX - DZ) ** 2) / n**2))
    return out


def assert_metrics_close(ours: dict[str, float], ref: dict[str, float], atol: float) -> None:
    assert list(ours) == list(ref)
    for key, value in ref.items():
        assert ours[key] == pytest.approx(value, abs=atol, rel=0), key


def with_duplicates_and_ties(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    """Gaussian points with repeated points and a block of integer points (exact distance ties)."""
    X = rng.normal(size=(n, dim))
    X[1] = X[0]
    X[n // 2] = X[0]
    X[n - 1] = X[3]
    X[5 : 5 + n // 5] = np.round(2 * X[5 : 5 + n // 5])
    return X


# ------------------------------------------------------------------------------------------------
# the published SPHERES latents


@pytest.fixture(scope="module")
def spheres_test() -> tuple[np.ndarray, np.ndarray]:
    return as_arrays(load_spheres().test)


@pytest.mark.parametrize(("method", "key"), list(LATENT_FILES.items()))
def test_published_spheres_latents(
    reference_dir: Path, spheres_test: tuple[np.ndarray, np.ndarray], method: str, key: str
) -> None:
    folder = reference_dir / "spheres_latents"
    expected = json.loads((folder / "expected_metrics.json").read_text())["metrics"][key]
    table = np.loadtxt(folder / f"spheres_{method}.csv", delimiter=",", skiprows=1)
    X, labels = spheres_test
    np.testing.assert_array_equal(table[:, 2], labels)
    metrics = nldr_metrics(X, table[:, :2])
    for name, value in expected.items():
        assert metrics[name] == pytest.approx(value, abs=1e-4, rel=0), name


# ------------------------------------------------------------------------------------------------
# scikit-learn, hand computation, naive reference


@pytest.mark.parametrize("dim_x", [5, 30])  # coordinate-wise and Gram distances
def test_single_k_matches_sklearn_trustworthiness(dim_x: int) -> None:
    rng = np.random.default_rng(dim_x)
    X, Z = rng.normal(size=(120, dim_x)), rng.normal(size=(120, 2))
    for k in (1, 5, 17, 40):
        curves = nldr_curves(X, Z, k_min=k, k_max=k, block_size=37)
        assert curves.trust[0] == pytest.approx(trustworthiness(X, Z, n_neighbors=k), abs=1e-10)
        assert curves.cont[0] == pytest.approx(trustworthiness(Z, X, n_neighbors=k), abs=1e-10)


def test_identical_embedding_is_perfect() -> None:
    X = np.random.default_rng(0).normal(size=(30, 3))
    metrics = nldr_metrics(X, X.copy(), k_min=1, k_max=5, k_step=2)
    assert metrics == pytest.approx(dict.fromkeys(KEYS, 0.0) | {"trust": 1.0, "cont": 1.0})


def test_hand_computed_four_points() -> None:
    """x = 0, 1, 3, 7 and z = 0, 3, 1, 7 on a line, k = 1 (worked out by hand).

    Every point's nearest neighbour differs between the spaces and sits at rank 2 in the other:
    trust = cont = 1 - 2/(4·1·4)·4 = 1/2; c_1 = 4·|2 - 5| = 12, both MRRE directions 4/12.
    The rows of distances of points 1 and 2 swap between the spaces ({0,1,2,6} and {0,2,3,4}),
    rows 0 and 3 agree, so KL = (p₁ - p₂) ln(p₁/p₂); the distance errors are ±2 on four of the
    six pairs, RMSE = sqrt(2·16/16).
    """
    X, Z = np.array([[0.0], [1.0], [3.0], [7.0]]), np.array([[0.0], [3.0], [1.0], [7.0]])
    sigmas = (0.1, 1.0, 10.0)
    curves = nldr_curves(X, Z, sigmas=sigmas, k_min=1, k_max=1)
    assert curves.trust[0] == pytest.approx(0.5)
    assert curves.cont[0] == pytest.approx(0.5)
    assert curves.mrre_zx[0] == pytest.approx(1 / 3)
    assert curves.mrre_xz[0] == pytest.approx(1 / 3)
    assert curves.rmse == pytest.approx(math.sqrt(2.0))
    rows = [(0, 1, 3, 7), (0, 1, 2, 6), (0, 2, 3, 4), (0, 4, 6, 7)]
    for sigma in sigmas:
        density = [sum(math.exp(-((d / 7) ** 2) / sigma) for d in row) for row in rows]
        p1, p2 = density[1] / sum(density), density[2] / sum(density)
        assert curves.kl[sigma] == pytest.approx((p1 - p2) * math.log(p1 / p2), rel=1e-12)


@pytest.mark.parametrize(("dim_x", "dim_z"), [(40, 2), (3, 24), (20, 20)])
@pytest.mark.parametrize("block_size", [5, 23, 64, None])
def test_blocked_matches_naive_with_duplicates_and_ties(
    dim_x: int, dim_z: int, block_size: int | None
) -> None:
    rng = np.random.default_rng(dim_x * 100 + dim_z)
    n = 157
    X, Z = with_duplicates_and_ties(rng, n, dim_x), with_duplicates_and_ties(rng, n, dim_z)
    ks = range(3, 31, 3)
    ours = nldr_metrics(X, Z, k_min=3, k_max=30, k_step=3, block_size=block_size)
    assert_metrics_close(ours, naive_metrics(X, Z, ks), atol=1e-12)


def test_heavy_ties_take_the_sorting_path() -> None:
    """A 2-D embedding onto 9 lattice points: rank queries meet hundreds of equal distances."""
    rng = np.random.default_rng(7)
    n = 700
    X = rng.normal(size=(n, 30))
    X[::5] = X[0]
    Z = rng.integers(0, 3, size=(n, 2)).astype(float)
    ks = range(10, 101, 10)
    ours = nldr_metrics(X, Z, k_min=10, k_max=100, block_size=333)
    assert_metrics_close(ours, naive_metrics(X, Z, ks), atol=1e-12)
    swapped = nldr_metrics(Z, X, k_min=10, k_max=100, block_size=333)
    assert_metrics_close(swapped, naive_metrics(Z, X, ks), atol=1e-12)


@pytest.mark.parametrize("block_size", [1, 40])
def test_without_tile_reuse(monkeypatch: pytest.MonkeyPatch, block_size: int) -> None:
    monkeypatch.setattr(nldr, "_TILE_CACHE_BYTES", 0)
    rng = np.random.default_rng(11)
    X, Z = with_duplicates_and_ties(rng, 90, 25), rng.normal(size=(90, 2))
    ours = nldr_metrics(X, Z, k_min=2, k_max=20, k_step=6, block_size=block_size)
    assert_metrics_close(ours, naive_metrics(X, Z, range(2, 21, 6)), atol=1e-12)


def test_max_distance_is_exact() -> None:
    """The float32 screening keeps the row of the largest distance, even among near-equal ones."""
    rng = np.random.default_rng(3)
    for dim in (2, 17, 300):
        X = rng.normal(size=(500, dim))
        far = X[0] + 1e-7 * rng.normal(size=dim)
        X[1], X[2], X[3] = -X[0], -far, 3 * X[4]  # pairs (0,1) and (2,1) nearly tie
        space = nldr._Space(X, block_size=128)
        assert space.max_distance() == pytest.approx(pdist(X).max(), rel=1e-13)


def test_torch_input_and_trailing_dimensions() -> None:
    rng = np.random.default_rng(5)
    X, Z = rng.normal(size=(60, 2, 3, 4)), rng.normal(size=(60, 2))
    ks = {"k_min": 2, "k_max": 10, "k_step": 4}
    from_numpy = nldr_metrics(X.reshape(60, -1).astype(np.float32), Z, **ks)
    from_torch = nldr_metrics(torch.from_numpy(X).float(), torch.from_numpy(Z), **ks)
    assert list(from_torch) == list(from_numpy)
    assert from_torch == from_numpy


def test_default_keys_and_curves() -> None:
    rng = np.random.default_rng(1)
    X, Z = rng.normal(size=(400, 8)), rng.normal(size=(400, 2))
    curves = nldr_curves(X, Z)
    np.testing.assert_array_equal(curves.ks, np.arange(10, 201, 10))
    assert curves.trust.shape == curves.cont.shape == curves.mrre_zx.shape == (20,)
    summary = curves.summary()
    assert list(summary) == KEYS
    assert summary["mrre"] == pytest.approx(np.mean([curves.mrre_zx, curves.mrre_xz]))
    assert summary == nldr_metrics(X, Z)


@pytest.mark.slow
def test_blocked_matches_naive_large() -> None:
    """Several default-sized blocks with tile reuse, against the dense reference."""
    rng = np.random.default_rng(2)
    n = 3000
    X = with_duplicates_and_ties(rng, n, 64)
    Z = X[:, :2] + 0.3 * rng.normal(size=(n, 2))
    assert_metrics_close(nldr_metrics(X, Z), naive_metrics(X, Z, range(10, 201, 10)), atol=1e-12)


# ------------------------------------------------------------------------------------------------
# invalid input


@pytest.mark.parametrize(
    ("X", "Z", "kwargs", "message"),
    [
        (np.zeros((50, 3)), np.zeros((49, 2)), {}, "same number of points"),
        (np.full((50, 3), np.nan), np.ones((50, 2)), {}, "NaN or infinite"),
        (np.ones((50, 3)), np.full((50, 2), np.inf), {}, "NaN or infinite"),
        (np.array(["a"] * 50), np.ones((50, 2)), {}, "real numeric"),
        (np.ones((50, 3)) * 1j, np.ones((50, 2)), {}, "real numeric"),
        (np.float64(1.0), np.ones((50, 2)), {}, "scalar"),
        (np.ones((50, 0)), np.ones((50, 2)), {}, "no features"),
        (None, None, {"k_max": 49, "k_step": 1}, "more than k_max"),
        (None, None, {"k_max": 40}, "2n - 3k - 1"),
        (None, None, {"k_min": 5, "k_max": 4}, "at least k_min"),
        (None, None, {"k_step": 0}, "k_step"),
        (None, None, {"k_min": 2.5}, "k_min"),
        (None, None, {"k_max": True}, "k_max"),
        (None, None, {"sigmas": (0.1, -1.0)}, "sigmas"),
        (None, None, {"sigmas": ()}, "sigmas"),
        (None, None, {"sigmas": (0.1, 0.1)}, "distinct"),
        (None, None, {"block_size": 0}, "block_size"),
        (None, None, {"block_size": 2.0}, "block_size"),
        (np.ones((50, 3)), None, {}, "coincide"),
    ],
)
def test_invalid_input_raises(X: object, Z: object, kwargs: dict, message: str) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3)) if X is None else X
    Z = rng.normal(size=(50, 2)) if Z is None else Z
    kwargs = {"k_min": 2, "k_max": 10, "k_step": 2} | kwargs
    with pytest.raises(ValueError, match=message):
        nldr_metrics(X, Z, **kwargs)

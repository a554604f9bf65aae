"""Persistence-diagram distances: hand-computed matchings, gudhi/persim agreement, essential bars,
scale normalisations, the Rips engine against gudhi, subsampling and the plot."""

from __future__ import annotations

import io
import math
import warnings

import gudhi
import numpy as np
import persim
import pytest
from gudhi.representations import SlicedWassersteinDistance
from matplotlib.figure import Figure

from topoexp.evaluation.diagram_plots import plot_diagrams
from topoexp.evaluation.diagrams import (
    DISTANCES,
    _sliced_wasserstein_at,
    bottleneck,
    cloud_diagrams,
    compare_diagrams,
    diagram_metrics,
    handle_essential,
    normalisation_scale,
    rips_diagrams,
    sliced_wasserstein,
    split_essential,
    subsample_indices,
    wasserstein,
)

INF = math.inf
BACKENDS = ("exact", "pot", "hera")


def dgm(*points: tuple[float, float]) -> np.ndarray:
    return np.array(points, dtype=np.float64).reshape(-1, 2)


def random_diagram(rng: np.random.Generator, n: int) -> np.ndarray:
    births = rng.uniform(0.0, 5.0, n)
    return np.c_[births, births + rng.exponential(1.0, n)]


# ------------------------------------------------------------------------------------------
# Hand-computed optimal matchings. Ground metric L∞ unless stated: d((b,d),(b',d')) =
# max(|b-b'|, |d-d'|); distance to the diagonal = (d-b)/2 (L2: (d-b)/√2).

HAND_CASES = {
    # one point each: matching them (cost 1) beats sending both to the diagonal (0.5 and 1)
    "shift": (dgm((0, 1)), dgm((0, 2)), INF, 1.0, 1.0, 1.0),
    # matching costs 3; both to the diagonal cost 2 and 0.5
    "to_diagonal": (dgm((0, 4)), dgm((3, 4)), INF, 2.0, 2.5, math.sqrt(4.25)),
    # L2: matching costs 3 for W1 (diagonal 2√2 + 1/√2 ≈ 3.54), but W2 prefers the diagonal
    # (8 + 1/2 < 9)
    "to_diagonal_l2": (dgm((0, 4)), dgm((3, 4)), 2.0, 2.0, 3.0, math.sqrt(8.5)),
    # (0,10) is matched to (0,12) (cost 2), (0,8) goes to the diagonal (4); bottleneck: 4
    "which_partner": (dgm((0, 10)), dgm((0, 8), (0, 12)), INF, 4.0, 6.0, math.sqrt(20.0)),
    # index order would cost 2 + 2; the crossed matching costs 1 + 1
    "crossing": (dgm((0, 3), (1, 5)), dgm((0, 5), (1, 3)), INF, 1.0, 2.0, math.sqrt(2.0)),
    # an empty diagram: every point goes to the diagonal (1 and 0.5)
    "empty": (dgm(), dgm((0, 2), (1, 2)), INF, 1.0, 1.5, math.sqrt(1.25)),
    "identical": (dgm((0, 1), (2, 5)), dgm((0, 1), (2, 5)), INF, 0.0, 0.0, 0.0),
}


@pytest.mark.parametrize("case", HAND_CASES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_hand_computed_distances(case: str, backend: str) -> None:
    d1, d2, internal_p, b, w1, w2 = HAND_CASES[case]
    for e in (None, 0.0):
        assert bottleneck(d1, d2, e=e) == pytest.approx(b, abs=1e-12)
        assert bottleneck(d2, d1, e=e) == pytest.approx(b, abs=1e-12)
    for order, expected in ((1.0, w1), (2.0, w2)):
        for a, c in ((d1, d2), (d2, d1)):
            got = wasserstein(a, c, order=order, internal_p=internal_p, backend=backend)
            assert got == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_sliced_wasserstein_by_hand() -> None:
    # Two directions, θ = -π/2 and 0. Projections of {(0,1)} ∪ Δ-projection of (0,2) = (1,1)
    # against {(0,2)} ∪ Δ-projection of (0,1) = (.5,.5):
    # θ = 0: sorted [0, 1] vs [0, .5] → 0.5; θ = -π/2: sorted [-1, -1] vs [-2, -.5] → 1.5.
    assert sliced_wasserstein(dgm((0, 1)), dgm((0, 2)), n_directions=2) == pytest.approx(1.0)
    d = dgm((0, 1), (2, 5))
    assert sliced_wasserstein(d, d) == 0.0


# ------------------------------------------------------------------------------------------
# Independent implementations agree


@pytest.mark.parametrize("seed", range(6))
def test_bottleneck_matches_persim_and_exact_gudhi(seed: int) -> None:
    rng = np.random.default_rng(seed)
    d1, d2 = random_diagram(rng, int(rng.integers(1, 40))), random_diagram(rng, 30)
    ours = bottleneck(d1, d2)
    assert ours == pytest.approx(persim.bottleneck(d1, d2), rel=1e-12)
    assert ours == pytest.approx(gudhi.bottleneck_distance(d1, d2, 0), rel=1e-12)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("backend", BACKENDS)
def test_wasserstein1_l2_matches_persim(seed: int, backend: str) -> None:
    rng = np.random.default_rng(seed)
    d1, d2 = random_diagram(rng, int(rng.integers(1, 40))), random_diagram(rng, 30)
    ours = wasserstein(d1, d2, order=1.0, internal_p=2.0, backend=backend)
    assert ours == pytest.approx(persim.wasserstein(d1, d2), rel=1e-9)


def common_birth_diagram(rng: np.random.Generator, n: int, ties: bool) -> np.ndarray:
    deaths = rng.integers(1, 6, n).astype(float) if ties else rng.exponential(2.0, n)
    return np.c_[np.zeros(n), deaths]


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("order", [1.0, 2.0, 3.0])
@pytest.mark.parametrize("internal_p", [1.0, 2.0, INF])
def test_common_birth_dynamic_programme_matches_pot(
    seed: int, order: float, internal_p: float
) -> None:
    """Rips H0 diagrams (all births 0) take the exact O(nm) path; POT is the reference."""
    rng = np.random.default_rng(seed)
    n, m = rng.integers(0, 40, 2)
    d1, d2 = (
        common_birth_diagram(rng, n, seed % 2 == 0),
        common_birth_diagram(rng, m, seed % 2 == 0),
    )
    exact = wasserstein(d1, d2, order=order, internal_p=internal_p, backend="exact")
    pot = wasserstein(d1, d2, order=order, internal_p=internal_p, backend="pot")
    assert exact == pytest.approx(pot, rel=1e-10, abs=1e-12)
    if order == 1.0 and internal_p == 2.0 and n and m:
        assert exact == pytest.approx(persim.wasserstein(d1, d2), rel=1e-9)


def test_pot_warnings_are_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    import topoexp.evaluation.diagrams as module

    def inexact(*args: object, **kwargs: object) -> float:
        warnings.warn("numItermax reached before optimality", UserWarning, stacklevel=1)
        return 1.0

    monkeypatch.setattr(module, "_pot_wasserstein", inexact)
    with pytest.raises(RuntimeError, match="numItermax"):
        wasserstein(dgm((0, 1)), dgm((1, 3)), backend="pot")


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("order", [1.0, 2.0])
def test_hera_matches_exact_pot(seed: int, order: float) -> None:
    rng = np.random.default_rng(seed)
    d1, d2 = random_diagram(rng, 50), random_diagram(rng, int(rng.integers(1, 60)))
    hera = wasserstein(d1, d2, order=order, internal_p=INF, backend="hera")
    pot = wasserstein(d1, d2, order=order, internal_p=INF, backend="pot")
    assert hera == pytest.approx(pot, rel=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_sliced_wasserstein_matches_persim(seed: int) -> None:
    rng = np.random.default_rng(seed)
    d1, d2 = random_diagram(rng, 25), random_diagram(rng, 40)
    # persim uses the same grid of directions, in float32
    assert sliced_wasserstein(d1, d2, n_directions=50) == pytest.approx(
        persim.sliced_wasserstein(d1, d2, M=50), rel=1e-5
    )


@pytest.mark.parametrize("num_directions", [2, 10, 51])
def test_sliced_wasserstein_matches_gudhi_on_its_directions(num_directions: int) -> None:
    rng = np.random.default_rng(num_directions)
    d1, d2 = random_diagram(rng, 25), random_diagram(rng, 40)
    # gudhi.representations evaluates num_directions - 1 of its num_directions grid angles
    thetas = np.linspace(-np.pi / 2, np.pi / 2, num_directions, endpoint=False)[:-1]
    expected = SlicedWassersteinDistance(num_directions=num_directions)(d1, d2)
    assert _sliced_wasserstein_at(d1, d2, thetas) == pytest.approx(expected, rel=1e-12)


def test_sliced_wasserstein_random_directions_are_seeded() -> None:
    rng = np.random.default_rng(0)
    d1, d2 = random_diagram(rng, 25), random_diagram(rng, 40)
    a = sliced_wasserstein(d1, d2, n_directions=20, seed=3)
    assert a == sliced_wasserstein(d1, d2, n_directions=20, seed=3)
    assert a != sliced_wasserstein(d1, d2, n_directions=20, seed=4)
    grid = sliced_wasserstein(d1, d2, n_directions=400)
    assert sliced_wasserstein(d1, d2, n_directions=4000, seed=0) == pytest.approx(grid, rel=0.02)


# ------------------------------------------------------------------------------------------
# Essential bars


def test_distances_reject_non_finite_input() -> None:
    with_inf = dgm((0, 1), (0, INF))
    for fn in (bottleneck, wasserstein, sliced_wasserstein):
        with pytest.raises(ValueError, match="non-finite"):
            fn(with_inf, dgm((0, 1)))


def test_split_essential() -> None:
    finite, essential = split_essential(dgm((0, 1), (0, INF), (0.5, 2)))
    np.testing.assert_array_equal(finite, dgm((0, 1), (0.5, 2)))
    np.testing.assert_array_equal(essential, dgm((0, INF)))
    with pytest.raises(ValueError):
        split_essential(dgm((-INF, 1)))


def test_essential_policies() -> None:
    d1 = dgm((0, 1), (0, INF))
    d2 = dgm((0, 2), (0, INF), (0.5, INF))
    f1, f2, diff = handle_essential(d1, d2, "drop")
    np.testing.assert_array_equal(f1, dgm((0, 1)))
    np.testing.assert_array_equal(f2, dgm((0, 2)))
    assert diff == 1
    c1, c2, diff = handle_essential(d1, d2, "cap", caps=(3.0, 4.0))
    np.testing.assert_array_equal(c1, dgm((0, 1), (0, 3)))
    np.testing.assert_array_equal(c2, dgm((0, 2), (0, 4), (0.5, 4)))
    assert diff == 1
    with pytest.raises(ValueError, match="caps"):
        handle_essential(d1, d2, "cap")
    with pytest.raises(ValueError, match="essential bars"):
        handle_essential(d1, d2, "error")
    f1, f2, diff = handle_essential(dgm((0, 1)), dgm((0, 2)), "error")
    assert diff == 0
    with pytest.raises(ValueError, match="policy"):
        handle_essential(d1, d2, "keep")  # type: ignore[arg-type]


def test_compare_diagrams_drop_reports_count_mismatch_without_inf() -> None:
    dgms1 = [dgm((0, 1), (0, INF)), dgm((1, 2))]
    dgms2 = [dgm((0, 2), (0, INF), (0.5, INF)), dgm()]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing may be dropped silently by a library
        metrics = compare_diagrams(dgms1, dgms2, essential="drop", suffix="_x")
    assert all(np.isfinite(v) for v in metrics.values())
    assert metrics["bottleneck_h0_x"] == pytest.approx(1.0)
    assert metrics["wasserstein1_h1_x"] == pytest.approx(0.5)
    assert metrics["essential_count_diff_h0"] == 1.0
    assert metrics["essential_count_diff_h1"] == 0.0
    capped = compare_diagrams(dgms1, dgms2, essential="cap", caps=(3.0, 4.0))
    # (0,3)→(0,4) costs 1, (0.5,4) goes to the diagonal (1.75)
    assert capped["bottleneck_h0"] == pytest.approx(1.75)


@pytest.mark.parametrize("essential", ["drop", "cap"])
def test_diagram_metrics_are_finite(essential: str) -> None:
    rng = np.random.default_rng(0)
    X, Z = rng.normal(size=(40, 5)), rng.normal(size=(40, 2))
    metrics = diagram_metrics(X, Z, essential=essential)  # type: ignore[arg-type]
    assert all(np.isfinite(v) for v in metrics.values())
    expected = {
        f"{name}_h{dim}{suffix}"
        for name in DISTANCES
        for dim in (0, 1)
        for suffix in ("", "_maxnorm", "_p50")
    } | {"essential_count_diff_h0", "essential_count_diff_h1"}
    assert set(metrics) == expected
    with pytest.raises(ValueError, match="essential"):
        diagram_metrics(X, Z, essential="error")


# ------------------------------------------------------------------------------------------
# Scale normalisations


def test_normalisation_scale() -> None:
    distances = np.array([1.0, 2.0, 3.0, 4.0, 10.0])
    assert normalisation_scale(distances, "raw") == 1.0
    assert normalisation_scale(distances, "maxnorm") == 10.0
    assert normalisation_scale(distances, "p50") == 3.0
    assert normalisation_scale(distances, "p25") == 2.0
    assert normalisation_scale(distances, "p12.5") == 1.5
    for bad in ("p0", "p101", "median", "p"):
        with pytest.raises(ValueError):
            normalisation_scale(distances, bad)
    with pytest.raises(ValueError, match="degenerate"):
        normalisation_scale(np.zeros(3), "maxnorm")


NORMALISED = ("_maxnorm", "_p50", "_p90")
NORMS = ("raw", "maxnorm", "p50", "p90")


@pytest.fixture(scope="module")
def clouds() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    return rng.normal(size=(50, 6)), rng.normal(size=(50, 2)) * np.array([3.0, 1.0])


@pytest.mark.parametrize("essential", ["drop", "cap"])
def test_scaling_the_latents_leaves_normalised_distances_unchanged(
    clouds: tuple[np.ndarray, np.ndarray], essential: str
) -> None:
    X, Z = clouds
    base = diagram_metrics(X, Z, normalisations=NORMS, essential=essential)  # type: ignore[arg-type]
    scaled = diagram_metrics(X, 3.7 * Z, normalisations=NORMS, essential=essential)  # type: ignore[arg-type]
    normalised = [k for k in base if k.endswith(NORMALISED)]
    assert len(normalised) == 3 * 2 * len(DISTANCES)
    for key in normalised:
        assert scaled[key] == pytest.approx(base[key], rel=1e-5), key
    assert scaled["bottleneck_h0"] != pytest.approx(base["bottleneck_h0"], rel=1e-2)


def test_scaling_both_clouds_scales_raw_distances(clouds: tuple[np.ndarray, np.ndarray]) -> None:
    X, Z = clouds
    c = 3.7
    base = diagram_metrics(X, Z, normalisations=NORMS)
    scaled = diagram_metrics(c * X, c * Z, normalisations=NORMS)
    for name in DISTANCES:
        for dim in (0, 1):
            key = f"{name}_h{dim}"
            assert scaled[key] == pytest.approx(c * base[key], rel=1e-5), key
            for suffix in NORMALISED:
                assert scaled[key + suffix] == pytest.approx(base[key + suffix], rel=1e-5)


def test_same_shape_other_scale_is_zero_only_after_normalisation(
    clouds: tuple[np.ndarray, np.ndarray],
) -> None:
    X, _ = clouds
    metrics = diagram_metrics(X, 0.1 * X, normalisations=NORMS)
    for key, value in metrics.items():
        if key.endswith(NORMALISED):
            assert value == pytest.approx(0.0, abs=1e-5), key
    assert metrics["bottleneck_h0"] > 0.1 and metrics["wasserstein1_h1"] > 0.0


def test_cloud_diagrams_scales_diagrams_by_the_normalisation(
    clouds: tuple[np.ndarray, np.ndarray],
) -> None:
    X, _ = clouds
    cd = cloud_diagrams(X, 1, ("raw", "maxnorm"))
    recomputed = rips_diagrams(X / cd.scales["maxnorm"])
    for ours, ref in zip(cd.normalised("maxnorm"), recomputed, strict=True):
        np.testing.assert_allclose(ours, ref, rtol=1e-6)
    assert cd.cap("maxnorm") == pytest.approx(1.0)


# ------------------------------------------------------------------------------------------
# The Rips engine


def test_rips_diagrams_match_gudhi() -> None:
    X = np.random.default_rng(3).normal(size=(40, 3))
    ours = rips_diagrams(X, maxdim=1)
    tree = gudhi.RipsComplex(points=X).create_simplex_tree(max_dimension=2)
    tree.persistence()
    assert len(ours) == 2
    for dim in (0, 1):
        ref = tree.persistence_intervals_in_dimension(dim).reshape(-1, 2)
        (of, oe), (rf, re_) = split_essential(ours[dim]), split_essential(ref)
        assert len(oe) == len(re_) == (1 if dim == 0 else 0)
        assert len(of) == len(rf) > 0
        np.testing.assert_allclose(
            of[np.lexsort(of.T[::-1])], rf[np.lexsort(rf.T[::-1])], rtol=1e-6, atol=1e-6
        )


def test_rips_diagrams_from_distance_matrix() -> None:
    X = np.random.default_rng(4).normal(size=(30, 4))
    D = np.linalg.norm(X[:, None] - X[None], axis=-1)
    for a, b in zip(rips_diagrams(X), rips_diagrams(D, distance_matrix=True), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)


# ------------------------------------------------------------------------------------------
# Subsampling


def test_subsample_indices() -> None:
    idx = subsample_indices(100, 30, 4, seed=5)
    assert len(idx) == 4
    for i, j in zip(idx, subsample_indices(100, 30, 4, seed=5), strict=True):
        np.testing.assert_array_equal(i, j)
        assert len(np.unique(i)) == 30 and i.max() < 100
    assert not np.array_equal(idx[0], subsample_indices(100, 30, 4, seed=6)[0])
    np.testing.assert_array_equal(subsample_indices(10, None, 1, seed=0)[0], np.arange(10))
    for size, k in ((None, 2), (101, 1), (1, 1), (30, 0)):
        with pytest.raises(ValueError):
            subsample_indices(100, size, k, seed=0)


def test_subsampled_metrics_are_deterministic_in_the_seed() -> None:
    rng = np.random.default_rng(1)
    X, Z = rng.normal(size=(80, 5)), rng.normal(size=(80, 2))
    kwargs = {"subsample_size": 30, "n_subsamples": 3, "normalisations": ("raw", "p50")}
    a = diagram_metrics(X, Z, seed=11, **kwargs)
    assert a == diagram_metrics(X, Z, seed=11, **kwargs)
    b = diagram_metrics(X, Z, seed=12, **kwargs)
    assert a["wasserstein1_h0"] != b["wasserstein1_h0"]
    assert "bottleneck_h1_p50_std" in a and a["bottleneck_h1_p50_std"] >= 0.0
    single = diagram_metrics(X, Z, seed=11, subsample_size=30, normalisations=("raw",))
    assert not any(k.endswith("_std") for k in single)


def test_diagram_metrics_rejects_bad_arguments() -> None:
    X = np.zeros((10, 2))
    with pytest.raises(ValueError, match="rows"):
        diagram_metrics(X, np.zeros((9, 2)))
    with pytest.raises(ValueError, match="distance"):
        diagram_metrics(X, X, distances=("hausdorff",))


# ------------------------------------------------------------------------------------------
# SPHERES: the reproduction study's scale critique


def test_spheres_raw_bottleneck_is_half_the_largest_data_death() -> None:
    from sklearn.decomposition import PCA

    from topoexp.data.base import as_arrays
    from topoexp.data.spheres import load_spheres

    X, _ = as_arrays(load_spheres().test)
    Z = PCA(n_components=2).fit_transform(X)
    metrics = diagram_metrics(X, Z, dims=(0,), distances=("bottleneck",))
    h0 = split_essential(rips_diagrams(X, maxdim=0)[0])[0]
    # every data point is matched to the diagonal: the distance is the data's scale, not shape
    assert metrics["bottleneck_h0"] == pytest.approx(h0[:, 1].max() / 2, rel=1e-6)
    assert metrics["bottleneck_h0_maxnorm"] < metrics["bottleneck_h0"] / 10


# ------------------------------------------------------------------------------------------
# Plot


@pytest.mark.parametrize("side_by_side", [False, True])
def test_plot_diagrams_shares_limits(side_by_side: bool) -> None:
    rng = np.random.default_rng(2)
    dX = rips_diagrams(rng.normal(size=(30, 3)) * 5)
    dZ = rips_diagrams(rng.normal(size=(30, 2)))
    fig = plot_diagrams(dX, dZ, side_by_side=side_by_side, title="t")
    assert isinstance(fig, Figure)
    axes = fig.axes
    assert len(axes) == 2 * (2 if side_by_side else 1)
    if side_by_side:
        for left, right in (axes[0:2], axes[2:4]):
            assert left.get_xlim() == right.get_xlim() and left.get_ylim() == right.get_ylim()
    finite_max = max(split_essential(d)[0][:, 1].max() for d in (dX[0], dZ[0]))
    assert axes[0].get_ylim()[1] > finite_max
    fig.savefig(io.BytesIO(), format="png")

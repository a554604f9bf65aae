"""Rips and weak-alpha layers: known answers, ripser / gudhi / a literal reduction, gradients."""

from __future__ import annotations

from itertools import combinations

import gudhi
import numpy as np
import pytest
import ripser
import torch
from scipy.spatial import Delaunay

from tests.test_topology_reference import (
    all_faces,
    assert_same_all_bars,
    assert_same_bars,
    nonzero,
    reference_diagrams,
)
from topoexp.topology import (
    AlphaLayer,
    BarcodePolyFeature,
    RipsLayer,
    SumBarcodeLengths,
    rips_barcodes,
    weak_alpha_barcode_1d,
    weak_alpha_barcodes,
)

SQUARE = [[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]]


def flag_reference(points: np.ndarray, top: np.ndarray | None, maxdim: int) -> list[np.ndarray]:
    """Literal reduction of the flag filtration of ``top``'s faces (all simplices if None)."""
    n = len(points)
    D = np.linalg.norm(points[:, None] - points[None], axis=-1)
    if top is None:
        simplices = [s for k in range(1, maxdim + 3) for s in combinations(range(n), k)]
    else:
        simplices = all_faces(top, maxdim + 1)
    vals = [max((D[a, b] for a, b in combinations(s, 2)), default=0.0) for s in simplices]
    return reference_diagrams(simplices, vals, maxdim)


def gudhi_weak_alpha(points: np.ndarray, maxdim: int) -> list[np.ndarray]:
    """gudhi simplex tree on scipy's Delaunay simplices with flag values."""
    D = np.linalg.norm(points[:, None] - points[None], axis=-1)
    st = gudhi.SimplexTree()
    for s in all_faces(Delaunay(points).simplices, maxdim + 1):
        st.insert(list(s), max((D[a, b] for a, b in combinations(s, 2)), default=0.0))
    st.compute_persistence(min_persistence=-1, persistence_dim_max=True)
    return [st.persistence_intervals_in_dimension(d) for d in range(maxdim + 1)]


# -- known answers ----------------------------------------------------------------------------


@pytest.mark.parametrize("layer", [RipsLayer(4, maxdim=1), AlphaLayer(maxdim=1)])
def test_square_known_answer(layer: torch.nn.Module) -> None:
    dgms, issub = layer(torch.tensor(SQUARE))
    assert issub is True
    np.testing.assert_array_equal(nonzero(dgms[0]), [[0, 2], [0, 2], [0, 2], [0, np.inf]])
    np.testing.assert_allclose(nonzero(dgms[1]), [[2.0, 2 * np.sqrt(2)]], rtol=1e-6)


def test_integer_inputs_are_promoted() -> None:
    dgms, _ = RipsLayer(maxdim=1, distance_matrix=True)(
        torch.tensor([[0, 1, 2], [1, 0, 1], [2, 1, 0]])
    )
    np.testing.assert_array_equal(nonzero(dgms[0]), [[0, 1], [0, 1], [0, np.inf]])
    assert dgms[1].dtype == torch.get_default_dtype()
    dgms, _ = AlphaLayer(maxdim=1)(torch.tensor([[0, 0], [3, 0], [0, 1]]))
    assert dgms[1].shape == (1, 2)


def test_alpha_on_a_line_is_the_sorted_path() -> None:
    beta = torch.tensor([[3.0], [1.0], [1.5], [-2.0], [2.9]])
    dgms, _ = AlphaLayer(maxdim=0)(beta)
    gaps = np.diff(np.sort(beta.ravel().numpy()))
    np.testing.assert_allclose(np.sort(dgms[0][:-1, 1].numpy()), np.sort(gaps), rtol=1e-6)
    assert dgms[0][-1, 1] == np.inf
    # SumBarcodeLengths = max - min (spec B.4 a)
    torch.testing.assert_close(SumBarcodeLengths(0)((dgms, True)), torch.tensor(5.0))


def _bar_rows(b) -> list[tuple]:
    """(birth cell, death cell, death) rows of a Barcode, sorted (bar order is not part of it)."""
    rows = zip(b.birth_cells.tolist(), b.death_cells.tolist(), b.deaths.tolist(), strict=True)
    return sorted((tuple(bc), tuple(dc), d) for bc, dc, d in rows)


@pytest.mark.parametrize(
    "values",
    [
        [3.0, 1.0, 1.5, -2.0, 2.9],
        [0.0, 1.0, 1.0, 3.0, 0.0, 5.0, 2.0],  # equal values and equal gaps
        [2.0, 2.0, 2.0],
        [4.0],
    ],
)
def test_batched_line_barcode_equals_weak_alpha_barcodes(values) -> None:
    x = torch.tensor(values, dtype=torch.float64)
    ours = weak_alpha_barcode_1d(x)
    ref = weak_alpha_barcodes(x[:, None], 0)[0]
    assert ours.births.shape == (len(values),) and ours.death_cells.shape == (len(values), 2)
    assert _bar_rows(ours) == _bar_rows(ref)
    assert ours.deaths[-1] == np.inf and ours.death_cells[-1].tolist() == [-1, -1]
    torch.testing.assert_close(ours.deaths[:-1], x.sort().values.diff())
    batch = torch.stack([x, x.flip(0) * 2.0, -x])
    many = weak_alpha_barcode_1d(batch.reshape(3, 1, -1))
    assert many.deaths.shape == (3, 1, len(values))
    for b in range(3):
        one = weak_alpha_barcode_1d(batch[b])
        assert torch.equal(many.deaths[b, 0], one.deaths)
        assert torch.equal(many.birth_cells[b, 0], one.birth_cells)
        assert torch.equal(many.death_cells[b, 0], one.death_cells)
        assert _bar_rows(one) == _bar_rows(weak_alpha_barcodes(batch[b][:, None], 0)[0])


def test_batched_line_barcode_random_against_weak_alpha_barcodes() -> None:
    gen = torch.Generator().manual_seed(4)
    x = torch.randint(0, 6, (20, 12), generator=gen).double() * 0.5  # many ties
    ours = weak_alpha_barcode_1d(x)
    for b in range(20):
        one = weak_alpha_barcode_1d(x[b])
        assert _bar_rows(one) == _bar_rows(weak_alpha_barcodes(x[b][:, None], 0)[0])
        assert torch.equal(ours.birth_cells[b], one.birth_cells)


# -- Rips against ripser, gudhi and the literal reduction -------------------------------------


@pytest.mark.parametrize("kind", ["random", "lattice"])
def test_rips_equals_ripser_and_gudhi(kind: str) -> None:
    rng = np.random.default_rng(0)
    if kind == "random":
        pts = rng.random((40, 2))
    else:  # many equal lengths: the exact fallback
        pts = np.stack(np.meshgrid(np.arange(5.0), np.arange(4.0)), -1).reshape(-1, 2)
    dgms, _ = RipsLayer(len(pts), maxdim=1)(torch.from_numpy(pts))
    theirs = ripser.ripser(pts, maxdim=1)["dgms"]
    st = gudhi.RipsComplex(points=pts).create_simplex_tree(max_dimension=2)
    st.compute_persistence(min_persistence=-1)
    n, n_edges = len(pts), len(pts) * (len(pts) - 1) // 2
    assert dgms[0].shape == (n, 2) and dgms[1].shape == (n_edges - n + 1, 2)
    for d in (0, 1):
        assert_same_bars(dgms[d], theirs[d], atol=1e-6)
        assert_same_bars(dgms[d], st.persistence_intervals_in_dimension(d), atol=1e-12)


@pytest.mark.parametrize("ties", [False, True])
def test_rips_all_bars_equal_literal_reduction(ties: bool) -> None:
    rng = np.random.default_rng(1)
    pts = rng.integers(0, 3, size=(9, 2)).astype(float) if ties else rng.random((9, 2))
    pts = np.unique(pts, axis=0) if ties else pts
    ref = flag_reference(pts, None, 1)
    dgms, _ = RipsLayer(maxdim=1)(torch.from_numpy(pts))
    for d in (0, 1):
        assert_same_all_bars(dgms[d], ref[d])


def test_rips_maxdim2_and_distance_matrix() -> None:
    rng = np.random.default_rng(2)
    pts = rng.normal(size=(12, 3))
    dgms, _ = RipsLayer(12, maxdim=2)(torch.from_numpy(pts))
    theirs = ripser.ripser(pts, maxdim=2)["dgms"]
    for d in range(3):
        assert_same_bars(dgms[d], theirs[d], atol=1e-6)
    D = torch.cdist(torch.from_numpy(pts), torch.from_numpy(pts))
    from_D, _ = RipsLayer(12, maxdim=1, distance_matrix=True)(D)
    from_x, _ = RipsLayer(12, maxdim=1)(torch.from_numpy(pts))
    for d in (0, 1):
        assert_same_bars(from_D[d], nonzero(from_x[d]), atol=1e-12)


def test_rips_cells_carry_the_values() -> None:
    x = torch.rand(30, 2, dtype=torch.float64)
    for bar in rips_barcodes(x, maxdim=1):
        fin = torch.isfinite(bar.deaths)
        i, j = bar.death_cells[fin].T
        torch.testing.assert_close(bar.deaths[fin], (x[i] - x[j]).norm(dim=1))
        if bar.dim == 1:
            i, j = bar.birth_cells.T
            torch.testing.assert_close(bar.births, (x[i] - x[j]).norm(dim=1))
        else:
            assert (bar.birth_cells[:, 0] == bar.birth_cells[:, 1]).all()
            assert (bar.births == 0).all()


# -- weak alpha against gudhi and the literal reduction ---------------------------------------


@pytest.mark.parametrize("kind", ["random", "lattice"])
def test_alpha_2d_equals_gudhi_and_reduction(kind: str) -> None:
    rng = np.random.default_rng(4)
    if kind == "random":
        pts = rng.random((60, 2))
    else:  # equal lengths everywhere; a tiny jitter keeps the Delaunay triangulation unique
        pts = np.stack(np.meshgrid(np.arange(6.0), np.arange(5.0)), -1).reshape(-1, 2)
        pts[:, 0] += 1e-3 * (np.arange(len(pts)) % 5) ** 2
    dgms, _ = AlphaLayer(maxdim=1)(torch.from_numpy(pts))
    top = Delaunay(pts).simplices
    ref = flag_reference(pts, top, 1)
    gd = gudhi_weak_alpha(pts, 1)
    for d in (0, 1):
        assert_same_all_bars(dgms[d], ref[d])
        assert_same_bars(dgms[d], gd[d], atol=1e-12)
    # The Euclidean MST lies in the Delaunay triangulation: H0 equals Rips H0.
    assert_same_bars(dgms[0], ripser.ripser(pts, maxdim=0)["dgms"][0], atol=1e-6)


def test_alpha_3d_equals_reduction() -> None:
    pts = np.random.default_rng(5).random((20, 3))
    dgms, _ = AlphaLayer(maxdim=2)(torch.from_numpy(pts))
    ref = flag_reference(pts, Delaunay(pts).simplices, 2)
    for d in range(3):
        assert_same_bars(dgms[d], ref[d], atol=1e-12)


# -- gradients --------------------------------------------------------------------------------


@pytest.mark.parametrize("layer", [RipsLayer(8, maxdim=1), AlphaLayer(maxdim=1)])
def test_gradcheck_points(layer: torch.nn.Module) -> None:
    x0 = torch.rand(8, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    feats = [BarcodePolyFeature(0, 2, 0), BarcodePolyFeature(1, 1, 1), SumBarcodeLengths(1)]

    def fn(x: torch.Tensor) -> torch.Tensor:
        out = layer(x)
        finite = [d[torch.isfinite(d)] for d in out[0]]
        return torch.cat([*finite, *(f(out).reshape(1) for f in feats)])

    assert torch.autograd.gradcheck(fn, (x0.requires_grad_(),), eps=1e-6, atol=1e-6)


def test_gradcheck_alpha_1d_and_distance_matrix() -> None:
    beta = torch.tensor([[0.3], [1.7], [-0.4], [1.1], [2.6]], dtype=torch.float64)

    def alpha(b: torch.Tensor) -> torch.Tensor:
        return weak_alpha_barcodes(b, 0)[0].deaths[:-1]

    assert torch.autograd.gradcheck(alpha, (beta.requires_grad_(),))
    x = torch.rand(7, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    D0 = torch.cdist(x, x)

    def rips(D: torch.Tensor) -> torch.Tensor:
        return torch.cat([b.diagram[torch.isfinite(b.diagram)] for b in rips_barcodes(D, 1, True)])

    assert torch.autograd.gradcheck(rips, (D0.requires_grad_(),))


def test_longest_edge_gradient_formula() -> None:
    """∂d/∂x_i = (x_i − x_j)/‖x_i − x_j‖ at the critical edge (spec B.1)."""
    x = torch.tensor(SQUARE, dtype=torch.float64, requires_grad=True)
    dgms, _ = RipsLayer(4, maxdim=1)(x)
    d1 = dgms[1][dgms[1][:, 0] != dgms[1][:, 1]]
    d1[0, 1].backward()
    g = x.grad.numpy()
    assert np.count_nonzero(np.abs(g).sum(1)) == 2
    i, j = np.flatnonzero(np.abs(g).sum(1))
    xi, xj = x.detach().numpy()[[i, j]]
    np.testing.assert_allclose(g[i], (xi - xj) / np.linalg.norm(xi - xj))
    np.testing.assert_allclose(g[j], -(xi - xj) / np.linalg.norm(xi - xj))


def test_coincident_points_have_finite_gradients() -> None:
    x = torch.tensor([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], requires_grad=True)
    for layer in (RipsLayer(4, maxdim=1), AlphaLayer(maxdim=0)):
        if isinstance(layer, AlphaLayer):
            with pytest.raises(ValueError, match="coincident"):
                layer(x)
            continue
        out = layer(x)
        (SumBarcodeLengths(0)(out) + SumBarcodeLengths(1)(out)).backward()
        assert torch.isfinite(x.grad).all()


# -- bad inputs -------------------------------------------------------------------------------


def test_bad_inputs_raise() -> None:
    with pytest.raises(ValueError, match="got 5 points"):
        RipsLayer(4)(torch.rand(5, 2))
    with pytest.raises(ValueError, match=r"\(n, n\)"):
        RipsLayer(distance_matrix=True)(torch.rand(4, 3))
    with pytest.raises(ValueError, match="negative"):
        RipsLayer(distance_matrix=True)(-torch.ones(3, 3))
    with pytest.raises(ValueError, match="NaN"):
        RipsLayer()(torch.tensor([[0.0, float("nan")], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="point cloud"):
        AlphaLayer()(torch.rand(5))
    with pytest.raises(ValueError, match="Delaunay"):
        AlphaLayer(maxdim=1)(torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]))
    with pytest.raises(ValueError, match="maxdim"):
        AlphaLayer(maxdim=-1)
    with pytest.raises(ValueError, match="alg"):
        RipsLayer(alg="ripser")


def test_rips_fast_path_and_exact_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    """ripser's values map to unique edges on random points; lattice ties use gudhi."""
    import topoexp.topology.rips as rips

    calls = []
    original = rips._gudhi_flag
    monkeypatch.setattr(rips, "_gudhi_flag", lambda *a: calls.append(1) or original(*a))
    rips_barcodes(torch.rand(30, 2), 1)
    assert calls == []
    lattice = np.stack(np.meshgrid(np.arange(4.0), np.arange(3.0)), -1).reshape(-1, 2)
    dgms = rips_barcodes(torch.from_numpy(lattice), 1)
    assert calls == [1]
    assert_same_bars(dgms[1].diagram, ripser.ripser(lattice, maxdim=1)["dgms"][1])

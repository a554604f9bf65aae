"""Level-set layers: known answers, gudhi and a literal reduction on random inputs, gradients."""

from __future__ import annotations

import gudhi
import numpy as np
import pytest
import torch

from tests.test_topology_reference import (
    all_faces,
    assert_same_all_bars,
    assert_same_bars,
    lower_star,
    nonzero,
    reference_diagrams,
)
from topoexp.topology import (
    BarcodePolyFeature,
    LevelSetLayer,
    LevelSetLayer1D,
    LevelSetLayer2D,
    SimplicialComplex,
    grid_complex,
    levelset_barcodes,
)

COMPLEXES = ("freudenthal", "grid", "delaunay")


def gudhi_lower_star(cx: SimplicialComplex, f: np.ndarray, maxdim: int, sublevel: bool):
    """Diagrams of gudhi's simplex tree with lower-star values (negated for superlevel)."""
    g = f if sublevel else -f
    st = gudhi.SimplexTree()
    for d in range(cx.dim + 1):
        for s in cx.simplices(d):
            st.insert(s.tolist(), float(g[s].max()))
    st.compute_persistence(min_persistence=-1, persistence_dim_max=True)
    sign = 1.0 if sublevel else -1.0
    return [sign * st.persistence_intervals_in_dimension(d) for d in range(maxdim + 1)]


def reference(cx: SimplicialComplex, f: np.ndarray, maxdim: int, sublevel: bool):
    g = f if sublevel else -f
    simplices = [tuple(s) for d in range(cx.dim + 1) for s in cx.simplices(d).tolist()]
    sign = 1.0 if sublevel else -1.0
    return [sign * d for d in reference_diagrams(simplices, lower_star(simplices, g), maxdim)]


# -- known answers (spec B.6, evaluation_anchors §3) ------------------------------------------


@pytest.mark.parametrize("kind", COMPLEXES)
def test_superlevel_3x3_known_answer(kind: str) -> None:
    img = torch.tensor([[2.0, 1, 1], [1, 0.5, 1], [1, 1, 1]])
    dgms, issub = LevelSetLayer2D((3, 3), maxdim=1, sublevel=False, complex=kind)(img)
    assert issub is False
    np.testing.assert_array_equal(nonzero(dgms[0]), [[2.0, -np.inf]])
    np.testing.assert_array_equal(nonzero(dgms[1]), [[1.0, 0.5]])


def test_path_known_answer_and_gradient() -> None:
    y = torch.tensor([1.0, 0.0, 1.0], requires_grad=True)
    dgms, issub = LevelSetLayer1D(3, sublevel=False)(y)
    assert issub is False and len(dgms) == 1
    d = dgms[0]
    fin = torch.isfinite(d[:, 1]) & (d[:, 0] != d[:, 1])
    np.testing.assert_array_equal(d[fin].detach(), [[1.0, 0.0]])
    np.testing.assert_array_equal(nonzero(d)[:, 1], [-np.inf, 0.0])
    (d[fin, 0] + d[fin, 1]).sum().backward()
    assert y.grad[1] == 1.0
    dgms, issub = LevelSetLayer1D(3, sublevel=True)(y.detach())
    assert issub is True
    np.testing.assert_array_equal(nonzero(dgms[0]), [[0.0, np.inf]])


def test_gudhi_lower_star_example_gradient() -> None:
    """gudhi's documented example: loss Σ (½ (d − b))² over finite H0 bars."""
    F = torch.tensor([6.0, 4, 3, 4, 5, 4, 3, 2, 3, 4, 5], requires_grad=True)
    d = LevelSetLayer1D(11)(F)[0][0]
    fin = torch.isfinite(d[:, 1])
    (0.5 * (d[fin, 1] - d[fin, 0])).square().sum().backward()
    assert torch.nonzero(F.grad).ravel().tolist() == [2, 4]
    np.testing.assert_array_equal(F.grad[[2, 4]], [-1.0, 1.0])


# -- against independent implementations ------------------------------------------------------


def random_image(rng: np.random.Generator, h: int, w: int, ties: bool) -> np.ndarray:
    return rng.integers(0, 4, size=(h, w)).astype(float) if ties else rng.normal(size=(h, w))


@pytest.mark.parametrize("kind", COMPLEXES)
@pytest.mark.parametrize("sublevel", [True, False])
@pytest.mark.parametrize("ties", [False, True])
def test_grid_equals_gudhi_and_reduction(kind: str, sublevel: bool, ties: bool) -> None:
    rng = np.random.default_rng(hash((kind, sublevel, ties)) % 2**32)
    for h, w in ((5, 7), (6, 4), (1, 5)):
        img = random_image(rng, h, w, ties)
        cx = grid_complex(w, h, kind)
        dgms, _ = LevelSetLayer2D((w, h), maxdim=1, sublevel=sublevel, complex=kind)(
            torch.from_numpy(img)
        )
        f = img.ravel()
        ref = reference(cx, f, 1, sublevel)
        gd = gudhi_lower_star(cx, f, 1, sublevel)
        for d in (0, 1):
            assert_same_all_bars(dgms[d], ref[d])  # zero-length bars included
            assert_same_bars(dgms[d], gd[d])


@pytest.mark.parametrize("ties", [False, True])
def test_path_equals_gudhi_cubical(ties: bool) -> None:
    rng = np.random.default_rng(7)
    for sublevel in (True, False):
        y = rng.integers(0, 5, 40).astype(float) if ties else rng.normal(size=40)
        dgm = LevelSetLayer1D(40, sublevel=sublevel)(torch.from_numpy(y))[0][0]
        cc = gudhi.CubicalComplex(vertices=y if sublevel else -y)
        cc.compute_persistence(min_persistence=-1)
        theirs = cc.persistence_intervals_in_dimension(0) * (1 if sublevel else -1)
        assert_same_bars(dgm, theirs)
        assert dgm.shape == (40, 2)


def test_general_complex_planar_and_not() -> None:
    """A random 2-D Delaunay complex as a user complex: dual union-find (planar=True) and gudhi
    both equal the literal reduction; a 3-D complex with maxdim 2 through gudhi."""
    from scipy.spatial import Delaunay

    rng = np.random.default_rng(11)
    pts = rng.random((30, 2))
    tris = Delaunay(pts).simplices
    cx = SimplicialComplex.from_simplices(all_faces(tris, 2))
    f = rng.normal(size=30)
    for sublevel in (True, False):
        ref = reference(cx, f, 1, sublevel)
        for planar in (True, False):
            dgms, _ = LevelSetLayer(cx, maxdim=1, sublevel=sublevel, planar=planar)(
                torch.from_numpy(f)
            )
            for d in (0, 1):
                assert_same_all_bars(dgms[d], ref[d])
    tets = Delaunay(rng.random((15, 3))).simplices
    cx3 = SimplicialComplex.from_simplices(all_faces(tets, 3))
    f3 = rng.integers(0, 3, 15).astype(float)
    dgms, _ = LevelSetLayer(cx3, maxdim=2)(torch.from_numpy(f3))
    ref = reference(cx3, f3, 2, True)
    for d in range(3):
        assert_same_bars(dgms[d], ref[d])


def test_dimensions_beyond_the_complex_are_empty() -> None:
    dgms, _ = LevelSetLayer(grid_complex(3, 3), maxdim=3)(torch.rand(9))
    assert [d.shape[0] for d in dgms] == [9, 8, 0, 0]
    dgms, _ = LevelSetLayer2D((4, 1))(torch.rand(1, 4))  # a path: no loops
    assert [d.shape[0] for d in dgms] == [4, 0]
    dgms, _ = LevelSetLayer2D((1, 1), complex="grid")(torch.rand(3, 1, 1))
    assert [tuple(d.shape) for d in dgms] == [(3, 1, 2), (3, 0, 2)]


def test_vertices_only_and_empty_batches() -> None:
    points = SimplicialComplex.from_simplices([[0], [1], [2]])
    dgms, _ = LevelSetLayer(points, maxdim=1)(torch.tensor([2.0, 0.0, 1.0]))
    np.testing.assert_array_equal(dgms[0], [[2.0, np.inf], [0.0, np.inf], [1.0, np.inf]])
    assert dgms[1].shape == (0, 2)
    for layer in (LevelSetLayer2D((3, 2)), LevelSetLayer2D((3, 2), complex="grid")):
        dgms, _ = layer(torch.zeros(0, 2, 3))
        assert [d.shape[:2] for d in dgms] == [(0, 6), (0, 4 if layer.kind != "grid" else 6)]
    cycle = SimplicialComplex.from_simplices([[0], [1], [2], [0, 1], [1, 2], [0, 2]])
    dgms, _ = LevelSetLayer(cycle, maxdim=1)(torch.zeros(0, 3))
    assert [d.shape for d in dgms] == [(0, 3, 2), (0, 1, 2)]


def test_integer_values_are_promoted() -> None:
    dgms, _ = LevelSetLayer1D(3)(torch.tensor([0, 3, 1]))
    np.testing.assert_array_equal(nonzero(dgms[0]), [[0.0, np.inf], [1.0, 3.0]])


def test_cycle_graph_has_an_essential_loop() -> None:
    cx = SimplicialComplex()
    for s in ([0], [1], [2], [3], [0, 1], [1, 2], [2, 3], [0, 3]):
        cx.append(s)
    f = torch.tensor([0.0, 2.0, 1.0, 3.0])
    dgms, _ = LevelSetLayer(cx, maxdim=1)(f)
    np.testing.assert_array_equal(nonzero(dgms[0]), [[0.0, np.inf], [1.0, 2.0]])
    np.testing.assert_array_equal(nonzero(dgms[1]), [[3.0, np.inf]])


# -- batches, layout, gradients ---------------------------------------------------------------


@pytest.mark.parametrize("kind", COMPLEXES)
def test_batch_equals_items(kind: str) -> None:
    rng = np.random.default_rng(5)
    imgs = torch.from_numpy(rng.integers(0, 3, size=(2, 3, 4, 6)).astype(np.float32))
    layer = LevelSetLayer2D((6, 4), maxdim=1, sublevel=False, complex=kind)
    batch, _ = layer(imgs)
    flat, _ = layer(imgs.reshape(2, 3, 24))
    for d in (0, 1):
        assert batch[d].shape[:2] == (2, 3) and batch[d].dtype == torch.float32
        torch.testing.assert_close(batch[d], flat[d])
        for i in range(2):
            for j in range(3):
                torch.testing.assert_close(batch[d][i, j], layer(imgs[i, j])[0][d])


def test_layout_one_bar_per_vertex_and_per_triangle() -> None:
    f = torch.randn(5, 4)
    bars = levelset_barcodes(f.reshape(-1), grid_complex(4, 5), 1, sublevel=True)
    assert torch.equal(bars[0].births, f.reshape(-1))  # bar v is born at vertex v
    assert bars[0].birth_cells.shape == (20, 1)
    assert len(bars[1]) == 2 * 3 * 4  # one per triangle of the Freudenthal grid
    assert int(torch.isinf(bars[0].deaths).sum()) == 1
    assert (bars[0].death_cells[torch.isinf(bars[0].deaths)] == -1).all()
    assert torch.equal(bars[1].deaths, f.reshape(-1)[bars[1].death_cells[:, 0]])


@pytest.mark.parametrize("kind", COMPLEXES)
@pytest.mark.parametrize("sublevel", [True, False])
def test_gradcheck(kind: str, sublevel: bool) -> None:
    layer = LevelSetLayer2D((4, 3), maxdim=1, sublevel=sublevel, complex=kind)
    f0 = torch.randn(2, 3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    poly0, poly1 = BarcodePolyFeature(0, 2, 1), BarcodePolyFeature(1, 1, 2)

    def fn(f: torch.Tensor) -> torch.Tensor:
        out = layer(f)
        finite = [d[torch.isfinite(d)] for d in out[0]]
        return torch.cat([*finite, poly0(out).ravel(), poly1(out).ravel()])

    assert torch.autograd.gradcheck(fn, (f0.requires_grad_(),), eps=1e-6, atol=1e-6)


def test_stateless_two_forwards_one_backward() -> None:
    layer = LevelSetLayer2D((3, 3), maxdim=1, sublevel=False)
    a = torch.tensor([[2.0, 1, 1], [1, 0.5, 1], [1, 1, 1]], requires_grad=True)
    b = torch.rand(3, 3, requires_grad=True)
    da, db = layer(a)[0][1], layer(b)[0][1]
    (da.sum() + 0 * db.sum()).backward()
    expected = torch.zeros(3, 3)
    dgm = da.detach()
    rows = levelset_barcodes(a.detach().reshape(-1), layer.complex, 1, False)[1]
    for cells in (rows.birth_cells, rows.death_cells):
        for v in cells[:, 0]:
            expected.view(-1)[v] += 1
    torch.testing.assert_close(a.grad, expected)
    assert torch.isfinite(dgm).all()


# -- bad inputs -------------------------------------------------------------------------------


def test_bad_inputs_raise() -> None:
    layer = LevelSetLayer2D((4, 3))
    with pytest.raises(ValueError, match="expected images"):
        layer(torch.zeros(4, 3))
    with pytest.raises(ValueError, match="NaN"):
        layer(torch.full((3, 4), float("nan")))
    with pytest.raises(ValueError, match="complex must be"):
        LevelSetLayer2D((3, 3), complex="cubical")
    with pytest.raises(ValueError, match="size"):
        LevelSetLayer2D((3, 0))
    with pytest.raises(ValueError, match="maxdim"):
        LevelSetLayer(grid_complex(3, 3), maxdim=-1)
    with pytest.raises(ValueError, match="alg"):
        LevelSetLayer2D((3, 3), alg="fast")
    with pytest.raises(ValueError, match="maxdim <= 1"):
        LevelSetLayer2D((3, 3), maxdim=2, complex="grid")
    cx = SimplicialComplex()
    cx.append([0])
    cx.append([0, 1])
    with pytest.raises(ValueError, match="not appended"):
        LevelSetLayer(cx)
    with pytest.raises(ValueError, match="distinct"):
        cx.append([1, 1])
    with pytest.raises(ValueError, match="disc"):
        triangle_boundary = [[0], [1], [2], [0, 1], [1, 2], [0, 2]]
        LevelSetLayer(SimplicialComplex.from_simplices(triangle_boundary), planar=True)


def test_grid_complexes_follow_topologylayer() -> None:
    """Vertex i * width + j; edges right and down; one diagonal (ind, ind + width + 1) and two
    triangles per square (Freudenthal), both diagonals and four triangles ("grid")."""
    w, h = 4, 3
    fr, gr = grid_complex(w, h, "freudenthal"), grid_complex(w, h, "grid")
    ind = [(i, j, i * w + j) for i in range(h) for j in range(w)]
    right = {(v, v + 1) for i, j, v in ind if j < w - 1}
    down = {(v, v + w) for i, j, v in ind if i < h - 1}
    diag = {(v, v + w + 1) for i, j, v in ind if i < h - 1 and j < w - 1}
    anti = {(v + 1, v + w) for i, j, v in ind if i < h - 1 and j < w - 1}
    assert set(map(tuple, fr.simplices(1).tolist())) == right | down | diag
    assert set(map(tuple, gr.simplices(1).tolist())) == right | down | diag | anti
    squares = (w - 1) * (h - 1)
    assert len(fr.simplices(2)) == 2 * squares and len(gr.simplices(2)) == 4 * squares
    assert fr.n_vertices == gr.n_vertices == w * h


@pytest.mark.parametrize("sublevel", [True, False])
@pytest.mark.parametrize("ties", [False, True])
def test_grid_triangulation_equals_gudhi_cubical_top_cells(sublevel: bool, ties: bool) -> None:
    """With both diagonals and all four triangles per square, the sublevel complex on any vertex
    set is the nerve of the closed pixel squares, so its diagrams are those of gudhi's cubical
    complex with the pixels as top cells (8-connectivity)."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(21 + ties)
    small = random_image(rng, 7, 9, ties)
    mnist_like = np.round(16 * gaussian_filter(rng.random((28, 28)), 1.5) * 4) / 4  # ties
    for img in (small, mnist_like):
        h, w = img.shape
        dgms, _ = LevelSetLayer2D((w, h), maxdim=1, sublevel=sublevel, complex="grid")(
            torch.from_numpy(img)
        )
        cc = gudhi.CubicalComplex(top_dimensional_cells=img if sublevel else -img)
        cc.compute_persistence(min_persistence=-1)
        sign = 1.0 if sublevel else -1.0
        for d in (0, 1):
            assert_same_bars(dgms[d], sign * cc.persistence_intervals_in_dimension(d))

"""MMD / COV of Achlioptas et al., L2 distances, PD0 diagrams, their Wasserstein distances and
component counts, each against a hand computation or an independent library."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial.distance import cdist

from topoexp.evaluation.mmd_cov import l2_distances, mmd_cov
from topoexp.evaluation.pd0 import (
    components_above,
    long_bars,
    pd0_bars,
    pd0_diagrams,
    wasserstein_matrix,
)
from topoexp.topology.complexes import grid_complex


def test_mmd_and_cov_of_a_hand_computed_matrix():
    # 3 reference samples (rows) × 4 generated (columns)
    d = np.array(
        [
            [1.0, 4.0, 2.0, 9.0],
            [3.0, 0.5, 7.0, 8.0],
            [6.0, 5.0, 3.0, 2.5],
        ]
    )
    mmd, cov = mmd_cov(d)
    assert mmd == pytest.approx((1.0 + 0.5 + 2.5) / 3)
    # nearest reference of each generated sample: 0, 1, 0, 2 -> all three covered
    assert cov == pytest.approx(1.0)
    d[2, 3] = 8.5  # generated 3 now nearest to reference 1: references 0 and 1 covered
    mmd, cov = mmd_cov(d)
    assert cov == pytest.approx(2 / 3)
    assert mmd == pytest.approx((1.0 + 0.5 + 3.0) / 3)


def test_mmd_cov_rejects_bad_input():
    with pytest.raises(ValueError, match="non-empty"):
        mmd_cov(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="non-finite"):
        mmd_cov(np.array([[np.nan]]))


def test_l2_distances_equal_scipy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(7, 1, 4, 4)), rng.normal(size=(5, 1, 4, 4))
    got = l2_distances(torch.tensor(a), torch.tensor(b), block=3).numpy()
    np.testing.assert_allclose(got, cdist(a.reshape(7, -1), b.reshape(5, -1)), rtol=1e-12)


def _pot_w1(x: np.ndarray, y: np.ndarray) -> float:
    """1-Wasserstein (L∞ ground metric) by the textbook construction: each diagram is completed
    with the diagonal projections of the other's points, diagonal-to-diagonal costs 0."""
    import ot

    def proj(p):
        m = (p[:, 0] + p[:, 1]) / 2
        return np.stack([m, m], 1)

    a, b = np.concatenate([x, proj(y)]), np.concatenate([y, proj(x)])
    cost = cdist(a, b, metric="chebyshev")
    cost[len(x) :, len(y) :] = 0.0
    n = len(a)
    return float(ot.emd2(np.full(n, 1.0), np.full(n, 1.0), cost))


def test_pd0_wasserstein_equals_an_independent_optimal_transport():
    rng = np.random.default_rng(3)
    dgms = []
    for k in (1, 3, 5, 2):
        b = rng.uniform(-1, 0.5, k)
        dgms.append(np.stack([b, b + rng.uniform(0.05, 1, k)], 1))
    got = wasserstein_matrix(dgms, dgms[1:])
    for i, x in enumerate(dgms):
        for j, y in enumerate(dgms[1:]):
            assert got[i, j] == pytest.approx(_pot_w1(x, y), abs=1e-9)
    assert got[1, 0] == pytest.approx(0.0, abs=1e-12)


def _two_blob_image() -> torch.Tensor:
    img = torch.full((1, 1, 28, 28), -1.0, dtype=torch.float64)
    img[0, 0, 3:8, 3:8] = 0.8
    img[0, 0, 15:20, 15:22] = 0.4
    img[0, 0, 10, 10] = 0.2  # a third, single-pixel component, shorter than 1.3
    return img


def test_pd0_diagrams_are_the_nonzero_bars_with_the_essential_one_clipped():
    (dgm,) = pd0_diagrams(_two_blob_image(), "freudenthal")
    # points (-birth, -death): essential (0.8 → -1), then 0.4 → -1 and 0.2 → -1
    want = np.array([[-0.8, 1.0], [-0.4, 1.0], [-0.2, 1.0]])
    np.testing.assert_allclose(dgm[np.argsort(dgm[:, 0])], want)


def _label_counts(images: np.ndarray, threshold: float, kind: str) -> np.ndarray:
    """Components of ``{x > threshold}``: scipy.ndimage for freudenthal (4-neighbours plus the
    down-right diagonal: a centrosymmetric structure), a graph search on the complex otherwise."""
    out = []
    for img in images:
        mask = img > threshold
        if kind == "freudenthal":
            structure = np.array([[1, 1, 0], [1, 1, 1], [0, 1, 1]])
            out.append(ndimage.label(mask, structure=structure)[1])
            continue
        edges = grid_complex(28, 28, kind).simplices(1)
        on = mask.reshape(-1)
        keep = edges[on[edges[:, 0]] & on[edges[:, 1]]]
        graph = coo_matrix((np.ones(len(keep)), (keep[:, 0], keep[:, 1])), shape=(784, 784))
        _, labels = connected_components(graph, directed=False)
        out.append(len(np.unique(labels[on])))
    return np.array(out)


@pytest.mark.parametrize("kind", ["freudenthal", "delaunay"])
@pytest.mark.parametrize("threshold", [0.0, 0.3])
def test_components_from_bars_equal_a_direct_labelling(kind, threshold):
    rng = np.random.default_rng(5)
    smooth = ndimage.gaussian_filter(rng.normal(size=(6, 28, 28)), sigma=(0, 1.2, 1.2))
    images = np.clip(smooth / smooth.std() * 0.6, -1, 1)
    images = np.concatenate([images, _two_blob_image()[:, 0].numpy()])
    bars = pd0_bars(torch.tensor(images), kind)
    got = components_above(bars, threshold)
    want = _label_counts(images, threshold, kind)
    assert want.max() > 1
    np.testing.assert_array_equal(got, want)


def test_long_bars_counts_the_finite_bars_above_epsilon():
    bars = pd0_bars(_two_blob_image(), "freudenthal")
    assert long_bars(bars, 0.1).tolist() == [2]  # 1.4 and 1.2; the essential one not counted
    assert long_bars(bars, 1.3).tolist() == [1]
    assert components_above(bars, 0.3).tolist() == [2]

"""Directional persistence features (the topology-layer paper's 400 MNIST features).

Checked against independent computations: gudhi's lower-star persistence on a simplex tree of the
same Freudenthal triangulation (built here, not by topoexp), the height functions at hand-computed
pixels, ``E(p, q, 1)`` of tiny diagrams by hand, and the gradient by finite differences.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from topoexp.config.markers import ArgumentError
from topoexp.topology.directional import DirectionalFeatures, height_functions
from topoexp.topology.features import barcode_energy, barcode_energy_grid

gudhi = pytest.importorskip("gudhi")


# -- E(p, q, 1) ----------------------------------------------------------------------------------


def test_energy_grid_by_hand_on_a_superlevel_diagram():
    # superlevel bars (birth >= death): one of length 0.8 and mean 0.5, a zero-length bar and the
    # essential bar (death -inf): only the first counts
    dgm = torch.tensor([[0.9, 0.1], [0.5, 0.5], [0.7, -math.inf]], dtype=torch.float64)
    grid = barcode_energy_grid(dgm, issublevel=False, max_p=4, max_q=4)
    expected = torch.tensor([[0.8**p * 0.5**q for q in range(5)] for p in range(5)])
    torch.testing.assert_close(grid, expected.to(torch.float64))


def test_energy_grid_by_hand_on_a_sublevel_diagram_with_two_bars():
    dgm = torch.tensor([[0.0, 2.0], [1.0, 1.5], [0.2, math.inf]], dtype=torch.float64)
    grid = barcode_energy_grid(dgm, issublevel=True, max_p=2, max_q=2)
    # bars: (length 2, mean 1) and (length 0.5, mean 1.25)
    assert grid[0, 0] == 2  # E(0, 0, 1) counts the finite bars of positive length
    assert grid[1, 0] == pytest.approx(2.5)
    assert grid[2, 1] == pytest.approx(4 * 1 + 0.25 * 1.25)
    assert grid[1, 2] == pytest.approx(2 * 1 + 0.5 * 1.25**2)


def test_energy_grid_equals_barcode_energy_for_every_p_q():
    gen = torch.Generator().manual_seed(0)
    birth = torch.rand(3, 40, generator=gen, dtype=torch.float64)
    death = birth - torch.rand(3, 40, generator=gen, dtype=torch.float64)
    death[:, :5] = birth[:, :5]  # zero-length bars
    death[:, 5] = -math.inf
    dgm = torch.stack([birth, death], -1)
    grid = barcode_energy_grid(dgm, False, 4, 3)
    for p in range(5):
        for q in range(4):
            torch.testing.assert_close(grid[:, p, q], barcode_energy(dgm, False, p, q, i0=1))


def test_energy_grid_gradient_has_no_nan_at_zero_lengths():
    dgm = torch.tensor([[0.5, 0.5], [0.9, 0.2]], dtype=torch.float64, requires_grad=True)
    barcode_energy_grid(dgm, False).sum().backward()
    assert torch.isfinite(dgm.grad).all()


# -- height functions ----------------------------------------------------------------------------


def test_height_functions_at_hand_computed_pixels():
    g = height_functions(4, 5, 8)  # rows 0..3, columns 0..4
    assert g.shape == (8, 4, 5)
    assert g.min() == 0 and g.max() == 1
    torch.testing.assert_close(g[0, 2], torch.arange(5, dtype=torch.float64) / 4)  # θ = 0: x
    torch.testing.assert_close(g[2][:, 1], torch.arange(4, dtype=torch.float64) / 3)  # π/2: y
    torch.testing.assert_close(g[4], 1 - g[0])  # π: −x
    assert g[1, 3, 4] == 1 and g[1, 0, 0] == 0  # π/4: (x + y) / 7
    assert g[1, 1, 2] == pytest.approx(3 / 7)
    assert g[3, 0, 4] == 0 and g[3, 3, 0] == 1  # 3π/4: −x + y
    assert g[3, 1, 1] == pytest.approx((1 - 1 + 4) / 7)


# -- against gudhi on the same filtration ------------------------------------------------------


def _freudenthal_features(image: np.ndarray, heights: np.ndarray, max_power: int) -> np.ndarray:
    """The features from gudhi's lower-star persistence of ``−I·g`` on a simplex tree of the
    Freudenthal triangulation (edges right, down and down-right; two triangles per square)."""
    h, w = image.shape
    ind = np.arange(h * w).reshape(h, w)
    tl, tr, bl, br = (ind[:-1, :-1].ravel(), ind[:-1, 1:].ravel(), ind[1:, :-1].ravel(),
                      ind[1:, 1:].ravel())  # fmt: skip
    columns = [
        (ind.ravel(),),
        (ind[:, :-1].ravel(), ind[:, 1:].ravel()),  # right
        (ind[:-1, :].ravel(), ind[1:, :].ravel()),  # down
        (tl, br),  # the diagonal
        (tl, tr, br),
        (tl, bl, br),
    ]
    simplices = [[int(v) for v in s] for cols in columns for s in zip(*cols, strict=True)]
    out = []
    for g in heights:
        f = -(image * g).ravel()  # superlevel sets of I·g = sublevel sets of −I·g
        st = gudhi.SimplexTree()
        for s in simplices:
            st.insert(s, filtration=float(f[s].max()))
        st.compute_persistence(persistence_dim_max=True)
        for k in (0, 1):
            pairs = st.persistence_intervals_in_dimension(k)
            pairs = pairs[np.isfinite(pairs).all(1) & (pairs[:, 1] > pairs[:, 0])]
            length = pairs[:, 1] - pairs[:, 0]
            mean = -(pairs[:, 0] + pairs[:, 1]) / 2  # back on the scale of I·g
            out += [
                float((length**p * mean**q).sum())
                for p in range(max_power + 1)
                for q in range(max_power + 1)
            ]
    return np.array(out)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_features_equal_gudhi_on_small_images(seed):
    rng = np.random.default_rng(seed)
    h, w = 7, 6
    image = rng.random((h, w))
    image[rng.random((h, w)) < 0.3] = 0  # background pixels: ties at 0, as in MNIST
    feats = DirectionalFeatures(size=(h, w), max_power=3)
    ours = feats(torch.from_numpy(image)[None]).numpy()[0]
    ref = _freudenthal_features(image, height_functions(h, w, 8).numpy(), max_power=3)
    assert ours.shape == (8 * 2 * 16,) == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12)
    assert (ref[::32] > 0).all()  # every direction has PD0 bars of positive length
    assert ref[16::32].sum() >= 4  # and there are PD1 bars (holes) in several directions


def test_feature_layout_and_names():
    feats = DirectionalFeatures()
    assert feats.n_features == 400
    names = feats.feature_names()
    assert len(names) == 400 and names[0] == "E(0,0;PD0;dir=0)"
    assert names[25] == "E(0,0;PD1;dir=0)" and names[50 + 7] == "E(1,2;PD0;dir=1)"


def test_the_batch_and_the_chunking_do_not_change_the_features():
    rng = np.random.default_rng(3)
    images = torch.from_numpy(rng.random((5, 1, 8, 8)))
    full = DirectionalFeatures(size=(8, 8), chunk=512)(images)
    chunked = DirectionalFeatures(size=(8, 8), chunk=2)(images)
    one_by_one = torch.cat([DirectionalFeatures(size=(8, 8))(x[None])
                            for x in images])  # fmt: skip
    torch.testing.assert_close(chunked, full)
    torch.testing.assert_close(one_by_one, full)
    flat = DirectionalFeatures(size=(8, 8))(images.reshape(5, 64))
    torch.testing.assert_close(flat, full)


def test_gradient_matches_finite_differences_on_a_generic_image():
    rng = np.random.default_rng(4)
    image = torch.from_numpy(0.1 + 0.9 * rng.random((1, 6, 5))).requires_grad_(True)
    feats = DirectionalFeatures(size=(6, 5), n_directions=8, max_power=2)
    assert torch.autograd.gradcheck(feats, (image,), eps=1e-7, atol=1e-6, rtol=1e-5)
    # and the gradient is not trivially zero
    (grad,) = torch.autograd.grad(feats(image).sum(), image)
    assert grad.abs().sum() > 0


def test_bad_settings_name_their_argument():
    with pytest.raises(ArgumentError, match="dims"):
        DirectionalFeatures(dims=(0, 2))
    with pytest.raises(ArgumentError, match="size"):
        DirectionalFeatures(size=(28,))
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        DirectionalFeatures()(torch.zeros(2, 27, 28))

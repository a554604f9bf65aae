"""The generator prior E(1, 0, 2; PD0) and the PD0 features against gudhi on the same complex."""

from __future__ import annotations

import gudhi
import numpy as np
import pytest
import torch

from topoexp.losses.topology_prior import PD0Features, TopologyPrior
from topoexp.topology.complexes import grid_complex


def _gudhi_superlevel_lengths(image: np.ndarray, kind: str, clip: float = -1.0) -> np.ndarray:
    """H0 bar lengths of the superlevel sets of ``image`` on the ``kind`` triangulation, from a
    gudhi lower-star simplex tree of ``-image``; the essential bar's death clipped to ``clip``."""
    h, w = image.shape
    f = -image.reshape(-1).astype(np.float64)
    cx = grid_complex(w, h, kind)
    st = gudhi.SimplexTree()
    for d in range(3):
        simp = cx.simplices(d)
        if len(simp):
            st.insert_batch(simp.T, f[simp].max(axis=1))
    st.compute_persistence(persistence_dim_max=True)
    bars = st.persistence_intervals_in_dimension(0)
    lengths = [(-clip - b) if np.isinf(d) else d - b for b, d in bars]
    return np.sort(np.array(lengths))[::-1]


def _images(n: int, seed: int) -> torch.Tensor:
    """Blobs plus noise in [-1, 1]: several superlevel components per image."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:28, 0:28]
    out = []
    for _ in range(n):
        img = np.full((28, 28), -1.0)
        for _ in range(rng.integers(1, 4)):
            cy, cx, s = rng.uniform(4, 24), rng.uniform(4, 24), rng.uniform(1.5, 4)
            img = np.maximum(img, 2 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s**2)) - 1)
        img = np.clip(img + 0.15 * rng.standard_normal((28, 28)), -1, 1)
        out.append(img)
    return torch.tensor(np.stack(out))[:, None]


@pytest.mark.parametrize("kind", ["delaunay", "freudenthal"])
def test_the_prior_is_every_bar_but_the_longest_as_gudhi_computes_them(kind):
    images = _images(6, seed=1)
    got = TopologyPrior(complex=kind).per_image(images).numpy()
    want = [_gudhi_superlevel_lengths(img[0].numpy(), kind)[1:].sum() for img in images]
    assert np.all(np.array(want) > 0.5)  # the images do have several components
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    # the batch cost is the mean, and dropping the essential bar with i0 = 1 gives the same sum
    assert float(TopologyPrior(complex=kind)(images)) == pytest.approx(np.mean(want), rel=1e-12)
    same = TopologyPrior(complex=kind, i0=1, clip_infinite=None).per_image(images).numpy()
    np.testing.assert_allclose(same, want, rtol=1e-12)


def test_a_single_bump_costs_nothing_and_two_bumps_cost_the_lower_peak_above_its_saddle():
    img = torch.full((1, 1, 28, 28), -1.0, dtype=torch.float64)
    img[0, 0, 5, 5], img[0, 0, 20, 20] = 0.9, 0.3
    assert float(TopologyPrior()(img)) == pytest.approx(0.3 - (-1.0))  # merges at the background
    img[0, 0, 20, 20] = -1.0
    assert float(TopologyPrior()(img)) == 0.0


def test_the_prior_gradient_passes_gradcheck():
    """Finite differences against autograd, on an image with distinct values (no ties)."""
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.permutation(784) / 784.0 * 1.8 - 0.9, dtype=torch.float64)
    x = x.reshape(1, 1, 28, 28).requires_grad_(True)
    prior = TopologyPrior(complex="delaunay")
    assert torch.autograd.gradcheck(prior, (x,), eps=1e-6, atol=1e-6)
    grad = torch.autograd.grad(prior(x), x)[0]
    # every finite bar contributes +1 at its birth pixel and -1 at its death pixel
    assert float(grad.sum()) == pytest.approx(0.0, abs=1e-12)
    assert grad.abs().max() > 0


@pytest.mark.parametrize("kind", ["delaunay", "freudenthal"])
def test_the_pd0_features_are_sums_of_the_longest_finite_bars(kind):
    images = _images(5, seed=2)
    got = PD0Features(ks=[3, 4, 5, 11], complex=kind)(images).numpy()
    for row, img in zip(got, images, strict=True):
        lengths = _gudhi_superlevel_lengths(img[0].numpy(), kind)
        want = [lengths[1 : k - 1].sum() for k in (3, 4, 5, 11)]
        np.testing.assert_allclose(row, want, rtol=1e-12, atol=1e-12)


def test_bad_settings_fail_naming_the_argument():
    from topoexp.config.markers import ArgumentError

    with pytest.raises(ArgumentError, match="ks"):
        PD0Features(ks=[2])
    with pytest.raises(ArgumentError, match="complex"):
        TopologyPrior(complex="hexagonal")
    with pytest.raises(ValueError, match="expected images"):
        TopologyPrior()(torch.zeros(2, 27, 28))

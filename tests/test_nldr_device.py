"""The torch (device) NLDR path equals the numba path, ties and duplicates included."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from topoexp.evaluation.nldr import nldr_curves
from topoexp.evaluation.nldr_device import nldr_curves_torch

KW = dict(k_min=2, k_max=20, k_step=3)


def _same(a, b) -> None:
    np.testing.assert_array_equal(a.ks, b.ks)
    for name in ("trust", "cont", "mrre_zx", "mrre_xz"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=0, atol=1e-12)
    assert a.kl.keys() == b.kl.keys()
    for s in a.kl:
        assert a.kl[s] == pytest.approx(b.kl[s], rel=1e-10, abs=1e-14)
    assert a.rmse == pytest.approx(b.rmse, rel=1e-12)


def _data(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    return x, x[:, :2] @ rng.normal(size=(2, 2)) + 0.3 * rng.normal(size=(n, 2))


@pytest.mark.parametrize(("n", "d", "block"), [(60, 5, None), (97, 40, 13), (64, 101, 64)])
def test_random_points_equal_the_numba_path(n, d, block):
    x, z = _data(n, d, n)
    _same(nldr_curves(x, z, **KW), nldr_curves_torch(x, z, block_size=block, device="cpu", **KW))


def test_duplicates_and_tied_distances_follow_the_same_stable_order():
    rng = np.random.default_rng(7)
    grid = rng.integers(0, 3, size=(70, 3)).astype(float)  # many exact ties and duplicates
    z = rng.integers(0, 4, size=(70, 2)).astype(float)
    ref = nldr_curves(grid, z, **KW)
    for block in (None, 9):
        _same(ref, nldr_curves_torch(grid, z, block_size=block, device="cpu", **KW))


def test_tensors_on_the_device_are_taken_as_they_are():
    x, z = _data(50, 4, 3)
    got = nldr_curves_torch(
        torch.as_tensor(x), torch.as_tensor(z, dtype=torch.float32), device="cpu", **KW
    )
    _same(nldr_curves(x, torch.as_tensor(z, dtype=torch.float32), **KW), got)


def test_the_same_input_checks():
    x, z = _data(60, 3, 1)
    with pytest.raises(ValueError, match="same number of points"):
        nldr_curves_torch(x, z[:-1], device="cpu", **KW)
    with pytest.raises(ValueError, match="coincide"):
        nldr_curves_torch(np.zeros_like(x), z, device="cpu", **KW)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_equals_the_numba_path():
    x, z = _data(500, 30, 11)
    _same(
        nldr_curves(x, z, k_min=10, k_max=100, k_step=10),
        nldr_curves_torch(x, z, device="cuda", k_min=10, k_max=100, k_step=10),
    )

"""COREL's connectivity loss: death times against ripser under ℓ1, gradients, batching, by hand."""

from __future__ import annotations

import gudhi
import numpy as np
import pytest
import ripser
import torch
from scipy.spatial.distance import cdist

from topoexp.losses.connectivity import ConnectivityLoss
from topoexp.topology import death_times, death_times0, pairing0, pairwise_distances


def ripser_l1_deaths(X: np.ndarray) -> np.ndarray:
    """Finite 0-dim deaths of ripser on the ℓ1 distance matrix (zero-length bars dropped)."""
    D = cdist(X, X, metric="cityblock")
    dgm = ripser.ripser(D, maxdim=0, distance_matrix=True)["dgms"][0]
    return np.sort(dgm[np.isfinite(dgm[:, 1]), 1])


def gudhi_l1_deaths(X: np.ndarray) -> np.ndarray:
    """Finite 0-dim deaths of gudhi in float64 on the ℓ1 matrix, zero-length bars included."""
    tree = gudhi.RipsComplex(distance_matrix=cdist(X, X, metric="cityblock")).create_simplex_tree(
        max_dimension=1
    )
    tree.persistence(min_persistence=-1)
    bars = tree.persistence_intervals_in_dimension(0).reshape(-1, 2)
    return np.sort(bars[np.isfinite(bars[:, 1]), 1])


def clouds(kind: str, rng: np.random.Generator, n: int = 40, d: int = 5) -> np.ndarray:
    if kind == "gauss":
        return rng.normal(size=(n, d))
    if kind == "ties":  # small integer grid: many equal ℓ1 distances
        return rng.integers(0, 3, size=(n, d)).astype(np.float64)
    # duplicates: a third of the points repeated
    X = rng.normal(size=(n, d))
    X[n // 3 : 2 * (n // 3)] = X[: n // 3]
    return X


@pytest.mark.parametrize("kind", ["gauss", "ties", "dups"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_death_times_equal_ripser_l1(kind: str, dtype: torch.dtype) -> None:
    rng = np.random.default_rng(1)
    for _ in range(3):
        X = clouds(kind, rng)
        deaths, pairs = death_times0(torch.as_tensor(X, dtype=dtype), p=1)
        ours = deaths.numpy()
        assert pairs.shape == (len(X) - 1, 2)
        assert np.all(np.diff(ours) >= -1e-6)  # increasing
        theirs = ripser_l1_deaths(X)
        # ripser computes in float32
        np.testing.assert_allclose(ours[ours > 1e-6], theirs, rtol=1e-6, atol=1e-6)
        # the zero-length bars are exactly the duplicate points
        n_zero = len(X) - len(np.unique(X, axis=0))
        assert int((ours == 0).sum()) == n_zero
        if dtype == torch.float64:
            np.testing.assert_allclose(ours, gudhi_l1_deaths(X), rtol=1e-12, atol=1e-12)


def test_death_times_are_the_gathered_distances() -> None:
    """Recomputing ‖z_i − z_j‖_1 at the MST edges equals gathering the ℓ1 distance matrix."""
    z = torch.randn(4, 30, 6, dtype=torch.float64)
    deaths, pairs = death_times0(z, p=1)
    D = pairwise_distances(z, p=1)
    torch.testing.assert_close(deaths, death_times(D, pairs))
    torch.testing.assert_close(pairs, pairing0(D))


def test_other_p() -> None:
    X = np.random.default_rng(2).normal(size=(25, 4))
    deaths, _ = death_times0(torch.from_numpy(X), p=2)
    dgm = ripser.ripser(X, maxdim=0)["dgms"][0]
    np.testing.assert_allclose(deaths.numpy(), np.sort(dgm[np.isfinite(dgm[:, 1]), 1]))


def test_batched_equals_per_branch_loop() -> None:
    torch.manual_seed(0)
    z = torch.randn(16, 50, 10, dtype=torch.float64, requires_grad=True)
    for reduction in ("mean", "sum"):
        loss_fn = ConnectivityLoss(eta=2.0, branch_reduction=reduction)
        loss, deaths = loss_fn(z)
        (grad,) = torch.autograd.grad(loss, z)
        per_branch = [
            ConnectivityLoss(eta=2.0, branch_reduction="sum")(z[b : b + 1]) for b in range(16)
        ]
        looped = torch.stack([value for value, _ in per_branch])
        expected = looped.mean() if reduction == "mean" else looped.sum()
        torch.testing.assert_close(loss, expected)
        torch.testing.assert_close(deaths, torch.cat([d for _, d in per_branch]))
        (grad_loop,) = torch.autograd.grad(expected, z)
        torch.testing.assert_close(grad, grad_loop)


def test_gradcheck_float64_tie_free() -> None:
    torch.manual_seed(3)
    z = (torch.randn(3, 12, 4, dtype=torch.float64) * 1.5).requires_grad_()
    loss_fn = ConnectivityLoss(eta=2.0)
    deaths, _ = death_times0(z.detach(), p=1)
    assert (deaths - 2.0).abs().min() > 1e-3  # away from the kink of |ε − η|
    assert torch.autograd.gradcheck(lambda t: loss_fn(t)[0], (z,), eps=1e-7, atol=1e-6)


def test_hand_computed() -> None:
    # branch 0: 1-D points 0, 1, 4 → MST edges {0,1} (1) and {1,2} (3)
    # branch 1: points (0,0), (3,0), (0,4) → ℓ1 edges 3 and 4 (7 is not in the tree)
    z0 = torch.tensor([[0.0, 0.0], [1.0, 0.0], [4.0, 0.0]], dtype=torch.float64)
    z1 = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]], dtype=torch.float64)
    z = torch.stack([z0, z1]).requires_grad_()
    loss, deaths = ConnectivityLoss(eta=2.0, branch_reduction="sum")(z)
    torch.testing.assert_close(deaths, torch.tensor([[1.0, 3.0], [3.0, 4.0]], dtype=torch.float64))
    assert loss.item() == pytest.approx((1 + 1) + (1 + 2))
    mean_loss, _ = ConnectivityLoss(eta=2.0)(z)
    assert mean_loss.item() == pytest.approx(2.5)
    (grad,) = torch.autograd.grad(loss, z)
    # branch 0: ∂|ε01 − 2| = −1 along z1 − z0, ∂|ε12 − 2| = +1 along z2 − z1
    torch.testing.assert_close(grad[0, :, 0], torch.tensor([1.0, -2.0, 1.0], dtype=torch.float64))
    assert torch.all(grad[0, :, 1] == 0)
    # branch 1: both edges longer than η: +1 · ∂ε; z0 is in both edges
    expected = torch.tensor([[-1.0, -1.0], [1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    torch.testing.assert_close(grad[1], expected)


def test_zero_length_bars() -> None:
    z = torch.tensor([[[0.0], [0.0], [3.0]]], dtype=torch.float64, requires_grad=True)
    loss, deaths = ConnectivityLoss(eta=2.0)(z)
    torch.testing.assert_close(deaths, torch.tensor([[0.0, 3.0]], dtype=torch.float64))
    assert loss.item() == pytest.approx(1.0)  # the duplicate's bar is dropped, as in torchph
    kept, _ = ConnectivityLoss(eta=2.0, drop_zero_deaths=False)(z)
    assert kept.item() == pytest.approx(3.0)
    (grad,) = torch.autograd.grad(loss, z)
    assert torch.isfinite(grad).all()


def test_small_batches() -> None:
    loss, deaths = ConnectivityLoss()(torch.randn(4, 1, 3))
    assert deaths.shape == (4, 0) and loss.item() == 0.0


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"eta": 0.0}, "eta"),
        ({"branch_reduction": "max"}, "branch_reduction"),
        ({"p": 0.5}, "p"),
        ({"drop_zero_deaths": 1}, "drop_zero_deaths"),
    ],
)
def test_validation(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        ConnectivityLoss(**kwargs)


def test_shape_error() -> None:
    with pytest.raises(ValueError, match="n_branches, B, d"):
        ConnectivityLoss()(torch.randn(5, 3))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu() -> None:
    """Distances and the gather on the device, the pairing on the host: same values as the CPU."""
    z = torch.randn(16, 100, 10, dtype=torch.float64)
    loss_fn = ConnectivityLoss()
    z_cpu, z_gpu = z.clone().requires_grad_(), z.cuda().requires_grad_()
    loss_cpu, deaths_cpu = loss_fn(z_cpu)
    loss_gpu, deaths_gpu = loss_fn(z_gpu)
    assert deaths_gpu.device.type == "cuda" and deaths_gpu.dtype == torch.float64
    torch.testing.assert_close(deaths_gpu.cpu(), deaths_cpu)
    torch.testing.assert_close(loss_gpu.cpu(), loss_cpu)
    (g_cpu,) = torch.autograd.grad(loss_cpu, z_cpu)
    (g_gpu,) = torch.autograd.grad(loss_gpu, z_gpu)
    torch.testing.assert_close(g_gpu.cpu(), g_cpu)

"""The TopoAE signature loss (spec §2.3, step 7) on hand-computed cases and against autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from topoexp.losses import SignatureLoss
from topoexp.losses.signature import _random_pairs


def line_distances(positions: list[float]) -> torch.Tensor:
    x = torch.tensor(positions, dtype=torch.float64)[:, None]
    return torch.cdist(x, x)


# X on a line at 0, 1, 3: π_X = {(0,1): 1, (1,2): 2}
# Z on a line at 0, 4, 1: D_Z[0,1] = 4, D_Z[0,2] = 1, D_Z[1,2] = 3, π_Z = {(0,2): 1, (1,2): 3}
# L_XZ = (1 − 4)² + (2 − 3)² = 10,  L_ZX = (1 − 3)² + (3 − 2)² = 5,  shared edges: (1,2)
# "none": sorted lengths [1, 2] vs [1, 3] → (1 − 1)² + (2 − 3)² = 1
D_X = line_distances([0.0, 1.0, 3.0])
D_Z = line_distances([0.0, 4.0, 1.0])


@pytest.mark.parametrize(
    ("match_edges", "half", "divide_by_batch", "expected"),
    [
        ("symmetric", False, True, 15 / 3),
        ("symmetric", True, True, 7.5 / 3),
        ("symmetric", False, False, 15.0),
        ("symmetric", True, False, 7.5),
        ("none", False, True, 1 / 3),
        ("none", True, False, 0.5),
    ],
)
def test_hand_computed(
    match_edges: str, half: bool, divide_by_batch: bool, expected: float
) -> None:
    loss_fn = SignatureLoss(match_edges, half, divide_by_batch)
    loss, metrics = loss_fn.terms(D_X, D_Z)
    assert loss.ndim == 0
    scalar = loss_fn(D_X, D_Z)  # forward: the scalar alone, as torch-topological's losses
    assert isinstance(scalar, torch.Tensor) and scalar.ndim == 0
    assert scalar.item() == pytest.approx(expected)
    assert loss.item() == pytest.approx(expected)
    assert metrics["matched_pairs_0d"].item() == 1
    assert metrics["distance1_2"].item() == pytest.approx(10.0)
    assert metrics["distance2_1"].item() == pytest.approx(5.0)
    assert all(not value.requires_grad for value in metrics.values())


def test_matched_pairs() -> None:
    D = line_distances([0.0, 1.0, 2.5, 4.5])  # MST: the path 0-1-2-3
    # the path 1-3-0-2 shares no edge with 0-1-2-3
    other = line_distances([2.5, 0.0, 4.5, 1.0])
    assert SignatureLoss().terms(D, other)[1]["matched_pairs_0d"].item() == 0
    assert SignatureLoss().terms(D, 2 * D)[1]["matched_pairs_0d"].item() == 3
    loss, metrics = SignatureLoss().terms(D, D)
    assert loss.item() == 0.0 and metrics["matched_pairs_0d"].item() == 3


def test_gradcheck_latent_points() -> None:
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(7, 5, generator=gen, dtype=torch.float64)
    D_data = torch.cdist(X, X)
    D_data = D_data / D_data.max()
    Z = torch.randn(7, 2, generator=gen, dtype=torch.float64, requires_grad=True)
    for match_edges, half in [("symmetric", False), ("symmetric", True), ("none", False)]:
        loss_fn = SignatureLoss(match_edges, half)

        def loss_of(z: torch.Tensor, loss_fn: SignatureLoss = loss_fn) -> torch.Tensor:
            return loss_fn(D_data, torch.cdist(z, z))

        assert torch.autograd.gradcheck(loss_of, (Z,), eps=1e-6, atol=1e-6)


def test_gradient_flows_to_both_matrices() -> None:
    D_a = D_X.clone().requires_grad_(True)
    D_b = D_Z.clone().requires_grad_(True)
    SignatureLoss()(D_a, D_b).backward()
    # only entries on π_X ∪ π_Z get gradient: (0,1), (1,2), (0,2)
    assert torch.count_nonzero(D_a.grad).item() == 3
    assert torch.count_nonzero(D_b.grad).item() == 3
    torch.testing.assert_close(D_a.grad, -D_b.grad)


def test_random_pairs_shape() -> None:
    for n in (1, 2, 5, 64):
        pairs = _random_pairs(n, torch.device("cpu"))
        assert pairs.shape == (n - 1, 2) and pairs.dtype == torch.int64
        for column in pairs.T:
            np.testing.assert_array_equal(np.sort(column.numpy()), np.arange(n - 1))


def test_random_never_uses_last_index() -> None:
    n = 12
    D_data = torch.zeros(n, n, dtype=torch.float64)
    D_data[n - 1, :] = D_data[:, n - 1] = 1.0
    D_data[n - 1, n - 1] = 0.0
    D_latent = torch.zeros(n, n, dtype=torch.float64)
    loss_fn = SignatureLoss("random")
    torch.manual_seed(0)
    for _ in range(50):  # every pair touching n − 1 would cost 2 / n
        loss, metrics = loss_fn.terms(D_data, D_latent)
        assert loss.item() == 0.0
        assert metrics["distance1_2"].item() == metrics["distance2_1"].item() == 0.0
    # away from n − 1 the random pairs do see differences
    loss = loss_fn(torch.ones(n, n, dtype=torch.float64) - torch.eye(n), D_latent)
    assert loss.item() > 0.0


def test_random_is_seeded_by_torch() -> None:
    gen = torch.Generator().manual_seed(1)
    X, Z = torch.rand(20, 3, generator=gen), torch.rand(20, 2, generator=gen)
    D_a, D_b = torch.cdist(X, X), torch.cdist(Z, Z)
    torch.manual_seed(3)
    first = SignatureLoss("random").terms(D_a, D_b)[0]
    torch.manual_seed(3)
    assert SignatureLoss("random")(D_a, D_b).item() == first.item()


def test_float32_batch() -> None:
    gen = torch.Generator().manual_seed(2)
    X = torch.randn(64, 10, generator=gen)
    Z = torch.randn(64, 2, generator=gen, requires_grad=True)
    D_data = torch.cdist(X, X)
    loss, metrics = SignatureLoss().terms(D_data / D_data.max(), torch.cdist(Z, Z))
    loss.backward()
    assert loss.dtype == torch.float32 and torch.isfinite(Z.grad).all()
    assert 0 <= metrics["matched_pairs_0d"].item() <= 63


@pytest.mark.parametrize(
    "kwargs",
    [{"match_edges": "Symmetric"}, {"match_edges": None}, {"half": 1}, {"divide_by_batch": "yes"}],
)
def test_rejects_bad_arguments(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        SignatureLoss(**kwargs)


def test_rejects_bad_inputs() -> None:
    loss_fn = SignatureLoss()
    with pytest.raises(ValueError, match="square"):
        loss_fn(torch.zeros(3, 4), torch.zeros(3, 4))
    with pytest.raises(ValueError, match="square"):
        loss_fn(torch.zeros(2, 3, 3), torch.zeros(2, 3, 3))
    with pytest.raises(ValueError, match="same"):
        loss_fn(torch.zeros(3, 3), torch.zeros(4, 4))
    with pytest.raises(ValueError, match="square"):
        loss_fn(np.zeros((3, 3)), torch.zeros(3, 3))


def test_mixed_dtypes() -> None:
    loss, metrics = SignatureLoss().terms(D_X, D_Z.float())
    assert loss.item() == pytest.approx(5.0)
    assert metrics["matched_pairs_0d"].item() == 1

"""Barcode features: hand-computed values, the E(p, q, i0) conventions, batches, gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from topoexp.topology import (
    AlphaLayer,
    BarcodeEnergy,
    BarcodePolyFeature,
    LevelSetLayer1D,
    LevelSetLayer2D,
    PartialSumBarcodeLengths,
    SumBarcodeLengths,
    TopKBarcodeLengths,
    barcode_energy,
)

INF = float("inf")
# lengths 3, 0.5, 0 (zero bar), 0 (infinite), 3; means 1.5, 1.25, 2, -, 2.5
SUB = torch.tensor([[0.0, 3.0], [1.0, 1.5], [2.0, 2.0], [0.5, INF], [1.0, 4.0]])
# superlevel: lengths 0 (infinite), 0.5, 0 (zero bar)
SUPER = torch.tensor([[2.0, -INF], [1.0, 0.5], [3.0, 3.0]])


def out(dgm: torch.Tensor, sub: bool = True, dim: int = 0) -> tuple[tuple[torch.Tensor, ...], bool]:
    return tuple(dgm if d == dim else torch.zeros(0, 2) for d in range(dim + 1)), sub


def test_topologylayer_features_by_hand() -> None:
    assert SumBarcodeLengths()(out(SUB)) == 6.5
    assert SumBarcodeLengths(dim=1)(out(SUB, dim=1)) == 6.5
    assert torch.equal(TopKBarcodeLengths(0, 2)(out(SUB)), torch.tensor([3.0, 3.0]))
    assert torch.equal(
        TopKBarcodeLengths(0, 7)(out(SUB)), torch.tensor([3.0, 3.0, 0.5, 0, 0, 0, 0])
    )
    assert PartialSumBarcodeLengths(0, 1)(out(SUB)) == 3.5
    assert PartialSumBarcodeLengths(0, 2)(out(SUB)) == 0.5
    assert PartialSumBarcodeLengths(0, 9)(out(SUB)) == 0.0
    assert BarcodePolyFeature(0, 2, 1)(out(SUB)) == 9 * 1.5 + 0.25 * 1.25 + 9 * 2.5
    # p = 0 counts bars: zero-length bars only without remove_zero, infinite bars never
    assert BarcodePolyFeature(0, 0, 0)(out(SUB)) == 3
    assert BarcodePolyFeature(0, 0, 0, remove_zero=False)(out(SUB)) == 4
    # superlevel: start/end swapped, lengths stay >= 0, means (0.5 + 1) / 2
    assert SumBarcodeLengths()(out(SUPER, sub=False)) == 0.5
    assert BarcodePolyFeature(0, 1, 1)(out(SUPER, sub=False)) == 0.5 * 0.75


def test_energy_by_hand_and_i0_is_one_based() -> None:
    assert barcode_energy(SUB, True, 1, 0, 1) == 6.5
    assert barcode_energy(SUB, True, 1, 0, 2) == 3.5
    assert barcode_energy(SUB, True, 1, 0, 3) == 0.5
    assert barcode_energy(SUB, True, 1, 0, 4) == 0.0
    assert barcode_energy(SUB, True, 2, 1, 1) == 9 * 1.5 + 0.25 * 1.25 + 9 * 2.5
    assert barcode_energy(SUB, True, 0, 0, 1) == 3  # the three finite non-zero bars
    with pytest.raises(ValueError, match="1-based"):
        barcode_energy(SUB, True, 1, 0, 0)


def test_energy_infinite_bar_conventions() -> None:
    """'drop' indexes finite bars only; a clip value makes the infinite bar an indexed bar."""
    # clipped at 10 the infinite bar (0.5, 10) is the longest: i0 = 2 skips it
    assert barcode_energy(SUB, True, 1, 0, 1, infinite=10.0) == 6.5 + 9.5
    assert barcode_energy(SUB, True, 1, 0, 2, infinite=10.0) == 6.5
    # superlevel, older cost: infinite death clipped to -1 (pixel minimum)
    assert barcode_energy(SUPER, False, 1, 0, 1, infinite=-1.0) == 3.5
    assert barcode_energy(SUPER, False, 1, 0, 2, infinite=-1.0) == 0.5
    with pytest.raises(ValueError, match="infinite"):
        BarcodeEnergy(0, infinite="keep")


def test_paper_e102_on_an_image_equals_sum_of_lengths() -> None:
    """Spec B.2: with the infinite H0 bar clipped at −1, the paper's E(1, 0, 2; PD0) on the
    superlevel sets of an image in [−1, 1] is TopologyLayer's SumBarcodeLengths(dim=0); with
    only finite bars indexed it is PartialSumBarcodeLengths(0, skip=1)."""
    img = torch.rand(12, 12, generator=torch.Generator().manual_seed(0)) * 2 - 1
    dg = LevelSetLayer2D((12, 12), maxdim=1, sublevel=False)(img)
    clipped = BarcodeEnergy(0, 1, 0, i0=2, infinite=-1.0)(dg)
    torch.testing.assert_close(clipped, SumBarcodeLengths(0)(dg))
    torch.testing.assert_close(BarcodeEnergy(0, 1, 0, i0=2)(dg), PartialSumBarcodeLengths(0, 1)(dg))


@pytest.mark.parametrize("sublevel", [True, False])
def test_code_features_are_energies(sublevel: bool) -> None:
    """SumBarcodeLengths = E(1,0,1), PartialSum(skip=s) = E(1,0,s+1), Poly(p,q) = E(p,q,1)."""
    rng = np.random.default_rng(0)
    imgs = torch.from_numpy(rng.integers(0, 6, size=(4, 9, 9)).astype(np.float64))
    dg = LevelSetLayer2D((9, 9), maxdim=1, sublevel=sublevel)(imgs)
    for dim in (0, 1):
        torch.testing.assert_close(SumBarcodeLengths(dim)(dg), BarcodeEnergy(dim, 1, 0, 1)(dg))
        for s in (0, 1, 3):
            torch.testing.assert_close(
                PartialSumBarcodeLengths(dim, s)(dg), BarcodeEnergy(dim, 1, 0, s + 1)(dg)
            )
        torch.testing.assert_close(BarcodePolyFeature(dim, 2, 1)(dg), BarcodeEnergy(dim, 2, 1)(dg))


def test_path_superlevel_sum_is_peaks_minus_saddles() -> None:
    """Spec B.4 c: on a path's superlevel sets, Σ finite bars = Σ over non-global maxima of
    peak − saddle; skip 2 allows three maxima."""
    y = torch.tensor([0.0, 3.0, 1.0, 2.0, 0.0, 5.0, 4.0])
    dg = LevelSetLayer1D(7, sublevel=False)(y)
    assert SumBarcodeLengths(0)(dg) == (3 - 0) + (2 - 1)
    assert torch.equal(TopKBarcodeLengths(0, 2)(dg), torch.tensor([3.0, 1.0]))
    assert PartialSumBarcodeLengths(0, 1)(dg) == 1.0
    assert PartialSumBarcodeLengths(0, 2)(dg) == 0.0


def test_batched_diagrams_keep_leading_dims() -> None:
    imgs = torch.rand(2, 3, 5, 5)
    dg = LevelSetLayer2D((5, 5))(imgs)
    assert SumBarcodeLengths(1)(dg).shape == (2, 3)
    assert TopKBarcodeLengths(0, 4)(dg).shape == (2, 3, 4)
    assert BarcodeEnergy(0, 2, 0, 2)(dg).shape == (2, 3)
    one = LevelSetLayer2D((5, 5))(imgs[1, 2])
    torch.testing.assert_close(BarcodeEnergy(1, 2, 1, 2)(dg)[1, 2], BarcodeEnergy(1, 2, 1, 2)(one))


def test_fractional_powers_give_finite_gradients() -> None:
    dgm = SUB.clone().requires_grad_()
    loss = BarcodePolyFeature(0, 0.5, 0.5)(out(dgm)) + barcode_energy(dgm, True, 0.5, 0.5, 1)
    loss.backward()
    assert torch.isfinite(dgm.grad).all()
    assert dgm.grad[[2, 3]].abs().sum() == 0  # left-out bars (zero, infinite): no gradient


def test_energy_gradient_matches_finite_differences() -> None:
    dgm = torch.tensor([[0.1, 1.3], [0.4, 0.9], [0.2, 2.0], [0.5, 0.8]], dtype=torch.float64)

    def fn(d: torch.Tensor) -> torch.Tensor:
        return barcode_energy(d, True, 2.0, 1.0, 2)

    assert torch.autograd.gradcheck(fn, (dgm.requires_grad_(),))


def test_bad_inputs_raise() -> None:
    with pytest.raises(ValueError, match="dim"):
        SumBarcodeLengths(-1)
    with pytest.raises(ValueError, match=r"dimensions 0\.\.0"):
        SumBarcodeLengths(1)(out(SUB))
    with pytest.raises(ValueError, match="k must"):
        TopKBarcodeLengths(0, 0)
    with pytest.raises(ValueError, match="skip"):
        PartialSumBarcodeLengths(0, -1)
    with pytest.raises(ValueError, match="1-based"):
        BarcodeEnergy(0, i0=0)
    with pytest.raises(ValueError, match=r"\(dgms, issublevel\)"):
        SumBarcodeLengths()(SUB)


def test_import_path() -> None:
    from topoexp.topology import LevelSetLayer2D as L2
    from topoexp.topology import SumBarcodeLengths as S

    assert L2 is LevelSetLayer2D and S is SumBarcodeLengths


def test_regression_penalty_labels_under_both_conventions() -> None:
    """Spec B.4 a: weak alpha on β values; tpen1 = SumBarcodeLengths, tpen2 = PartialSum(skip=2)
    are E(1,0,1) and E(1,0,3) over finite bars, E(1,0,2) and E(1,0,4) with the infinite H0 bar
    clipped (so that it is bar 1)."""
    beta = torch.tensor([[1.1], [2.9], [2.0], [1.0], [3.05], [2.2], [0.9]])
    dg = AlphaLayer(maxdim=0)(beta)
    tpen1, tpen2 = SumBarcodeLengths(0)(dg), PartialSumBarcodeLengths(0, 2)(dg)
    torch.testing.assert_close(tpen1, beta.max() - beta.min())
    torch.testing.assert_close(tpen2, torch.tensor(0.1 + 0.1 + 0.15 + 0.2))  # all but 0.9, 0.7
    torch.testing.assert_close(BarcodeEnergy(0, 1, 0, 1)(dg), tpen1)
    torch.testing.assert_close(BarcodeEnergy(0, 1, 0, 3)(dg), tpen2)
    torch.testing.assert_close(BarcodeEnergy(0, 1, 0, 2, infinite=100.0)(dg), tpen1)
    torch.testing.assert_close(BarcodeEnergy(0, 1, 0, 4, infinite=100.0)(dg), tpen2)

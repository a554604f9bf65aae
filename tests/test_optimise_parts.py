"""Regression data generators, penalties and the batched fit against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from topoexp.config.markers import ArgumentError
from topoexp.data.regression import (
    beta_star,
    min_norm_least_squares,
    prediction_mse,
    regression_data,
    ring_image,
)
from topoexp.optimise.penalties import BarcodePenalty, NormPenalty
from topoexp.topology import AlphaLayer, LevelSetLayer1D, RipsLayer
from topoexp.topology.alpha import weak_alpha_barcode_1d


def test_beta_star_shapes_by_hand():
    # t = linspace(0, 3, 13) = 0, 0.25, ...: fractional parts 0, .25, .5, .75, 0, ...
    saw = beta_star("sawtooth", 13)
    np.testing.assert_allclose(saw[:5].numpy(), [-1.0, -0.5, 0.0, 0.5, -1.0])
    box = beta_star("boxcar", 13)
    np.testing.assert_array_equal(box.numpy(), [-1, -1, -1, 1] * 3 + [-1])
    sin = beta_star("sinusoid", 3)  # cos(5π·[0, .5, 1])
    np.testing.assert_allclose(sin.numpy(), [1.0, 0.0, -1.0], atol=1e-12)


@pytest.mark.parametrize(("kind", "values"), [("123", {1, 2, 3}), ("101", {-1, 0, 1})])
def test_beta_star_draws_from_its_three_values(kind, values):
    g = torch.Generator().manual_seed(0)
    beta = beta_star(kind, 100, (4,), generator=g)
    assert beta.shape == (4, 100)
    assert set(beta.unique().tolist()) == values
    assert not torch.equal(beta[0], beta[1])  # one draw per batch entry


def test_beta_star_rejects_unknown_kinds():
    with pytest.raises(ValueError, match="kind"):
        beta_star("triangle")


def test_ring_image_peaks_on_the_circle_of_radius_a_third():
    img = ring_image(50)
    assert img.shape == (50, 50)
    c = 24.5
    assert float(img[0, 0]) == pytest.approx(math.exp(-((math.hypot(c, c) - 50 / 3) ** 2) / 100))
    # the centre is a minimum inside the ring (one hole)
    assert float(img[24, 24]) < float(img[24, 24 - 17]) == pytest.approx(1.0, abs=0.01)


def test_regression_data_without_noise_is_exact_and_noise_has_sigma():
    g = torch.Generator().manual_seed(1)
    beta = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    X, y = regression_data(beta, 5, 0.0, generator=g)
    assert X.shape == (5, 3)
    torch.testing.assert_close(y, X @ beta)
    X, y = regression_data(beta, 20_000, 0.3, generator=g)
    assert float((y - X @ beta).std()) == pytest.approx(0.3, rel=0.03)


def test_min_norm_least_squares_by_hand_and_against_numpy():
    X = torch.tensor([[1.0, 1.0]], dtype=torch.float64)
    y = torch.tensor([2.0], dtype=torch.float64)
    torch.testing.assert_close(min_norm_least_squares(X, y), torch.tensor([1.0, 1.0]).double())
    rng = np.random.default_rng(0)
    for n in (30, 200):
        A, b = rng.normal(size=(n, 100)), rng.normal(size=n)
        ref = np.linalg.lstsq(A, b, rcond=1e-4)[0]
        got = min_norm_least_squares(torch.from_numpy(A), torch.from_numpy(b)).numpy()
        np.testing.assert_allclose(got, ref, atol=1e-8)


def test_prediction_mse_is_zero_at_the_truth_and_near_the_squared_error():
    g = torch.Generator().manual_seed(0)
    beta = torch.ones(100, dtype=torch.float64)
    assert float(prediction_mse(beta, beta, generator=g)) == 0.0
    delta = torch.zeros(100, dtype=torch.float64)
    delta[:4] = 1.0
    assert float(prediction_mse(beta + delta, beta, generator=g)) == pytest.approx(4.0, rel=0.05)


def test_norm_penalties_by_hand():
    beta = torch.tensor([1.0, -2.0, 4.0])
    expect = {"l1": 7.0, "l2": math.sqrt(21), "tv": 9.0, "smooth_tv": math.sqrt(45)}
    for kind, value in expect.items():
        assert float(NormPenalty(kind)(beta)) == pytest.approx(value)
        assert float(NormPenalty(kind, lam=0.5)(beta)) == pytest.approx(value / 2)
    batch = torch.stack([beta, -beta, torch.zeros(3)])
    np.testing.assert_allclose(NormPenalty("tv")(batch, batched=True).numpy(), [9.0, 9.0, 0.0])
    with pytest.raises(ArgumentError):
        NormPenalty("l3")


def test_weak_alpha_penalties_on_the_line_by_hand():
    values = torch.tensor([7.0, 0.0, 3.0, 1.0])  # sorted gaps 1, 2, 4
    top1 = BarcodePenalty(AlphaLayer(0), [{"dim": 0, "i0": 1}])
    top2 = BarcodePenalty(AlphaLayer(0), [{"dim": 0, "i0": 3}])
    assert float(top1(values)) == pytest.approx(7.0)  # max − min
    assert float(top2(values)) == pytest.approx(1.0)  # all but the 2 largest gaps
    batch = torch.stack([values, torch.tensor([0.0, 0.0, 5.0, 5.0])])
    np.testing.assert_allclose(top1(batch, batched=True).numpy(), [7.0, 5.0])
    np.testing.assert_allclose(top2(batch, batched=True).numpy(), [1.0, 0.0])


def test_batched_weak_alpha_on_the_line_equals_the_alpha_layer():
    torch.manual_seed(0)
    x = torch.randn(30, requires_grad=True)
    ours = weak_alpha_barcode_1d(x).diagram
    (ref,), _ = AlphaLayer(0)(x.unsqueeze(-1))
    key = lambda d: d.detach().numpy()[np.lexsort(d.detach().numpy().T[::-1])]  # noqa: E731
    np.testing.assert_allclose(key(ours), key(ref), rtol=1e-6)
    pen = BarcodePenalty(AlphaLayer(0), [{"dim": 0, "p": 2.0, "i0": 2}])
    (g_ours,) = torch.autograd.grad(pen(x), x)
    (g_ref,) = torch.autograd.grad(pen(x.unsqueeze(-1)), x)  # through the layer
    torch.testing.assert_close(g_ours, g_ref)


def test_superlevel_level_set_penalties_by_hand():
    layer = LevelSetLayer1D(6, sublevel=False)
    # maxima 3, 2, 5: 2 dies at the saddle 1 (length 1), 3 at the saddle 0 (length 3)
    f = torch.tensor([0.0, 3.0, 1.0, 2.0, 0.0, 5.0], requires_grad=True)
    energies = BarcodePenalty(layer, [{"dim": 0, "i0": k} for k in (1, 2, 3)]).energies(f)
    assert [float(e.detach()) for e in energies] == pytest.approx([4.0, 1.0, 0.0])
    # spec B.6: y = [1, 0, 1] superlevel has one finite bar [1, 0]
    y = torch.tensor([1.0, 0.0, 1.0])
    assert float(BarcodePenalty(LevelSetLayer1D(3, sublevel=False), [{"dim": 0}])(y)) == 1.0
    # the gradient of Top1 lowers the non-global maxima and raises their saddles
    (grad,) = torch.autograd.grad(BarcodePenalty(layer, [{"dim": 0}])(f), f)
    np.testing.assert_allclose(grad.numpy(), [0, 1, -1, 1, -1, 0])


def test_square_point_cloud_energies_by_hand():
    square = torch.tensor([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]])
    terms = [{"dim": 0, "p": 2.0}, {"dim": 1, "p": 1.0, "weight": -1.0}]
    for layer in (AlphaLayer(1), RipsLayer(4, maxdim=1)):
        pen = BarcodePenalty(layer, terms, lam=0.5)
        h0, h1 = pen.energies(square)
        assert float(h0) == pytest.approx(12.0)  # three bars [0, 2]
        assert float(h1) == pytest.approx(2 * math.sqrt(2) - 2)
        assert float(pen(square)) == pytest.approx(0.5 * (12.0 - (2 * math.sqrt(2) - 2)))


def test_barcode_penalty_argument_errors():
    with pytest.raises(ArgumentError, match="terms"):
        BarcodePenalty(AlphaLayer(0), [{"dim": 1}])  # above the layer's maxdim
    with pytest.raises(ArgumentError, match="terms"):
        BarcodePenalty(AlphaLayer(0), [{"dim": 0, "power": 2}])
    with pytest.raises(ArgumentError, match="terms"):
        BarcodePenalty(AlphaLayer(0), [])
    with pytest.raises(ArgumentError, match="lam"):
        BarcodePenalty(AlphaLayer(0), [{"dim": 0}], lam=-1.0)


def test_batched_fit_equals_separate_fits():
    """Exact in float64; in float32 the round-off of the batched products is amplified by Adam
    on coordinates whose gradient is ~0 (a kink of TV or of a barcode), as for any float32 fit."""
    from topoexp.optimise.regression_sweep import fit_batch, penalty_for

    g = torch.Generator().manual_seed(0)
    beta = beta_star("sawtooth", 20, (2,), generator=g)
    X, y = regression_data(beta, 15, 0.1, generator=g)
    start = min_norm_least_squares(X, y)
    lams = torch.tensor([0.01, 0.3])
    for method in ("tv", "top2"):
        pen = penalty_for("levelset", method, 20)
        together = fit_batch(X, y, start, pen, lams, 15, 0.1)
        assert together.shape == (2, 2, 20)
        for i in range(2):
            for t in range(2):
                one = slice(t, t + 1)
                alone = fit_batch(X[one], y[one], start[one], pen, lams[i : i + 1], 15, 0.1)
                torch.testing.assert_close(together[i, t], alone[0, 0], rtol=0, atol=1e-6)

"""Homological loss: death times against gudhi's Rips persistence, gradients, hand cases."""

from __future__ import annotations

import gudhi
import numpy as np
import pytest
import torch

from topoexp.losses.homological import BallPenalty, HomologicalLoss, kl_divergence
from topoexp.topology.deaths import death_times0
from topoexp.topology.distances import pairwise_distances
from topoexp.topology.pairing import death_times, pairing0


def finite_death_times(z: torch.Tensor, cutoff: float | None) -> torch.Tensor:
    """The finite deaths of the Rips complex of ``z`` with edges ≤ cutoff, increasing."""
    deaths = death_times0(z, cutoff=cutoff).deaths
    return deaths[torch.isfinite(deaths)]


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: the small training loops below run 5–10× slower with two threads on
    busy cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def gudhi_finite_deaths(points: np.ndarray, max_edge_length: float = np.inf) -> np.ndarray:
    """Sorted finite 0-dim deaths of gudhi's Rips complex, as the original code computes them."""
    tree = gudhi.RipsComplex(points=points, max_edge_length=max_edge_length).create_simplex_tree(
        max_dimension=0
    )
    tree.compute_persistence()
    bars = tree.persistence_intervals_in_dimension(0)
    return np.sort(bars[np.isfinite(bars[:, 1]), 1])


def ours(points: np.ndarray, cutoff: float | None) -> np.ndarray:
    deaths = finite_death_times(torch.from_numpy(points), cutoff).numpy()
    return np.sort(deaths[deaths > 0])  # gudhi drops zero-length bars


@pytest.mark.parametrize("dim", [2, 5])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_deaths_equal_gudhi_rips_with_cutoff(dim, seed):
    scale = {2: 3.0, 5: 0.4}[dim]
    points = np.random.default_rng(seed).normal(scale=scale, size=(80, dim))
    expected = gudhi_finite_deaths(points, 0.5)
    assert 0 < len(expected) < 79  # the cutoff removes some MST edges, not all
    np.testing.assert_allclose(ours(points, 0.5), expected, rtol=1e-12)


def test_deaths_equal_gudhi_rips_without_cutoff():
    points = np.random.default_rng(3).normal(size=(60, 3))
    expected = gudhi_finite_deaths(points)
    assert len(expected) == 59
    np.testing.assert_allclose(ours(points, None), expected, rtol=1e-12)


def lattice_with_ties() -> np.ndarray:
    """Grid points with many equal distances, edges of exactly 0.5, and duplicates."""
    grid = np.stack(np.meshgrid(np.arange(4), np.arange(3)), -1).reshape(-1, 2) * 0.25
    coarse = np.stack(np.meshgrid(np.arange(3), np.arange(2)), -1).reshape(-1, 2) * 0.5 + 3.0
    far = np.array([[10.0, 0.0], [10.5, 0.0], [11.25, 0.0], [0.0, 0.0], [0.25, 0.0]])
    return np.concatenate([grid, coarse, far])


@pytest.mark.parametrize("cutoff", [0.5, 0.25, 0.3, None])
def test_deaths_equal_gudhi_with_ties(cutoff):
    points = lattice_with_ties()
    expected = gudhi_finite_deaths(points, np.inf if cutoff is None else cutoff)
    got = ours(points, cutoff)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-15)
    if cutoff == 0.5:  # the 0.5 edges are inside the complex (≤), the 0.75 / far edges are not
        assert (got == 0.5).sum() == 6 and got.max() == 0.5


def test_deaths_are_death_times_of_the_dense_matrix():
    z = torch.randn(40, 4, dtype=torch.float64)
    D = pairwise_distances(z)
    dense = death_times(D, pairing0(D))
    torch.testing.assert_close(finite_death_times(z, None), dense)


def test_duplicate_points_have_zero_death_and_finite_gradient():
    z = torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.3, 0.0]], dtype=torch.float64, requires_grad=True)
    deaths = finite_death_times(z, 0.5)
    torch.testing.assert_close(deaths, torch.tensor([0.0, 0.3], dtype=torch.float64))
    deaths.sum().backward()
    assert torch.isfinite(z.grad).all()


def four_points() -> torch.Tensor:
    # MST edges 0.3 (0–1), 0.4 (1–2), 1.7 (1–3); squared norms 0, 0.09, 0.25, 4.
    return torch.tensor(
        [[0.0, 0.0], [0.3, 0.0], [0.3, 0.4], [2.0, 0.0]], dtype=torch.float64, requires_grad=True
    )


@pytest.mark.parametrize(
    ("kwargs", "ball", "deaths", "expected"),
    [
        ({}, 3.0, 0.7, 5e-3 * (3.0 - 0.7)),
        ({"ball_norm": "norm"}, 1.0, 0.7, 5e-3 * (1.0 - 0.7)),
        ({"cutoff": None}, 3.0, 2.4, 5e-3 * (3.0 - 2.4)),
        ({"ball_coef": 1.0, "death_coef": 2.0}, 3.0, 0.7, 3.0 - 1.4),
        ({"coef": 1.0, "death_coef": 0.0}, 3.0, 0.0, 3.0),
    ],
)
def test_hand_computed_loss(kwargs, ball, deaths, expected):
    loss, terms = HomologicalLoss(**kwargs)(four_points())
    assert float(loss.detach()) == pytest.approx(expected, abs=1e-12)
    assert float(terms["ball_penalty"]) == pytest.approx(ball, abs=1e-12)
    assert float(terms["death_sum"]) == pytest.approx(deaths, abs=1e-12)


def test_hand_computed_gradient():
    z = four_points()
    HomologicalLoss(coef=1.0)(z)[0].backward()
    # −∂(d01 + d12)/∂z plus ∂(‖z3‖² − 1)/∂z3 = 2 z3.
    expected = torch.tensor([[1.0, 0.0], [-1.0, 1.0], [0.0, -1.0], [4.0, 0.0]], dtype=torch.float64)
    torch.testing.assert_close(z.grad, expected)


def tie_free_points(seed: int, n: int = 10, dim: int = 3, margin: float = 1e-4) -> torch.Tensor:
    """Points whose distances, norms and MST edges keep ``margin`` from every switch of the loss
    (ties between distances, the cutoff 0.5, the unit sphere), with edges and points on both
    sides of the cutoff and the sphere."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, dim, generator=gen, dtype=torch.float64) * 0.45
    d = torch.pdist(z).sort().values
    deaths, norms = finite_death_times(z, None), z.norm(dim=1)
    assert (d.diff() > margin).all() and ((deaths - 0.5).abs() > margin).all()
    assert ((norms - 1).abs() > margin).all()
    assert (norms > 1).any() and (norms < 1).any() and (deaths > 0.5).any()
    return z.requires_grad_(True)


@pytest.mark.parametrize("ball_norm", ["squared", "norm"])
@pytest.mark.parametrize("cutoff", [0.5, None])
def test_gradcheck(ball_norm, cutoff):
    z = tie_free_points(seed=0)
    loss = HomologicalLoss(coef=1.0, ball_norm=ball_norm, cutoff=cutoff)
    assert torch.autograd.gradcheck(lambda x: loss(x)[0], (z,), eps=1e-6, atol=1e-6)


def test_ball_penalty_norm_has_no_nan_gradient_at_origin():
    z = torch.zeros(3, 2, requires_grad=True)
    BallPenalty("norm")(z).backward()
    assert torch.equal(z.grad, torch.zeros(3, 2))


def test_regulariser_spreads_points_inside_the_ball():
    """The original's exploration: 100 Gaussian points in R², maximise H0 inside the ball."""
    torch.manual_seed(0)
    z = torch.randn(100, 2).requires_grad_(True)
    closest = float(finite_death_times(z.detach(), None).min())
    loss = HomologicalLoss(coef=1.0, cutoff=5.0)
    opt = torch.optim.Adam([z], lr=1e-2)
    for _ in range(300):
        opt.zero_grad()
        loss(z)[0].backward()
        opt.step()
    norms = z.detach().norm(dim=1)
    assert (norms < 1.05).float().mean() >= 0.95 and norms.max() < 1.3  # into the ball
    assert norms.min() < 0.5  # filling it, not only its boundary circle
    # spread apart: the closest pair moves 2.3-3.8x further apart in float32 and float64 (the
    # exact factor depends on rounding along the 300 steps, e.g. on the FPU's denormal mode)
    assert float(finite_death_times(z.detach(), None).min()) > 2 * closest


def test_kl_as_the_code_computes_it():
    gen = torch.Generator().manual_seed(0)
    mu, log_var = torch.randn(16, 5, generator=gen), torch.randn(16, 5, generator=gen)
    q = torch.distributions.Normal(mu, (0.5 * log_var).exp())
    p = torch.distributions.Normal(torch.zeros(5), torch.ones(5))
    kl_sum = torch.distributions.kl_divergence(q, p).sum()
    torch.testing.assert_close(kl_divergence(mu, log_var), kl_sum / (16 * 784))
    torch.testing.assert_close(kl_divergence(mu, log_var, batch_size=128), kl_sum / (128 * 784))
    assert float(kl_divergence(torch.zeros(4, 2), torch.zeros(4, 2))) == 0.0


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"ball_norm": "l1"}, "ball_norm"),
        ({"coef": -1.0}, "coef"),
        ({"death_coef": float("nan")}, "death_coef"),
        ({"ball_coef": "1"}, "ball_coef"),
        ({"cutoff": 0.0}, "cutoff"),
    ],
)
def test_invalid_arguments_are_named(kwargs, name):
    with pytest.raises(ValueError, match=name):
        HomologicalLoss(**kwargs)


def test_latents_must_be_a_matrix():
    with pytest.raises(ValueError, match="latents"):
        HomologicalLoss()(torch.zeros(2, 3, 4))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    "kwargs",
    [{}, {"ball_norm": "norm"}, {"cutoff": None}, {"death_coef": 0.0}, {"ball_coef": 0.3}],
)
def test_fused_loss_equals_the_composed_torch_reference(dtype, kwargs):
    """The one-node loss and gradient = BallPenalty − Σ finite_death_times built from torch ops."""
    gen = torch.Generator().manual_seed(1)
    z = (torch.randn(128, 10, generator=gen) * 0.35).to(dtype).requires_grad_(True)
    loss_fn = HomologicalLoss(coef=1.0, **kwargs)
    loss, terms = loss_fn(z)
    (grad,) = torch.autograd.grad(loss, z)
    ball = BallPenalty(loss_fn.ball.norm)(z)
    deaths = finite_death_times(z, loss_fn.cutoff)
    reference = loss_fn.ball_coef * ball - loss_fn.death_coef * deaths.sum()
    (grad_ref,) = torch.autograd.grad(reference, z)
    tol = {"rtol": 1e-5, "atol": 1e-5} if dtype == torch.float32 else {"rtol": 1e-10, "atol": 1e-12}
    torch.testing.assert_close(loss.detach(), reference.detach(), **tol)
    torch.testing.assert_close(grad, grad_ref, **tol)
    assert float(terms["ball_penalty"]) == pytest.approx(float(ball), rel=1e-5)
    if loss_fn.death_coef > 0:
        assert int(terms["n_deaths"]) == len(deaths)
        assert float(terms["death_sum"]) == pytest.approx(float(deaths.sum()), rel=1e-5)
    else:
        assert int(terms["n_deaths"]) == 0


def test_nan_latents_give_a_nan_loss_for_the_trainer_to_stop_on():
    z = torch.zeros(4, 2)
    z[1, 0] = float("nan")
    loss, terms = HomologicalLoss()(z)
    assert torch.isnan(loss) and torch.isnan(terms["death_sum"])

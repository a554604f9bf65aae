"""Generative MLP autoencoder and VAE: architecture, objective (with the homological regulariser,
``loss=homological|ball``), priors, argument checks."""

from __future__ import annotations

import math

import pytest
import torch
from hydra.utils import instantiate
from torch import nn
from torch.nn import functional as F

from topoexp.losses.homological import HomologicalLoss, kl_divergence
from topoexp.losses.objective import Objective
from topoexp.losses.regularisers import Homological
from topoexp.models.autoencoders import Autoencoder
from topoexp.models.generative import VAE, GenerativeAE, sample_ball


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: the small training loops below run 5–10× slower with two threads on
    busy cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def images(n: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


def regularised(model: nn.Module, regulariser: str = "homological", **kwargs) -> Objective:
    """The objective the generative task builds: ``loss=homological`` or ``loss=ball`` (the
    homological term with ``death_coef`` 0, conf/loss/ball.yaml), or ``loss=none``."""
    if regulariser == "none":
        return Objective(model, {})
    if regulariser == "ball":
        kwargs.setdefault("death_coef", 0.0)
    return Objective(model, {"homological": Homological(**kwargs)})


def layer_kinds(module: nn.Module) -> list[str]:
    return [
        f"Linear({m.in_features},{m.out_features})"
        if isinstance(m, nn.Linear)
        else type(m).__name__
        for m in module
    ]


def test_autoencoder_architecture_is_784_64_64_n_with_elu_and_sigmoid():
    model = GenerativeAE(latent_dim=5)
    assert isinstance(model, Autoencoder)
    assert layer_kinds(model.encoder) == [
        "Linear(784,64)", "ELU", "Linear(64,64)", "ELU", "Linear(64,5)",
    ]  # fmt: skip
    assert layer_kinds(model.decoder) == [
        "Linear(5,64)", "ELU", "Linear(64,64)", "ELU", "Linear(64,784)", "Sigmoid",
    ]  # fmt: skip


def test_vae_architecture_has_mu_and_log_var_heads():
    model = VAE(latent_dim=10)
    assert layer_kinds(model.encoder) == ["Linear(784,64)", "ELU", "Linear(64,64)", "ELU"]
    assert (model.mu.in_features, model.mu.out_features) == (64, 10)
    assert (model.log_var.in_features, model.log_var.out_features) == (64, 10)
    assert layer_kinds(model.decoder)[-2:] == ["Linear(64,784)", "Sigmoid"]


def test_plain_autoencoder_loss_is_mean_bce():
    model, x = GenerativeAE(), images()
    total, parts = model.loss(x)
    x_hat, z = model(x)
    expected = F.binary_cross_entropy(x_hat, x.reshape(32, -1)).detach()
    torch.testing.assert_close(total.detach(), expected)
    assert z.shape == (32, 2) and x_hat.shape == (32, 784)
    assert parts == {"loss.reconstruction": float(expected), "reconstruction_bce": float(expected)}


@pytest.mark.parametrize("regulariser", ["homological", "ball"])
def test_regularised_loss_adds_the_homological_term_of_the_latents(regulariser):
    model, x = GenerativeAE(latent_dim=3), images()
    total, parts = regularised(model, regulariser).loss(x)
    x_hat, z = model(x)
    death_coef = 0.0 if regulariser == "ball" else None
    h, _ = HomologicalLoss(5e-3, death_coef=death_coef)(z)
    torch.testing.assert_close(total, F.binary_cross_entropy(x_hat, x.reshape(32, -1)) + h)
    assert parts["loss.homological"] == pytest.approx(float(h.detach()))
    assert (parts["n_deaths"] == 0) == (regulariser == "ball")
    assert parts["loss.total"] == pytest.approx(float(total.detach()))
    assert set(parts) == {
        "loss.reconstruction", "reconstruction_bce", "loss.homological",
        "ball_penalty", "death_sum", "n_deaths", "loss.total",
    }  # fmt: skip


def test_the_vae_regulariser_reads_the_sampled_code():
    model, x = VAE(latent_dim=3), images()
    torch.manual_seed(2)
    _, parts = regularised(model).loss(x)
    mu, log_var = model.encode_distribution(x)
    torch.manual_seed(2)
    z = mu + (0.5 * log_var).exp() * torch.randn_like(mu)
    h, _ = HomologicalLoss(5e-3)(z)
    assert parts["loss.homological"] == pytest.approx(float(h.detach()), rel=1e-5)
    assert parts["loss.total"] == pytest.approx(
        parts["loss.reconstruction"] + float(h.detach()), rel=1e-5
    )


def test_vae_loss_is_bce_plus_kl_of_the_reparameterised_sample():
    model, x = VAE(latent_dim=4, kl_batch_size=128), images()
    torch.manual_seed(5)
    total, parts = model.loss(x)
    mu, log_var = model.encode_distribution(x)
    torch.manual_seed(5)
    z = mu + (0.5 * log_var).exp() * torch.randn_like(mu)
    bce = F.binary_cross_entropy(model.decode(z), x.reshape(32, -1))
    kl = kl_divergence(mu, log_var, batch_size=128)
    torch.testing.assert_close(total, bce + kl)
    assert parts["kl"] == pytest.approx(float(kl.detach()))
    assert parts["loss.reconstruction"] == pytest.approx(float((bce + kl).detach()))


def test_vae_forward_samples_in_training_and_uses_the_mean_in_eval():
    model, x = VAE(), images(8)
    mu = model.encode(x)
    assert not torch.equal(model(x)[1], mu)
    model.eval()
    assert torch.equal(model(x)[1], mu)


@pytest.mark.parametrize(
    ("make", "regulariser", "prior"),
    [
        (GenerativeAE, "none", "gaussian"),
        (GenerativeAE, "homological", "ball"),
        (GenerativeAE, "ball", "ball"),
        (lambda: GenerativeAE(prior="ball"), "none", "ball"),  # the AE's sampling control
        (lambda: GenerativeAE(prior="gaussian"), "homological", "gaussian"),  # set: kept
        (VAE, "none", "gaussian"),
        (VAE, "homological", "ball"),
    ],
)
def test_prior_follows_the_training(make, regulariser, prior):
    """``prior: auto`` becomes the unit ball with the homological regulariser, N(0, I)
    without; an explicit prior is kept."""
    model = make()
    regularised(model, regulariser)
    assert model.prior == prior
    samples = model.generate(5, torch.Generator().manual_seed(0))
    assert samples.shape == (5, 1, 28, 28) and samples.min() >= 0 and samples.max() <= 1


def test_ball_samples_are_uniform_in_the_unit_ball():
    gen = torch.Generator().manual_seed(0)
    for dim in (2, 5, 10):
        r = sample_ball(20_000, dim, gen).norm(dim=1)
        assert r.max() <= 1.0
        # uniform in the ball ⇔ r^dim ~ U(0, 1): mean 1/2, variance 1/12.
        u = r.pow(dim)
        assert abs(float(u.mean()) - 0.5) < 0.01
        assert abs(float(u.var()) - 1 / 12) < 0.005


def test_sample_prior_is_reproducible_with_a_generator():
    model = GenerativeAE(latent_dim=5)
    a = model.sample_prior(4, torch.Generator().manual_seed(1))
    b = model.sample_prior(4, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.shape == (4, 5)


def test_regularised_training_pulls_latents_into_the_ball():
    torch.manual_seed(0)
    model = GenerativeAE(latent_dim=2)
    objective = regularised(model, weight=1.0)
    x = images(64)
    opt = torch.optim.Adam(objective.parameters(), lr=1e-2)
    for _ in range(40):
        opt.zero_grad()
        objective.loss(x)[0].backward()
        opt.step()
    with torch.no_grad():
        assert model.encode(x).norm(dim=1).max() < 1.1


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"latent_dim": 0}, "latent_dim"),
        ({"hidden_dim": 2.5}, "hidden_dim"),
        ({"prior": "uniform"}, "prior"),
    ],
)
def test_invalid_arguments_are_named(kwargs, name):
    with pytest.raises(ValueError, match=name):
        GenerativeAE(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"weight": -1.0}, "coef"),
        ({"death_coef": -1.0}, "death_coef"),
        ({"ball_norm": "l1"}, "ball_norm"),
        ({"cutoff": -0.5}, "cutoff"),
    ],
)
def test_invalid_regulariser_arguments_are_named(kwargs, name):
    with pytest.raises(ValueError, match=name):
        Homological(**kwargs)


def test_the_input_size_comes_from_the_data():
    model = GenerativeAE(input_shape=(3, 8, 8), latent_dim=2)
    assert layer_kinds(model.encoder)[0] == "Linear(192,64)"
    assert model.generate(3, torch.Generator().manual_seed(0)).shape == (3, 3, 8, 8)


def test_vae_rejects_a_bad_kl_batch_size():
    with pytest.raises(ValueError, match="kl_batch_size"):
        VAE(kl_batch_size=0)


def test_wrong_input_size_is_reported():
    with pytest.raises(ValueError, match="784"):
        GenerativeAE().loss(torch.rand(4, 100))


def test_hydra_instantiates_from_plain_arguments():
    model = instantiate({"_target_": "topoexp.models.generative.GenerativeAE", "latent_dim": 10})
    assert model.latent_dim == 10 and model.prior == "auto"
    term = instantiate(
        {
            "_target_": "topoexp.losses.regularisers.Homological",
            "cutoff": None,
            "ball_norm": "norm",
        }
    )
    assert term.homological.cutoff is None and term.homological.ball.norm == "norm"
    assert math.isclose(term.homological.ball_coef, 5e-3)
    vae = instantiate({"_target_": "topoexp.models.generative.VAE", "kl_batch_size": 512})
    Objective(vae, {})
    assert vae.kl_batch_size == 512 and vae.prior == "gaussian"

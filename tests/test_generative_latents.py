"""Test-set latent metrics: reconstruction BCE, fraction in the ball, 0-dim total persistence."""

from __future__ import annotations

import numpy as np
import pytest
import ripser
import torch
from torch.nn import functional as F

from topoexp.evaluation.latents import (
    fraction_in_ball,
    latent_metrics,
    reconstruction_bce,
    total_persistence0_batches,
)
from topoexp.models.generative import VAE, GenerativeAE


def images(n: int) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(0))


def test_reconstruction_bce_is_the_mean_over_images_and_pixels():
    model, x = GenerativeAE(latent_dim=3), images(50)
    bce, z = reconstruction_bce(model, x, batch_size=16)  # uneven batches
    x_hat, z_ref = model(x)
    expected = float(F.binary_cross_entropy(x_hat, x.reshape(50, -1)).detach())
    assert bce == pytest.approx(expected, rel=1e-5)
    torch.testing.assert_close(z, z_ref.detach())


def test_vae_reconstructs_from_the_mean():
    model, x = VAE(latent_dim=3), images(20)
    _, z = reconstruction_bce(model, x)
    torch.testing.assert_close(z, model.encode(x).detach())


def test_fraction_in_ball_by_hand():
    z = torch.tensor([[0.0, 0.5], [1.0, 0.0], [0.8, 0.7], [3.0, 0.0]])  # norms .5, 1, 1.06, 3
    assert fraction_in_ball(z) == 0.5


def test_total_persistence_matches_ripser_per_batch():
    z = torch.randn(3 * 40 + 7, 4, generator=torch.Generator().manual_seed(1))
    got = total_persistence0_batches(z, batch_size=40)
    assert got.shape == (3,)  # the partial last batch is dropped
    for b in range(3):
        dgm = ripser.ripser(z[b * 40 : (b + 1) * 40].double().numpy(), maxdim=0)["dgms"][0]
        assert float(got[b]) == pytest.approx(dgm[np.isfinite(dgm[:, 1]), 1].sum(), rel=1e-6)
    cut = total_persistence0_batches(z, batch_size=40, cutoff=0.5)
    assert (cut <= got).all()


def test_latent_metrics_keys():
    m = latent_metrics(GenerativeAE(latent_dim=2), images(300), batch_size=128)
    assert set(m) == {
        "reconstruction_bce", "fraction_in_ball", "total_persistence0",
        "total_persistence0_std", "death_sum_cutoff",
    }  # fmt: skip
    assert all(isinstance(v, float) for v in m.values())


def test_too_few_latents_for_a_batch():
    with pytest.raises(ValueError, match="batch_size"):
        total_persistence0_batches(torch.zeros(10, 2), batch_size=128)

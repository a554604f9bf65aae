"""What a generative autoencoder does with the test set: reconstruction, ball, persistence."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from topoexp.topology.deaths import death_times0
from topoexp.topology.distances import pairwise_distances

__all__ = ["fraction_in_ball", "latent_metrics", "reconstruction_bce", "total_persistence0_batches"]


@torch.no_grad()
def reconstruction_bce(
    model: nn.Module, images: Tensor, batch_size: int = 2000
) -> tuple[float, Tensor]:
    """Mean binary cross-entropy over images × pixels (the training loss's reduction) and the
    latents, in eval mode (the VAE reconstructs from μ)."""
    model.eval()
    total, latents = 0.0, []
    for s in range(0, len(images), batch_size):
        x = images[s : s + batch_size].reshape(min(batch_size, len(images) - s), -1)
        x_hat, z = model(x)
        total += float(F.binary_cross_entropy(x_hat, x, reduction="sum"))
        latents.append(z)
    return total / images[0].numel() / len(images), torch.cat(latents)


def fraction_in_ball(z: Tensor) -> float:
    """Share of the latent codes with ‖z‖ ≤ 1."""
    return float((z.norm(dim=1) <= 1.0).double().mean())


@torch.no_grad()
def total_persistence0_batches(
    z: Tensor, batch_size: int = 128, cutoff: float | None = None
) -> Tensor:
    """0-dim total persistence (Σ of the finite Rips deaths, births 0) of consecutive full batches.

    ``z`` is split in order into ⌊N / batch_size⌋ batches (a partial last batch is dropped);
    with ``cutoff`` only deaths ≤ cutoff count (what the regulariser rewards).
    """
    n = len(z) // batch_size
    if n == 0:
        raise ValueError(f"need at least batch_size={batch_size} latents, got {len(z)}")
    batches = z[: n * batch_size].reshape(n, batch_size, -1).to(torch.float64)
    deaths = death_times0(pairwise_distances(batches), distance_matrix=True, cutoff=cutoff).deaths
    if cutoff is not None:  # the bars that stay essential below the cutoff
        deaths = torch.where(torch.isfinite(deaths), deaths, 0.0)
    return deaths.sum(dim=1)


def latent_metrics(
    model: nn.Module, images: Tensor, batch_size: int = 128, cutoff: float = 0.5
) -> dict[str, float]:
    """``reconstruction_bce``, ``fraction_in_ball``, and the mean / std over test batches of the
    0-dim total persistence (``total_persistence0``) and of its part ≤ ``cutoff``
    (``death_sum_cutoff``)."""
    bce, z = reconstruction_bce(model, images)
    tp = total_persistence0_batches(z, batch_size)
    tp_cut = total_persistence0_batches(z, batch_size, cutoff)
    return {
        "reconstruction_bce": bce,
        "fraction_in_ball": fraction_in_ball(z),
        "total_persistence0": float(tp.mean()),
        "total_persistence0_std": float(tp.std()) if len(tp) > 1 else 0.0,
        "death_sum_cutoff": float(tp_cut.mean()),
    }

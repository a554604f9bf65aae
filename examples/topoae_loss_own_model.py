"""TopoAE's topological signature loss on your own model.

Any encoder works: compute the batch's distance matrices in data and latent space and add
``SignatureLoss`` (the TopoAE paper's loss) to your reconstruction loss. ``loss_fn(D_X, D_Z)``
is the scalar; ``loss_fn.terms(D_X, D_Z)`` returns it with its parts (both directions of the
matching and the number of shared MST edges) for logging.

    python examples/topoae_loss_own_model.py
"""

from __future__ import annotations

import math

import torch
from torch import nn

from topoexp.losses import SignatureLoss


class TinyAutoencoder(nn.Module):
    """A user's model: nothing from topoexp."""

    def __init__(self, d: int = 10, latent: int = 2) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(d, 32), nn.ReLU(), nn.Linear(32, latent))
        self.decoder = nn.Sequential(nn.Linear(latent, 32), nn.ReLU(), nn.Linear(32, d))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.encoder(x)
        return z, self.decoder(z)


def circles(n: int, d: int, gen: torch.Generator) -> torch.Tensor:
    """Two circles of radius 1 in a random 2-plane each, 3 apart, embedded in R^d."""
    t = torch.rand(n, generator=gen) * 2 * math.pi
    ring = torch.stack([t.cos(), t.sin()], dim=1)
    which = torch.arange(n) % 2
    planes = torch.linalg.qr(torch.randn(2, d, 2, generator=gen)).Q  # (2, d, 2) orthonormal
    x = torch.einsum("dk,nk->nd", planes[0], ring) * (which == 0)[:, None]
    x = x + (torch.einsum("dk,nk->nd", planes[1], ring) + 3.0) * (which == 1)[:, None]
    return x + 0.05 * torch.randn(n, d, generator=gen)


def main(epochs: int = 30, seed: int = 0, lam: float = 1.0) -> dict[str, float]:
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    data = circles(512, 10, gen)
    model = TinyAutoencoder()
    signature = SignatureLoss()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    history = []
    for _ in range(epochs):
        for batch in data[torch.randperm(len(data), generator=gen)].split(64):
            z, x_hat = model(batch)
            topo, parts = signature.terms(torch.cdist(batch, batch), torch.cdist(z, z))
            loss = nn.functional.mse_loss(x_hat, batch) + lam * topo
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        history.append({"topo": topo.item(), "matched_pairs_0d": parts["matched_pairs_0d"].item()})
    return {
        "topo_first": history[0]["topo"],
        "topo_last": history[-1]["topo"],
        "matched_last": history[-1]["matched_pairs_0d"],
    }


if __name__ == "__main__":
    result = main()
    print(
        f"signature loss {result['topo_first']:.3f} -> {result['topo_last']:.3f}; "
        f"{result['matched_last']:.0f} of 63 MST edges shared in the last batch"
    )

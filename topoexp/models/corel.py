"""COREL's branched DCGAN-style autoencoder (Hofer et al., ICML 2019; spec §A.1, §A.4).

Encoder: three ``Conv2d(k=3, s=2, p=1) → LeakyReLU`` layers (filters 32, 64, 128 by default),
flatten in channel-major order, then an *independent branches* linear layer to
``n_branches × branch_dim`` latents with no activation. Decoder: an independent branches linear
layer back to the flattened feature map (no activation), then ``ConvTranspose2d(k=3, s=2, p=1,
output_padding=1)`` layers with ReLU between them and no output activation. No batch norm, no
dropout, PyTorch's default initialisation.

Objective: ``L = L_rec + λ · L_top`` with ``L_rec`` the per-sample ℓ1 *sum* over pixels averaged
over the batch and ``L_top`` the :class:`~topoexp.losses.connectivity.ConnectivityLoss` of the
batch's branch latents.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from topoexp.config.markers import ArgumentError
from topoexp.losses.connectivity import ConnectivityLoss
from topoexp.models.autoencoders import Autoencoder

__all__ = ["CorelAutoencoder", "IndependentBranchesLinear", "death_time_stats"]


class IndependentBranchesLinear(nn.Linear):
    """A ``Linear(n·in_per_branch → n·out_per_branch)`` whose weight is block-diagonal.

    On every forward the weight is multiplied by a fixed 0/1 mask: output rows
    ``[out·b, out·(b+1))`` only see input columns ``[in·b, in·(b+1))``. The bias is not masked.
    Masked weights get zero gradient, so they never influence the output.
    """

    def __init__(self, in_per_branch: int, out_per_branch: int, n_branches: int) -> None:
        for name, value in (
            ("in_per_branch", in_per_branch),
            ("out_per_branch", out_per_branch),
            ("n_branches", n_branches),
        ):
            if int(value) != value or value < 1:
                raise ArgumentError(name, f"must be a positive integer, got {value!r}")
        super().__init__(in_per_branch * n_branches, out_per_branch * n_branches)
        self.in_per_branch = int(in_per_branch)
        self.out_per_branch = int(out_per_branch)
        self.n_branches = int(n_branches)
        mask = torch.block_diag(
            *[torch.ones(self.out_per_branch, self.in_per_branch)] * self.n_branches
        )
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_per_branch={self.in_per_branch}, out_per_branch={self.out_per_branch}, "
            f"n_branches={self.n_branches}"
        )


def death_time_stats(deaths: Tensor) -> Tensor:
    """``(3, n_branches)`` min / mean / max of the ``(n_branches, B − 1)`` death times."""
    if deaths.shape[-1] == 0:
        return deaths.new_full((3, deaths.shape[0]), float("nan"))
    return torch.stack([deaths.amin(-1), deaths.mean(-1), deaths.amax(-1)])


class CorelAutoencoder(Autoencoder):
    """The branched autoencoder ``DCGEncDec`` trained on ``L_rec + λ · L_top``.

    Args:
        in_channels: image channels (3 for CIFAR, 1 for MNIST / Fashion-MNIST resized to 32×32).
        image_size: input height = width; a multiple of 2^len(filters) (32 in the paper).
        filters: output channels of the encoder's convolutions (mirrored in the decoder).
        n_branches: latent branches (16 in the paper; 32 / 8 / 1 in the ablation).
        branch_dim: dimension of each branch's latent (10; 20 / 5 / 160 in the ablation).
        lam: weight λ of the connectivity loss (20; 0 trains a plain autoencoder).
        eta: target death time η of the connectivity loss (2).
        branch_reduction: ``"mean"`` over branches (the original code) or ``"sum"`` (the paper).
        drop_zero_deaths: see :class:`~topoexp.losses.connectivity.ConnectivityLoss`.

    ``encode`` returns ``(B, n_branches · branch_dim)``; branch ``b`` is the column block
    ``[b·branch_dim, (b+1)·branch_dim)`` (:meth:`branches` reshapes to
    ``(n_branches, B, branch_dim)``). ``forward`` returns ``(x_hat, z)``.

    ``loss(x)`` returns the total and these floats: ``loss.reconstruction``,
    ``loss.connectivity`` (unweighted), ``loss.total``, ``death_time.{min,mean,max}`` (over all
    branches: the minimum of the minima, the mean, the maximum of the maxima) and
    ``death_time.{min,mean,max}.b<k>`` per branch (``k`` zero-padded to two digits), over all
    ``B − 1`` MST edges of the batch (a zero-length edge of duplicate inputs included).
    With ``lam == 0`` the death times are still computed for logging, without gradient.
    """

    def __init__(
        self,
        in_channels: int = 3,
        image_size: int = 32,
        filters: Sequence[int] = (32, 64, 128),
        n_branches: int = 16,
        branch_dim: int = 10,
        lam: float = 20.0,
        eta: float = 2.0,
        branch_reduction: Literal["mean", "sum"] = "mean",
        drop_zero_deaths: bool = True,
    ) -> None:
        filters = tuple(filters)
        for name, value in (
            ("in_channels", in_channels),
            ("image_size", image_size),
            ("n_branches", n_branches),
            ("branch_dim", branch_dim),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ArgumentError(name, f"must be a positive integer, got {value!r}")
        if not filters or any(not isinstance(f, int) or f < 1 for f in filters):
            raise ArgumentError(
                "filters", f"must be a non-empty list of positive integers, got {filters}"
            )
        scale = 2 ** len(filters)
        if image_size % scale:
            raise ArgumentError(
                "image_size", f"must be a multiple of 2^len(filters) = {scale}, got {image_size}"
            )
        side = image_size // scale
        flat = filters[-1] * side * side
        if flat % n_branches:
            raise ArgumentError(
                "n_branches",
                f"must divide the {flat} encoder features ({filters[-1]}·{side}·{side}), "
                f"got {n_branches}",
            )
        if not float(lam) >= 0:
            raise ArgumentError("lam", f"must be ≥ 0, got {lam!r}")
        connectivity = ConnectivityLoss(
            eta=eta, branch_reduction=branch_reduction, drop_zero_deaths=drop_zero_deaths
        )

        channels = (in_channels, *filters)
        enc: list[nn.Module] = []
        for c_in, c_out in itertools.pairwise(channels):
            enc += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.LeakyReLU()]
        enc += [nn.Flatten(), IndependentBranchesLinear(flat // n_branches, branch_dim, n_branches)]
        dec: list[nn.Module] = [
            IndependentBranchesLinear(branch_dim, flat // n_branches, n_branches),
            nn.Unflatten(1, (filters[-1], side, side)),
        ]
        rev = channels[::-1]
        for k, (c_in, c_out) in enumerate(itertools.pairwise(rev)):
            dec.append(nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=1))
            if k < len(rev) - 2:
                dec.append(nn.ReLU())
        super().__init__(
            encoder=nn.Sequential(*enc),
            decoder=nn.Sequential(*dec),
            latent_dim=n_branches * branch_dim,
        )
        self.in_channels = in_channels
        self.image_size = image_size
        self.filters = filters
        self.n_branches = n_branches
        self.branch_dim = branch_dim
        self.lam = float(lam)
        self.connectivity = connectivity

    @property
    def eta(self) -> float:
        """The target death time η (held by the connectivity loss)."""
        return self.connectivity.eta

    @property
    def branch_reduction(self) -> str:
        return self.connectivity.branch_reduction

    @property
    def drop_zero_deaths(self) -> bool:
        return self.connectivity.drop_zero_deaths

    def branches(self, z: Tensor) -> Tensor:
        """``(B, n_branches · branch_dim) → (n_branches, B, branch_dim)``."""
        return z.view(z.shape[0], self.n_branches, self.branch_dim).transpose(0, 1)

    def reconstruction_loss(self, x: Tensor) -> Tensor:
        """Per-sample ℓ1 sum over pixels, averaged over the batch."""
        x_hat, _ = self(x)
        return _l1_sum_mean(x_hat, x)

    def loss(self, x: Tensor) -> tuple[Tensor, dict[str, float]]:
        """``L_rec + λ · L_top`` of batch ``x`` and its logged components (class docstring)."""
        z = self.encode(x)
        recon = _l1_sum_mean(self.decode(z), x)
        if self.lam > 0:
            topo, deaths = self.connectivity(self.branches(z))
            total = recon + self.lam * topo
        else:
            with torch.no_grad():
                topo, deaths = self.connectivity(self.branches(z.detach()))
            total = recon
        stats = death_time_stats(deaths.detach())
        overall = torch.stack([stats[0].min(), stats[1].mean(), stats[2].max()])
        # One device→host transfer for every logged value.
        values = torch.cat(
            [torch.stack([recon.detach(), topo.detach(), total.detach()]), overall, stats.ravel()]
        ).tolist()
        parts = {
            "loss.reconstruction": values[0],
            "loss.connectivity": values[1],
            "loss.total": values[2],
        }
        for k, stat in enumerate(("min", "mean", "max")):
            parts[f"death_time.{stat}"] = values[3 + k]
        offset = 6
        for k, stat in enumerate(("min", "mean", "max")):
            for b in range(self.n_branches):
                parts[f"death_time.{stat}.b{b:02d}"] = values[offset + k * self.n_branches + b]
        return total, parts

    def extra_repr(self) -> str:
        return (
            f"n_branches={self.n_branches}, branch_dim={self.branch_dim}, lam={self.lam}, "
            f"eta={self.connectivity.eta}, branch_reduction={self.connectivity.branch_reduction!r}"
        )


def _l1_sum_mean(x_hat: Tensor, x: Tensor) -> Tensor:
    return (x_hat - x).abs().flatten(1).sum(1).mean()

"""COREL's branched DCGAN-style autoencoder (Hofer et al., ICML 2019; spec §A.1, §A.4).

Encoder: three ``Conv2d(k=3, s=2, p=1) → LeakyReLU`` layers (filters 32, 64, 128 by default),
flatten in channel-major order, then an *independent branches* linear layer to
``n_branches × branch_dim`` latents with no activation. Decoder: an independent branches linear
layer back to the flattened feature map (no activation), then ``ConvTranspose2d(k=3, s=2, p=1,
output_padding=1)`` layers with ReLU between them and no output activation. No batch norm, no
dropout, PyTorch's default initialisation.

Objective: ``L = L_rec + λ · L_top`` with ``L_rec`` the per-sample ℓ1 *sum* over pixels averaged
over the batch (this model's own term) and ``L_top`` the connectivity regulariser of the batch's
branch latents (``loss=connectivity``, :class:`~topoexp.losses.regularisers.Connectivity`).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Annotated, ClassVar

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from topoexp.capabilities import BRANCHES, DECODER, ENCODER, IMAGES, TRAINABLE
from topoexp.config.markers import BUILD_ARG, ArgumentError
from topoexp.models.autoencoders import Autoencoder

__all__ = ["CorelAutoencoder", "IndependentBranchesLinear"]


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


class CorelAutoencoder(Autoencoder):
    """The branched autoencoder ``DCGEncDec`` of COREL.

    Args:
        input_shape: ``(C, H, W)`` of the data (supplied by the run): H = W, a multiple of
            2^len(filters) (32 × 32 in the paper: 3 channels for CIFAR, 1 for MNIST /
            Fashion-MNIST resized with ``dataset.transform=corel32``).
        filters: output channels of the encoder's convolutions (mirrored in the decoder).
        n_branches: latent branches (16 in the paper; 32 / 8 / 1 in the ablation).
        branch_dim: dimension of each branch's latent (10; 20 / 5 / 160 in the ablation).

    ``encode`` returns ``(B, n_branches · branch_dim)``; branch ``b`` is the column block
    ``[b·branch_dim, (b+1)·branch_dim)`` (:meth:`branches` reshapes to
    ``(n_branches, B, branch_dim)``). ``forward`` returns ``(x_hat, z)``. The reconstruction term
    is the per-sample ℓ1 sum over pixels averaged over the batch (``loss.reconstruction``); the
    connectivity loss is a regulariser (``loss=connectivity``,
    :class:`~topoexp.losses.regularisers.Connectivity`), which reads the branches.
    """

    offers: ClassVar[frozenset[str]] = frozenset({TRAINABLE, ENCODER, DECODER, BRANCHES})
    needs_data: ClassVar[frozenset[str]] = frozenset({IMAGES})

    def __init__(
        self,
        input_shape: Annotated[Sequence[int], BUILD_ARG] = (3, 32, 32),
        filters: Sequence[int] = (32, 64, 128),
        n_branches: int = 16,
        branch_dim: int = 10,
    ) -> None:
        shape = tuple(int(v) for v in input_shape)
        if len(shape) != 3 or shape[1] != shape[2]:
            raise ArgumentError(
                "input_shape", f"COREL's autoencoder needs square images (C, H, H), got {shape}"
            )
        in_channels, image_size = shape[0], shape[1]
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
                "input_shape",
                f"the image size must be a multiple of 2^len(filters) = {scale}, got {image_size}"
                " (for MNIST-like data: dataset.transform=corel32)",
            )
        side = image_size // scale
        flat = filters[-1] * side * side
        if flat % n_branches:
            raise ArgumentError(
                "n_branches",
                f"must divide the {flat} encoder features ({filters[-1]}·{side}·{side}), "
                f"got {n_branches}",
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
        self.input_shape = shape

    def branches(self, z: Tensor) -> Tensor:
        """``(B, n_branches · branch_dim) → (n_branches, B, branch_dim)``."""
        return z.view(z.shape[0], self.n_branches, self.branch_dim).transpose(0, 1)

    def _reconstruction_term(
        self, x: Tensor, x_hat: Tensor, extra: dict[str, Tensor]
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """The per-sample ℓ1 sum over pixels, averaged over the batch."""
        recon = _l1_sum_mean(x_hat, x)
        return recon, {"loss.reconstruction": recon}

    def reconstruction_loss(self, x: Tensor) -> Tensor:
        """Per-sample ℓ1 sum over pixels, averaged over the batch."""
        x_hat, _ = self(x)
        return _l1_sum_mean(x_hat, x)

    def loss(self, x: Tensor) -> tuple[Tensor, dict[str, float]]:
        """The reconstruction term alone (no regulariser) and its logged value."""
        out = self.outputs(x)
        return out.reconstruction, {"loss.reconstruction": float(out.reconstruction.detach())}

    def extra_repr(self) -> str:
        return f"n_branches={self.n_branches}, branch_dim={self.branch_dim}"


def _l1_sum_mean(x_hat: Tensor, x: Tensor) -> Tensor:
    return (x_hat - x).abs().flatten(1).sum(1).mean()

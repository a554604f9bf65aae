"""Topologically regularised autoencoder (TopoAE / TopoPCA), spec `topoae_protocol.md` §2.3."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Literal, get_args

import torch
from annotated_types import Ge
from torch import Tensor, nn
from torch.nn import functional as F

from topoexp.config.markers import BUILD_ARG, ArgumentError
from topoexp.models.autoencoders import Autoencoder
from topoexp.topology.distances import data_distances, pairwise_distances

if TYPE_CHECKING:
    from topoexp.losses.signature import SignatureLoss

DataNorm = Literal["auto", "batch_max", "image_max", "none"]

# Signature diagnostics -> the names the original code logs.
_DIAGNOSTIC_NAMES = {
    "matched_pairs_0d": "metrics.matched_pairs_0D",
    "distance1_2": "metrics.distance1-2",
    "distance2_1": "metrics.distance2-1",
}


def _second_update(
    module: nn.modules.batchnorm._BatchNorm, inputs: tuple[Tensor, ...], _out: Tensor
) -> None:
    """Apply a batch-norm module's running-statistics update once more for the same batch."""
    if not (module.training and module.track_running_stats):
        return
    x = inputs[0].detach()
    dims = [0, *range(2, x.dim())]
    mean = x.mean(dim=dims)
    var = x.var(dim=dims, unbiased=True)
    # Out of place: batch norm keeps the buffers of this forward for its backward.
    module.num_batches_tracked = module.num_batches_tracked + 1
    momentum = module.momentum
    factor = 1.0 / float(module.num_batches_tracked) if momentum is None else momentum
    module.running_mean = (1 - factor) * module.running_mean + factor * mean
    module.running_var = (1 - factor) * module.running_var + factor * var


@contextmanager
def repeat_batchnorm_updates(module: nn.Module) -> Iterator[None]:
    """Within the context, every forward of a batch-norm layer in ``module`` (training mode)
    updates its running statistics twice, as if the batch had been passed through twice."""
    handles = [
        m.register_forward_hook(_second_update)
        for m in module.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm)
    ]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


class TopologicallyRegularizedAE(nn.Module):
    """An autoencoder trained on ``MSE + λ · signature(D_X, D_Z)``.

    Args:
        autoencoder: the wrapped model (MLPAutoencoder → TopoAE, LinearAE → TopoPCA, ...).
        lam: weight λ of the topological error.
        signature: the topological error between two distance matrices (``SignatureLoss``).
        data_norm: how ``D_X`` is normalised. ``"auto"`` is the original code: a 4-D image batch
            ``(B, C, H, W)`` is divided by ``sqrt(2²·C·H·W)`` (the largest distance in [−1, 1]^D,
            56 for MNIST), any other batch by the largest distance in the batch.
            ``"image_max"`` / ``"batch_max"`` force one rule (``image_max`` uses the number of
            features of any shape); ``"none"`` keeps raw distances.
        encode_twice: ``True`` reproduces the original QUIRK: its reconstruction is computed by
            calling the autoencoder again, so the encoder runs twice per step. Both passes see
            the same batch and, in training mode, batch norm normalises with batch statistics, so
            the outputs and gradients equal those of one pass; the only lasting effect is that
            the encoder's batch-norm running statistics are updated twice. That second update is
            applied directly (:func:`repeat_batchnorm_updates`), which costs a few reductions
            instead of a second encoder pass. ``False`` updates them once.

    ``latent_norm`` is a learnable scalar (initialised to 1) dividing ``D_Z``; it is a regular
    parameter, so the optimiser and its weight decay apply to it.
    """

    def __init__(
        self,
        autoencoder: Annotated[Autoencoder, BUILD_ARG],
        lam: Annotated[float, Ge(0)],
        signature: SignatureLoss,
        data_norm: DataNorm = "auto",
        encode_twice: bool = True,
    ) -> None:
        super().__init__()
        if data_norm not in get_args(DataNorm):
            raise ArgumentError(
                "data_norm", f"must be one of {get_args(DataNorm)}, got {data_norm!r}"
            )
        if not isinstance(autoencoder, Autoencoder):
            raise ArgumentError(
                "autoencoder",
                f"the topological loss wraps an autoencoder, got {type(autoencoder).__name__}",
            )
        if lam < 0:
            raise ArgumentError("lam", f"λ must be ≥ 0, got {lam}")
        self.autoencoder = autoencoder
        self.lam = float(lam)
        self.signature = signature
        self.data_norm: DataNorm = data_norm
        self.encode_twice = bool(encode_twice)
        self.latent_norm = nn.Parameter(torch.tensor(1.0))

    @property
    def latent_dim(self) -> int:
        """Dimension of the latent space of the wrapped autoencoder."""
        return self.autoencoder.latent_dim

    def encode(self, x: Tensor) -> Tensor:
        """Latent codes of ``x`` (delegates to the autoencoder)."""
        return self.autoencoder.encode(x)

    def decode(self, z: Tensor) -> Tensor:
        """Reconstruction from latent codes (delegates to the autoencoder)."""
        return self.autoencoder.decode(z)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Return ``(x_hat, z)`` of the wrapped autoencoder."""
        return self.autoencoder(x)

    def data_scale(self, x: Tensor, d_x: Tensor) -> Tensor | float:
        """The divisor applied to the input distance matrix ``d_x`` of batch ``x``."""
        mode = self.data_norm
        if mode == "auto":
            mode = "image_max" if x.dim() == 4 else "batch_max"
        if mode == "image_max":
            return math.sqrt(4.0 * math.prod(x.shape[1:]))
        if mode == "batch_max":
            # Guard only the degenerate all-identical batch (0/0); otherwise exactly max(D_X).
            return d_x.max().clamp_min(torch.finfo(d_x.dtype).tiny)
        return 1.0

    def distances(self, x: Tensor, z: Tensor) -> tuple[Tensor, Tensor]:
        """Normalised ``(D_X, D_Z)`` for a batch and its latent codes (steps 2–4)."""
        d_x = data_distances(x.flatten(1))
        d_x = d_x / self.data_scale(x, d_x)
        d_z = pairwise_distances(z.flatten(1)) / self.latent_norm
        return d_x, d_z

    def loss(self, x: Tensor) -> tuple[Tensor, dict[str, float]]:
        """Total loss ``MSE + λ · topo`` of batch ``x`` and its logged components (floats)."""
        if self.encode_twice:
            with repeat_batchnorm_updates(self.autoencoder.encoder):
                z = self.autoencoder.encode(x)
        else:
            z = self.autoencoder.encode(x)
        d_x, d_z = self.distances(x, z)
        x_hat = self.autoencoder.decode(z)
        recon = F.mse_loss(x_hat, x)
        topo, diagnostics = self.signature.terms(d_x, d_z)
        total = recon + self.lam * topo
        names = [_DIAGNOSTIC_NAMES.get(key, f"metrics.{key}") for key in diagnostics]
        logged = [
            recon,
            topo,
            *(torch.as_tensor(v, device=recon.device) for v in diagnostics.values()),
        ]
        # One device→host transfer for all logged values.
        recon_value, topo_value, *diag_values = torch.stack(
            [v.detach().to(recon.dtype).reshape(()) for v in logged]
        ).tolist()
        components = {
            "loss.autoencoder": recon_value,
            "loss.topo_error": topo_value,
            "reconstruction_error": recon_value,
            **dict(zip(names, diag_values, strict=True)),
        }
        return total, components

    def extra_repr(self) -> str:
        return f"lam={self.lam}, data_norm={self.data_norm!r}, encode_twice={self.encode_twice}"


__all__ = ["DataNorm", "TopologicallyRegularizedAE", "data_distances", "pairwise_distances"]

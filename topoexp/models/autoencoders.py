"""Deterministic autoencoders of the TopoAE paper (spec `topoae_protocol.md` §2.1).

All use PyTorch's default initialisation and the mean squared error over all elements of the batch
(``nn.MSELoss()``) as reconstruction loss.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Annotated, ClassVar, Literal

from annotated_types import Ge
from torch import Tensor, nn

from topoexp.capabilities import DECODER, ENCODER, TRAINABLE, VECTORS
from topoexp.config.markers import BUILD_ARG, ArgumentError
from topoexp.losses.objective import LatentHook, ModelOutputs

#: The shape of one sample, supplied by the task from the data set.
InputShape = Annotated[Sequence[int], BUILD_ARG]
BatchNormOrder = Literal["before_relu", "after_relu"]


class Autoencoder(nn.Module):
    """An encoder/decoder pair trained on the reconstruction error (the "Vanilla" AE).

    Subclasses build ``encoder`` and ``decoder`` and may override :meth:`outputs` (their own
    reconstruction term); regularisers are added by :class:`~topoexp.losses.objective.Objective`.
    ``offers`` and ``needs_data`` are the capabilities preflight checks
    (:mod:`topoexp.capabilities`).
    """

    offers: ClassVar[frozenset[str]] = frozenset({TRAINABLE, ENCODER, DECODER})
    needs_data: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, encoder: nn.Module, decoder: nn.Module, latent_dim: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.latent_dim = latent_dim
        self._mse = nn.MSELoss()

    def encode(self, x: Tensor) -> Tensor:
        """Map a batch of inputs to latent codes of shape ``(B, latent_dim)``."""
        return self.encoder(x)

    def decode(self, z: Tensor) -> Tensor:
        """Map latent codes back to the input shape."""
        return self.decoder(z)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Return ``(x_hat, z)``."""
        z = self.encode(x)
        return self.decode(z), z

    def reconstruction_loss(self, x: Tensor) -> Tensor:
        """Mean squared error between ``x`` and its reconstruction (one encoder pass)."""
        x_hat, _ = self(x)
        return self._mse(x_hat, x)

    def outputs(
        self,
        x: Tensor,
        encoding: AbstractContextManager | None = None,
        on_latents: LatentHook | None = None,
    ) -> ModelOutputs:
        """Latents, reconstruction and the model's own term of batch ``x``: encode (inside
        ``encoding``, a regulariser's context), call ``on_latents(x, z)`` (regularisers that read
        the latents, :class:`~topoexp.losses.objective.Objective`), decode, then the
        reconstruction term. Subclasses override the three steps below, not this order.
        """
        x = self._training_input(x)
        with encoding or nullcontext():
            z, extra = self._training_codes(x)
        if on_latents is not None:
            on_latents(x, z)
        x_hat = self.decode(z)
        recon, parts = self._reconstruction_term(x, x_hat, extra)
        return ModelOutputs(x=x, z=z, x_hat=x_hat, reconstruction=recon, parts=parts, model=self)

    def _training_input(self, x: Tensor) -> Tensor:
        """The batch as the model reads it (its reconstruction target)."""
        return x

    def _training_codes(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """The codes that are decoded in training, and terms the reconstruction term needs."""
        return self.encode(x), {}

    def _reconstruction_term(
        self, x: Tensor, x_hat: Tensor, extra: dict[str, Tensor]
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """The mean squared error and its logged names (the TopoAE code's)."""
        recon = self._mse(x_hat, x)
        return recon, {"loss.autoencoder": recon, "reconstruction_error": recon}

    def loss(self, x: Tensor) -> tuple[Tensor, dict[str, float]]:
        """The reconstruction error alone and its logged components (no regulariser)."""
        out = self.outputs(x)
        value = float(out.reconstruction.detach())
        return out.reconstruction, {k: value for k in out.parts}


def _flat_dim(input_shape: Sequence[int]) -> int:
    return math.prod(int(s) for s in input_shape)


class MLPAutoencoder(Autoencoder):
    """MLPAutoencoder_Spheres: ``Linear → BatchNorm1d → ReLU`` (BN before ReLU), linear output.

    Default: encoder 101→32→32→2, decoder 2→32→32→101 (hidden sizes mirrored).
    ``batchnorm="after_relu"`` gives ``Linear → ReLU → BatchNorm1d`` blocks, the order the
    reproduction study describes.
    """

    needs_data: ClassVar[frozenset[str]] = frozenset({VECTORS})

    def __init__(
        self,
        input_shape: InputShape = (101,),
        hidden: Sequence[Annotated[int, Ge(1)]] = (32, 32),
        latent_dim: Annotated[int, Ge(1)] = 2,
        batchnorm: BatchNormOrder = "before_relu",
    ) -> None:
        if batchnorm not in ("before_relu", "after_relu"):
            raise ArgumentError(
                "batchnorm", f"must be 'before_relu' or 'after_relu', got {batchnorm!r}"
            )
        shape = tuple(int(s) for s in input_shape)
        if len(shape) != 1:
            raise ArgumentError("input_shape", f"the MLP needs vector data, got shape {shape}")
        hidden = tuple(int(h) for h in hidden)
        super().__init__(
            encoder=self._stack([shape[0], *hidden, latent_dim], batchnorm),
            decoder=self._stack([latent_dim, *reversed(hidden), shape[0]], batchnorm),
            latent_dim=latent_dim,
        )
        self.input_shape = shape
        self.input_dim = shape[0]
        self.hidden = hidden
        self.batchnorm = batchnorm

    @staticmethod
    def _stack(sizes: Sequence[int], batchnorm: str) -> nn.Sequential:
        layers: list[nn.Module] = []
        for d_in, d_out in itertools.pairwise(sizes[:-1]):
            block = [nn.BatchNorm1d(d_out), nn.ReLU()]
            layers += [
                nn.Linear(d_in, d_out),
                *(block if batchnorm == "before_relu" else block[::-1]),
            ]
        layers.append(nn.Linear(sizes[-2], sizes[-1]))
        return nn.Sequential(*layers)


class DeepAE(Autoencoder):
    """DeepAE for images: ``Linear → ReLU → BatchNorm1d`` blocks (BN AFTER ReLU).

    Encoder: flatten → D→1000→500→250→latent. Decoder: latent→250→500→1000→D → reshape to
    ``input_shape`` → Tanh (images live in [−1, 1]).
    """

    def __init__(
        self,
        input_shape: InputShape = (1, 28, 28),
        hidden: Sequence[Annotated[int, Ge(1)]] = (1000, 500, 250),
        latent_dim: Annotated[int, Ge(1)] = 2,
    ) -> None:
        shape = tuple(int(s) for s in input_shape)
        d = _flat_dim(shape)
        enc_sizes = [d, *(int(h) for h in hidden)]
        dec_sizes = [latent_dim, *reversed(enc_sizes[1:])]
        encoder = nn.Sequential(nn.Flatten(), *self._blocks(enc_sizes))
        encoder.append(nn.Linear(enc_sizes[-1], latent_dim))
        decoder = nn.Sequential(*self._blocks(dec_sizes))
        decoder.extend([nn.Linear(dec_sizes[-1], d), nn.Unflatten(1, shape), nn.Tanh()])
        super().__init__(encoder=encoder, decoder=decoder, latent_dim=latent_dim)
        self.input_shape = shape
        self.hidden = tuple(enc_sizes[1:])

    @staticmethod
    def _blocks(sizes: Sequence[int]) -> list[nn.Module]:
        layers: list[nn.Module] = []
        for d_in, d_out in itertools.pairwise(sizes):
            layers += [nn.Linear(d_in, d_out), nn.ReLU(), nn.BatchNorm1d(d_out)]
        return layers


class LinearAE(Autoencoder):
    """Linear autoencoder without any activation ("TopoPCA" with the topological loss).

    ``input_shape=(101,)`` gives LinearAE_Spheres (``Linear(101, 2)`` / ``Linear(2, 101)``);
    an image shape ``(C, H, W)`` adds flatten before the encoder and a reshape after the decoder.
    """

    def __init__(
        self, input_shape: InputShape = (101,), latent_dim: Annotated[int, Ge(1)] = 2
    ) -> None:
        shape = tuple(int(s) for s in input_shape)
        d = _flat_dim(shape)
        encoder = nn.Sequential(nn.Linear(d, latent_dim))
        decoder = nn.Sequential(nn.Linear(latent_dim, d))
        if len(shape) > 1:
            encoder.insert(0, nn.Flatten())
            decoder.append(nn.Unflatten(1, shape))
        super().__init__(encoder=encoder, decoder=decoder, latent_dim=latent_dim)
        self.input_shape = shape


__all__ = ["Autoencoder", "DeepAE", "LinearAE", "MLPAutoencoder"]

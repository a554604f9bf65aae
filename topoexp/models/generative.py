"""Generative MLP autoencoder and VAE of the homological-regularisation paper (spec C.1–C.2).

Both map flat images of ``input_dim`` pixels in [0, 1] (``(B, 784)`` or ``(B, 1, 28, 28)``) through
``input_dim → 64 → 64 → latent_dim`` with ELU, and back through ``latent_dim → 64 → 64 →
input_dim`` with a sigmoid output; ``input_dim`` is the data's (any sample shape, flattened). The
reconstruction term is the mean binary cross-entropy over batch × pixels (plus the KL term for the
VAE). The paper's homological term is a regulariser (``loss=homological``, ``loss=ball`` for its
disk-only ablation: :class:`~topoexp.losses.regularisers.Homological`); a model trained with it
samples the unit ball (``prior: auto``). Decoded images come back flat, ``(B, input_dim)``;
:meth:`generate` reshapes them to the data's sample shape.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Annotated, ClassVar, Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from topoexp.capabilities import DECODER, ENCODER, PRIOR, TRAINABLE, UNIT_INTERVAL
from topoexp.config.markers import BUILD_ARG
from topoexp.losses.homological import kl_divergence
from topoexp.models.autoencoders import Autoencoder

__all__ = ["PRIORS", "VAE", "GenerativeAE", "sample_ball", "sample_gaussian"]

PRIORS = ("auto", "gaussian", "ball")
Prior = Literal["auto", "gaussian", "ball"]
InputShape = Annotated[Sequence[int], BUILD_ARG]


def sample_gaussian(
    n: int, dim: int, generator: torch.Generator | None = None, device: str | torch.device = "cpu"
) -> Tensor:
    """``n`` points of N(0, I_dim)."""
    return torch.randn(n, dim, generator=generator, device=device)


def sample_ball(
    n: int, dim: int, generator: torch.Generator | None = None, device: str | torch.device = "cpu"
) -> Tensor:
    """``n`` points uniform in the closed unit ball of R^dim: g / ‖g‖ · u^{1/dim}, g ~ N(0, I)."""
    g = torch.randn(n, dim, generator=generator, device=device)
    u = torch.rand(n, 1, generator=generator, device=device)
    return g / g.norm(dim=1, keepdim=True) * u.pow(1.0 / dim)


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an int ≥ 1, got {value!r}")
    return value


def _mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers with ELU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (d_in, d_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(d_in, d_out))
        if i < len(sizes) - 2:
            layers.append(nn.ELU())
    return nn.Sequential(*layers)


class _GenerativeBase(Autoencoder):
    """Shared parts: decoder, BCE, the prior and sampling."""

    offers: ClassVar[frozenset[str]] = frozenset({TRAINABLE, ENCODER, DECODER, PRIOR})
    needs_data: ClassVar[frozenset[str]] = frozenset({UNIT_INTERVAL})

    def __init__(
        self,
        encoder: nn.Module,
        input_shape: tuple[int, ...],
        hidden_dim: int,
        latent_dim: int,
        prior: str,
    ) -> None:
        input_dim = math.prod(input_shape)
        decoder = _mlp([latent_dim, hidden_dim, hidden_dim, input_dim])
        decoder.append(nn.Sigmoid())
        super().__init__(encoder=encoder, decoder=decoder, latent_dim=latent_dim)
        if prior not in PRIORS:
            raise ValueError(f"prior must be one of {PRIORS}, got {prior!r}")
        self.input_dim = input_dim
        self.hidden_dim = hidden_dim
        #: ``auto`` until an objective resolves it: the unit ball with the homological
        #: regulariser, N(0, I) without (the original's rule); ``ball`` on a plain AE is the
        #: sampling control.
        self.prior = prior
        self.image_shape = input_shape

    def _flat(self, x: Tensor) -> Tensor:
        x = x.reshape(x.shape[0], -1)
        if x.shape[1] != self.input_dim:
            raise ValueError(f"expected inputs of {self.input_dim} values, got {x.shape[1]}")
        return x

    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` latent codes from the model's prior (``self.prior``: ``ball`` or ``gaussian``;
        an unresolved ``auto`` is ``gaussian``), drawn on the generator's device and moved to the
        model's."""
        device = next(self.parameters()).device
        sample = sample_ball if self.prior == "ball" else sample_gaussian
        where = device if generator is None else generator.device
        return sample(n, self.latent_dim, generator, where).to(device)

    @torch.no_grad()
    def generate(
        self, n: int, generator: torch.Generator | None = None, batch_size: int = 4096
    ) -> Tensor:
        """``n`` decoded prior samples, shaped ``(n, *image_shape)`` with values in [0, 1]."""
        was_training = self.training
        self.eval()
        z = self.sample_prior(n, generator)
        out = torch.cat([self.decode(z[i : i + batch_size]) for i in range(0, n, batch_size)])
        self.train(was_training)
        return out.reshape(n, *self.image_shape)

    def _training_input(self, x: Tensor) -> Tensor:
        return self._flat(x)

    def _reconstruction_term(
        self, x: Tensor, x_hat: Tensor, extra: dict[str, Tensor]
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """The mean BCE over batch × pixels, plus the VAE's KL term when ``extra`` holds it."""
        bce = F.binary_cross_entropy(x_hat, x)
        kl = extra.get("kl")
        recon = bce if kl is None else bce + kl
        parts = {"loss.reconstruction": recon, "reconstruction_bce": bce}
        if kl is not None:
            parts["kl"] = kl
        return recon, parts

    def loss(self, x: Tensor) -> tuple[Tensor, dict[str, float]]:
        """The reconstruction term alone (no regulariser) and its logged parts."""
        out = self.outputs(x)
        return out.reconstruction, {k: float(v.detach()) for k, v in out.parts.items()}

    def reconstruction_loss(self, x: Tensor) -> Tensor:
        """Mean binary cross-entropy between ``x`` and its reconstruction."""
        x_hat, _ = self(x)
        return F.binary_cross_entropy(x_hat, self._flat(x))


class GenerativeAE(_GenerativeBase):
    """MLP autoencoder ``input_dim-64-64-latent_dim`` (ELU, sigmoid output).

    Reconstruction term: the BCE (``loss.reconstruction``, what the original logs as the epoch
    loss; also ``reconstruction_bce``). With ``loss=homological`` its parts add
    ``loss.homological`` (λ-weighted), ``ball_penalty``, ``death_sum``, ``n_deaths``.
    """

    def __init__(
        self,
        input_shape: InputShape = (1, 28, 28),
        hidden_dim: int = 64,
        latent_dim: int = 2,
        prior: Prior = "auto",
    ) -> None:
        shape = tuple(int(v) for v in input_shape)
        hidden_dim = _positive_int("hidden_dim", hidden_dim)
        latent_dim = _positive_int("latent_dim", latent_dim)
        encoder = _mlp([math.prod(shape), hidden_dim, hidden_dim, latent_dim])
        super().__init__(encoder, shape, hidden_dim, latent_dim, prior)

    def encode(self, x: Tensor) -> Tensor:
        return self.encoder(self._flat(x))


class VAE(_GenerativeBase):
    """VAE: trunk ``input_dim-64-64`` (ELU), heads μ and log σ², z = μ + exp(log σ² / 2) · ε.

    Reconstruction term: BCE + KL, KL as the original code
    (:func:`~topoexp.losses.homological.kl_divergence`; ``kl_batch_size`` is the divisor the code
    uses, its configured batch size; ``None`` divides by the actual batch size). A regulariser
    reads the sampled z. ``encode`` returns μ; ``forward`` samples z in training mode and uses μ
    in eval mode. Prior (``prior="auto"``): N(0, I), or the unit ball with the homological
    regulariser (the original's rule).
    """

    def __init__(
        self,
        input_shape: InputShape = (1, 28, 28),
        hidden_dim: int = 64,
        latent_dim: int = 2,
        prior: Prior = "auto",
        kl_batch_size: int | None = None,
    ) -> None:
        shape = tuple(int(v) for v in input_shape)
        hidden_dim = _positive_int("hidden_dim", hidden_dim)
        latent_dim = _positive_int("latent_dim", latent_dim)
        if kl_batch_size is not None:
            kl_batch_size = _positive_int("kl_batch_size", kl_batch_size)
        trunk = _mlp([math.prod(shape), hidden_dim, hidden_dim])
        trunk.append(nn.ELU())
        super().__init__(trunk, shape, hidden_dim, latent_dim, prior)
        self.mu = nn.Linear(hidden_dim, latent_dim)
        self.log_var = nn.Linear(hidden_dim, latent_dim)
        self.kl_batch_size = kl_batch_size

    def encode_distribution(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(μ, log σ²)`` of q(z | x)."""
        h = self.encoder(self._flat(x))
        return self.mu(h), self.log_var(h)

    def encode(self, x: Tensor) -> Tensor:
        """The posterior mean μ (a deterministic embedding)."""
        return self.encode_distribution(x)[0]

    @staticmethod
    def reparameterise(mu: Tensor, log_var: Tensor) -> Tensor:
        """z = μ + exp(log σ² / 2) · ε, ε ~ N(0, I) from the global torch RNG."""
        return mu + (0.5 * log_var).exp() * torch.randn_like(mu)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mu, log_var = self.encode_distribution(x)
        z = self.reparameterise(mu, log_var) if self.training else mu
        return self.decode(z), z

    def _training_codes(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """The sampled code z = μ + σ · ε that is decoded, and the KL term of q(z | x)."""
        mu, log_var = self.encode_distribution(x)
        z = self.reparameterise(mu, log_var)
        return z, {"kl": kl_divergence(mu, log_var, self.kl_batch_size, self.input_dim)}

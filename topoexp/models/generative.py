"""Generative MLP autoencoder and VAE of the homological-regularisation paper (spec C.1–C.2).

Both map flat images of ``input_dim`` pixels in [0, 1] (``(B, 784)`` or ``(B, 1, 28, 28)``) through
``input_dim → 64 → 64 → latent_dim`` with ELU, and back through ``latent_dim → 64 → 64 →
input_dim`` with a sigmoid output. The reconstruction loss is the mean binary cross-entropy over
batch × pixels. ``regulariser`` adds the latent batch's homological loss
(:class:`~topoexp.losses.homological.HomologicalLoss`): ``"homological"`` (ball penalty and death
times, the paper's method), ``"ball"`` (the ball penalty alone: the paper's ablation) or
``"none"``. Decoded images come back flat, ``(B, input_dim)``; :meth:`generate` reshapes them.
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from topoexp.losses.homological import HomologicalLoss, kl_divergence
from topoexp.models.autoencoders import Autoencoder

__all__ = ["PRIORS", "REGULARISERS", "VAE", "GenerativeAE", "sample_ball", "sample_gaussian"]

REGULARISERS = ("none", "homological", "ball")
PRIORS = ("auto", "gaussian", "ball")


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
    """Shared parts: decoder, BCE, the optional regulariser, the prior and sampling."""

    def __init__(
        self,
        encoder: nn.Module,
        input_dim: int,
        hidden_dim: int,
        latent_dim: int,
        regulariser: str,
        coef: float,
        ball_coef: float | None,
        death_coef: float | None,
        ball_norm: str,
        cutoff: float | None,
        prior: str,
    ) -> None:
        decoder = _mlp([latent_dim, hidden_dim, hidden_dim, input_dim])
        decoder.append(nn.Sigmoid())
        super().__init__(encoder=encoder, decoder=decoder, latent_dim=latent_dim)
        if regulariser not in REGULARISERS:
            raise ValueError(f"regulariser must be one of {REGULARISERS}, got {regulariser!r}")
        if prior not in PRIORS:
            raise ValueError(f"prior must be one of {PRIORS}, got {prior!r}")
        # the configured settings, kept as given (the loss below holds the effective ones)
        self.coef, self.ball_coef, self.death_coef = coef, ball_coef, death_coef
        self.ball_norm, self.cutoff = ball_norm, cutoff
        if regulariser == "ball":
            if death_coef not in (None, 0, 0.0):
                raise ValueError(
                    f"death_coef must be None or 0 with regulariser='ball', got {death_coef!r}"
                )
            death_coef = 0.0
        self.input_dim = input_dim
        self.hidden_dim = hidden_dim
        self.regulariser = regulariser
        loss = HomologicalLoss(coef, ball_coef, death_coef, ball_norm, cutoff)  # validates them
        self.homological = None if regulariser == "none" else loss
        self.prior = ("gaussian" if regulariser == "none" else "ball") if prior == "auto" else prior
        side = math.isqrt(input_dim)
        self.image_shape = (1, side, side) if side * side == input_dim else (input_dim,)

    def _flat(self, x: Tensor) -> Tensor:
        x = x.reshape(x.shape[0], -1)
        if x.shape[1] != self.input_dim:
            raise ValueError(f"expected inputs of {self.input_dim} values, got {x.shape[1]}")
        return x

    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` latent codes from the model's prior (``self.prior``: ``ball`` or ``gaussian``),
        drawn on the generator's device and moved to the model's."""
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

    def _objective(
        self, x: Tensor, x_hat: Tensor, z: Tensor, kl: Tensor | None
    ) -> tuple[Tensor, dict[str, float]]:
        bce = F.binary_cross_entropy(x_hat, x)
        recon = bce if kl is None else bce + kl
        parts = {
            "loss.reconstruction": float(recon.detach()),
            "reconstruction_bce": float(bce.detach()),
        }
        if kl is not None:
            parts["kl"] = float(kl.detach())
        total = recon
        if self.homological is not None:
            h, terms = self.homological(z)
            total = total + h
            parts["loss.homological"] = float(h.detach())
            parts.update({key: float(value) for key, value in terms.items()})
        return total, parts

    def reconstruction_loss(self, x: Tensor) -> Tensor:
        """Mean binary cross-entropy between ``x`` and its reconstruction."""
        x_hat, _ = self(x)
        return F.binary_cross_entropy(x_hat, self._flat(x))


class GenerativeAE(_GenerativeBase):
    """MLP autoencoder ``input_dim-64-64-latent_dim`` (ELU, sigmoid output), optionally regularised.

    ``loss(x)`` = BCE + h(z) (with a regulariser), parts: ``loss.reconstruction`` (the BCE: what
    the original logs as the epoch loss), ``reconstruction_bce``, and with a regulariser
    ``loss.homological`` (λ-weighted), ``ball_penalty``, ``death_sum``, ``n_deaths``. The prior
    (``prior="auto"``) is the unit ball with a regulariser, N(0, I) without; ``prior="ball"`` on the
    plain AE is the sampling control.
    """

    def __init__(
        self,
        input_dim: int = 784,
        hidden_dim: int = 64,
        latent_dim: int = 2,
        regulariser: str = "none",
        coef: float = 5e-3,
        ball_coef: float | None = None,
        death_coef: float | None = None,
        ball_norm: str = "squared",
        cutoff: float | None = 0.5,
        prior: str = "auto",
    ) -> None:
        input_dim = _positive_int("input_dim", input_dim)
        hidden_dim = _positive_int("hidden_dim", hidden_dim)
        latent_dim = _positive_int("latent_dim", latent_dim)
        encoder = _mlp([input_dim, hidden_dim, hidden_dim, latent_dim])
        super().__init__(
            encoder, input_dim, hidden_dim, latent_dim, regulariser, coef, ball_coef,
            death_coef, ball_norm, cutoff, prior,
        )  # fmt: skip

    def encode(self, x: Tensor) -> Tensor:
        return self.encoder(self._flat(x))

    def loss(self, x: Tensor) -> tuple[Tensor, dict[str, float]]:
        """BCE (+ the homological loss of the latent batch) and its parts."""
        x = self._flat(x)
        z = self.encode(x)
        return self._objective(x, self.decode(z), z, None)


class VAE(_GenerativeBase):
    """VAE: trunk ``input_dim-64-64`` (ELU), heads μ and log σ², z = μ + exp(log σ² / 2) · ε.

    ``loss(x)`` = BCE + KL (+ h(z) of the sampled z with a regulariser), KL as the original code
    (:func:`~topoexp.losses.homological.kl_divergence`; ``kl_batch_size`` is the divisor the code
    uses, its configured batch size; ``None`` divides by the actual batch size). ``encode``
    returns μ; ``forward`` samples z in training mode and uses μ in eval mode. Prior
    (``prior="auto"``): N(0, I), or the unit ball with a regulariser (the original's rule).
    """

    def __init__(
        self,
        input_dim: int = 784,
        hidden_dim: int = 64,
        latent_dim: int = 2,
        regulariser: str = "none",
        coef: float = 5e-3,
        ball_coef: float | None = None,
        death_coef: float | None = None,
        ball_norm: str = "squared",
        cutoff: float | None = 0.5,
        prior: str = "auto",
        kl_batch_size: int | None = None,
    ) -> None:
        input_dim = _positive_int("input_dim", input_dim)
        hidden_dim = _positive_int("hidden_dim", hidden_dim)
        latent_dim = _positive_int("latent_dim", latent_dim)
        if kl_batch_size is not None:
            kl_batch_size = _positive_int("kl_batch_size", kl_batch_size)
        trunk = _mlp([input_dim, hidden_dim, hidden_dim])
        trunk.append(nn.ELU())
        super().__init__(
            trunk, input_dim, hidden_dim, latent_dim, regulariser, coef, ball_coef,
            death_coef, ball_norm, cutoff, prior,
        )  # fmt: skip
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

    def loss(self, x: Tensor) -> tuple[Tensor, dict[str, float]]:
        """BCE + KL (+ the homological loss of the sampled z) and its parts."""
        x = self._flat(x)
        mu, log_var = self.encode_distribution(x)
        z = self.reparameterise(mu, log_var)
        kl = kl_divergence(mu, log_var, self.kl_batch_size, self.input_dim)
        return self._objective(x, self.decode(z), z, kl)

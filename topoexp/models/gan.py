"""The vanilla-GAN MLPs of the topology-layer paper's generator prior (spec B.5).

Generator: ``z ∈ R^latent_dim → 128 (LeakyReLU 0.2) → 256 → 512 → 1024 (each BatchNorm1d with
eps 0.8, LeakyReLU 0.2) → 784, tanh``, reshaped to ``1 × 28 × 28`` images in [-1, 1]. The batch
norm's ``eps = 0.8`` is the original's (it was meant as the momentum; kept because the published
generator was trained with it). Discriminator: the standard vanilla-GAN MLP ``784 → 512 → 256 → 1``
with LeakyReLU 0.2, returning logits (the loss is BCE with logits). :class:`FeatureDiscriminator`
is a small MLP on a few persistence features (the paper's Figure 8d control).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, ClassVar

import torch
from annotated_types import Ge, Gt
from torch import Tensor, nn

from topoexp.capabilities import GENERATOR, TRAINABLE
from topoexp.config.markers import ArgumentError

__all__ = ["GAN", "FeatureDiscriminator", "MLPDiscriminator", "MLPGenerator"]


def _widths(name: str, values: Sequence[int]) -> tuple[int, ...]:
    out = tuple(int(v) for v in values)
    if not out or min(out) < 1:
        raise ArgumentError(name, f"must be a non-empty list of positive ints, got {list(values)}")
    return out


class MLPGenerator(nn.Module):
    """``z → hidden[0] → … → hidden[-1] → C·H·W``, tanh; batch norm on every hidden layer but
    the first (as the original)."""

    def __init__(
        self,
        latent_dim: int = 100,
        hidden: Sequence[int] = (128, 256, 512, 1024),
        image_shape: Sequence[int] = (1, 28, 28),
        bn_eps: float = 0.8,
        slope: float = 0.2,
    ) -> None:
        super().__init__()
        hidden = _widths("hidden", hidden)
        self.latent_dim, self.image_shape = int(latent_dim), tuple(int(s) for s in image_shape)
        layers: list[nn.Module] = []
        width = self.latent_dim
        for i, h in enumerate(hidden):
            layers.append(nn.Linear(width, h))
            if i > 0:
                layers.append(nn.BatchNorm1d(h, eps=bn_eps))
            layers.append(nn.LeakyReLU(slope, inplace=True))
            width = h
        layers += [nn.Linear(width, int(torch.tensor(self.image_shape).prod())), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).view(len(z), *self.image_shape)


class MLPDiscriminator(nn.Module):
    """``C·H·W → hidden… → 1`` logits, LeakyReLU 0.2 (no sigmoid: BCE with logits)."""

    def __init__(self, input_dim: int = 784, hidden: Sequence[int] = (512, 256), slope=0.2):
        super().__init__()
        layers: list[nn.Module] = []
        width = int(input_dim)
        for h in _widths("hidden", hidden):
            layers += [nn.Linear(width, h), nn.LeakyReLU(slope, inplace=True)]
            width = h
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.reshape(len(x), -1)).squeeze(-1)


class FeatureDiscriminator(MLPDiscriminator):
    """A discriminator on ``n_features`` numbers per image (persistence features)."""

    def __init__(self, n_features: int, hidden: Sequence[int] = (32, 32), slope: float = 0.2):
        super().__init__(n_features, hidden, slope)


class GAN(nn.Module):
    """Generator and discriminator of the vanilla MLP GAN; ``generate(n, generator)`` samples.

    Args:
        latent_dim: size of the standard normal codes (100).
        generator_hidden: generator widths (128, 256, 512, 1024).
        discriminator_hidden: discriminator widths (512, 256).
        bn_eps: the generator's batch-norm epsilon (0.8 as the original).
        slope: LeakyReLU negative slope (0.2).
    """

    offers: ClassVar[frozenset[str]] = frozenset({TRAINABLE, GENERATOR})

    def __init__(
        self,
        latent_dim: Annotated[int, Ge(1)] = 100,
        generator_hidden: list[int] = [128, 256, 512, 1024],  # noqa: B006 (config default)
        discriminator_hidden: list[int] = [512, 256],  # noqa: B006 (config default)
        bn_eps: Annotated[float, Gt(0)] = 0.8,
        slope: Annotated[float, Ge(0)] = 0.2,
    ) -> None:
        super().__init__()
        self.latent_dim = int(latent_dim)
        self.generator_hidden = list(_widths("generator_hidden", generator_hidden))
        self.discriminator_hidden = list(_widths("discriminator_hidden", discriminator_hidden))
        self.bn_eps, self.slope = float(bn_eps), float(slope)
        self.generator = MLPGenerator(latent_dim, self.generator_hidden, (1, 28, 28), bn_eps, slope)
        self.discriminator = MLPDiscriminator(784, self.discriminator_hidden, slope)

    def codes(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` standard normal latent codes (on the CPU, from ``generator``)."""
        return torch.randn(n, self.latent_dim, generator=generator)

    @torch.no_grad()
    def generate(
        self, n: int, generator: torch.Generator | None = None, batch_size: int = 1000
    ) -> Tensor:
        """``n`` images ``(n, 1, 28, 28)`` in [-1, 1] from fresh codes, batch norm in eval mode."""
        return self.decode(self.codes(n, generator), batch_size)

    @torch.no_grad()
    def decode(self, z: Tensor, batch_size: int = 1000) -> Tensor:
        """Images of the codes ``z`` with the generator in eval mode (running batch statistics)."""
        was = self.generator.training
        self.generator.eval()
        device = next(self.generator.parameters()).device
        out = [self.generator(z[s : s + batch_size].to(device)).cpu()
               for s in range(0, len(z), batch_size)]  # fmt: skip
        self.generator.train(was)
        return torch.cat(out) if out else torch.zeros(0, 1, 28, 28)

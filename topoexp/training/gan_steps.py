"""The GAN stages' steps (the topology-layer paper's section 3.2), for the iteration schedule.

:class:`GeneratorStep` is the vanilla GAN's step and the topology fine-tuning's: the generator
descends ``w_adv`` × its adversarial BCE + ``w_topo`` × the prior of its images, then, when the
stage is adversarial, the discriminator takes one step on real against the same fake images.
:class:`FeatureGANStep` is Figure 8d's: the generator against a discriminator on PD0 features.
Each is called with the iteration number and returns its losses.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

__all__ = ["FeatureGANStep", "GeneratorStep", "discriminator_update"]

_bce = nn.BCEWithLogitsLoss()


def discriminator_update(
    disc: nn.Module, real: Tensor, fake: Tensor, opt: torch.optim.Optimizer
) -> float:
    """One step of ``disc`` on ``(BCE(real, 1) + BCE(fake, 0)) / 2``; the loss before it."""
    opt.zero_grad()
    dev = real.device
    ones, zeros = torch.ones(len(real), device=dev), torch.zeros(len(fake), device=dev)
    loss = (_bce(disc(real), ones) + _bce(disc(fake.detach()), zeros)) / 2
    loss.backward()
    opt.step()
    return float(loss.detach())


class GeneratorStep:
    """The adversarial / topology stage's step (module docstring).

    ``adversarial_weight``: ``None`` trains no discriminator and adds no adversarial term;
    ``prior``: the topology loss of the generated batch (``None``: none).
    """

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        optimizers: dict[str, torch.optim.Optimizer],
        codes: Callable[[], Tensor],
        real_batch: Callable[[], Tensor] | None,
        adversarial_weight: float | None,
        prior: nn.Module | None = None,
        topology_weight: float = 1.0,
    ) -> None:
        self.g, self.d, self.optimizers = generator, discriminator, optimizers
        self.codes, self.real_batch = codes, real_batch
        self.adversarial_weight, self.prior = adversarial_weight, prior
        self.topology_weight = topology_weight

    def __call__(self, iteration: int) -> dict[str, float]:
        out: dict[str, float] = {}
        fake = self.g(self.codes())
        dev = fake.device
        loss = torch.zeros((), device=dev)
        if self.adversarial_weight is not None:
            g_adv = _bce(self.d(fake), torch.ones(len(fake), device=dev))
            out["g_loss"] = float(g_adv.detach())
            loss = loss + self.adversarial_weight * g_adv
        if self.prior is not None:
            topo = self.prior(fake)
            out["topology_loss"] = float(topo.detach())
            loss = loss + self.topology_weight * topo
        self.optimizers["generator"].zero_grad()
        loss.backward()
        self.optimizers["generator"].step()
        if self.adversarial_weight is not None:
            assert self.real_batch is not None
            real = self.real_batch()
            out["d_loss"] = discriminator_update(
                self.d, real, fake, self.optimizers["discriminator"]
            )
        return out


class FeatureGANStep:
    """Figure 8d's step: the generator's BCE against ``feature_discriminator`` on the PD0
    features ``features(images)``, then that discriminator's step on real against fake
    features."""

    def __init__(
        self,
        generator: nn.Module,
        feature_discriminator: nn.Module,
        features: nn.Module,
        optimizers: dict[str, torch.optim.Optimizer],
        codes: Callable[[], Tensor],
        real_batch: Callable[[], Tensor],
    ) -> None:
        self.g, self.fd, self.features = generator, feature_discriminator, features
        self.optimizers, self.codes, self.real_batch = optimizers, codes, real_batch

    def __call__(self, iteration: int) -> dict[str, float]:
        fake = self.g(self.codes())
        fake_f = self.features(fake)
        with torch.no_grad():
            real_f = self.features(self.real_batch())
        ones = torch.ones(len(fake), device=fake.device)
        self.optimizers["generator"].zero_grad()
        g_loss = _bce(self.fd(fake_f), ones)
        g_loss.backward()
        self.optimizers["generator"].step()
        return {
            "g_loss": float(g_loss.detach()),
            "d_loss": discriminator_update(
                self.fd, real_f, fake_f, self.optimizers["feature_discriminator"]
            ),
            "pd_features": float(fake_f.detach().mean()),
        }

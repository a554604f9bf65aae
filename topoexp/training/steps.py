"""Step objects: what one optimiser step does with one batch, for the engine.

A step is called with a batch and returns ``(value, parts)``: its loss as a float (``None`` for a
step that reports several) and its named components as floats. It raises
:class:`NonFiniteStep` before any parameter changes when its loss is not finite (the gradient
steps) or returns the non-finite value for the engine to stop on (the function step, whose updates
happen inside it). ``modules`` and ``optimizers`` name what the checkpoint saves.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = ["ClassifierStep", "FunctionStep", "GradientStep", "ModelLossStep", "NonFiniteStep"]


class NonFiniteStep(FloatingPointError):
    """A step's loss is NaN or infinite (caught by the engine, which says what was kept)."""

    def __init__(self, losses: dict[str, float], where: str | None = None) -> None:
        super().__init__(f"non-finite loss {losses}")
        self.losses, self.where = losses, where


class GradientStep:
    """``objective(batch) -> (loss, parts)``, then zero_grad, backward and ``optimizer.step()``.

    The loss is checked before the backward pass, so a non-finite one changes nothing
    (``check_finite=False``: the step goes on, for batched fits whose problems are independent).
    ``parts`` values may be tensors or floats; they are returned as floats.
    """

    def __init__(
        self,
        objective: Callable[[Any], tuple[Tensor, Mapping[str, Any]]],
        optimizer: torch.optim.Optimizer,
        modules: Mapping[str, nn.Module],
        name: str = "model",
        check_finite: bool = True,
    ) -> None:
        self.objective, self.optimizer, self.check_finite = objective, optimizer, check_finite
        self.modules = dict(modules)
        self.optimizers = {name: optimizer}

    def train(self) -> None:
        for m in self.modules.values():
            m.train()

    def __call__(self, batch: Any) -> tuple[float, dict[str, float]]:
        loss, parts = self.objective(batch)
        value = loss.item()
        if self.check_finite and not math.isfinite(value):
            raise NonFiniteStep({"loss": value})
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return value, {k: float(v) for k, v in parts.items()}


class ModelLossStep(GradientStep):
    """The autoencoder / VAE / regularised-model step: the model's own ``loss(x)``."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        super().__init__(model.loss, optimizer, {"model": model})


class ClassifierStep(GradientStep):
    """Cross-entropy of ``logits(x)`` against the labels of a batch ``(x, y)``.

    ``parts`` hold ``correct`` (right predictions) and ``n`` (the batch size).
    """

    def __init__(
        self,
        logits: Callable[[Tensor], Tensor],
        optimizer: torch.optim.Optimizer,
        modules: Mapping[str, nn.Module],
    ) -> None:
        def objective(batch: tuple[Tensor, Tensor]) -> tuple[Tensor, dict[str, float]]:
            x, y = batch
            out = logits(x)
            loss = F.cross_entropy(out, y)
            return loss, {"correct": int((out.argmax(1) == y).sum()), "n": len(y)}

        super().__init__(objective, optimizer, modules)


class FunctionStep:
    """A step that runs its own updates (the GAN stages): ``fn(iteration) -> losses``."""

    def __init__(
        self,
        fn: Callable[[int], dict[str, float]],
        modules: Mapping[str, nn.Module],
        optimizers: Mapping[str, torch.optim.Optimizer],
    ) -> None:
        self.fn, self.modules, self.optimizers = fn, dict(modules), dict(optimizers)

    def train(self) -> None:
        for m in self.modules.values():
            m.train()

    def __call__(self, iteration: int) -> tuple[None, dict[str, float]]:
        losses = self.fn(iteration)
        bad = {k: v for k, v in losses.items() if not math.isfinite(v)}
        if bad:
            raise NonFiniteStep(bad)
        return None, losses

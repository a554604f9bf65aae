"""Targeted iterated gradient-sign attacks (Goodfellow et al. 2015, iterated as in BIM).

Each step moves every pixel by ``step_size`` against the sign of the gradient of the
cross-entropy to the *target* class, then projects onto the L∞ ball of radius ``eps`` around the
original image and clips to the valid pixel range:

    x ← clip_[lo, hi]( clip_[x₀ − ε, x₀ + ε]( x − α · sign ∇ₓ CE(model(x), target) ) ).

An image stops being changed at the first step at which the model predicts its target
(``early_stop``), so a success is kept and counted once; the attack succeeds when the final
prediction is the target. The model is only called in ``eval`` mode, on batches of
``batch_size`` images; nothing here depends on how the model computes its logits, so a
classifier on persistence features is attacked through its differentiable features.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = ["AttackBudget", "AttackResult", "pair_grid_targets", "random_targets", "targeted_attack"]


@dataclass(frozen=True)
class AttackBudget:
    """Step size ``α``, number of steps, L∞ bound ``ε`` and the valid pixel range."""

    eps: float = 0.3
    step_size: float = 0.01
    steps: int = 100
    clip_min: float = 0.0
    clip_max: float = 1.0
    early_stop: bool = True

    def __post_init__(self) -> None:
        if not self.eps > 0 or not self.step_size > 0:
            raise ValueError(f"eps and step_size must be positive: {self.eps}, {self.step_size}")
        if not isinstance(self.steps, int) or self.steps < 1:
            raise ValueError(f"steps must be a positive int, got {self.steps!r}")
        if not self.clip_min < self.clip_max:
            raise ValueError(f"clip_min must be below clip_max: {self.clip_min}, {self.clip_max}")


@dataclass
class AttackResult:
    """Per image: the adversarial image, prediction before and after, success, steps used."""

    adversarial: Tensor
    clean_pred: Tensor
    final_pred: Tensor
    success: Tensor
    steps_to_success: Tensor  # -1 where the attack failed (0: already the target)
    seconds: float = 0.0
    history: list[float] = field(default_factory=list)  # fraction successful after each step

    @property
    def success_rate(self) -> float:
        return float(self.success.float().mean()) if len(self.success) else float("nan")


def random_targets(labels: Tensor, n_classes: int, seed: int) -> Tensor:
    """A uniformly random class other than each label (seeded): ``labels + U{1..C−1} mod C``."""
    if n_classes < 2:
        raise ValueError(f"needs at least 2 classes, got {n_classes}")
    gen = torch.Generator().manual_seed(seed)
    shift = torch.randint(1, n_classes, (len(labels),), generator=gen)
    return (labels.to(torch.int64) + shift) % n_classes


def pair_grid_targets(n_classes: int) -> tuple[Tensor, Tensor]:
    """Sources and targets of every ordered pair of distinct classes, row-major (Figure 12)."""
    src, dst = torch.meshgrid(torch.arange(n_classes), torch.arange(n_classes), indexing="ij")
    off = src != dst
    return src[off], dst[off]


@torch.no_grad()
def _predict(model: nn.Module, x: Tensor) -> Tensor:
    return model(x).argmax(1)


def _attack_batch(
    model: nn.Module, x0: Tensor, target: Tensor, budget: AttackBudget, history: list[int]
) -> tuple[Tensor, Tensor]:
    x = x0.clone()
    lo = (x0 - budget.eps).clamp(min=budget.clip_min)
    hi = (x0 + budget.eps).clamp(max=budget.clip_max)
    steps_to = torch.full((len(x0),), -1, dtype=torch.int64)
    active = torch.ones(len(x0), dtype=torch.bool)
    if budget.early_stop:
        hit = _predict(model, x) == target
        steps_to[hit] = 0
        active &= ~hit
    for step in range(1, budget.steps + 1):
        if not active.any():
            history[step - 1] += int((steps_to >= 0).sum())
            continue
        idx = active.nonzero().squeeze(1)
        xa = x[idx].detach().requires_grad_(True)
        logits = model(xa)
        loss = F.cross_entropy(logits, target[idx], reduction="sum")
        (grad,) = torch.autograd.grad(loss, xa)
        with torch.no_grad():
            moved = xa - budget.step_size * grad.sign()
            x[idx] = torch.minimum(torch.maximum(moved, lo[idx]), hi[idx])
            if budget.early_stop:
                hit = _predict(model, x[idx]) == target[idx]
                steps_to[idx[hit]] = step
                active[idx[hit]] = False
        history[step - 1] += int((steps_to >= 0).sum())
    return x, steps_to


def targeted_attack(
    model: nn.Module,
    images: Tensor,
    targets: Tensor,
    budget: AttackBudget,
    batch_size: int = 500,
) -> AttackResult:
    """Attack ``images`` (values in the budget's clip range) towards ``targets`` (see module)."""
    if len(images) != len(targets):
        raise ValueError(f"{len(images)} images but {len(targets)} targets")
    if images.numel() and (images.min() < budget.clip_min or images.max() > budget.clip_max):
        raise ValueError(
            f"images must lie in [{budget.clip_min}, {budget.clip_max}] (the budget's clip range)"
        )
    was_training = model.training
    model.eval()
    started = time.perf_counter()
    targets = targets.to(torch.int64)
    history = [0] * budget.steps
    adv, steps_to, clean, final = [], [], [], []
    for s in range(0, len(images), batch_size):
        xb, tb = images[s : s + batch_size], targets[s : s + batch_size]
        clean.append(_predict(model, xb))
        xa, st = _attack_batch(model, xb, tb, budget, history)
        adv.append(xa.detach())
        final.append(_predict(model, xa))
        steps_to.append(st)
    model.train(was_training)
    if not adv:
        empty = torch.zeros(0, dtype=torch.int64)
        return AttackResult(images.clone(), empty, empty, empty.bool(), empty)
    final_pred = torch.cat(final)
    steps_cat = torch.cat(steps_to)
    success = final_pred == targets
    steps_cat = torch.where(success, steps_cat, torch.full_like(steps_cat, -1))
    return AttackResult(
        adversarial=torch.cat(adv),
        clean_pred=torch.cat(clean),
        final_pred=final_pred,
        success=success,
        steps_to_success=steps_cat,
        seconds=time.perf_counter() - started,
        history=[h / len(images) for h in history],
    )

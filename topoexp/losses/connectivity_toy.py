"""The toy example of COREL's Figure 2 (spec §A.2): the connectivity loss alone on a 2-D MLP.

Three Gaussians in the plane (means −(4, 4), −(3, 3), −(0, 0.5); standard deviations 1, 3, 0.5;
500 points each) are mapped by an MLP ``R² → R²`` with leaky ReLUs, trained on ``L_η`` of its
outputs only (no reconstruction), batch 50, η = 2. The paper trains 60 epochs with hidden width
20 and reports (α̂, ε̂, β̂) over 3,000 random batches of 50 at epochs 20 and 60; the authors'
tutorial uses hidden width 10, 50 epochs and Adam with lr 0.01, divided by 10 at epochs 20 and 40.
Both are reachable through the arguments; the defaults follow the paper's figure with the
tutorial's schedule.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from topoexp.evaluation.death_times import DeathTimeSummary, death_time_summary
from topoexp.losses.connectivity import ConnectivityLoss
from topoexp.training.batches import DeviceData, MemoryBatches
from topoexp.training.callbacks import Callback
from topoexp.training.engine import Engine
from topoexp.training.schedule import Epochs
from topoexp.training.steps import GradientStep

__all__ = ["ToyMLP", "three_gaussians", "train_toy"]

MEANS = ((-4.0, -4.0), (-3.0, -3.0), (0.0, -0.5))
STDS = (1.0, 3.0, 0.5)


def three_gaussians(n_per_component: int = 500, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(X, component)``: ``(3·n, 2)`` float32 points and their ``(3·n,)`` component ids."""
    if n_per_component < 1:
        raise ValueError(f"n_per_component must be ≥ 1, got {n_per_component}")
    rng = np.random.default_rng(seed)
    parts = [
        np.asarray(mean) + std * rng.standard_normal((n_per_component, 2))
        for mean, std in zip(MEANS, STDS, strict=True)
    ]
    labels = np.repeat(np.arange(3), n_per_component)
    return np.concatenate(parts).astype(np.float32), labels


class ToyMLP(nn.Sequential):
    """``2 → hidden → … → 2`` linear layers with LeakyReLU between them (none at the output)."""

    def __init__(self, hidden: Sequence[int] = (20, 20)) -> None:
        sizes = [2, *(int(h) for h in hidden), 2]
        if any(s < 1 for s in sizes):
            raise ValueError(f"hidden sizes must be positive, got {list(hidden)}")
        layers: list[nn.Module] = []
        for k in range(len(sizes) - 1):
            layers.append(nn.Linear(sizes[k], sizes[k + 1]))
            if k < len(sizes) - 2:
                layers.append(nn.LeakyReLU())
        super().__init__(*layers)


def train_toy(
    model: nn.Module,
    points: np.ndarray | Tensor,
    epochs: int = 60,
    batch_size: int = 50,
    eta: float = 2.0,
    lr: float = 0.01,
    milestones: Sequence[int] = (20, 40),
    report_at: Sequence[int] = (20, 60),
    n_batches: int = 3000,
    p: float = 1.0,
    seed: int = 0,
) -> dict[int, DeathTimeSummary]:
    """Train ``model`` on ``L_η`` of its outputs; (α̂, ε̂, β̂) after the epochs in ``report_at``.

    Adam with ``lr`` divided by 10 at each of ``milestones``; shuffled batches, last partial batch
    dropped. Returns ``{epoch: summary over n_batches random batches of the mapped points}``
    (epoch 0 = before training, if listed).
    """
    if epochs < 0 or batch_size < 2:
        raise ValueError(f"need epochs ≥ 0 and batch_size ≥ 2, got {epochs}, {batch_size}")
    x = torch.as_tensor(points, dtype=torch.float32)
    loss_fn = ConnectivityLoss(eta=eta, branch_reduction="sum", p=p)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.MultiStepLR(optimizer, list(milestones), gamma=0.1)
    generator = torch.Generator().manual_seed(seed)
    out: dict[int, DeathTimeSummary] = {}

    def summarise(epoch: int) -> None:
        if epoch in report_at:
            with torch.no_grad():
                mapped = model(x)
            out[epoch] = death_time_summary(
                mapped, batch_size=batch_size, n_batches=n_batches, seed=seed + epoch, p=p
            )

    class Summaries(Callback):
        def on_epoch_end(self, engine: Engine, record: dict[str, float]) -> None:
            summarise(int(record["epoch"]) + 1)

    summarise(0)
    step = GradientStep(lambda b: (loss_fn(model(b)[None])[0], {}), optimizer, {"model": model})
    batches = MemoryBatches(DeviceData(x, lambda v: v), batch_size, True, True, generator,
                            loader_draw=False)  # fmt: skip
    Engine(step, Epochs(epochs), batches, [Summaries()], schedulers={"lr": schedule}).fit()
    return out

"""The toy task: COREL's Figure 2 (spec §A.2), the connectivity loss alone on a 2-D MLP.

Components: the points (``dataset``, :class:`ThreeGaussians`: three Gaussians in the plane), the
objective (``loss=connectivity``: ``loss.connectivity.weight · L_η`` of the mapped batch, one
branch, nothing else: no reconstruction) and the task's keys: the MLP ``R² → R²`` (``hidden``,
leaky ReLUs) and its training (Adam at ``lr``, divided by 10 at each of ``milestones``, shuffled
batches of ``batch_size``, the last partial batch dropped). For each entry of ``epochs`` the MLP
is trained from the same initialisation for that many epochs; (α̂, ε̂, β̂), the mean over
``n_batches`` random batches of the smallest, mean and largest 0-dim death time, is reported for
the input points and for each trained map. ``model``, ``trainer`` and ``evaluator`` are null.

Writes ``toy.json`` (ours beside the paper's triples), ``toy.png`` (the panels), ``points.npz``
(the input and mapped points, the component of each) and metrics
``death_time.{alpha,epsilon,beta}.{input,epoch<N>}``.
"""

from __future__ import annotations

import copy
import logging
from typing import Annotated, Any

import numpy as np
import torch
from annotated_types import Ge, Gt
from omegaconf import DictConfig
from torch import Tensor, nn

from topoexp import io
from topoexp.config.markers import ArgumentError
from topoexp.config.validate import require
from topoexp.tasks.base import RunContext, TaskResult
from topoexp.tasks.composition import (
    check_objective_metric,
    check_self_contained,
    regulariser_keys,
)

__all__ = ["PAPER", "CorelToyTask", "ThreeGaussians", "toy_panels"]

log = logging.getLogger("topoexp")

#: The paper's Figure 2 triples (α̂, ε̂, β̂): input, epoch 20, epoch 60.
PAPER = {
    "input": (0.08, 0.96, 4.71),
    "epoch 20": (0.23, 1.67, 4.63),
    "epoch 60": (0.24, 1.65, 4.01),
}
STATISTICS = ("alpha", "epsilon", "beta")


class ThreeGaussians:
    """The toy's points: ``n_per_component`` draws of each Gaussian of COREL's Figure 2 (means
    −(4, 4), −(3, 3), −(0, 0.5); standard deviations 1, 3, 0.5), NumPy seed ``data_seed``."""

    def __init__(
        self,
        name: str = "three_gaussians",
        n_per_component: Annotated[int, Ge(1)] = 500,
        data_seed: int = 0,
    ) -> None:
        if n_per_component < 1:
            raise ArgumentError("n_per_component", f"must be ≥ 1, got {n_per_component}")
        self.name, self.n_per_component, self.data_seed = name, n_per_component, data_seed

    def points(self) -> tuple[np.ndarray, np.ndarray]:
        """``(X, component)``: float32 points ``(3·n, 2)`` and the Gaussian of each."""
        from topoexp.losses.connectivity_toy import three_gaussians

        return three_gaussians(self.n_per_component, seed=self.data_seed)


class CorelToyTask:
    """Train the toy MLP on the connectivity loss for each of ``epochs``; (α̂, ε̂, β̂) of each map.

    Args:
        epochs: trainings from the same initialisation, each this many epochs (the paper: 20, 60).
        hidden: the MLP's hidden widths (the paper's figure: 20, 20; the authors' tutorial: 10).
        batch_size: points per batch (and per batch of the death-time statistics; the paper: 50).
        lr: Adam's rate, divided by 10 at each epoch of ``milestones`` (the tutorial's schedule).
        n_batches: random batches the statistics average over (the paper: 3,000).
        num_threads: torch threads; ``None``: the harness's ``auto``.
    """

    job_type = "corel_toy"

    def __init__(
        self,
        epochs: list[Annotated[int, Ge(0)]] = [20, 60],  # noqa: B006 (a literal config default)
        hidden: list[Annotated[int, Ge(1)]] = [20, 20],  # noqa: B006
        batch_size: Annotated[int, Ge(2)] = 50,
        lr: Annotated[float, Gt(0)] = 0.01,
        milestones: list[Annotated[int, Ge(0)]] = [20, 40],  # noqa: B006
        n_batches: Annotated[int, Ge(1)] = 3000,
        num_threads: Annotated[int, Ge(1)] | None = None,
    ) -> None:
        if not epochs or len(set(epochs)) != len(epochs) or min(epochs) < 0:
            raise ArgumentError("epochs", f"distinct epoch counts ≥ 0, got {list(epochs)}")
        if batch_size < 2:
            raise ArgumentError("batch_size", f"death times need ≥ 2 points, got {batch_size}")
        self.epochs, self.hidden = [int(e) for e in epochs], [int(h) for h in hidden]
        self.batch_size, self.lr, self.milestones = batch_size, float(lr), list(milestones)
        self.n_batches, self.num_threads = n_batches, num_threads

    def check(self, cfg: DictConfig) -> None:
        names = [f"death_time.{s}.{at}" for s in STATISTICS for at in self._labels()]
        check_objective_metric(cfg, names, "task=corel_toy")
        check_self_contained(
            cfg,
            "task=corel_toy",
            ThreeGaussians,
            "maps COREL's three Gaussians (+experiment=corel_toy)",
            "its MLP and training are task.hidden, task.lr, ...",
        )
        keys = regulariser_keys(cfg)
        others = [k for k in keys if k != "loss.connectivity"]
        require(
            keys == ["loss.connectivity"],
            others[0] if others else "loss",
            "task=corel_toy trains on COREL's connectivity loss alone: loss=connectivity, got "
            f"{[k.split('.', 1)[1] for k in keys]}",
        )
        from topoexp.config.build import build

        build(cfg, "loss.connectivity")  # its own checks

    def _labels(self) -> list[str]:
        return ["input", *(f"epoch{e}" for e in self.epochs)]

    def __call__(self, ctx: RunContext) -> TaskResult:
        from topoexp.evaluation.death_times import death_time_summary
        from topoexp.losses.connectivity_toy import ToyMLP

        if self.num_threads is not None:
            torch.set_num_threads(self.num_threads)
            ctx.record.add_facts(threads=self.num_threads)
        regulariser = ctx.build("loss.connectivity")
        loss, p = regulariser.connectivity, regulariser.connectivity.p
        torch.manual_seed(ctx.seed)
        data: ThreeGaussians = ctx.build("dataset")
        x, component = data.points()
        init = ToyMLP(self.hidden)
        log.info("%d points, MLP %s, loss %s (weight %s)", len(x), init, loss, regulariser.weight)
        points: dict[str, np.ndarray] = {"input": x}
        stats = {"batch_size": self.batch_size, "n_batches": self.n_batches, "p": p}
        summary = {"input": death_time_summary(x, seed=ctx.seed, **stats)}
        for epoch in self.epochs:
            model = copy.deepcopy(init)
            self._train(model, torch.as_tensor(x), loss, regulariser.weight, epoch, ctx.seed)
            with torch.no_grad():
                mapped = model(torch.as_tensor(x))
            points[f"epoch {epoch}"] = mapped.numpy()
            summary[f"epoch {epoch}"] = death_time_summary(mapped, seed=ctx.seed + epoch, **stats)
        triples = {name: _triple(s) for name, s in summary.items()}
        io.write_json(
            ctx.output_dir / "toy.json",
            {
                "hidden": self.hidden,
                "seed": ctx.seed,
                "ours": {k: dict(zip(STATISTICS, v, strict=True)) for k, v in triples.items()},
                "paper": {k: dict(zip(STATISTICS, v, strict=True)) for k, v in PAPER.items()},
            },
        )
        io.write_npz(
            ctx.output_dir / "points.npz",
            component=component,
            **{name.replace(" ", "_"): array for name, array in points.items()},
        )
        metrics = {
            f"death_time.{stat}.{name.replace(' ', '')}": value
            for name, triple in triples.items()
            for stat, value in zip(STATISTICS, triple, strict=True)
        }
        return TaskResult(metrics, {"toy": toy_panels(points, component, triples)})

    def _train(
        self, model: nn.Module, x: Tensor, loss: nn.Module, weight: float, epochs: int, seed: int
    ) -> None:
        """Adam on ``weight · L_η`` of the mapped batches for ``epochs`` epochs."""
        from topoexp.training.batches import DeviceData, MemoryBatches
        from topoexp.training.engine import Engine
        from topoexp.training.schedule import Epochs
        from topoexp.training.steps import GradientStep

        optimizer = torch.optim.Adam(model.parameters(), lr=self.lr)
        schedule = torch.optim.lr_scheduler.MultiStepLR(optimizer, self.milestones, gamma=0.1)
        generator = torch.Generator().manual_seed(seed)

        def objective(batch: Tensor) -> tuple[Tensor, dict[str, float]]:
            return weight * loss(model(batch)[None])[0], {}

        step = GradientStep(objective, optimizer, {"model": model})
        batches = MemoryBatches(DeviceData(x, lambda v: v), self.batch_size, True, True,
                                generator, loader_draw=False)  # fmt: skip
        Engine(step, Epochs(epochs), batches, schedulers={"lr": schedule}).fit()


def _triple(summary: Any) -> tuple[float, float, float]:
    return (float(summary.alpha[0]), float(summary.epsilon[0]), float(summary.beta[0]))


def toy_panels(
    points: dict[str, np.ndarray],
    component: np.ndarray,
    triples: dict[str, tuple[float, float, float]],
) -> Any:
    """The input and mapped points, coloured by Gaussian, titled by (α̂, ε̂, β̂) and the paper's."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 3.6))
    axes = np.atleast_1d(fig.subplots(1, len(points)))
    for ax, (name, xy) in zip(axes, points.items(), strict=True):
        ax.scatter(xy[:, 0], xy[:, 1], c=component, s=3, cmap="viridis")
        a, e, b = triples[name]
        pa, pe, pb = PAPER.get(name, (np.nan,) * 3)
        ax.set_title(
            f"{name}: (α̂, ε̂, β̂) = ({a:.2f}, {e:.2f}, {b:.2f})\npaper: ({pa}, {pe}, {pb})",
            fontsize=8,
        )
        ax.set_aspect("equal", adjustable="datalim")
    return fig

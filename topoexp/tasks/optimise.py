"""The optimise task: parameters optimised under a data term plus (topological) penalties.

Components: the problem (``dataset``, :mod:`topoexp.optimise.problems`: initial parameters, data
term, measures) and the penalties, the entries of the ``loss`` group like every task's objective
(:mod:`topoexp.optimise.penalties`: ``loss.barcode``, barcode energies of a persistence layer;
``loss.norm``, a classical norm; ``loss=[barcode,norm]`` adds them up). The task's own keys are the
optimiser settings. Each step logs ``loss = data_loss + penalty`` and each entry's part
``penalty.<name>`` (``history.json``, ``steps.jsonl`` every ``log_every`` steps); the run writes
``parameters.npz`` (initial, final and snapshot parameters), ``parameters.png`` (the states side
by side) and ``losses.png``. ``model``, ``trainer`` and ``evaluator`` are unused and must be null.
"""

from __future__ import annotations

import logging
import operator
from functools import reduce
from typing import Annotated, Any, Literal

import numpy as np
import torch
from annotated_types import Ge, Gt
from omegaconf import DictConfig, OmegaConf

from topoexp import io
from topoexp.capabilities import PENALTY, PROBLEM, declared, option_name, require_capabilities
from topoexp.config.build import build
from topoexp.config.markers import ArgumentError
from topoexp.config.validate import require
from topoexp.tasks.base import RunContext, TaskResult
from topoexp.tasks.composition import check_objective_metric, regulariser_keys
from topoexp.training.callbacks import Callback
from topoexp.training.engine import Engine
from topoexp.training.schedule import Iterations
from topoexp.training.steps import GradientStep

__all__ = ["OptimiseTask", "penalty_keys"]

log = logging.getLogger("topoexp")

#: What the task reports (``*``: any suffix), for the sweep objective.
METRICS = ("data_loss", "initial_loss", "initial_penalty", "loss", "penalty", "penalty.*")

Optimizer = Literal["adam", "sgd"]


def penalty_keys(cfg: DictConfig) -> list[str]:
    """The config keys of the penalties (``loss.barcode``, ``loss.norm``); at least one, each
    a penalty on the problem's parameters (capability ``penalty``), else a
    :class:`~topoexp.config.validate.ConfigError` naming the key."""
    keys = regulariser_keys(cfg)
    require(
        bool(keys),
        "loss",
        "task=optimise needs a penalty: loss=barcode, loss=norm or loss=[barcode,norm]",
    )
    for key in keys:
        node = OmegaConf.select(cfg, key)
        require(
            isinstance(node, DictConfig) and "_target_" in node,
            key,
            "expected a penalty component with a _target_ (each loss option nests under its "
            "name: loss.barcode.lam, not loss.lam)",
        )
    return keys


class OptimiseTask:
    """Run ``steps`` steps of Adam (or SGD) at rate ``lr`` on the problem's parameters.

    Args:
        steps: optimiser steps (the paper: 100 for point clouds, 500 for the noisy circle).
        lr: learning rate (the paper: Adam 1e-2; regression 0.1).
        optimizer: ``adam`` or ``sgd``.
        log_every: steps between records in ``steps.jsonl`` / W&B (history.json has all).
        snapshots: steps whose parameters are kept and drawn besides the start and the end.
    """

    job_type = "optimise"

    def __init__(
        self,
        steps: Annotated[int, Ge(0)] = 100,
        lr: Annotated[float, Gt(0)] = 1e-2,
        optimizer: Optimizer = "adam",
        log_every: Annotated[int, Ge(1)] = 10,
        snapshots: list[int] = [],  # noqa: B006 (a literal config default, never mutated)
    ) -> None:
        if optimizer not in ("adam", "sgd"):
            raise ArgumentError("optimizer", f"must be 'adam' or 'sgd', got {optimizer!r}")
        if steps < 0:
            raise ArgumentError("steps", f"must be ≥ 0, got {steps}")
        if lr <= 0:
            raise ArgumentError("lr", f"must be > 0, got {lr}")
        if any(not 0 <= s <= steps for s in snapshots):
            raise ArgumentError("snapshots", f"steps in 0..{steps}, got {list(snapshots)}")
        self.steps, self.lr, self.optimizer = steps, float(lr), optimizer
        self.log_every, self.snapshots = log_every, sorted(set(snapshots))

    def check(self, cfg: DictConfig) -> None:
        check_objective_metric(cfg, METRICS, "task=optimise")
        for key in ("model", "trainer", "evaluator"):
            require(cfg.get(key) is None, key, "unused by task=optimise: set it to null")
        require(
            not cfg.get("evaluators"),
            "evaluators",
            "task=optimise makes no latents for further evaluators to score: evaluators=none",
        )
        require_capabilities(
            {PROBLEM},
            declared(cfg.get("dataset"), "offers"),
            "dataset",
            "task=optimise",
            option_name(cfg, "dataset"),
        )
        keys = penalty_keys(cfg)
        for key in keys:
            require_capabilities(
                {PENALTY}, declared(OmegaConf.select(cfg, key), "offers"), key, "task=optimise", key
            )
            build(cfg, key)  # the penalty's own checks (terms against the layer)

    def __call__(self, ctx: RunContext) -> TaskResult:
        problem = ctx.build("dataset")
        penalties = {key.split(".", 1)[1]: ctx.build(key) for key in penalty_keys(ctx.cfg)}
        log.info("problem %s, penalties %s", problem.name, penalties)
        start = problem.initial()
        theta = start.clone().requires_grad_(True)
        opt_cls = torch.optim.Adam if self.optimizer == "adam" else torch.optim.SGD
        opt = opt_cls([theta], lr=self.lr)
        history: list[dict[str, float]] = []
        snaps: dict[str, np.ndarray] = {}

        steps = self.steps

        def objective(step: int) -> tuple[torch.Tensor, dict[str, float]]:
            if step in self.snapshots:  # the parameters at the step's start
                snaps[f"step_{step}"] = theta.detach().numpy().copy()
            data = problem.data_loss(theta)
            parts = {name: penalty(theta) for name, penalty in penalties.items()}
            pen = reduce(operator.add, parts.values())  # one entry: exactly its value
            return data + pen, {
                "data_loss": float(data.detach()),
                "penalty": float(pen.detach()),
                **{f"penalty.{name}": float(v.detach()) for name, v in parts.items()},
            }

        def keep(step: int, value: float, parts: dict[str, float]) -> None:
            record = {"step": float(step), "loss": value, **parts}
            history.append(record)
            if step % self.log_every == 0 or step == steps:
                ctx.log_step(record)

        class Records(Callback):  # the objective at each step's start, before its update
            def on_step(self, engine: Engine, step: int, value: float | None, parts: dict) -> None:
                keep(step, value, parts)  # type: ignore[arg-type]

            def on_fit_end(self, engine: Engine) -> None:  # and after the last update
                total, parts = objective(steps)
                keep(steps, float(total.detach()), parts)

        # the run reports a non-finite objective in its metrics, as it always has
        step = GradientStep(objective, opt, {}, name="theta", check_finite=False)
        every = max(steps, 1)
        Engine(step, Iterations(steps, every, every), callbacks=[Records()]).fit()
        ctx.write_history(history)
        final = theta.detach()
        io.write_npz(
            ctx.output_dir / "parameters.npz",
            initial=start.numpy(),
            final=final.numpy(),
            **snaps,
        )
        metrics = {
            "loss": history[-1]["loss"],
            "data_loss": history[-1]["data_loss"],
            "penalty": history[-1]["penalty"],
            "initial_loss": history[0]["loss"],
            "initial_penalty": history[0]["penalty"],
            **{k: v for k, v in history[-1].items() if k.startswith("penalty.")},
            **problem.metrics(final),
        }
        if hasattr(problem, "metrics") and problem.reference() is not None:
            metrics |= {f"initial_{k}": v for k, v in problem.metrics(start).items()}
        return TaskResult(metrics, self._figures(ctx, problem, start, final, snaps, history))

    def _figures(
        self, ctx: RunContext, problem: Any, start, final, snaps, history
    ) -> dict[str, Any]:
        from topoexp.optimise.figures import loss_curve, parameters_figure

        states = [("start", start.numpy()), *snaps.items(), (f"step {self.steps}", final.numpy())]
        reference = problem.reference()
        title = f"{ctx.cfg.method}: {problem.name}"
        return {
            "parameters": parameters_figure(
                states, problem.kind, title, None if reference is None else reference.numpy()
            ),
            "losses": loss_curve(history, title),
        }

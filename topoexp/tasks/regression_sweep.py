"""The regression sweep task: the TopologyLayer paper's Figures 5 and 6 (spec B.4 a and c).

Components: the problems (``dataset``, :class:`~topoexp.optimise.regression_sweep.RegressionDraws`:
β* kinds, p, σ, sample sizes, trials) and the task's keys: the penalties compared (``methods``,
each the authors' ``penalized_ls`` from the OLS start, every λ of ``lam_grid`` fitted at once), the
optimiser and how λ is chosen (``selection``: the oracle per trial, or cross-validated per n).
:mod:`topoexp.optimise.regression_sweep` does the fits. The run writes the sweep's tables, named
as the report reads them (``<study>_sigma<σ>_trials.csv``, ``_summary.csv``, ``_protocol.json``),
and flat metrics: ``error/<method>`` (the mean error over every (β*, n) and trial),
``error/<β*>/n<n>/<method>`` (each cell's mean) and ``rows``. ``model``, ``trainer``,
``evaluator`` are unused and must be null; ``loss`` must be empty (the penalties are the methods).
"""

from __future__ import annotations

import logging
import time
from typing import Annotated, Literal

import numpy as np
import torch
from annotated_types import Ge, Gt
from omegaconf import DictConfig

from topoexp.config.markers import ArgumentError
from topoexp.config.validate import require
from topoexp.optimise.regression_sweep import (
    Method,
    RegressionDraws,
    Study,
    run_study,
    summarise,
    write_study,
)
from topoexp.tasks.base import RunContext, TaskResult
from topoexp.tasks.composition import (
    check_objective_metric,
    check_self_contained,
    regulariser_keys,
)

__all__ = ["RegressionSweepTask"]

log = logging.getLogger("topoexp")

#: What the task reports (``*``: any suffix), for the sweep objective.
METRICS = ("error/*", "rows")

#: The penalties of each filtration's study (the norms its code compares).
NORMS = {"alpha": {"l1", "l2"}, "levelset": {"tv", "smooth_tv"}}


class RegressionSweepTask:
    """Fit every method at every λ to the problems of every (β*, n); choose λ; tabulate.

    Args:
        study: the topological penalties' filtration and the tables' name: ``alpha`` (weak alpha
            of the values of β, Figure 5) or ``levelset`` (superlevel sets on the path, Figure 6).
        methods: ``ols`` and penalties: the study's norms (``l1``, ``l2`` / ``tv``,
            ``smooth_tv``), ``top1`` = E(1, 0, 2; PD0), ``top2`` = E(1, 0, 4; PD0).
        lam_grid: ``[start, stop, num]``: λ ∈ ``np.logspace(start, stop, num)``.
        steps, lr: Adam's steps and rate on ``MSE + λ · penalty``.
        selection: ``oracle`` (per trial, the λ of least prediction MSE on fresh rows) or ``cv``
            (per n, the λ of least mean ‖β̂ − β*‖² over ``dataset.cv_trials`` problems).
        quantiles: the summary's error band (percentiles).
        num_threads: torch threads (the published tables: 1); ``None``: the harness's ``auto``.
    """

    job_type = "regression_sweep"

    def __init__(
        self,
        study: Literal["alpha", "levelset"] = "alpha",
        methods: list[Method] = ["ols", "l1", "l2", "top1", "top2"],  # noqa: B006 (literal default)
        lam_grid: list[float] = [-4.0, 1.0, 20],  # noqa: B006
        steps: Annotated[int, Ge(0)] = 100,
        lr: Annotated[float, Gt(0)] = 0.1,
        selection: Literal["oracle", "cv"] = "oracle",
        quantiles: list[float] = [2.5, 87.5],  # noqa: B006
        num_threads: Annotated[int, Ge(1)] | None = 1,
    ) -> None:
        if not methods or len(set(methods)) != len(methods):
            raise ArgumentError("methods", f"a non-empty list of distinct methods, got {methods}")
        wrong = sorted(set(methods) - {"ols", "top1", "top2"} - NORMS.get(study, set()))
        if wrong:
            raise ArgumentError("methods", f"{wrong} are not penalties of the {study} study")
        if len(lam_grid) != 3 or int(lam_grid[2]) != lam_grid[2] or lam_grid[2] < 1:
            raise ArgumentError("lam_grid", f"[start, stop, num] with num ≥ 1, got {lam_grid}")
        if len(quantiles) != 2 or not 0 <= quantiles[0] <= quantiles[1] <= 100:
            raise ArgumentError("quantiles", f"two percentiles lo ≤ hi, got {quantiles}")
        self.study, self.methods, self.lam_grid = study, list(methods), list(lam_grid)
        self.steps, self.lr, self.selection = steps, float(lr), selection
        self.quantiles, self.num_threads = list(quantiles), num_threads

    @property
    def lams(self) -> list[float]:
        start, stop, num = self.lam_grid
        return np.logspace(start, stop, int(num)).tolist()

    def check(self, cfg: DictConfig) -> None:
        check_objective_metric(cfg, METRICS, "task=regression_sweep")
        check_self_contained(
            cfg,
            "task=regression_sweep",
            RegressionDraws,
            "draws its problems from dataset=problem/regression_draws",
            "its fits are task.methods, task.steps, task.lr, ...",
        )
        for key in regulariser_keys(cfg):
            require(
                False,
                key,
                "task=regression_sweep compares the penalties of task.methods (each fitted at "
                "every λ): loss=none",
            )
        require(
            self.selection == "oracle" or cfg.dataset.cv_trials >= 1,
            "dataset.cv_trials",
            "selection=cv chooses λ on problems of their own: set dataset.cv_trials ≥ 1",
        )

    def protocol(self, problems: RegressionDraws) -> Study:
        """The study of these problems under this task's fits and selection."""
        return Study(
            name=self.study,
            betas=list(problems.betas),
            methods=list(self.methods),
            sigma=problems.sigma,
            lams=self.lams,
            ns=list(problems.ns),
            steps=self.steps,
            selection=self.selection,
            trials=problems.trials,
            cv_trials=problems.cv_trials,
            p=problems.p,
            lr=self.lr,
            quantiles=tuple(self.quantiles),  # type: ignore[arg-type]
        )

    def __call__(self, ctx: RunContext) -> TaskResult:
        if self.num_threads is not None:
            torch.set_num_threads(self.num_threads)
            ctx.record.add_facts(threads=self.num_threads)
        problems: RegressionDraws = ctx.build("dataset")
        study = self.protocol(problems)
        log.info("regression sweep %s: %s", study.name, study)
        started = time.perf_counter()
        rows = run_study(study, ctx.seed, log.info)
        seconds = time.perf_counter() - started
        threads = torch.get_num_threads()
        paths = write_study(ctx.output_dir, study, rows, ctx.seed, threads, seconds)
        names = ", ".join(path.name for path in paths.values())
        log.info("%d rows in %.0f s: %s", len(rows), seconds, names)
        return TaskResult(_metrics(rows, summarise(rows, study.quantiles)))


def _metrics(rows: list[dict], summary: list[dict]) -> dict[str, float]:
    """``rows``, ``error/<method>`` over every row, ``error/<β*>/n<n>/<method>`` per cell."""
    metrics: dict[str, float] = {"rows": float(len(rows))}
    for method in dict.fromkeys(r["method"] for r in rows):
        errors = [r["error"] for r in rows if r["method"] == method]
        metrics[f"error/{method}"] = float(np.mean(errors))
    for cell in summary:
        metrics[f"error/{cell['beta']}/n{cell['n']}/{cell['method']}"] = cell["mean"]
    return metrics

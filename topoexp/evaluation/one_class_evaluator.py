"""The ``evaluator`` of the one-class task: COREL's count scorer or a baseline, per ``m``.

One component holds every choice of spec §A.5 and of the baselines, so the same task compares
them on the same support draws (the same ``draw_seed`` draws the same indices for every scorer):

- ``scorer="count"``: Σ_b #{stored branch-b latents within ℓ1 radius r} (COREL; also the λ = 0
  ablation when the backbone was trained without the connectivity loss);
- ``scorer="ocsvm"`` / ``"kde"``: :mod:`topoexp.evaluation.one_class_baselines` on the same
  features (a backbone's latents, or raw pixels when the task's ``features`` is ``pixels``).

Metrics: ``auc_m<m>`` and ``auc_m<m>_class<c>`` at ``radius``; with a ``radius_grid`` also
``auc_r<r>_m<m>`` for each grid radius (count scorer only).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

import numpy as np
from annotated_types import Ge, Gt

from topoexp.capabilities import ENCODER
from topoexp.config.markers import ArgumentError
from topoexp.config.validate import ConfigError, from_argument_error
from topoexp.evaluation.one_class import OneClassResult, one_class_count_eval, one_class_metrics
from topoexp.evaluation.one_class_baselines import kde_bandwidth, one_class_baseline_eval

if TYPE_CHECKING:
    from topoexp.evaluation.suite import Latents

__all__ = ["OneClassEvaluator", "radius_key"]


def radius_key(radius: float) -> str:
    """A radius in metric keys: ``2.0`` → ``"2"``, ``1.75`` → ``"1.75"``."""
    return f"{radius:g}"


class OneClassEvaluator:
    """Scores one-vs-rest per class from ``m`` stored samples of the class (module docstring).

    Args:
        scorer: ``count`` (COREL), ``ocsvm`` or ``kde``.
        m_values: support sizes, positive integers and/or ``"all"``.
        runs: random support draws per class and ``m`` (``"all"`` has one).
        radius: the count scorer's ℓ1 radius r (η = 2 in the paper).
        radius_grid: further radii scored on the same draws (the ablation's r grid).
        aggregation: over branches, ``sum`` (the paper), ``max`` or ``mean``.
        nested: support sets nested across ``m`` within a run (paired comparison) or independent.
        nu: OC-SVM ν (0.1; γ by the scale rule on the support set).
        bandwidth: KDE bandwidth rule (``scott``, ``silverman``, ``cv``) or a number.
        draw_seed: seed of the support draws, shared by every scorer.
    """

    needs: ClassVar[frozenset[str]] = frozenset({ENCODER})  # the training split encoded

    def __init__(
        self,
        scorer: Literal["count", "ocsvm", "kde"] = "count",
        m_values: Sequence[int | str] = (80, 120, 500),
        runs: Annotated[int, Ge(1)] = 5,
        radius: Annotated[float, Ge(0)] = 2.0,
        radius_grid: Sequence[float] = (),
        aggregation: Literal["sum", "max", "mean"] = "sum",
        nested: bool = True,
        nu: Annotated[float, Gt(0)] = 0.1,
        bandwidth: str | float = "scott",
        draw_seed: int = 0,
    ) -> None:
        m_list: list[int | str] = []
        for m in m_values:
            if m == "all":
                m_list.append("all")
            elif isinstance(m, int) and not isinstance(m, bool) and m >= 1:
                m_list.append(m)
            else:
                raise ArgumentError("m_values", f"positive integers or 'all', got {m!r}")
        if not m_list or len(set(m_list)) != len(m_list):
            raise ArgumentError("m_values", f"a non-empty list of distinct values, got {m_values}")
        if any(not float(r) >= 0 for r in radius_grid):
            raise ArgumentError("radius_grid", f"radii must be ≥ 0, got {list(radius_grid)}")
        if radius_grid and scorer != "count":
            raise ArgumentError("radius_grid", f"only the count scorer has a radius, not {scorer}")
        if not float(nu) <= 1:
            raise ArgumentError("nu", f"must be in (0, 1], got {nu}")
        try:
            kde_bandwidth(np.zeros((2, 1)), bandwidth)
        except ValueError as error:
            raise ArgumentError("bandwidth", str(error)) from None
        self.scorer = scorer
        self.m_values = m_list
        self.runs = runs
        self.radius = float(radius)
        self.radius_grid = [float(r) for r in radius_grid]
        self.aggregation = aggregation
        self.nested = nested
        self.nu = float(nu)
        self.bandwidth = bandwidth
        self.draw_seed = draw_seed

    def check_classes(
        self, train_labels: np.ndarray, test_labels: np.ndarray | None = None
    ) -> None:
        """Fail before training when one-vs-rest is undefined: fewer than two classes, or a
        training class missing from the test labels (its AUC has no positives)."""
        classes = np.unique(train_labels)
        if len(classes) < 2:
            raise ArgumentError("m_values", "one-vs-rest needs at least two classes")
        if test_labels is None:
            return
        present = np.unique(test_labels)
        missing = sorted(set(classes.tolist()) - set(present.tolist()))
        if missing or len(present) < 2:
            raise ArgumentError(
                "m_values",
                f"one-vs-rest needs every class in the test split and at least two of them; "
                f"missing there: {missing} (a larger data set or test split)",
            )

    def evaluate(
        self,
        train_features: np.ndarray,
        train_labels: np.ndarray,
        test_features: np.ndarray,
        test_labels: np.ndarray,
        n_branches: int = 1,
        radius: float | None = None,
    ) -> dict[str, OneClassResult]:
        """``{m: OneClassResult}`` of this scorer at ``radius`` (default: ``self.radius``)."""
        if self.scorer == "count":
            return one_class_count_eval(
                train_features,
                train_labels,
                test_features,
                test_labels,
                n_branches=n_branches,
                m_values=self.m_values,
                runs=self.runs,
                radius=self.radius if radius is None else radius,
                aggregation=self.aggregation,
                seed=self.draw_seed,
                nested=self.nested,
            )
        return one_class_baseline_eval(
            train_features,
            train_labels,
            test_features,
            test_labels,
            method=self.scorer,
            m_values=self.m_values,
            runs=self.runs,
            seed=self.draw_seed,
            nu=self.nu,
            bandwidth=self.bandwidth,
        )

    def metric_names(self) -> list[str]:
        """The metrics this evaluator reports (``*``: any suffix), for the sweep objective."""
        return [f"auc_m{m}" for m in self.m_values] + ["auc_m*", "auc_r*"]

    def score(self, latents: Latents) -> tuple[dict[str, float], dict[str, Any]]:
        """One-class AUCs of a task's latents (``evaluators=one_class``): the training split's
        latents are the support, the evaluated split's the test set."""
        if latents.train_latents is None or latents.train_labels is None:
            raise ConfigError("evaluators.one_class", "needs latents of the training split")
        try:
            self.check_classes(latents.train_labels)
        except ArgumentError as error:
            raise from_argument_error(error, "evaluators.one_class") from None
        _, metrics = self(
            latents.train_latents,
            latents.train_labels,
            latents.latents,
            latents.labels,
            latents.n_branches,
        )
        return metrics, {}

    def __call__(
        self,
        train_features: np.ndarray,
        train_labels: np.ndarray,
        test_features: np.ndarray,
        test_labels: np.ndarray,
        n_branches: int = 1,
    ) -> tuple[dict[str, OneClassResult], dict[str, float]]:
        """The results at ``radius`` and the flat metrics (grid radii added)."""
        results = self.evaluate(
            train_features, train_labels, test_features, test_labels, n_branches
        )
        metrics = one_class_metrics(results)
        for r in self.radius_grid:
            grid = self.evaluate(
                train_features, train_labels, test_features, test_labels, n_branches, r
            )
            for key, result in grid.items():
                metrics[f"auc_r{radius_key(r)}_m{key}"] = result.mean_auc
        return results, metrics

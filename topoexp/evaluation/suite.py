"""Further evaluators of a run's latents: ``evaluators=[nldr,one_class]`` on any task that embeds.

A task's own ``evaluator`` follows its paper's protocol; the entries of the ``evaluators`` group
score the same latents (or the same trained model) by another paper's measures: a TopoAE scored by
one-class AUC, a COREL backbone by trustworthiness and KL_σ, a generative autoencoder by the
generative metrics of its prior's samples. Each evaluator class provides ``score(latents)`` and
declares what it needs of the model (``needs``); preflight checks that against the model's offers
and calls the entry's ``check(cfg, key)`` when it has one (checks against the rest of the run).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from topoexp.config.validate import ConfigError

__all__ = ["Latents", "score_all"]


@dataclass(frozen=True)
class Latents:
    """The latents a task made.

    Attributes:
        inputs: the evaluated samples, flattened ``(n, D)``.
        latents: their latents ``(n, d)``.
        labels: their labels.
        train_latents, train_labels: latents and labels of the training split (``None`` when the
            model cannot encode it, e.g. t-SNE).
        n_branches: branches of the latent (1 unless the model has branched latents).
        title: the run's title for figures.
        model: the trained model (the autoencoder, not its objective; ``None`` for a fitted
            estimator or raw features), for evaluators that sample or decode it.
        dataset: the name of the evaluated data set (e.g. the metric classifier it has).
    """

    inputs: np.ndarray
    latents: np.ndarray
    labels: np.ndarray
    train_latents: np.ndarray | None = None
    train_labels: np.ndarray | None = None
    n_branches: int = 1
    title: str = ""
    model: Any = None
    dataset: str = ""


def score_all(
    evaluators: dict[str, Any], latents: Latents, metrics: dict[str, float]
) -> tuple[dict[str, float], dict[str, Any]]:
    """Every evaluator's metrics and figures; a metric name already in ``metrics`` is an error
    naming the evaluator (two evaluators must not report the same key)."""
    out: dict[str, float] = {}
    figures: dict[str, Any] = {}
    for name, evaluator in evaluators.items():
        values, more = evaluator.score(latents)
        clash = sorted((set(values) & set(metrics)) | (set(values) & set(out)))
        if clash:
            raise ConfigError(f"evaluators.{name}", f"reports metrics already reported: {clash}")
        out |= values
        figures |= {f"{name}_{key}": fig for key, fig in more.items()}
    return out, figures

"""The evaluators of an embedding: the TopoAE table's measures and the study's diagram distances.

Components built from ``conf/evaluator/``: :class:`EmbeddingEvaluator` scores latents against
their inputs (spec §3: KL_σ, MRRE, trustworthiness, continuity, ℓ-RMSE, Data MSE) and holds a
:class:`DiagramDistances` for the reproduction study's persistence-diagram distances.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

import numpy as np
from annotated_types import Ge, Gt

from topoexp.config.markers import ArgumentError
from topoexp.config.validate import from_argument_error

if TYPE_CHECKING:
    from topoexp.evaluation.suite import Latents

__all__ = ["DiagramDistances", "EmbeddingEvaluator"]

_PERCENTILE = re.compile(r"^p(\d+(?:\.\d+)?)$")
DiagramDistance = Literal["bottleneck", "wasserstein1", "wasserstein2", "sliced_wasserstein"]


def _is_normalisation(name: str) -> bool:
    match = _PERCENTILE.match(name)
    return name in ("raw", "maxnorm") or (match is not None and 0 < float(match[1]) <= 100)


class DiagramDistances:
    """Distances between the Vietoris–Rips diagrams of data and latents (the reproduction study).

    ``normalisations``: raw, maxnorm (÷ each cloud's largest distance), pXX (÷ its XX-th
    percentile distance). ``essential``: drop (essential bars removed, count difference reported),
    cap (death set to the cloud's diameter) or error. ``subsample_size`` None: the whole split.
    """

    def __init__(
        self,
        enabled: bool = False,
        dims: Sequence[Literal[0, 1, 2]] = (0, 1),
        distances: Sequence[DiagramDistance] = (
            "bottleneck",
            "wasserstein1",
            "wasserstein2",
            "sliced_wasserstein",
        ),
        normalisations: Sequence[str] = ("raw", "maxnorm", "p50"),
        n_directions: Annotated[int, Ge(1)] = 50,
        subsample_size: Annotated[int, Ge(3)] | None = None,
        n_subsamples: Annotated[int, Ge(1)] = 1,
        seed: int = 0,
        essential: Literal["drop", "cap", "error"] = "drop",
        plot: bool = True,
    ) -> None:
        bad = [n for n in normalisations if not _is_normalisation(n)]
        if bad:
            raise ArgumentError("normalisations", f"unknown {bad}; use raw, maxnorm or pXX")
        if not dims:
            raise ArgumentError("dims", "give at least one homology dimension")
        self.enabled = enabled
        self.dims = list(dims)
        self.distances = list(distances)
        self.normalisations = list(normalisations)
        self.n_directions = n_directions
        self.subsample_size = subsample_size
        self.n_subsamples = n_subsamples
        self.seed = seed
        self.essential = essential
        self.plot = plot

    def __call__(self, X: np.ndarray, Z: np.ndarray, title: str) -> tuple[dict[str, float], dict]:
        """Flat distance metrics and, with ``plot``, the data-vs-latent diagram figures."""
        from topoexp.evaluation.diagram_plots import plot_diagrams
        from topoexp.evaluation.diagrams import cloud_diagrams, diagram_metrics, subsample_indices

        metrics = diagram_metrics(
            X,
            Z,
            dims=tuple(self.dims),
            distances=tuple(self.distances),
            normalisations=tuple(self.normalisations),
            n_directions=self.n_directions,
            subsample_size=self.subsample_size,
            n_subsamples=self.n_subsamples,
            seed=self.seed,
            essential=self.essential,
        )
        figures: dict[str, Any] = {}
        if self.plot:
            rows = subsample_indices(len(X), self.subsample_size, 1, self.seed)[0]
            maxdim = max(self.dims)
            data = cloud_diagrams(X[rows], maxdim, ("raw", "maxnorm"))
            latent = cloud_diagrams(Z[rows], maxdim, ("raw", "maxnorm"))
            for norm in ("raw", "maxnorm"):
                figures[f"diagrams_{norm}"] = plot_diagrams(
                    data.normalised(norm),
                    latent.normalised(norm),
                    dims=self.dims,
                    title=f"{title}: Rips diagrams ({norm})",
                )
        return metrics, figures


class EmbeddingEvaluator:
    """The embedding-quality measures of spec §3 on the whole evaluated split.

    ``split``: test (the tables) or validation (the hyperparameter search). ``data_mse``:
    ``last_epoch`` reproduces the original table (test MSE logged at the last epoch run, last
    partial batch dropped, QUIRK); ``best`` is the exact MSE of the evaluated model.
    ``device``: where the distances, ranks and density sums are computed: ``cpu`` (the numba
    path, :mod:`topoexp.evaluation.nldr`) or a CUDA device (:mod:`topoexp.evaluation.nldr_device`;
    the default config follows ``trainer.device``). Both give the same measures.
    """

    needs: ClassVar[frozenset[str]] = frozenset()  # the latents of any embedding

    def __init__(
        self,
        split: Literal["test", "validation"] = "test",
        k_min: Annotated[int, Ge(1)] = 10,
        k_max: Annotated[int, Ge(1)] = 200,
        k_step: Annotated[int, Ge(1)] = 10,
        sigmas: Sequence[Annotated[float, Gt(0)]] = (0.001, 0.01, 0.1, 1.0, 10.0),
        data_mse: Literal["last_epoch", "best"] = "last_epoch",
        plot: bool = True,
        diagrams: DiagramDistances | None = None,
        device: str = "cpu",
    ) -> None:
        if k_min > k_max:
            raise ArgumentError("k_min", f"need 1 ≤ k_min ≤ k_max, got {k_min}, {k_max}")
        self.split = split
        self.k_min = k_min
        self.k_max = k_max
        self.k_step = k_step
        self.sigmas = list(sigmas)
        self.data_mse = data_mse
        self.plot = plot
        self.diagrams = diagrams if diagrams is not None else DiagramDistances()
        self.device = device

    def check_size(self, n_points: int) -> None:
        """Fail before training when the evaluated split is too small for the k range."""
        if self.k_max >= n_points:
            raise ArgumentError(
                "k_max",
                f"{self.k_max} neighbours need more than the {n_points} points of the "
                f"{self.split} split; use k_max < {n_points}",
            )

    def metric_names(self) -> list[str]:
        """The metrics this evaluator reports (``*``: any suffix), for the sweep objective."""
        names = [f"kl_{s:g}" for s in self.sigmas] + ["mrre", "trust", "cont", "rmse"]
        if self.diagrams.enabled:
            names += [f"{d}_*" for d in self.diagrams.distances] + ["essential_count_diff_*"]
        return names

    def score(self, latents: Latents) -> tuple[dict[str, float], dict[str, Any]]:
        """The measures of a task's latents (``evaluators=nldr``, see
        :mod:`topoexp.evaluation.suite`)."""
        try:
            self.check_size(len(latents.latents))
        except ArgumentError as error:
            raise from_argument_error(error, "evaluators.nldr") from None
        return self(latents.inputs, latents.latents, latents.title)

    def __call__(
        self, X: np.ndarray, Z: np.ndarray, title: str
    ) -> tuple[dict[str, float], dict[str, Any]]:
        """Flat metrics of latents ``Z`` of inputs ``X`` and the figures made on the way."""
        from topoexp.evaluation.nldr import nldr_metrics

        metrics = nldr_metrics(
            X, Z, sigmas=tuple(self.sigmas), k_min=self.k_min, k_max=self.k_max,
            k_step=self.k_step, device=self.device,
        )  # fmt: skip
        figures: dict[str, Any] = {}
        if self.diagrams.enabled:
            values, figures = self.diagrams(X, Z, title)
            metrics |= values
        return {k: float(v) for k, v in metrics.items()}, figures

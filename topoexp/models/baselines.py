"""Competitor methods of the TopoAE benchmark as scikit-learn-API estimators (spec §2.6, §3.1).

``make_baseline`` returns the libraries' own estimators (sklearn PCA / TSNE / Isomap,
umap-learn UMAP) with the protocol's fixed settings as defaults; any of them can be overridden
through ``params``.

t-SNE: the original code ran MulticoreTSNE 0.1, which sklearn's Barnes-Hut ``TSNE`` follows
closely once configured as below (``TSNE_DEFAULTS``):

- ``init="random"`` (MulticoreTSNE supports no PCA init; both draw N(0, 1e-4²) starting points),
  ``early_exaggeration=12`` for the first 250 iterations with momentum 0.5 → 0.8, ``angle=0.5``;
- ``max_iter=1500`` (the spec's ``n_iter``; that name is accepted and renamed) and no early
  stopping (``n_iter_without_progress=max_iter``, ``min_grad_norm=0``): MulticoreTSNE always runs
  all iterations;
- learning rate: MulticoreTSNE (like bhtsne, FIt-SNE, openTSNE) omits the factor 4 of the KL
  gradient, so its ``learning_rate`` is 4× sklearn's. With ``lr_convention="bhtsne"`` (default)
  the given ``learning_rate`` is read in that convention — the one of the published best values —
  and divided by 4 for sklearn; ``lr_convention="sklearn"`` passes it unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sklearn.base import BaseEstimator
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE, Isomap

BASELINES = ("pca", "tsne", "umap", "isomap")

PCA_DEFAULTS: dict[str, Any] = {"n_components": 2}
TSNE_DEFAULTS: dict[str, Any] = {
    "n_components": 2,
    "max_iter": 1500,
    "init": "random",
    "early_exaggeration": 12.0,
    "angle": 0.5,
    "method": "barnes_hut",
    "metric": "euclidean",
    "min_grad_norm": 0.0,
}
# n_jobs=1: umap-learn forces a single thread whenever random_state is set (and warns otherwise).
UMAP_DEFAULTS: dict[str, Any] = {"n_components": 2, "metric": "euclidean", "n_jobs": 1}
ISOMAP_DEFAULTS: dict[str, Any] = {"n_components": 2, "n_jobs": 4}

_BHTSNE_LR_FACTOR = 4.0


def _canonical(name: str) -> str:
    key = name.lower().replace("-", "").replace("_", "")
    if key not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; expected one of {BASELINES}")
    return key


def _tsne(params: dict[str, Any]) -> TSNE:
    if "n_iter" in params:
        if "max_iter" in params:
            raise ValueError("give either n_iter or max_iter for t-SNE, not both")
        params["max_iter"] = params.pop("n_iter")
    convention = params.pop("lr_convention", "bhtsne")
    if convention not in ("bhtsne", "sklearn"):
        raise ValueError(f"lr_convention must be 'bhtsne' or 'sklearn', got {convention!r}")
    kwargs = {**TSNE_DEFAULTS, **params}
    kwargs.setdefault("n_iter_without_progress", kwargs["max_iter"])
    lr = kwargs.get("learning_rate", "auto")
    if convention == "bhtsne" and not isinstance(lr, str):
        kwargs["learning_rate"] = float(lr) / _BHTSNE_LR_FACTOR
    return TSNE(**kwargs)


def _umap(params: dict[str, Any]) -> BaseEstimator:
    from umap import UMAP  # heavy import (numba); only when asked for

    return UMAP(**{**UMAP_DEFAULTS, **params})


def make_baseline(name: str, params: Mapping[str, Any] | None = None, seed: int = 0) -> Any:
    """Build a competitor estimator.

    Args:
        name: ``pca``, ``tsne`` (also ``t-SNE``), ``umap`` or ``isomap`` (case-insensitive).
        params: constructor keyword arguments overriding the protocol defaults. For t-SNE also
            ``n_iter`` (alias of ``max_iter``) and ``lr_convention`` (see the module docstring).
        seed: passed as ``random_state`` to every estimator that takes one (PCA, t-SNE, UMAP), as
            the original code did; Isomap takes none.

    Returns:
        An unfitted estimator with ``fit`` / ``fit_transform`` (and ``transform`` /
        ``inverse_transform`` where they exist; see ``has_transform`` / ``has_inverse``).
    """
    kind = _canonical(name)
    kwargs = dict(params or {})
    if "random_state" in kwargs:
        raise ValueError("random_state is set from `seed`; do not pass it in params")
    if kind == "pca":
        estimator: Any = PCA(**{**PCA_DEFAULTS, **kwargs})
    elif kind == "tsne":
        estimator = _tsne(kwargs)
    elif kind == "umap":
        estimator = _umap(kwargs)
    else:
        estimator = Isomap(**{**ISOMAP_DEFAULTS, **kwargs})
    if "random_state" in estimator.get_params(deep=False):
        estimator.set_params(random_state=seed)
    return estimator


def has_transform(estimator: Any) -> bool:
    """Whether the fitted estimator can embed new points (t-SNE cannot)."""
    return callable(getattr(estimator, "transform", None))


def has_inverse(estimator: Any) -> bool:
    """Whether the estimator reconstructs inputs from latents, i.e. has a protocol "Data MSE".

    UMAP's ``inverse_transform`` (absent from umap-learn 0.3.10, used by the paper) is an
    approximate interpolation in the embedding, so it does not count; of the baselines only PCA
    qualifies.
    """
    if type(estimator).__module__.split(".")[0] == "umap":
        return False
    return callable(getattr(estimator, "inverse_transform", None))


__all__ = [
    "BASELINES",
    "ISOMAP_DEFAULTS",
    "PCA_DEFAULTS",
    "TSNE_DEFAULTS",
    "UMAP_DEFAULTS",
    "has_inverse",
    "has_transform",
    "make_baseline",
]

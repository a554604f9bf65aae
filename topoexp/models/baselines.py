"""Competitor methods of the TopoAE benchmark as scikit-learn-API estimators (spec §2.6, §3.1).

``make_baseline`` returns the libraries' own estimators (sklearn PCA / TSNE / Isomap,
umap-learn UMAP) with the protocol's fixed settings as defaults; any of them can be overridden
through ``params``.

t-SNE is built by ``topoexp.models.tsne`` (openTSNE or scikit-learn, configured like the
original's MulticoreTSNE).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sklearn.base import BaseEstimator
from sklearn.decomposition import PCA
from sklearn.manifold import Isomap

from topoexp.models.tsne import TSNE_DEFAULTS, make_tsne

BASELINES = ("pca", "tsne", "umap", "isomap")

PCA_DEFAULTS: dict[str, Any] = {"n_components": 2}
# n_jobs=1: umap-learn forces a single thread whenever random_state is set (and warns otherwise).
UMAP_DEFAULTS: dict[str, Any] = {"n_components": 2, "metric": "euclidean", "n_jobs": 1}
ISOMAP_DEFAULTS: dict[str, Any] = {"n_components": 2, "n_jobs": 4}


def _canonical(name: str) -> str:
    key = name.lower().replace("-", "").replace("_", "")
    if key not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; expected one of {BASELINES}")
    return key


def _umap(params: dict[str, Any]) -> BaseEstimator:
    from umap import UMAP  # heavy import (numba); only when asked for

    return UMAP(**{**UMAP_DEFAULTS, **params})


def make_baseline(name: str, params: Mapping[str, Any] | None = None, seed: int = 0) -> Any:
    """Build a competitor estimator.

    Args:
        name: ``pca``, ``tsne`` (also ``t-SNE``), ``umap`` or ``isomap`` (case-insensitive).
        params: constructor keyword arguments overriding the protocol defaults. For t-SNE also
            ``n_iter`` (alias of ``max_iter``), ``implementation`` and ``lr_convention`` (see
            ``topoexp.models.tsne``).
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
        estimator = make_tsne(kwargs)
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

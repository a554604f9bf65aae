"""Competitor methods of the TopoAE benchmark as scikit-learn-API estimators (spec §2.6, §3.1).

``pca``, ``tsne``, ``umap`` and ``isomap`` are the config targets (``conf/model/``): typed
signatures holding the keys a config may set, returning the libraries' own estimators with the
protocol's fixed settings. ``make_baseline`` builds any of them by name with any constructor
argument of the library.

t-SNE is built by ``topoexp.models.tsne`` (openTSNE or scikit-learn, configured like the
original's MulticoreTSNE).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

from annotated_types import Ge, Gt
from sklearn.base import BaseEstimator
from sklearn.decomposition import PCA
from sklearn.manifold import Isomap

from topoexp.capabilities import ENCODER, ESTIMATOR, offers
from topoexp.config.markers import BUILD_ARG
from topoexp.models.tsne import TSNE_DEFAULTS, make_tsne

PCA_DEFAULTS: dict[str, Any] = {"n_components": 2}
# n_jobs=1: umap-learn forces a single thread whenever random_state is set (and warns otherwise).
UMAP_DEFAULTS: dict[str, Any] = {"n_components": 2, "metric": "euclidean", "n_jobs": 1}
ISOMAP_DEFAULTS: dict[str, Any] = {"n_components": 2, "n_jobs": 4}

Seed = Annotated[int, BUILD_ARG]
Components = Annotated[int, Ge(1)]


@offers(ESTIMATOR, ENCODER)
def pca(n_components: Components = 2, random_state: Seed = 0) -> BaseEstimator:
    """scikit-learn's PCA (the TopoAE protocol's linear baseline)."""
    return PCA(n_components=n_components, random_state=random_state)


@offers(ESTIMATOR)
def tsne(
    n_components: Components = 2,
    perplexity: Annotated[float, Gt(0)] = 30.0,
    learning_rate: Annotated[float, Gt(0)] | None = None,
    max_iter: Annotated[int, Gt(250)] = 1500,
    init: Literal["random", "pca"] = "random",
    lr_convention: Literal["bhtsne", "sklearn"] = "bhtsne",
    implementation: Literal["opentsne", "sklearn"] = "opentsne",
    negative_gradient_method: Literal["auto", "fft", "bh"] = "auto",
    n_jobs: int = 2,
    random_state: Seed = 0,
) -> BaseEstimator:
    """t-SNE configured like the original's MulticoreTSNE (see :mod:`topoexp.models.tsne`).

    ``learning_rate=None`` is the library's automatic rate; otherwise it is read in
    ``lr_convention`` (bhtsne's is 4× smaller than scikit-learn's). The returned estimator keeps
    ``implementation`` and ``lr_convention`` as attributes, for the record.
    """
    params: dict[str, Any] = {
        "n_components": n_components,
        "perplexity": perplexity,
        "max_iter": max_iter,
        "init": init,
        "lr_convention": lr_convention,
        "implementation": implementation,
        "negative_gradient_method": negative_gradient_method,  # openTSNE's; dropped for sklearn
        "n_jobs": n_jobs,
        "random_state": random_state,
    }
    if learning_rate is not None:
        params["learning_rate"] = learning_rate
    estimator = make_tsne(params)
    estimator.implementation, estimator.lr_convention = implementation, lr_convention
    return estimator


@offers(ESTIMATOR, ENCODER)
def umap(
    n_components: Components = 2,
    n_neighbors: Annotated[int, Ge(2)] = 15,
    min_dist: Annotated[float, Ge(0)] = 0.1,
    metric: str = "euclidean",
    random_state: Seed = 0,
) -> BaseEstimator:
    """umap-learn's UMAP (imported on use: numba compilation)."""
    from umap import UMAP

    return UMAP(
        **{
            **UMAP_DEFAULTS,
            "n_components": n_components,
            "n_neighbors": n_neighbors,
            "min_dist": min_dist,
            "metric": metric,
            "random_state": random_state,
        }
    )


@offers(ESTIMATOR, ENCODER)
def isomap(
    n_components: Components = 2, n_neighbors: Annotated[int, Ge(2)] = 5, n_jobs: int = 2
) -> BaseEstimator:
    """scikit-learn's Isomap (deterministic: it takes no seed)."""
    return Isomap(n_components=n_components, n_neighbors=n_neighbors, n_jobs=n_jobs)


#: The baselines by name, for :func:`make_baseline`.
BASELINES: dict[str, Callable[..., BaseEstimator]] = {
    "pca": pca,
    "tsne": tsne,
    "umap": umap,
    "isomap": isomap,
}


def _canonical(name: str) -> str:
    key = name.lower().replace("-", "").replace("_", "")
    if key not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; expected one of {tuple(BASELINES)}")
    return key


def make_baseline(name: str, params: Mapping[str, Any] | None = None, seed: int = 0) -> Any:
    """Build a competitor estimator by name, with any of its library's constructor arguments.

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
        from umap import UMAP

        estimator = UMAP(**{**UMAP_DEFAULTS, **kwargs})
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
    "isomap",
    "make_baseline",
    "pca",
    "tsne",
    "umap",
]

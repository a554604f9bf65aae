"""t-SNE configured like the original's MulticoreTSNE 0.1, from scikit-learn or openTSNE.

The original code ran MulticoreTSNE (Barnes–Hut, bhtsne's optimiser): random N(0, 1e-4²) start,
early exaggeration 12 for the first 250 of ``n_iter=1500`` iterations with momentum 0.5 → 0.8,
angle 0.5, no early stop, and a learning rate in bhtsne's convention (its gradient omits the
factor 4 of the KL gradient, so its learning rate is 4× scikit-learn's).

``implementation`` picks the library (``model.implementation``):

- ``opentsne`` (default, chosen by ``benchmarks/bench_tsne.py``): openTSNE's optimiser is
  bhtsne's (same gains, momentum schedule and learning-rate convention). Its repulsion is
  Barnes–Hut (``theta=angle``) below 10,000 points and FFT-interpolated above
  (``negative_gradient_method="auto"``, openTSNE's rule; ``bh`` or ``fft`` force one), which is
  what makes the 51,000-point image runs affordable. openTSNE counts the exaggeration phase
  apart, so it runs 250 + 1250 iterations; its step-norm clipping, absent from MulticoreTSNE, is
  switched off.
- ``sklearn``: scikit-learn's Barnes–Hut ``TSNE`` with the same schedule; a ``learning_rate`` in
  bhtsne's convention (``lr_convention="bhtsne"``, default) is divided by 4.

``learning_rate`` absent or ``"auto"`` uses each library's automatic rate.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.manifold import TSNE

IMPLEMENTATIONS = ("opentsne", "sklearn")
LR_CONVENTIONS = ("bhtsne", "sklearn")
EXAGGERATION_ITER = 250  # MulticoreTSNE's stop_lying_iter

TSNE_DEFAULTS: dict[str, Any] = {
    "n_components": 2,
    "perplexity": 30.0,
    "max_iter": 1500,
    "init": "random",
    "early_exaggeration": 12.0,
    "angle": 0.5,
    "metric": "euclidean",
}
_BHTSNE_LR_FACTOR = 4.0


class OpenTSNE(BaseEstimator):
    """openTSNE behind scikit-learn's ``fit_transform``, with MulticoreTSNE's schedule.

    Like MulticoreTSNE it has no ``transform``: the protocol evaluates t-SNE on its own
    training points (spec §3.1).
    """

    def __init__(
        self,
        n_components: int = 2,
        perplexity: float = 30.0,
        learning_rate: float | str = "auto",
        max_iter: int = 1500,
        init: str = "random",
        early_exaggeration: float = 12.0,
        angle: float = 0.5,
        metric: str = "euclidean",
        negative_gradient_method: str = "auto",
        n_jobs: int = 1,
        random_state: int | None = None,
    ) -> None:
        self.n_components = n_components
        self.perplexity = perplexity
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.init = init
        self.early_exaggeration = early_exaggeration
        self.angle = angle
        self.metric = metric
        self.negative_gradient_method = negative_gradient_method
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _estimator(self):
        from openTSNE import TSNE as _OpenTSNE  # import on use: numba/FFT set-up

        return _OpenTSNE(
            n_components=self.n_components,
            perplexity=self.perplexity,
            learning_rate=self.learning_rate,
            early_exaggeration_iter=EXAGGERATION_ITER,
            early_exaggeration=self.early_exaggeration,
            n_iter=self.max_iter - EXAGGERATION_ITER,
            theta=self.angle,
            initialization=self.init,
            metric=self.metric,
            initial_momentum=0.5,
            final_momentum=0.8,
            max_step_norm=None,
            negative_gradient_method=self.negative_gradient_method,
            n_jobs=self.n_jobs,
            random_state=self.random_state,
        )

    def fit_transform(self, X: np.ndarray, y: Any = None) -> np.ndarray:
        embedding = self._estimator().fit(np.asarray(X, dtype=np.float64))
        self.embedding_ = np.asarray(embedding, dtype=np.float64)
        self.kl_divergence_ = float(embedding.kl_divergence)
        return self.embedding_

    def fit(self, X: np.ndarray, y: Any = None) -> OpenTSNE:
        self.fit_transform(X)
        return self


def make_tsne(params: dict[str, Any]) -> BaseEstimator:
    """An unfitted t-SNE from ``params`` (see the module docstring); ``n_iter`` = ``max_iter``."""
    params = dict(params)
    if "n_iter" in params:
        if "max_iter" in params:
            raise ValueError("give either n_iter or max_iter for t-SNE, not both")
        params["max_iter"] = params.pop("n_iter")
    implementation = params.pop("implementation", "opentsne")
    convention = params.pop("lr_convention", "bhtsne")
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(f"implementation must be one of {IMPLEMENTATIONS}, got {implementation!r}")
    if convention not in LR_CONVENTIONS:
        raise ValueError(f"lr_convention must be one of {LR_CONVENTIONS}, got {convention!r}")
    kwargs = {**TSNE_DEFAULTS, **params}
    if kwargs["max_iter"] <= EXAGGERATION_ITER:
        raise ValueError(f"max_iter must exceed the {EXAGGERATION_ITER} exaggeration iterations")
    lr = kwargs.get("learning_rate", "auto")
    if implementation == "opentsne":
        if convention == "sklearn" and not isinstance(lr, str):
            kwargs["learning_rate"] = float(lr) * _BHTSNE_LR_FACTOR
        return OpenTSNE(**kwargs)
    kwargs.pop("negative_gradient_method", None)
    kwargs.update(method="barnes_hut", min_grad_norm=0.0)
    kwargs.setdefault("n_iter_without_progress", kwargs["max_iter"])
    if convention == "bhtsne" and not isinstance(lr, str):
        kwargs["learning_rate"] = float(lr) / _BHTSNE_LR_FACTOR
    return TSNE(**kwargs)


__all__ = ["IMPLEMENTATIONS", "LR_CONVENTIONS", "TSNE_DEFAULTS", "OpenTSNE", "make_tsne"]

"""One-class baselines on the same footing as COREL's count scorer: OC-SVM and Gaussian KDE.

Both score features of any kind (a backbone's latents, e.g. the λ = 0 autoencoder's for the
paper's "OC-SVM (CAE)", or raw pixels flattened) with exactly the support sets of
:func:`~topoexp.evaluation.one_class.draw_support_indices` (same seed, same classes, runs and
``m``), so their AUCs pair with the count scorer's. Every hyperparameter is fixed by a rule that
sees only the support set of the class being modelled, never a test label:

- **OC-SVM** (:class:`sklearn.svm.OneClassSVM`, RBF kernel): ``ν = 0.1`` (a fixed prior on the
  outlier fraction of the support set; Deep SVDD's grid is {0.01, 0.1}) and
  ``γ = 1 / (d · Var(S))`` with ``Var(S)`` the variance of all entries of the support set ``S``
  (scikit-learn's ``gamma="scale"`` rule, evaluated on ``S``). Score: ``decision_function``.
- **Gaussian KDE**: ``log p(x) = logsumexp_j(−‖x − s_j‖² / 2h²) − log m − (d/2) log(2πh²)``, the
  density of :class:`sklearn.neighbors.KernelDensity` (``kernel="gaussian"``), evaluated exactly
  with one matrix product per set. Bandwidth by Scott's rule ``h = σ̄ · m^(−1/(d+4))`` (default)
  or Silverman's ``h = σ̄ · (m (d + 2) / 4)^(−1/(d+4))``, where ``σ̄`` is the root of the mean
  per-feature variance of ``S``; or ``"cv"``: the factor of a log grid (¼ … 4) times Scott's ``h``
  with the best 5-fold held-out log-likelihood on ``S``; or a number. Score: the log density.

  scikit-learn's own ``score_samples`` is not used: its tree traversal returns wrong log
  densities when ``h`` is small against the distances, which is the regime of Scott's rule on
  pixels (scikit-learn issues #25799 and #7492; on 120 MNIST zeros at ``h = 0.25`` its kd-tree
  result is uncorrelated with the exact one). Where the tree is accurate the two agree (tested).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import logsumexp
from sklearn.model_selection import KFold
from sklearn.svm import OneClassSVM

from topoexp.evaluation.one_class import (
    OneClassResult,
    class_aucs,
    draw_support_indices,
)

__all__ = [
    "BASELINES",
    "kde_bandwidth",
    "kde_scores",
    "ocsvm_gamma",
    "ocsvm_scores",
    "one_class_baseline_eval",
]

BASELINES = ("ocsvm", "kde")
_BANDWIDTH_RULES = ("scott", "silverman", "cv")
_CV_FACTORS = np.geomspace(0.25, 4.0, 9)


def ocsvm_gamma(support: np.ndarray) -> float:
    """``1 / (d · Var(S))``; 1.0 for a constant support set."""
    var = float(np.var(support))
    return 1.0 / (support.shape[1] * var) if var > 0 else 1.0


def ocsvm_scores(support: np.ndarray, test: np.ndarray, nu: float = 0.1) -> np.ndarray:
    """OC-SVM decision values of ``test`` after fitting on ``support`` (higher = more normal)."""
    support = np.asarray(support, dtype=np.float64)
    model = OneClassSVM(kernel="rbf", nu=nu, gamma=ocsvm_gamma(support))
    return model.fit(support).decision_function(np.asarray(test, dtype=np.float64))


def kde_bandwidth(support: np.ndarray, rule: str | float = "scott") -> float:
    """The Gaussian KDE bandwidth of ``support`` by ``rule`` (module docstring)."""
    support = np.asarray(support, dtype=np.float64)
    if not isinstance(rule, str):
        if not float(rule) > 0:
            raise ValueError(f"bandwidth must be > 0, got {rule!r}")
        return float(rule)
    if rule not in _BANDWIDTH_RULES:
        raise ValueError(f"bandwidth must be a number or one of {_BANDWIDTH_RULES}, got {rule!r}")
    m, d = support.shape
    sigma = float(np.sqrt(support.var(axis=0).mean())) if m > 1 else 1.0
    sigma = sigma if sigma > 0 else 1.0
    scott = sigma * m ** (-1.0 / (d + 4))
    if rule == "scott":
        return scott
    if rule == "silverman":
        return sigma * (m * (d + 2) / 4.0) ** (-1.0 / (d + 4))
    folds = min(5, m)
    if folds < 2:
        return scott
    grid = scott * _CV_FACTORS
    loglik = np.zeros(len(grid))
    for fit, held in KFold(folds).split(support):
        sq = _squared_distances(support[held], support[fit])
        loglik += [_gaussian_log_density(sq, h, d).sum() for h in grid]
    return float(grid[int(np.argmax(loglik))])


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``‖a_i − b_j‖²`` in float64 by one matrix product, clipped at 0."""
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None] - 2.0 * (a @ b.T)
    return np.maximum(sq, 0.0, out=sq)


def _gaussian_log_density(sq: np.ndarray, h: float, d: int) -> np.ndarray:
    """Log density of a Gaussian KDE from the ``(n, m)`` squared distances to its ``m`` points."""
    log_norm = np.log(sq.shape[1]) + 0.5 * d * np.log(2.0 * np.pi * h * h)
    return logsumexp(-sq / (2.0 * h * h), axis=1) - log_norm


def kde_scores(
    support: np.ndarray, test: np.ndarray, bandwidth: str | float = "scott"
) -> np.ndarray:
    """Gaussian KDE log densities of ``test`` under the ``support`` set (exact)."""
    support = np.asarray(support, dtype=np.float64)
    test = np.asarray(test, dtype=np.float64)
    h = kde_bandwidth(support, bandwidth)
    return _gaussian_log_density(_squared_distances(test, support), h, support.shape[1])


def one_class_baseline_eval(
    train_features: np.ndarray,
    train_labels: np.ndarray,
    test_features: np.ndarray,
    test_labels: np.ndarray,
    method: str = "ocsvm",
    m_values: Sequence[int | str] = (80, 120, 500),
    runs: int = 5,
    seed: int = 0,
    classes: Sequence[int] | None = None,
    nu: float = 0.1,
    bandwidth: str | float = "scott",
) -> dict[str, OneClassResult]:
    """AUCs of an OC-SVM or KDE per class, run and ``m``, on COREL's support draws.

    Features are flattened to ``(N, d)`` (images become pixel vectors). One model is fitted per
    (m, run, class) on its support set. Returns ``{m_key(m): OneClassResult}`` with
    ``support_latents`` left empty (the indices identify the support sets).
    """
    if method not in BASELINES:
        raise ValueError(f"method must be one of {BASELINES}, got {method!r}")
    if not 0 < float(nu) <= 1:
        raise ValueError(f"nu must be in (0, 1], got {nu!r}")
    kde_bandwidth(np.zeros((2, 1)), bandwidth)  # validate before any fitting
    train = np.asarray(train_features).reshape(len(train_features), -1)
    test = np.asarray(test_features).reshape(len(test_features), -1)
    train_labels = np.asarray(train_labels)
    classes_arr = np.unique(train_labels) if classes is None else np.asarray(classes)
    draws = draw_support_indices(train_labels, m_values, runs, seed, classes_arr)
    results: dict[str, OneClassResult] = {}
    for key, indices in draws.items():
        scores = np.empty((*indices.shape[:2], len(test)))
        for r in range(indices.shape[0]):
            for k in range(indices.shape[1]):
                idx = indices[r, k]
                support = train[idx[idx >= 0]]
                if method == "ocsvm":
                    scores[r, k] = ocsvm_scores(support, test, nu=nu)
                else:
                    scores[r, k] = kde_scores(support, test, bandwidth=bandwidth)
        results[key] = OneClassResult(
            m=key,
            classes=classes_arr,
            auc=class_aucs(scores, test_labels, classes_arr),
            indices=indices,
        )
    return results

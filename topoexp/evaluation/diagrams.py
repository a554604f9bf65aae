"""Distances between the Vietoris–Rips persistence diagrams of data and latent space.

The reproduction study (``papers/topoae_reproduction_study.md`` §4.2.1) found that raw bottleneck
and Wasserstein distances between the diagrams of the data and of a 2-D embedding mostly measure
the *scale gap* between the two clouds: every point ends up matched to the diagonal. This module
reports each distance under named scale normalisations so that gap can be seen and removed.

Conventions (each a decision; the measurements behind them are in ``benchmarks/bench_diagrams.py``):

- **Engine**: ripser.py on the dense Euclidean distance matrix. It gives the same diagrams as
  gudhi's ``RipsComplex`` (tested) and is about 4x faster than gudhi with edge collapses, and
  hundreds of times faster than gudhi without them, on the 1000-point SPHERES test split.
  ripser works in float32, so diagram values carry about 7 significant digits.
- **Ground metric** ``internal_p = inf`` (L∞ between diagram points): the convention of the
  stability theorems, of gudhi's and Hera's defaults, and the one under which the bottleneck
  distance is the q → ∞ limit of W_q. A point's distance to the diagonal is half its persistence.
  (persim's ``wasserstein`` uses L2; the tests use it as a check with ``internal_p=2``.)
- **Bottleneck**: ``gudhi.bottleneck_distance`` with ``e=None`` (gudhi's default, the smallest
  positive double: exact up to the last 2–3 bits of the mantissa) — 5–10x faster than ``e=0``
  on the SPHERES H0 diagrams, with the same value to 1e-15 relative; ``bottleneck_e=0`` is
  available.
- **Wasserstein** W1 and W2, exact: the POT network simplex behind
  ``gudhi.wasserstein.wasserstein_distance`` (order and internal_p always passed explicitly:
  gudhi's defaults changed across versions), except for diagrams whose points all share one birth
  — every Rips H0 diagram — where POT needs about 8 s per call on 1000-point SPHERES diagrams and
  an exact O(n m) dynamic programme (:func:`_wasserstein_common_birth`, tested against POT) takes
  milliseconds. Hera (``gudhi.hera``, ``wasserstein_backend="hera"``) is as fast but approximate
  and can stall on nearly identical diagrams with order 2, so it is opt-in only.
- **Sliced Wasserstein** (Carrière et al. 2017): a vectorised implementation averaging over
  ``n_directions`` evenly spaced directions θ_k = -π/2 + kπ/M of the half circle (deterministic,
  the same grid as ``persim.sliced_wasserstein``, which it equals; ``gudhi.representations``
  silently uses M-1 directions). Random directions are available with ``seed=``.
- **Essential (infinite) bars** are never left to a library: the distance functions reject
  non-finite input, and :func:`compare_diagrams` applies a named policy first (:data:`ESSENTIAL`):
  ``"drop"`` (default) removes them from both diagrams and reports the difference in their counts
  separately (``essential_count_diff_h{k}``); ``"cap"`` replaces an infinite death by the cloud's
  diameter (the Rips complex is a full simplex there, so every class is dead), which makes the
  essential H0 bar ``(0, diam)`` and adds the diameter gap to raw distances (it vanishes under
  ``maxnorm``); ``"error"`` raises if any is present.
- **Normalisations** (:func:`normalisation_scale`): ``raw``; ``maxnorm`` divides each cloud's
  distances by its maximum pairwise distance; ``pXX`` by its XX-th percentile of pairwise
  distances (``p50`` = median). Rips filtration values are distances, so normalising a cloud
  divides its diagrams by the same constant: persistent homology is computed once per cloud.
  Normalising removes the global scale gap, not the effect of dimension: on SPHERES (101-D) the
  median H0 death is 56% of the diameter (distances concentrate), in its 2-D PCA 1%, so the
  normalised H0 distances stay large (bottleneck_h0_maxnorm 0.31) while H1 ones shrink.
"""

from __future__ import annotations

import functools
import math
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import gudhi
import numpy as np
import ripser
from gudhi.hera import wasserstein_distance as _hera_wasserstein
from scipy.spatial.distance import pdist, squareform

__all__ = [
    "DISTANCES",
    "ESSENTIAL",
    "CloudDiagrams",
    "bottleneck",
    "cloud_diagrams",
    "compare_diagrams",
    "diagram_distance",
    "diagram_metrics",
    "handle_essential",
    "normalisation_scale",
    "rips_diagrams",
    "sliced_wasserstein",
    "split_essential",
    "subsample_indices",
    "wasserstein",
]

Essential = Literal["drop", "cap", "error"]
WassersteinBackend = Literal["exact", "pot", "hera"]

ESSENTIAL: tuple[str, ...] = ("drop", "cap", "error")
DISTANCES: tuple[str, ...] = ("bottleneck", "wasserstein1", "wasserstein2", "sliced_wasserstein")
_PERCENTILE = re.compile(r"^p(\d+(?:\.\d+)?)$")


# --------------------------------------------------------------------------------------------
# Diagrams


def _as_diagram(dgm: np.ndarray) -> np.ndarray:
    """A float64 (n, 2) array of (birth, death) pairs."""
    arr = np.asarray(dgm, dtype=np.float64)
    if arr.size == 0:
        return np.empty((0, 2))
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"a persistence diagram must have shape (n, 2), got {arr.shape}")
    return arr


def rips_diagrams(
    X: np.ndarray, maxdim: int = 1, *, distance_matrix: bool = False
) -> list[np.ndarray]:
    """Vietoris–Rips persistence diagrams (dims ``0..maxdim``, Z/2) of a Euclidean point cloud.

    ``X`` is an (n, d) point cloud, or an (n, n) distance matrix if ``distance_matrix``. Returns
    float64 (n_k, 2) arrays; H0 contains its essential bar ``(0, inf)``; zero-length bars (e.g.
    from duplicate points) are omitted, as gudhi does by default. Engine: ripser.py (float32).
    """
    D = np.asarray(X, dtype=np.float64)
    if not distance_matrix:
        D = squareform(pdist(D))
    return [_as_diagram(d) for d in ripser.ripser(D, maxdim=maxdim, distance_matrix=True)["dgms"]]


def normalisation_scale(distances: np.ndarray, name: str) -> float:
    """The divisor of normalisation ``name`` for a cloud with condensed pairwise ``distances``.

    ``raw`` → 1; ``maxnorm`` → the largest distance; ``pXX`` → the XX-th percentile (0 < XX ≤ 100).
    """
    if name == "raw":
        return 1.0
    if len(distances) == 0:
        raise ValueError("normalisation needs at least two points")
    if name == "maxnorm":
        scale = float(np.max(distances))
    elif match := _PERCENTILE.match(name):
        q = float(match.group(1))
        if not 0.0 < q <= 100.0:
            raise ValueError(f"percentile of {name!r} must lie in (0, 100]")
        scale = float(np.percentile(distances, q))
    else:
        raise ValueError(f"unknown normalisation {name!r}; expected raw, maxnorm or pXX (e.g. p50)")
    if not scale > 0.0:
        raise ValueError(f"normalisation {name!r} has scale {scale}: the cloud is degenerate")
    return scale


@dataclass(frozen=True)
class CloudDiagrams:
    """The Rips diagrams of one point cloud, computed once, with its normalisation scales.

    Attributes:
        diagrams: raw diagrams, dims ``0..maxdim`` (H0 includes its essential bar).
        diameter: the largest pairwise distance (the cap of essential bars under ``"cap"``).
        scales: divisor of each requested normalisation.
    """

    diagrams: list[np.ndarray]
    diameter: float
    scales: dict[str, float] = field(default_factory=dict)

    def normalised(self, name: str) -> list[np.ndarray]:
        """The diagrams divided by the scale of normalisation ``name``."""
        return [d / self.scales[name] for d in self.diagrams]

    def cap(self, name: str) -> float:
        """The diameter in the units of normalisation ``name``."""
        return self.diameter / self.scales[name]


def cloud_diagrams(
    X: np.ndarray, maxdim: int = 1, normalisations: Sequence[str] = ("raw",)
) -> CloudDiagrams:
    """Pairwise distances, Rips diagrams and normalisation scales of one point cloud."""
    X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    distances = pdist(X)
    scales = {name: normalisation_scale(distances, name) for name in normalisations}
    diagrams = rips_diagrams(squareform(distances), maxdim, distance_matrix=True)
    diameter = float(distances.max()) if len(distances) else 0.0
    return CloudDiagrams(diagrams, diameter, scales)


# --------------------------------------------------------------------------------------------
# Essential bars


def split_essential(dgm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split a diagram into its finite points and its essential points (infinite death)."""
    dgm = _as_diagram(dgm)
    if not np.all(np.isfinite(dgm[:, 0])):
        raise ValueError("births must be finite")
    essential = ~np.isfinite(dgm[:, 1])
    if np.any(dgm[essential, 1] < 0):
        raise ValueError("a death of -inf is not a valid bar")
    return dgm[~essential], dgm[essential]


def handle_essential(
    dgm1: np.ndarray,
    dgm2: np.ndarray,
    essential: Essential = "drop",
    caps: tuple[float, float] | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Apply an essential-bar policy to a pair of diagrams.

    Returns the two finite diagrams to compare and ``|#essential(dgm1) - #essential(dgm2)|``.
    ``"drop"`` removes essential bars; ``"cap"`` sets their death to ``caps[i]`` (the diameter of
    cloud i, or its birth if that is larger); ``"error"`` raises if any is present.
    """
    (f1, e1), (f2, e2) = split_essential(dgm1), split_essential(dgm2)
    count_diff = abs(len(e1) - len(e2))
    if essential == "drop":
        return f1, f2, count_diff
    if essential == "error":
        if len(e1) or len(e2):
            raise ValueError(f"diagrams have {len(e1)} and {len(e2)} essential bars")
        return f1, f2, count_diff
    if essential == "cap":
        if caps is None:
            raise ValueError('essential="cap" needs the caps (diameters) of both clouds')
        capped = [
            np.vstack([f, np.c_[e[:, 0], np.maximum(e[:, 0], cap)]])
            for f, e, cap in ((f1, e1, caps[0]), (f2, e2, caps[1]))
        ]
        return capped[0], capped[1], count_diff
    raise ValueError(f"unknown essential policy {essential!r}; expected one of {ESSENTIAL}")


# --------------------------------------------------------------------------------------------
# Distances between two finite diagrams


def _finite_pair(dgm1: np.ndarray, dgm2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d1, d2 = _as_diagram(dgm1), _as_diagram(dgm2)
    if not (np.all(np.isfinite(d1)) and np.all(np.isfinite(d2))):
        raise ValueError(
            "diagrams contain non-finite values; apply an essential policy first "
            "(handle_essential / compare_diagrams)"
        )
    return d1, d2


def bottleneck(dgm1: np.ndarray, dgm2: np.ndarray, *, e: float | None = None) -> float:
    """Bottleneck distance (L∞ ground metric) of two finite diagrams, ``gudhi.bottleneck_distance``.

    ``e=None``: gudhi's near-exact default (error in the last bits of the mantissa); ``e=0``: exact.
    """
    d1, d2 = _finite_pair(dgm1, dgm2)
    return float(gudhi.bottleneck_distance(d1, d2, e))


def _diagonal_cost(persistence: np.ndarray, internal_p: float) -> np.ndarray:
    """L^p distance from points of the given persistence to their projection on the diagonal."""
    factor = 0.5 if math.isinf(internal_p) else 0.5 * 2.0 ** (1.0 / internal_p)
    return factor * persistence


def _wasserstein_common_birth(
    deaths1: np.ndarray, deaths2: np.ndarray, births: float, order: float, internal_p: float
) -> float:
    """Exact W_q of two diagrams whose points all share one birth (e.g. Rips H0), in O(n m).

    The points lie on one vertical line, so a matched pair costs ``|d - d'|^q`` for every L^p
    ground metric. That cost is Monge (convex in the difference), so some optimal matching is
    monotone in the sorted deaths; a points-or-diagonal alignment DP over the sorted sequences finds
    it. Each row is one vectorised prefix-minimum:
    ``F[i, j] = B[j] + min_{k<=j} (t[k] - B[k])``, B the cumulative diagonal costs of ``deaths2``.
    """
    x, y = np.sort(deaths1), np.sort(deaths2)
    cost_x = _diagonal_cost(x - births, internal_p) ** order
    cost_y = np.concatenate([[0.0], _diagonal_cost(y - births, internal_p) ** order])
    cum_y = np.cumsum(cost_y)
    row = cum_y.copy()  # F[0, j]: the first j points of y all go to the diagonal
    for xi, ci in zip(x, cost_x, strict=True):
        t = row + ci  # x_i to the diagonal
        t[1:] = np.minimum(t[1:], row[:-1] + np.abs(xi - y) ** order)  # x_i matched to y_j
        row = cum_y + np.minimum.accumulate(t - cum_y)  # then y_j ... to the diagonal
    return float(max(row[-1], 0.0) ** (1.0 / order))


def _pot_wasserstein(*args, **kwargs) -> float:
    """``gudhi.wasserstein.wasserstein_distance``, imported when first used: it imports POT
    (a 33 MB wheel), which only the ``pot`` backend needs."""
    from gudhi.wasserstein import wasserstein_distance

    return wasserstein_distance(*args, **kwargs)


def _pot_wasserstein_checked(
    dgm1: np.ndarray, dgm2: np.ndarray, order: float, internal_p: float
) -> float:
    """gudhi's POT solver; a POT warning (e.g. ``numItermax`` reached: inexact) is an error."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = _pot_wasserstein(
            dgm1, dgm2, order=order, internal_p=internal_p, keep_essential_parts=False
        )
    if caught:
        raise RuntimeError(f"POT did not solve the transport exactly: {caught[0].message}")
    return float(value)


def wasserstein(
    dgm1: np.ndarray,
    dgm2: np.ndarray,
    *,
    order: float = 1.0,
    internal_p: float = math.inf,
    backend: WassersteinBackend = "exact",
    delta: float = 1e-6,
) -> float:
    """q-Wasserstein distance (q = ``order``, L^internal_p ground metric) of two finite diagrams.

    Backends: ``"exact"`` (default) solves diagrams whose points all share one birth (Rips H0)
    with an exact O(n m) dynamic programme and everything else with ``"pot"``, the exact network
    simplex behind ``gudhi.wasserstein.wasserstein_distance`` (a POT warning raises). ``"hera"`` is
    ``gudhi.hera.wasserstein_distance`` with relative error ``delta``: fast, but it can run for
    minutes on nearly identical diagrams with ``order=2``, so it is never the default.
    """
    d1, d2 = _finite_pair(dgm1, dgm2)
    if order < 1.0:
        raise ValueError(f"order must be >= 1, got {order}")
    if backend == "exact":
        births = np.concatenate([d1[:, 0], d2[:, 0]])
        if len(births) and np.all(births == births[0]):
            return _wasserstein_common_birth(d1[:, 1], d2[:, 1], births[0], order, internal_p)
        backend = "pot"
    if backend == "pot":
        return _pot_wasserstein_checked(d1, d2, order, internal_p)
    if backend == "hera":
        return float(_hera_wasserstein(d1, d2, order=order, internal_p=internal_p, delta=delta))
    raise ValueError(f"unknown Wasserstein backend {backend!r}; expected exact, pot or hera")


def _directions(n_directions: int, seed: int | None) -> np.ndarray:
    """Angles of the projection lines: an even grid of [-π/2, π/2), or uniform draws if seeded."""
    if n_directions < 1:
        raise ValueError("n_directions must be >= 1")
    if seed is None:
        return -np.pi / 2 + np.pi * np.arange(n_directions) / n_directions
    return np.random.default_rng(seed).uniform(-np.pi / 2, np.pi / 2, n_directions)


def _sliced_wasserstein_at(dgm1: np.ndarray, dgm2: np.ndarray, thetas: np.ndarray) -> float:
    """Mean over ``thetas`` of the 1-D W1 between the projections, diagonal points exchanged."""
    lines = np.stack([np.cos(thetas), np.sin(thetas)])  # (2, M)
    diag1 = np.repeat(dgm1.sum(axis=1, keepdims=True) / 2, 2, axis=1)
    diag2 = np.repeat(dgm2.sum(axis=1, keepdims=True) / 2, 2, axis=1)
    a = np.sort(np.vstack([dgm1, diag2]) @ lines, axis=0)
    b = np.sort(np.vstack([dgm2, diag1]) @ lines, axis=0)
    return float(np.abs(a - b).sum(axis=0).mean())


def sliced_wasserstein(
    dgm1: np.ndarray, dgm2: np.ndarray, *, n_directions: int = 50, seed: int | None = None
) -> float:
    """Sliced Wasserstein distance (Carrière, Cuturi & Oudot 2017) of two finite diagrams.

    The integral over directions is the mean over ``n_directions`` evenly spaced angles in
    [-π/2, π/2) (the grid of ``persim.sliced_wasserstein``), or over uniform random angles drawn
    with ``seed``.
    """
    d1, d2 = _finite_pair(dgm1, dgm2)
    return _sliced_wasserstein_at(d1, d2, _directions(n_directions, seed))


def diagram_distance(
    name: str,
    dgm1: np.ndarray,
    dgm2: np.ndarray,
    *,
    internal_p: float = math.inf,
    bottleneck_e: float | None = None,
    wasserstein_backend: WassersteinBackend = "exact",
    n_directions: int = 50,
) -> float:
    """Distance ``name`` (one of :data:`DISTANCES`) between two finite diagrams."""
    if name == "bottleneck":
        return bottleneck(dgm1, dgm2, e=bottleneck_e)
    if name in ("wasserstein1", "wasserstein2"):
        order = float(name[-1])
        return wasserstein(
            dgm1, dgm2, order=order, internal_p=internal_p, backend=wasserstein_backend
        )
    if name == "sliced_wasserstein":
        return sliced_wasserstein(dgm1, dgm2, n_directions=n_directions)
    raise ValueError(f"unknown diagram distance {name!r}; expected one of {DISTANCES}")


# --------------------------------------------------------------------------------------------
# Metric dicts


def compare_diagrams(
    dgms1: Sequence[np.ndarray],
    dgms2: Sequence[np.ndarray],
    *,
    dims: Sequence[int] = (0, 1),
    distances: Sequence[str] = DISTANCES,
    essential: Essential = "drop",
    caps: tuple[float, float] | None = None,
    suffix: str = "",
    **distance_options: object,
) -> dict[str, float]:
    """Distances between two lists of diagrams (indexed by dimension) as a flat dict.

    Keys: ``{distance}_h{dim}{suffix}``, and ``essential_count_diff_h{dim}`` (scale-free, so
    never suffixed).
    ``distance_options`` go to :func:`diagram_distance`.
    """
    metrics: dict[str, float] = {}
    for dim in dims:
        d1, d2, count_diff = handle_essential(dgms1[dim], dgms2[dim], essential, caps)
        for name in distances:
            metrics[f"{name}_h{dim}{suffix}"] = diagram_distance(name, d1, d2, **distance_options)
        metrics[f"essential_count_diff_h{dim}"] = float(count_diff)
    return metrics


def subsample_indices(n: int, size: int | None, n_subsamples: int, seed: int) -> list[np.ndarray]:
    """Index sets to evaluate on: all ``n`` points, or ``n_subsamples`` seeded random subsets."""
    if size is None:
        if n_subsamples != 1:
            raise ValueError("n_subsamples > 1 needs a subsample_size")
        return [np.arange(n)]
    if not 2 <= size <= n:
        raise ValueError(f"subsample_size must lie in [2, {n}], got {size}")
    if n_subsamples < 1:
        raise ValueError("n_subsamples must be >= 1")
    rng = np.random.default_rng(seed)
    return [np.sort(rng.choice(n, size=size, replace=False)) for _ in range(n_subsamples)]


def _suffix(normalisation: str) -> str:
    return "" if normalisation == "raw" else f"_{normalisation}"


def _single_metrics(
    X: np.ndarray,
    Z: np.ndarray,
    maxdim: int,
    normalisations: Sequence[str],
    compare: Callable[..., dict[str, float]],
) -> dict[str, float]:
    """Metrics of one (sub)sample: PH once per cloud, then every normalisation."""
    cx, cz = cloud_diagrams(X, maxdim, normalisations), cloud_diagrams(Z, maxdim, normalisations)
    metrics: dict[str, float] = {}
    for norm in normalisations:
        caps = (cx.cap(norm), cz.cap(norm))
        metrics |= compare(
            cx.normalised(norm), cz.normalised(norm), caps=caps, suffix=_suffix(norm)
        )
    return metrics


def diagram_metrics(
    X: np.ndarray,
    Z: np.ndarray,
    *,
    dims: Sequence[int] = (0, 1),
    distances: Sequence[str] = DISTANCES,
    normalisations: Sequence[str] = ("raw", "maxnorm", "p50"),
    n_directions: int = 50,
    subsample_size: int | None = None,
    n_subsamples: int = 1,
    seed: int = 0,
    essential: Essential = "drop",
    internal_p: float = math.inf,
    bottleneck_e: float | None = None,
    wasserstein_backend: WassersteinBackend = "exact",
) -> dict[str, float]:
    """Distances between the Rips diagrams of data ``X`` and latents ``Z`` (rows paired).

    Keys ``{distance}_h{dim}`` for ``raw`` and ``{distance}_h{dim}_{normalisation}`` otherwise
    (e.g. ``bottleneck_h0``, ``sliced_wasserstein_h1_maxnorm``, ``wasserstein1_h0_p50``), plus
    ``essential_count_diff_h{dim}``. With ``subsample_size``, each value is the
    mean over ``n_subsamples`` seeded random subsets of the same rows of X and Z, and
    ``{key}_std`` (population std) is added when ``n_subsamples > 1``.
    """
    X, Z = np.asarray(X), np.asarray(Z)
    if len(X) != len(Z):
        raise ValueError(f"X and Z must have the same number of rows, got {len(X)} and {len(Z)}")
    if not dims or min(dims) < 0:
        raise ValueError(f"dims must be non-negative dimensions, got {dims}")
    for name in distances:
        if name not in DISTANCES:
            raise ValueError(f"unknown diagram distance {name!r}; expected one of {DISTANCES}")
    if essential not in ESSENTIAL:
        raise ValueError(f"unknown essential policy {essential!r}; expected one of {ESSENTIAL}")

    compare = functools.partial(
        compare_diagrams,
        dims=dims,
        distances=distances,
        essential=essential,
        internal_p=internal_p,
        bottleneck_e=bottleneck_e,
        wasserstein_backend=wasserstein_backend,
        n_directions=n_directions,
    )
    runs = [
        _single_metrics(X[idx], Z[idx], max(dims), normalisations, compare)
        for idx in subsample_indices(len(X), subsample_size, n_subsamples, seed)
    ]
    values = {key: np.array([run[key] for run in runs]) for key in runs[0]}
    metrics = {key: float(v.mean()) for key, v in values.items()}
    if len(runs) > 1:
        metrics |= {f"{key}_std": float(v.std()) for key, v in values.items()}
    return metrics

"""COREL's one-class protocol: count scores in ℓ1 balls around stored latents (spec §A.5).

For a class ``c`` and a run, ``m`` training samples of ``c`` are drawn without replacement and
encoded; their latents are stored. A test sample's score is

    s(x) = agg_b #{ j : ‖z_b(x) − z_b(x_j)‖_1 ≤ r },

the number of stored branch-``b`` latents in the closed ℓ1 ball of radius ``r`` (= η, 2.0) around
its own branch-``b`` latent, aggregated over branches by ``sum`` (the paper), ``max`` or ``mean``.
The AUC of class ``c`` is ``roc_auc_score(test_labels == c, s)``; a data set's number is the mean
over classes of the mean over runs.

Sampling: each (run, class) draws one random permutation of the class's training indices from a
seeded generator, and the support set for every ``m`` is its first ``min(m, n_c)`` entries. Each
support set is therefore a uniform draw without replacement, as in the original (which draws each
``m`` independently and unseeded); the sets of one run are nested across ``m``, which makes the
comparison between values of ``m`` paired and lets one pass over the largest ``m`` count all of
them. ``nested=False`` draws every ``m`` independently, as the original does (seeded here).
``m = "all"`` uses every training sample of the class, in a single run (every run would draw the
same set).

Counting is one numba kernel over (test points × branches × stored latents), blocked so each stored
segment stays in cache while a block of test points passes over it; no Python loop over test
points, classes or runs.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numba import njit, prange
from sklearn.metrics import roc_auc_score

__all__ = [
    "AGGREGATIONS",
    "OneClassResult",
    "class_aucs",
    "count_scores",
    "draw_support_indices",
    "m_key",
    "one_class_arrays",
    "one_class_count_eval",
    "one_class_metrics",
]

AGGREGATIONS = ("sum", "max", "mean")
_AGG_CODE = {name: k for k, name in enumerate(AGGREGATIONS)}
_BLOCK = 16  # test points per block of the kernel
_SCORE_BYTES = 2**28  # bound on the scores held at once (classes are evaluated in chunks)


def m_key(m: int | str) -> str:
    """The name of a support size in metric and array keys: ``80`` → ``"80"``, ``"all"``."""
    return str(m)


def _check_m(m_values: Sequence[int | str]) -> list[int | str]:
    out: list[int | str] = []
    for m in m_values:
        if m == "all":
            out.append("all")
        elif isinstance(m, (int, np.integer)) and not isinstance(m, bool) and m >= 1:
            out.append(int(m))
        else:
            raise ValueError(f"m_values must hold positive integers or 'all', got {m!r}")
    if len(set(out)) != len(out):
        raise ValueError(f"m_values must be distinct, got {list(m_values)}")
    return out


def draw_support_indices(
    train_labels: np.ndarray,
    m_values: Sequence[int | str],
    runs: int = 5,
    seed: int = 0,
    classes: Sequence[int] | None = None,
    nested: bool = True,
) -> dict[str, np.ndarray]:
    """Indices into the training split of each support set, per ``m`` (module docstring).

    Returns ``{m_key(m): int64 array (runs, n_classes, m_max)}``: row ``[r, k]`` holds the first
    ``min(m, n_c)`` entries of run ``r``'s permutation of class ``classes[k]``, then ``-1``
    padding (``nested=False``: a fresh permutation for every ``m``, the original's independent
    draws); ``m_max = m`` for an integer ``m`` and the largest class size for ``"all"``, whose
    run axis has length 1. The same ``seed`` gives the same draws for every method scored on them.
    """
    labels = np.asarray(train_labels)
    m_list = _check_m(m_values)
    if runs < 1:
        raise ValueError(f"runs must be ≥ 1, got {runs}")
    classes = np.unique(labels) if classes is None else np.asarray(classes)
    members = [np.flatnonzero(labels == c) for c in classes]
    for c, idx in zip(classes, members, strict=True):
        if len(idx) == 0:
            raise ValueError(f"class {c} has no training samples")
    ints = [m for m in m_list if m != "all"]
    out: dict[str, np.ndarray] = {}
    rng = np.random.default_rng(seed)
    for m in [max(ints)] if nested and ints else ints:
        perms = np.full((runs, len(classes), m), -1, dtype=np.int64)
        for r in range(runs):
            for k, idx in enumerate(members):
                take = rng.permutation(idx)[:m]
                perms[r, k, : len(take)] = take
        out[m_key(m)] = perms
    if nested and ints:
        for m in ints:
            out[m_key(m)] = out[m_key(max(ints))][..., :m].copy()
    if "all" in m_list:
        size = max(len(idx) for idx in members)
        block = np.full((1, len(classes), size), -1, dtype=np.int64)
        for k, idx in enumerate(members):
            block[0, k, : len(idx)] = idx
        out["all"] = block
    return {m_key(m): out[m_key(m)] for m in m_list}


@njit(cache=True, nogil=True)
def _count_block(
    test: np.ndarray,
    support: np.ndarray,
    seg_start: np.ndarray,
    radius: float,
    n0: int,
    counts: np.ndarray,
    acc: np.ndarray,
) -> None:
    """``counts[n − n0, g, b]`` = #{s in segment g : ‖support[b, :, s] − test[n, b]‖_1 ≤ r}
    for the ``_BLOCK`` test points from ``n0`` (``test`` is padded to whole blocks).

    Four test points share every load of a stored coordinate, and the innermost loop runs over
    the stored latents of a segment, contiguous in memory, so it vectorises.
    """
    n_branches, dim = support.shape[0], support.shape[1]
    for b in range(n_branches):
        for g in range(seg_start.shape[0] - 1):
            s0, s1 = seg_start[g], seg_start[g + 1]
            length = s1 - s0
            for n in range(n0, n0 + _BLOCK, 4):
                a0, a1, a2, a3 = acc[0, :length], acc[1, :length], acc[2, :length], acc[3, :length]
                a0[:] = 0
                a1[:] = 0
                a2[:] = 0
                a3[:] = 0
                for k in range(dim):
                    x0, x1 = test[n, b, k], test[n + 1, b, k]
                    x2, x3 = test[n + 2, b, k], test[n + 3, b, k]
                    row = support[b, k, s0:s1]
                    for s in range(length):
                        v = row[s]
                        a0[s] += abs(v - x0)
                        a1[s] += abs(v - x1)
                        a2[s] += abs(v - x2)
                        a3[s] += abs(v - x3)
                c0 = c1 = c2 = c3 = 0
                for s in range(length):
                    c0 += a0[s] <= radius
                    c1 += a1[s] <= radius
                    c2 += a2[s] <= radius
                    c3 += a3[s] <= radius
                i = n - n0
                counts[i, g, b] = c0
                counts[i + 1, g, b] = c1
                counts[i + 2, g, b] = c2
                counts[i + 3, g, b] = c3


@njit(cache=True, parallel=True)
def _scores_kernel(
    test: np.ndarray,
    support: np.ndarray,
    seg_start: np.ndarray,
    q_ptr: np.ndarray,
    q_seg: np.ndarray,
    radius: float,
    agg: int,
    out: np.ndarray,
) -> None:
    """``out[n, q]`` = agg_b Σ_{g ∈ q} counts[n, g, b], blocks of test points in parallel.

    ``test`` holds ``out.shape[0]`` test points, padded to a whole number of blocks.
    """
    n_test, n_branches = out.shape[0], test.shape[1]
    n_seg = seg_start.shape[0] - 1
    max_len = 1
    for g in range(n_seg):
        max_len = max(max_len, seg_start[g + 1] - seg_start[g])
    n_blocks = (n_test + _BLOCK - 1) // _BLOCK
    for blk in prange(n_blocks):
        n0 = blk * _BLOCK
        n1 = min(n0 + _BLOCK, n_test)
        counts = np.zeros((_BLOCK, n_seg, n_branches), np.int64)
        acc = np.empty((4, max_len), support.dtype)
        _count_block(test, support, seg_start, radius, n0, counts, acc)
        for n in range(n0, n1):
            for q in range(q_ptr.shape[0] - 1):
                best, total = 0.0, 0.0
                for b in range(n_branches):
                    c = 0
                    for t in range(q_ptr[q], q_ptr[q + 1]):
                        c += counts[n - n0, q_seg[t], b]
                    total += c
                    best = max(best, float(c))
                if agg == 1:
                    out[n, q] = best
                elif agg == 2:
                    out[n, q] = total / n_branches
                else:
                    out[n, q] = total


def _branch_major(latents: np.ndarray, n_branches: int) -> np.ndarray:
    """``(S, n_branches · d) → (n_branches, d, S)`` C-contiguous: stored latents along the
    fastest axis so the kernel's innermost loop is a contiguous, vectorisable sweep."""
    S = latents.shape[0]
    return np.ascontiguousarray(latents.reshape(S, n_branches, -1).transpose(1, 2, 0))


def _as_float(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(x), dtype=dtype)


def _check_latents(test: np.ndarray, n_branches: int) -> np.dtype:
    if test.ndim != 2 or test.shape[1] % n_branches:
        raise ValueError(
            f"latents must have shape (N, n_branches · d) with n_branches = {n_branches}, "
            f"got {test.shape}"
        )
    return np.dtype(np.float64 if test.dtype == np.float64 else np.float32)


def _scores_from_segments(
    test_latents: np.ndarray,
    segments: list[np.ndarray],
    queries: list[list[int]],
    n_branches: int,
    radius: float,
    aggregation: str,
) -> np.ndarray:
    """``(N, Q)`` scores: query ``q`` counts over the union of the segments ``queries[q]``."""
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {aggregation!r}")
    if not radius >= 0:
        raise ValueError(f"radius must be ≥ 0, got {radius!r}")
    test_latents = np.asarray(test_latents)
    dtype = _check_latents(test_latents, n_branches)
    dim = test_latents.shape[1] // n_branches
    lengths = np.array([len(s) for s in segments], dtype=np.int64)
    seg_start = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    flat = np.concatenate([s.reshape(-1, test_latents.shape[1]) for s in segments])
    support = _branch_major(_as_float(flat, dtype), n_branches)
    n_test = len(test_latents)
    test = np.zeros((-(-n_test // _BLOCK) * _BLOCK, n_branches, dim), dtype=dtype)
    test[:n_test] = np.asarray(test_latents, dtype=dtype).reshape(n_test, n_branches, dim)
    q_ptr = np.concatenate([[0], np.cumsum([len(q) for q in queries])]).astype(np.int64)
    q_seg = np.array([g for q in queries for g in q], dtype=np.int64)
    out = np.zeros((n_test, len(queries)), dtype=np.float64)
    # The radius in the latents' precision, so a distance equal to r counts in float32 too.
    r = dtype.type(radius)
    _scores_kernel(test, support, seg_start, q_ptr, q_seg, r, _AGG_CODE[aggregation], out)
    return out


def count_scores(
    test_latents: np.ndarray,
    support_latents: np.ndarray,
    n_branches: int,
    radius: float = 2.0,
    aggregation: str = "sum",
    sizes: np.ndarray | None = None,
) -> np.ndarray:
    """Count scores of every test latent against each of several stored sets.

    Args:
        test_latents: ``(N, n_branches · d)``.
        support_latents: ``(..., m, n_branches · d)``, any leading shape (e.g. runs × classes).
        n_branches: branches of the latent (branch ``b`` is columns ``[b·d, (b+1)·d)``).
        radius: ``r``; a distance equal to ``r`` counts.
        aggregation: ``"sum"``, ``"max"`` or ``"mean"`` over branches.
        sizes: optional ``(...)`` number of valid rows of each set (the rest is padding).

    Returns:
        float64 scores of shape ``(..., N)``.
    """
    support = np.asarray(support_latents)
    lead = support.shape[:-2]
    sets = support.reshape(-1, *support.shape[-2:])
    sizes_flat = (
        np.full(len(sets), support.shape[-2])
        if sizes is None
        else np.broadcast_to(np.asarray(sizes), lead).reshape(-1)
    )
    segments = [s[: int(k)] for s, k in zip(sets, sizes_flat, strict=True)]
    queries = [[g] for g in range(len(segments))]
    scores = _scores_from_segments(test_latents, segments, queries, n_branches, radius, aggregation)
    return scores.T.reshape(*lead, len(test_latents))


def class_aucs(scores: np.ndarray, test_labels: np.ndarray, classes: Sequence[int]) -> np.ndarray:
    """``(runs, n_classes)`` AUCs of ``(runs, n_classes, N)`` scores, class ``classes[k]`` as 1."""
    labels = np.asarray(test_labels)
    out = np.empty(scores.shape[:2])
    for k, c in enumerate(classes):
        target = labels == c
        if target.all() or not target.any():
            raise ValueError(f"class {c} must occur among the test labels, but not alone")
        for r in range(scores.shape[0]):
            out[r, k] = roc_auc_score(target, scores[r, k])
    return out


@dataclass
class OneClassResult:
    """AUCs of one support size ``m`` (``m_key``), with the draws and latents behind them."""

    m: str
    classes: np.ndarray
    auc: np.ndarray  #: (runs, n_classes)
    indices: np.ndarray  #: (runs, n_classes, m) into the training split; -1 pads small classes
    support_latents: np.ndarray | None = field(default=None, repr=False)  #: NaN-padded

    @property
    def auc_per_class(self) -> np.ndarray:
        """Mean over runs, per class."""
        return self.auc.mean(axis=0)

    @property
    def mean_auc(self) -> float:
        """Mean over classes of the mean over runs (the paper's number)."""
        return float(self.auc_per_class.mean())

    def metrics(self, prefix: str = "auc") -> dict[str, float]:
        """``{prefix}_m<m>`` and ``{prefix}_m<m>_class<c>`` as floats."""
        out = {f"{prefix}_m{self.m}": self.mean_auc}
        for c, value in zip(self.classes, self.auc_per_class, strict=True):
            out[f"{prefix}_m{self.m}_class{int(c)}"] = float(value)
        return out


def gather_support(latents: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """``latents[indices]`` with ``-1`` rows as NaN: ``(runs, classes, m, latent_dim)``."""
    latents = np.asarray(latents)
    dtype = np.result_type(latents.dtype, np.float32)
    out = latents[np.maximum(indices, 0)].astype(dtype, copy=True)
    out[indices < 0] = np.nan
    return out


def one_class_count_eval(
    train_latents: np.ndarray,
    train_labels: np.ndarray,
    test_latents: np.ndarray,
    test_labels: np.ndarray,
    n_branches: int,
    m_values: Sequence[int | str] = (80, 120, 500),
    runs: int = 5,
    radius: float = 2.0,
    aggregation: str = "sum",
    seed: int = 0,
    classes: Sequence[int] | None = None,
    nested: bool = True,
) -> dict[str, OneClassResult]:
    """COREL's one-class evaluation of one backbone's latents (module docstring).

    Args:
        train_latents, train_labels: encoded training split of the evaluation data set (the
            pool the support sets are drawn from) and its labels.
        test_latents, test_labels: encoded test split and its labels.
        n_branches: branches of the latent.
        m_values: support sizes; positive integers and/or ``"all"``.
        runs: random support draws per class (5).
        radius: ``r`` (η = 2.0 by default).
        aggregation: ``"sum"`` (the paper), ``"max"`` or ``"mean"`` over branches.
        seed: seed of the draws (:func:`draw_support_indices`).
        classes: the classes to evaluate (default: every training label).
        nested: nested draws across ``m`` (default) or independent draws per ``m``, as the
            original code (:func:`draw_support_indices`); the scores are the same function of
            the drawn sets either way.

    Returns:
        ``{m_key(m): OneClassResult}`` in the order of ``m_values``.
    """
    train_latents = np.asarray(train_latents)
    train_labels = np.asarray(train_labels)
    if len(train_latents) != len(train_labels):
        raise ValueError("train_latents and train_labels differ in length")
    if len(test_latents) != len(test_labels):
        raise ValueError("test_latents and test_labels differ in length")
    _check_latents(np.asarray(test_latents), n_branches)
    classes_arr = np.unique(train_labels) if classes is None else np.asarray(classes)
    draws = draw_support_indices(train_labels, m_values, runs, seed, classes_arr, nested)
    # Classes in chunks, so the (test points × queries) score matrix stays within _SCORE_BYTES.
    n_queries = sum(idx.shape[0] for idx in draws.values())  # per class
    chunk = max(1, _SCORE_BYTES // (8 * max(1, len(test_latents)) * n_queries))
    aucs = {key: np.empty(idx.shape[:2]) for key, idx in draws.items()}
    for k0 in range(0, len(classes_arr), chunk):
        part = {key: idx[:, k0 : k0 + chunk] for key, idx in draws.items()}
        scores = _draw_scores(
            train_latents, test_latents, part, nested, n_branches, radius, aggregation
        )
        for key in draws:
            aucs[key][:, k0 : k0 + chunk] = class_aucs(
                scores[key], test_labels, classes_arr[k0 : k0 + chunk]
            )
    return {
        key: OneClassResult(
            m=key,
            classes=classes_arr,
            auc=aucs[key],
            indices=indices,
            support_latents=gather_support(train_latents, indices),
        )
        for key, indices in draws.items()
    }


def _draw_scores(
    train_latents: np.ndarray,
    test_latents: np.ndarray,
    draws: dict[str, np.ndarray],
    nested: bool,
    n_branches: int,
    radius: float,
    aggregation: str,
) -> dict[str, np.ndarray]:
    """``{key: (runs, classes, N) scores}`` of the support sets ``draws`` in one kernel call.

    The stored latents are cut into segments and every (key, run, class) query is a union of
    segments: with nested draws, segment (run, class, level) holds positions ``[m_{l−1}, m_l)``
    and the query of ``m_l`` counts over the levels ``0 … l``, so each stored latent is visited
    once for all ``m``.
    """
    segments: list[np.ndarray] = []
    queries: list[list[int]] = []
    owners: list[tuple[str, int, int]] = []
    ints = sorted(int(k) for k in draws if k != "all")
    if nested and ints:
        largest = draws[m_key(ints[-1])]
        for r, k in np.ndindex(*largest.shape[:2]):
            row = largest[r, k]
            row = row[row >= 0]
            first = len(segments)
            for lo, hi in itertools.pairwise([0, *ints]):
                segments.append(train_latents[row[lo:hi]])
            for level, m in enumerate(ints):
                queries.append(list(range(first, first + level + 1)))
                owners.append((m_key(m), r, k))
    for key, indices in draws.items():
        if nested and key != "all":
            continue
        for r, k in np.ndindex(*indices.shape[:2]):
            row = indices[r, k]
            queries.append([len(segments)])
            segments.append(train_latents[row[row >= 0]])
            owners.append((key, r, k))
    flat = _scores_from_segments(test_latents, segments, queries, n_branches, radius, aggregation)
    scores = {key: np.empty((*idx.shape[:2], len(test_latents))) for key, idx in draws.items()}
    for q, (key, r, k) in enumerate(owners):
        scores[key][r, k] = flat[:, q]
    return scores


def one_class_metrics(results: dict[str, OneClassResult], prefix: str = "auc") -> dict[str, float]:
    """Flat metrics of every ``m``: ``auc_m<m>`` and ``auc_m<m>_class<c>``."""
    out: dict[str, float] = {}
    for result in results.values():
        out.update(result.metrics(prefix))
    return out


def one_class_arrays(
    results: dict[str, OneClassResult], test_latents: np.ndarray, test_labels: np.ndarray
) -> dict[str, np.ndarray]:
    """The arrays of a run's ``one_class.npz``.

    ``test_latents``, ``test_labels``, ``classes`` and, per ``m``: ``support_latents_m<m>``
    ``(runs, classes, m, latent_dim)`` (NaN rows pad classes smaller than ``m``),
    ``support_indices_m<m>`` (indices into the training split, ``-1`` pads) and ``auc_m<m>``
    ``(runs, classes)``.
    """
    first = next(iter(results.values()))
    arrays = {
        "test_latents": np.asarray(test_latents),
        "test_labels": np.asarray(test_labels),
        "classes": first.classes,
    }
    for key, result in results.items():
        if result.support_latents is not None:
            arrays[f"support_latents_m{key}"] = result.support_latents
        arrays[f"support_indices_m{key}"] = result.indices
        arrays[f"auc_m{key}"] = result.auc
    return arrays

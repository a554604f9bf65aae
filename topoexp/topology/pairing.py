"""0-dim Vietoris–Rips persistence pairs of distance matrices (spec §2.4).

The 0-dim pairs of a Vietoris–Rips filtration are the edges of a minimum spanning tree (MST): every
point is born at 0 and dies when the edge that merges its component enters. The original code runs
Kruskal over the upper triangle ``D[i, j], i <= j`` sorted with a *stable* argsort, so ties are
broken in row-major order. Its edge list is therefore the unique MST under the strict total order

    (i, j) < (k, l)  iff  (D[i, j], i, j) <_lex (D[k, l], k, l)      (i < j, k < l),

listed in that order. :func:`pairing0` computes exactly this list with an O(m²) dense Prim using the
same lexicographic order (every MST algorithm finds the same tree under a strict total order), then
sorts the m − 1 edges by it. Only the upper triangle is read, so a slightly asymmetric matrix (e.g.
from ``torch.cdist``) is paired as the original would pair it. NaN entries are never chosen, which
matches the original (its sort puts NaN last) whenever the other entries connect the points; when
they do not, :func:`pairing0` raises ``ValueError``.

A CUDA tensor is paired on its device by the Triton kernel of
:mod:`~topoexp.topology.pairing_triton` (the same tree, order and ties; no round trip to the host)
when Triton is importable; every other input by the numba kernel here (``backend`` chooses).
"""

from __future__ import annotations

import math
from typing import Literal, TypeVar

import numpy as np
import torch
from numba import njit, prange

__all__ = ["BACKENDS", "death_times", "pairing0", "pairing_backend"]

ArrayT = TypeVar("ArrayT", torch.Tensor, np.ndarray)
Backend = Literal["auto", "numba", "triton"]
BACKENDS = ("auto", "numba", "triton")


@njit(cache=True)
def _edge_before(u: int, p: int, c: int, q: int) -> bool:
    """Is edge {u, p} before edge {c, q} in the (i, j) order of their sorted endpoints?"""
    a1, b1 = min(u, p), max(u, p)
    a2, b2 = min(c, q), max(c, q)
    return a1 < a2 or (a1 == a2 and b1 < b2)


@njit(cache=True)
def _before(w: np.ndarray, edges: np.ndarray, x: int, y: int) -> bool:
    """Is edge x before edge y in the (weight, i, j) order? (``edges`` rows have i < j.)"""
    if w[x] != w[y]:
        return w[x] < w[y]
    return edges[x, 0] < edges[y, 0] or (edges[x, 0] == edges[y, 0] and edges[x, 1] < edges[y, 1])


@njit(cache=True)
def _sort_edges(w: np.ndarray, edges: np.ndarray, out: np.ndarray) -> None:
    """Write ``edges`` (k, 2) sorted by (w, i, j) into ``out``; ``w`` has no NaN.

    A bottom-up merge sort (numba's np.argsort would add seconds of compile time).
    """
    k = w.shape[0]
    src = np.arange(k)
    dst = np.empty(k, np.int64)
    width = 1
    while width < k:
        for lo in range(0, k, 2 * width):
            mid, hi = min(lo + width, k), min(lo + 2 * width, k)
            p, q = lo, mid
            for t in range(lo, hi):
                if q >= hi or (p < mid and not _before(w, edges, src[q], src[p])):
                    dst[t] = src[p]
                    p += 1
                else:
                    dst[t] = src[q]
                    q += 1
        src, dst = dst, src
        width *= 2
    for t in range(k):
        out[t, 0] = edges[src[t], 0]
        out[t, 1] = edges[src[t], 1]


@njit(cache=True, nogil=True)
def _prim(D: np.ndarray, out: np.ndarray) -> bool:
    """MST edges of one (m, m) matrix (upper triangle read) into ``out`` (m − 1, 2), sorted.

    Dense Prim. The vertices outside the tree sit compacted in ``ids[:n_rest]`` (swap-remove),
    with ``key[t]`` the weight of their best edge {ids[t], par[t]} into the tree. A new edge
    {u, v} of equal weight is before {u, p} in the (i, j) order iff v < p, so one integer
    comparison keeps the (weight, i, j) tie-break. NaN weights never win a comparison. Returns
    False when a NaN edge would be needed to connect the points.
    """
    m = D.shape[0]
    if m < 2:
        return True
    key = np.full(m - 1, np.inf)
    par = np.full(m - 1, m, np.int64)  # sentinel: loses every tie with a real edge
    ids = np.arange(1, m)
    n_rest = m - 1
    weights = np.empty(m - 1)
    edges = np.empty((m - 1, 2), np.int64)
    v = 0  # the vertex added last
    for e in range(m - 1):
        best, bw = -1, np.inf
        for t in range(n_rest):
            u = ids[t]
            a = min(u, v)
            w = np.float64(D[a, u + v - a])
            k = key[t]
            if w < k or (w == k and v < par[t]):
                key[t] = w
                par[t] = v
                k = w
            if k < bw or (k == bw and (best < 0 or _edge_before(u, par[t], ids[best], par[best]))):
                best, bw = t, k
        u, p = ids[best], par[best]
        if p == m:
            return False
        weights[e] = bw
        edges[e, 0] = min(u, p)
        edges[e, 1] = max(u, p)
        n_rest -= 1
        ids[best], key[best], par[best] = ids[n_rest], key[n_rest], par[n_rest]
        v = u
    _sort_edges(weights, edges, out)
    return True


@njit(cache=True, nogil=True)
def _prim_batch(D: np.ndarray, out: np.ndarray, ok: np.ndarray) -> None:
    """:func:`_prim` over a (b, m, m) stack, one matrix after the other."""
    for k in range(D.shape[0]):
        ok[k] = _prim(D[k], out[k])


@njit(cache=True, parallel=True)
def _prim_batch_parallel(D: np.ndarray, out: np.ndarray, ok: np.ndarray) -> None:
    """:func:`_prim` over a (b, m, m) stack, in parallel over the b matrices (``prange``)."""
    for k in prange(D.shape[0]):
        ok[k] = _prim(D[k], out[k])


@njit(cache=True, nogil=True)
def euclidean_mst(X: np.ndarray, out: np.ndarray, lengths: np.ndarray) -> bool:
    """MST edges of the rows of ``X`` (m, d) into ``out`` (m − 1, 2) and their lengths, sorted.

    Compiled, callable from other numba kernels. The float64 squared distances (direct
    differences, no Gram-matrix rounding) fill the upper triangle and :func:`_prim` runs on them
    (the same tree and (weight, i, j) order as on the distances); ``lengths`` gets the float64
    Euclidean lengths, ascending. False when a NaN coordinate would be needed.
    """
    m, d = X.shape
    if m < 2:
        return True
    T = np.ascontiguousarray(X.T).astype(np.float64)  # (d, m): the j loop runs along a row
    D = np.empty((m, m))
    for i in range(m):
        row = D[i]
        for j in range(i + 1, m):
            row[j] = 0.0
        for k in range(d):
            v, tk = T[k, i], T[k]
            for j in range(i + 1, m):
                t = v - tk[j]
                row[j] += t * t
    if not _prim(D, out):
        return False
    for t in range(m - 1):
        lengths[t] = np.sqrt(D[out[t, 0], out[t, 1]])
    return True


def _as_numpy(D: torch.Tensor | np.ndarray) -> np.ndarray:
    """Detached, C-contiguous float32/float64 copy-if-needed of ``D`` on the CPU."""
    if isinstance(D, torch.Tensor):
        D = D.detach()
        if D.dtype not in (torch.float32, torch.float64):
            # float16/bfloat16 widen exactly to float32; integers to float64.
            D = D.to(torch.float32 if D.is_floating_point() else torch.float64)
        D = D.cpu().numpy()
    else:
        D = np.asarray(D)
        if D.dtype not in (np.float32, np.float64):
            D = D.astype(np.float32 if D.dtype == np.float16 else np.float64)
    return np.ascontiguousarray(D)


def _pair_into(A: np.ndarray, out: np.ndarray, parallel: bool) -> bool:
    """Run the kernel on a (m, m) or (b, m, m) array, m ≥ 2; False if a NaN edge was needed."""
    if A.ndim == 2:
        return _prim(A, out)
    ok = np.ones(A.shape[0], dtype=np.bool_)
    if parallel and A.shape[0] > 1:
        _prim_batch_parallel(A, out, ok)
    else:
        _prim_batch(A, out, ok)
    return bool(ok.all())


def pairing_backend(D: torch.Tensor | np.ndarray, backend: Backend = "auto") -> str:
    """The kernel :func:`pairing0` runs for ``D``: ``"numba"`` or ``"triton"``.

    ``"auto"`` picks Triton for a CUDA tensor of at most ``MAX_POINTS`` points when Triton is
    importable, numba otherwise (every CPU input, so CPU results never depend on Triton).
    ``"triton"`` needs Triton and a CUDA tensor, or a CPU tensor with Triton's interpreter on
    (``TRITON_INTERPRET=1`` before ``triton`` is imported).
    """
    if backend not in BACKENDS:
        raise ValueError(f"pairing0: backend must be one of {BACKENDS}, got {backend!r}")
    cuda = isinstance(D, torch.Tensor) and D.is_cuda
    if backend == "numba" or (backend == "auto" and not cuda):
        return "numba"
    from topoexp.topology import pairing_triton

    if backend == "auto":
        small = D.shape[-1] <= pairing_triton.MAX_POINTS
        return "triton" if small and pairing_triton.available() else "numba"
    if not pairing_triton.available():
        raise RuntimeError("pairing0: backend='triton' needs the triton package, not installed")
    if not isinstance(D, torch.Tensor):
        raise ValueError("pairing0: backend='triton' takes a torch tensor, got a NumPy array")
    if not (cuda or (D.device.type == "cpu" and pairing_triton.interpreting())):
        raise ValueError(
            f"pairing0: backend='triton' needs a CUDA tensor (or a CPU tensor with "
            f"TRITON_INTERPRET=1), got a tensor on {D.device}"
        )
    return "triton"


def _pairing0_triton(D: torch.Tensor) -> torch.Tensor:
    """:func:`pairing0` by the Triton kernel, on ``D``'s device (no host round trip)."""
    from topoexp.topology.pairing_triton import prim_pairs

    D = D.detach()
    if D.dtype not in (torch.float32, torch.float64):
        D = D.to(torch.float32 if D.is_floating_point() else torch.float64)  # as the numba path
    m = D.shape[-1]
    stack = D.reshape(math.prod(D.shape[:-2]), m, m).contiguous()
    if m < 2:
        pairs = torch.zeros((stack.shape[0], 0, 2), dtype=torch.int64, device=D.device)
    else:
        pairs, _ = prim_pairs(stack)
    return pairs.reshape(*D.shape[:-2], max(m - 1, 0), 2)


def pairing0(D: ArrayT, *, parallel: bool = False, backend: Backend = "auto") -> ArrayT:
    """0-dim persistence pairs (MST edges) of one or a batch of distance matrices.

    Args:
        D: (m, m) or (b, m, m) distance matrix, a torch Tensor (any device and float dtype; it is
            detached) or a NumPy array. Only the upper triangle ``D[..., i, j], i < j`` is read.
        parallel: spread a batch over numba's threads (``prange``). Off by default: with numba's
            OpenMP layer on busy cores (torch's own threads, other processes, Hydra multirun
            jobs) the spinning workers made a batch ~10× slower than the serial loop; turn it on
            for large batches on otherwise idle cores.
        backend: ``"auto"`` (default): the Triton kernel of
            :mod:`~topoexp.topology.pairing_triton` for a CUDA tensor when Triton is importable,
            the numba kernel otherwise; or ``"numba"`` / ``"triton"`` explicitly (see
            :func:`pairing_backend`). Both return the same pairs. Triton's differs only where NaN
            distances are needed to connect the points: instead of raising (which would cost a
            round trip to the host) it closes the tree through NaN edges, so the death times
            gathered there are NaN. It handles m ≤ 4096 (``auto`` uses numba above).

    Returns:
        int64 index pairs of shape (m − 1, 2) or (b, m − 1, 2), each row (i, j) with i < j, in
        increasing (weight, i, j) order: exactly the edge list of the original Kruskal with a stable
        argsort. Same container as ``D`` (a tensor on ``D``'s device, or a NumPy array).
    """
    if not isinstance(D, torch.Tensor):
        D = np.asarray(D)
    if D.ndim not in (2, 3) or D.shape[-1] != D.shape[-2]:
        raise ValueError(
            f"pairing0 expects an (m, m) or (b, m, m) distance matrix, got shape {tuple(D.shape)}"
        )
    if pairing_backend(D, backend) == "triton":
        return _pairing0_triton(D)
    A = _as_numpy(D)
    m = A.shape[-1]
    out = np.zeros((*A.shape[:-2], max(m - 1, 0), 2), dtype=np.int64)
    if m >= 2 and not _pair_into(A, out, parallel):
        raise ValueError("pairing0: NaN distances would be needed to connect the points")
    if isinstance(D, torch.Tensor):
        return torch.from_numpy(out).to(D.device)
    return out


def death_times(D: ArrayT, pairs: torch.Tensor | np.ndarray) -> ArrayT:
    """The distances ``D[..., i, j]`` at the pairs: (m − 1,) or (b, m − 1); differentiable in D.

    ``pairs`` is the output of :func:`pairing0` (or any (…, k, 2) index pairs matching D's batch).
    """
    if isinstance(D, torch.Tensor):
        pairs = torch.as_tensor(pairs, dtype=torch.int64, device=D.device)
        i, j = pairs[..., 0], pairs[..., 1]
        if D.ndim == 2:
            return D[i, j]
        return D[torch.arange(D.shape[0], device=D.device)[:, None], i, j]
    D = np.asarray(D)
    pairs = np.asarray(pairs, dtype=np.int64)
    i, j = pairs[..., 0], pairs[..., 1]
    if D.ndim == 2:
        return D[i, j]
    return D[np.arange(D.shape[0])[:, None], i, j]

"""Dimensionality-reduction quality measures of the TopoAE protocol (spec §3.2–3.4).

For data ``X`` (n points) and an embedding ``Z`` of the same points, with Euclidean distances
``d^X``, ``d^Z`` (float64) and ranks ``r(i, j)`` = position of ``j`` in the stable argsort of row
``i`` (the point itself at rank 0), neighbourhoods ``N_k(i)`` = ranks 1..k:

- ``T(k) = 1 - 2/(n k (2n - 3k - 1)) Σ_i Σ_{j ∈ N_k^Z(i) \\ N_k^X(i)} (r^X(i,j) - k)``
- ``C(k)``: the same with X and Z swapped.
- ``MRRE_ZX(k) = 1/c_k Σ_i Σ_{j ∈ N_k^Z(i)} |r^X - r^Z| / r^Z``, ``MRRE_XZ`` likewise over
  ``N_k^X`` divided by ``r^X``, with ``c_k = n Σ_{j=1..k} |2j - n - 1| / j``.
- ``KL_σ = Σ_i p_i (ln p_i - ln q_i)``, ``p_i ∝ Σ_j exp(-(d^X_ij / max d^X)² / σ)`` (j = i
  included), ``q`` likewise from ``d^Z``.
- ``ℓ-RMSE = sqrt(Σ_{i,j} (d^X_ij - d^Z_ij)² / n²)`` on raw distances.

The summary (:func:`nldr_metrics`) averages T, C over ``k = k_min..k_max`` (step ``k_step``) and
MRRE over those ks and both directions.

Implementation: rows are processed in blocks and no n × n rank matrix is ever formed. Per block
the distances to all points are computed in float64 (see :class:`_Space`), then, row by row, the
KL row sums and squared errors are accumulated, the ``k_max`` nearest neighbours of each space
are found and ranked in the other space with histograms (no full sort), and only those ranks are
kept. The global maxima that KL needs are found beforehand (a float32 pass over all pairs with a
rigorous error bound, confirmed in float64). Ties and duplicate points follow the stable order
exactly: the point itself first, then equal distances by index. Memory: a few block × n float64
matrices plus, for high-dimensional data, up to n²/4 cached distances (at most 1 GiB); at
n = 10,000 about 0.5 GB in all.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numba
import numpy as np

__all__ = ["DEFAULT_SIGMAS", "NLDRCurves", "nldr_curves", "nldr_metrics"]

DEFAULT_SIGMAS: tuple[float, ...] = (0.001, 0.01, 0.1, 1.0, 10.0)

_DIRECT_MAX_DIM = 16  # up to this dimension distances are computed coordinate-wise (as pdist)
_BLOCK_ELEMENTS = 1 << 23  # default block: about 8M distances (64 MiB) per n-wide matrix
_PREPASS_TILE = 2048
_TILE_CACHE_BYTES = 1 << 30  # reuse transposed tiles while n²/4 float64 distances fit
_EXP_FLUSH = 700.0  # exp(-y) < 1e-304 for y > 700: such terms cannot change a sum that is ≥ 1

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # Cody–Waite split of ln 2 (k · _LN2_HI is exact)
_LN2_LO = 1.90821492927058770002e-10
_ROUNDER = 6755399441055744.0  # 1.5 · 2^52: adding it rounds to an integer kept in the low bits
_ROUNDER_BITS = int(np.float64(_ROUNDER).view(np.int64))
_C = tuple(1.0 / math.factorial(i) for i in range(14))  # Taylor coefficients of exp


# --------------------------------------------------------------------------------------------
# numba kernels


@numba.njit(fastmath={"contract"}, cache=True)
def _exp_poly(s: float) -> float:
    """``exp(s)`` for ``|s| ≤ ln2 / 2``: degree-13 Taylor polynomial, Estrin's scheme."""
    s2 = s * s
    s4 = s2 * s2
    q0 = 1.0 + s
    q1 = _C[2] + _C[3] * s
    q2 = _C[4] + _C[5] * s
    q3 = _C[6] + _C[7] * s
    q4 = _C[8] + _C[9] * s
    q5 = _C[10] + _C[11] * s
    q6 = _C[12] + _C[13] * s
    low = (q0 + q1 * s2) + (q2 + q3 * s2) * s4
    high = (q4 + q5 * s2) + q6 * s4
    return low + high * (s4 * s4)


@numba.njit(fastmath={"contract"}, cache=True)
def _exp_neg(y: float) -> float:
    """``exp(-y)`` for ``y ≥ 0`` in vectorisable form (within 2 ulp; 0 for ``y > 700``).

    ``exp(-y) = 2^-k exp(-r)`` with ``k = round(y / ln 2)``, ``|r| ≤ ln2 / 2``; ``2^-k`` is built
    from its exponent bits.
    """
    yc = min(y, _EXP_FLUSH)
    shifted = yc * _LOG2E + _ROUNDER
    k = shifted - _ROUNDER
    p = _exp_poly(k * _LN2_HI - yc + k * _LN2_LO)
    k_int = np.float64(shifted).view(np.int64) - _ROUNDER_BITS
    scale = np.int64((1023 - k_int) << 52).view(np.float64)
    return p * scale if y <= _EXP_FLUSH else 0.0


@numba.njit(fastmath={"reassoc"}, cache=True)
def _row_sums(dx, dz, inv_mx, inv_mz, inv_sigmas, px, pz):
    """Density sums ``px[s] = Σ_j exp(-(dx_j/M_X)²/σ_s)``, ``pz`` alike; returns Σ_j (dx - dz)²."""
    sq = 0.0
    for j in range(dx.size):
        t = dx[j] - dz[j]
        sq += t * t
    for s in range(inv_sigmas.size):
        c = inv_sigmas[s]
        ax = 0.0
        az = 0.0
        for j in range(dx.size):
            u = dx[j] * inv_mx
            v = dz[j] * inv_mz
            ax += _exp_neg(u * u * c)
            az += _exp_neg(v * v * c)
        px[s] = ax
        pz[s] = az
    return sq


@numba.njit(parallel=True, cache=True)
def _direct_rows(a, bt, out):
    """``out[r, j] = sqrt(Σ_k (a[r,k] - bt[k,j])²)``, summed in coordinate order (as pdist)."""
    b, dim = a.shape
    n = bt.shape[1]
    for r in numba.prange(b):
        acc = np.zeros(n)
        for k in range(dim):
            ak = a[r, k]
            bk = bt[k]
            for j in range(n):
                t = ak - bk[j]
                acc[j] += t * t
        row = out[r]
        for j in range(n):
            row[j] = math.sqrt(acc[j])


@numba.njit(parallel=True, cache=True)
def _gram_to_distances(g, sq_rows, sq_cols):
    """In place: ``g[r, j] ← sqrt(max(‖x_r‖² + ‖x_j‖² - 2 g[r, j], 0))``."""
    b, n = g.shape
    for r in numba.prange(b):
        for j in range(n):
            d2 = sq_rows[r] + sq_cols[j] - 2.0 * g[r, j]
            g[r, j] = math.sqrt(d2) if d2 > 0.0 else 0.0


@numba.njit(cache=True)
def _tile_maxima(g, sq_rows, sq_cols, row_max, col_max):
    """Raise ``row_max``/``col_max`` to the row/column maxima of ``sq_r + sq_c - 2 g``."""
    for r in range(g.shape[0]):
        best = row_max[r]
        for c in range(g.shape[1]):
            d2 = sq_rows[r] + sq_cols[c] - 2.0 * g[r, c]
            best = max(best, d2)
            col_max[c] = max(col_max[c], d2)
        row_max[r] = best


@numba.njit(parallel=True, cache=True)
def _squared_norms(x):
    """``‖x_i‖²`` summed in coordinate order, so equal rows give equal values."""
    n, dim = x.shape
    out = np.empty(n)
    for i in numba.prange(n):
        acc = 0.0
        for k in range(dim):
            acc += x[i, k] * x[i, k]
        out[i] = acc
    return out


@numba.njit(cache=True)
def _bucket_ids(row, lo, hi, n_buckets, out):
    """Monotone histogram bucket of every entry: 0 below ``lo``, ``n_buckets + 1`` above ``hi``,
    else ``1 + min(floor((x - lo) · n_buckets / (hi - lo)), n_buckets - 1)``."""
    scale = n_buckets / (hi - lo) if hi > lo else 0.0
    if not math.isfinite(scale):
        scale = 0.0
    top = float(n_buckets - 1)
    for j in range(row.size):
        x = row[j]
        b = np.int32(1) + np.int32(min(max((x - lo) * scale, 0.0), top))
        out[j] = 0 if x < lo else (n_buckets + 1 if x > hi else b)


@numba.njit(cache=True)
def _nearest_row(row, i, k, n_buckets, out):
    """``out = [i, its k nearest other points in (distance, index) order]`` for one row.

    A histogram over ``[0, max]`` locates the bucket of the k-th smallest distance; only points
    up to that bucket are sorted. Equal distances share a bucket and are collected in index
    order, so a stable sort orders them by index.
    """
    ids = np.empty(row.size, np.int32)
    _bucket_ids(row, 0.0, row.max(), n_buckets, ids)
    ids[i] = n_buckets + 1  # the point itself is not a neighbour
    counts = np.zeros(n_buckets + 2, np.int32)
    for j in range(row.size):
        counts[ids[j]] += 1
    below = 0
    kb = 0
    while below + counts[kb] < k:
        below += counts[kb]
        kb += 1
    idx = np.empty(below + counts[kb], np.int64)
    m = 0
    for j in range(row.size):
        if ids[j] <= kb:
            idx[m] = j
            m += 1
    order = np.argsort(row[idx], kind="mergesort")
    out[0] = i
    for c in range(k):
        out[c + 1] = idx[order[c]]


@numba.njit(cache=True)
def _ranks_row(row, i, cols, n_buckets, out):
    """``out[c]`` = stable rank of point ``cols[c]`` in this row (point i itself has rank 0).

    rank = 1 + #{l ≠ i : d_l < q} + #{l ≠ i, l < j : d_l = q} for ``q = d_j``: a histogram over
    ``[min q, max q]`` counts the points in lower buckets, and the points sharing a query's
    bucket are compared one by one. Rows needing too many comparisons (heavy ties) are sorted.
    """
    n = row.size
    queries = row[cols]
    ids = np.empty(n, np.int32)
    _bucket_ids(row, queries.min(), queries.max(), n_buckets, ids)
    ids[i] = n_buckets + 1  # the point itself is counted separately
    counts = np.zeros(n_buckets + 2, np.int32)
    for j in range(n):
        counts[ids[j]] += 1
    q_bucket = ids[cols]
    work = 0
    for c in range(cols.size):
        work += counts[q_bucket[c]]
    if work > 8 * n + 4096:
        _ranks_by_sorting(row, i, cols, out)
        return
    order = np.argsort(q_bucket, kind="mergesort")
    first = np.full(n_buckets + 2, -1, np.int32)  # bucket → first position in ``order``
    for t in range(cols.size - 1, -1, -1):
        first[q_bucket[order[t]]] = t
    hits = np.zeros(cols.size, np.int64)
    for j in range(n):
        t = first[ids[j]]
        if t >= 0:
            x = row[j]
            b = ids[j]
            while t < cols.size and q_bucket[order[t]] == b:
                c = order[t]
                if x < queries[c] or (x == queries[c] and j < cols[c]):
                    hits[c] += 1
                t += 1
    below = 1  # the point itself
    for b in range(n_buckets + 2):  # counts → number of points in lower buckets, plus one
        below, counts[b] = below + counts[b], below
    for c in range(cols.size):
        out[c] = counts[q_bucket[c]] + hits[c]


@numba.njit(cache=True)
def _ranks_by_sorting(row, i, cols, out):
    """:func:`_ranks_row` by sorting the row (self first) and merging the sorted queries."""
    marked = row.copy()
    marked[i] = -1.0
    v = np.sort(marked)
    queries = marked[cols]
    tied = np.empty(cols.size, np.int64)
    n_tied = 0
    p = 0
    for c in np.argsort(queries):
        q = queries[c]
        while v[p] < q:
            p += 1
        out[c] = p
        if p + 1 < v.size and v[p + 1] == q:
            tied[n_tied] = c
            n_tied += 1
    if n_tied:
        _tie_corrections(marked, cols, queries, tied[:n_tied], out)


@numba.njit(cache=True)
def _tie_corrections(d_row, cols, queries, tied, out_row):
    """Add ``#{l < j : d_l = d_j}`` to ``out_row[c]`` for the tied queries ``c`` (j = cols[c])."""
    values = np.unique(queries[tied])
    order = tied[np.argsort(cols[tied])]  # tied queries by column index
    seen = np.zeros(values.size, np.int64)
    p = 0
    for l in range(d_row.size):
        if p < order.size and cols[order[p]] == l:
            c = order[p]
            out_row[c] += seen[np.searchsorted(values, queries[c])]
            p += 1
        w = np.searchsorted(values, d_row[l])
        if w < values.size and values[w] == d_row[l]:
            seen[w] += 1


@numba.njit(parallel=True, cache=True)
def _block_kernel(dx, dz, start, k, n_buckets, inv_mx, inv_mz, inv_sigmas, px, pz, sq, rxz, rzx):
    """All per-row work of one block, row by row so that both rows stay in cache.

    Row r (point ``i = start + r``): density sums ``px[r]``, ``pz[r]``, squared error ``sq[r]``;
    ``rxz[r]`` = X-ranks of i's k nearest in Z, ``rzx[r]`` = Z-ranks of its k nearest in X.
    """
    for r in numba.prange(dx.shape[0]):
        i = start + r
        sq[r] = _row_sums(dx[r], dz[r], inv_mx, inv_mz, inv_sigmas, px[r], pz[r])
        near_x = np.empty(k + 1, np.int64)
        near_z = np.empty(k + 1, np.int64)
        _nearest_row(dx[r], i, k, n_buckets, near_x)
        _nearest_row(dz[r], i, k, n_buckets, near_z)
        _ranks_row(dx[r], i, near_z[1:], n_buckets, rxz[r])
        _ranks_row(dz[r], i, near_x[1:], n_buckets, rzx[r])


# --------------------------------------------------------------------------------------------
# distances of one space, one block of rows at a time


class _Space:
    """Pairwise Euclidean distances of one point set, produced one block of rows at a time.

    Up to ``_DIRECT_MAX_DIM`` dimensions they are computed coordinate-wise (bit-identical to
    ``scipy.spatial.distance.pdist``). Otherwise as ``sqrt(max(‖x‖² + ‖y‖² - 2 x·y, 0))`` in
    float64 on the centred data (:func:`_centring_shift`); each block computes only the columns
    from its own first row on and takes the others from the transposed tiles of earlier blocks
    (kept while ``n²/4`` distances fit in ``_TILE_CACHE_BYTES``), which halves the matrix
    products. Duplicate points get distance exactly 0 to each other and identical columns.
    """

    def __init__(self, points: np.ndarray, block_size: int) -> None:
        self.n, self.dim = points.shape
        self.block_size = block_size
        self.direct = self.dim <= _DIRECT_MAX_DIM
        if self.direct:
            self.x = np.ascontiguousarray(points)
            self.xt = np.ascontiguousarray(points.T)
            return
        self.x = points - _centring_shift(points)
        self.x += 0.0  # -0.0 → +0.0, so that equal points have equal bytes
        self.sq = _squared_norms(self.x)
        self.duplicates = _Duplicates.find(self.x, self.sq)
        self.reuse = self.n * self.n * 2 <= _TILE_CACHE_BYTES

    def blocks(self) -> Iterator[np.ndarray]:
        """Distance rows ``[start, start + block_size)`` for start = 0, block_size, ...

        One buffer is reused: each block is valid until the next one is requested.
        """
        buffer = np.empty((min(self.block_size, self.n), self.n))
        tiles: dict[tuple[int, int], np.ndarray] = {}
        for start in range(0, self.n, self.block_size):
            stop = min(self.n, start + self.block_size)
            out = buffer[: stop - start]
            if self.direct:
                _direct_rows(self.x[start:stop], self.xt, out)
            else:
                self._gram_block(start, stop, out, tiles)
            yield out

    def max_distance(self) -> float:
        """The largest pairwise distance (as :meth:`blocks` computes it).

        Only rows that can hold it are computed: coordinate-wise, those with
        ``‖x_i - c‖ + max_j ‖x_j - c‖ ≥`` a known distance (triangle inequality); otherwise those
        left by :func:`_diameter_candidates`.
        """
        if self.direct:
            radius = np.sqrt(((self.x - self.x.mean(axis=0)) ** 2).sum(axis=1))
            far = int(np.argmax(radius))
            known = float(self._rows(np.array([far]), 0).max())
            candidates = np.flatnonzero(radius + radius[far] >= known * (1.0 - 1e-9))
        else:
            candidates = _diameter_candidates(self.x, self.sq)
        best = 0.0
        for s in range(0, candidates.size, self.block_size):
            best = max(best, float(self._rows(candidates[s : s + self.block_size], 0).max()))
        return best

    def _rows(self, rows: np.ndarray, first_col: int) -> np.ndarray:
        """Distances of the points ``rows`` to the points ``first_col..n-1``."""
        if self.direct:
            out = np.empty((rows.size, self.n - first_col))
            _direct_rows(self.x[rows], np.ascontiguousarray(self.xt[:, first_col:]), out)
            return out
        out = self.x[rows] @ self.x[first_col:].T
        _gram_to_distances(out, self.sq[rows], self.sq[first_col:])
        return out

    def _gram_block(
        self, start: int, stop: int, out: np.ndarray, tiles: dict[tuple[int, int], np.ndarray]
    ) -> None:
        """One block of rows into ``out``; keeps the tiles later blocks need, uses earlier ones."""
        first = start if self.reuse else 0
        fresh = out[:, first:]
        np.matmul(self.x[start:stop], self.x[first:].T, out=fresh)
        _gram_to_distances(fresh, self.sq[start:stop], self.sq[first:])
        for earlier in range(0, first, self.block_size):
            out[:, earlier : earlier + self.block_size] = tiles.pop((earlier, start)).T
        if self.reuse:
            for later in range(stop, self.n, self.block_size):
                tiles[(start, later)] = out[:, later : later + self.block_size].copy()
        rows = np.arange(stop - start)
        out[rows, start + rows] = 0.0
        if self.duplicates is not None:
            self.duplicates.fix(out, start)


@dataclass(frozen=True)
class _Duplicates:
    """Groups of identical points: ``representative[i]`` is the first point equal to point i."""

    representative: np.ndarray
    copies: np.ndarray  # points that are not their own representative
    members: dict[int, np.ndarray]  # representative → all points of its group

    @classmethod
    def find(cls, x: np.ndarray, sq: np.ndarray) -> _Duplicates | None:
        """Only rows sharing their squared norm can be equal; those are compared byte-wise."""
        _, norm_group, counts = np.unique(sq, return_inverse=True, return_counts=True)
        maybe = np.flatnonzero(counts[norm_group] > 1)
        if maybe.size == 0:
            return None
        keys = np.ascontiguousarray(x[maybe]).view(np.dtype((np.void, x.itemsize * x.shape[1])))
        _, first, group = np.unique(keys.ravel(), return_index=True, return_inverse=True)
        if first.size == maybe.size:
            return None
        representative = np.arange(len(x))
        representative[maybe] = maybe[first][group.ravel()]
        copies = np.flatnonzero(representative != np.arange(len(x)))
        members = {
            int(r): np.flatnonzero(representative == r) for r in np.unique(representative[copies])
        }
        return cls(representative, copies, members)

    def fix(self, d: np.ndarray, start: int) -> None:
        """Rows ``start..`` of a distance matrix: copies get their representative's column, and
        points of one group distance 0."""
        d[:, self.copies] = d[:, self.representative[self.copies]]
        for r in range(len(d)):
            group = self.members.get(int(self.representative[start + r]))
            if group is not None:
                d[r, group] = 0.0


def _centring_shift(points: np.ndarray) -> np.ndarray:
    """Per coordinate, the mean rounded to a multiple of the largest power of two ≤ its range.

    Centring keeps ``‖x‖² + ‖y‖² - 2 x·y`` accurate; the rounding keeps integer (or dyadic) data
    integer, so their distances, and ties among them, stay exact.
    """
    lo, hi = points.min(axis=0), points.max(axis=0)
    spread = hi - lo
    step = np.exp2(np.floor(np.log2(np.where(spread > 0, spread, 1.0))))
    return np.where(spread > 0, np.round(points.mean(axis=0) / step) * step, lo)


def _diameter_candidates(x: np.ndarray, sq: np.ndarray) -> np.ndarray:
    """Rows that may hold the largest distance, from a cheap low-precision pass over all pairs.

    In float32 (unit roundoff ``u = 2^-24``) every squared distance ``‖x_i‖² + ‖x_j‖² - 2 x_i·x_j``
    is within ``τ = 2 (γ_D + 32u) max‖x‖²`` of the exact one (``γ_D = D u / (1 - D u)`` bounds the
    dot product; the rest covers rounding the data, the norms and the two sums). A row whose
    float32 maximum is below ``max - 2τ`` cannot hold the largest distance. Only the upper
    triangle of tiles is computed.
    """
    n, dim = x.shape
    s_max = float(sq.max())
    low = s_max < 1e30 and dim * 2.0**-24 < 0.5
    dtype, u = (np.float32, 2.0**-24) if low else (np.float64, 2.0**-53)
    xf, sf = x.astype(dtype), sq.astype(dtype)
    row_max = np.zeros(n, dtype)
    t = _PREPASS_TILE
    for a in range(0, n, t):
        for b in range(a, n, t):
            g = xf[a : a + t] @ xf[b : b + t].T
            _tile_maxima(g, sf[a : a + t], sf[b : b + t], row_max[a : a + t], row_max[b : b + t])
    gamma = dim * u / (1.0 - dim * u)
    tau = 2.0 * (gamma + 32.0 * u) * s_max
    return np.flatnonzero(row_max >= float(row_max.max()) - 2.0 * tau)


# --------------------------------------------------------------------------------------------
# public API


@dataclass(frozen=True)
class NLDRCurves:
    """Per-k measures (arrays over ``ks``) and the k-independent ones.

    Attributes:
        ks: the neighbourhood sizes.
        trust, cont: ℓ-Trust T(k) and ℓ-Cont C(k).
        mrre_zx, mrre_xz: the two MRRE directions (``N_k^Z`` / ``r^Z`` and ``N_k^X`` / ``r^X``).
        kl: KL_σ for each σ.
        rmse: ℓ-RMSE.
    """

    ks: np.ndarray
    trust: np.ndarray
    cont: np.ndarray
    mrre_zx: np.ndarray
    mrre_xz: np.ndarray
    kl: dict[float, float]
    rmse: float

    def summary(self) -> dict[str, float]:
        """The table numbers: ``kl_<σ>``, ``mrre`` (mean over ks and both directions),
        ``trust`` and ``cont`` (means over ks) and ``rmse``."""
        out = {f"kl_{sigma:g}": value for sigma, value in self.kl.items()}
        out["mrre"] = float(np.mean(np.concatenate([self.mrre_zx, self.mrre_xz])))
        out["trust"] = float(np.mean(self.trust))
        out["cont"] = float(np.mean(self.cont))
        out["rmse"] = self.rmse
        return out


def nldr_metrics(
    X: object,
    Z: object,
    *,
    sigmas: Sequence[float] = DEFAULT_SIGMAS,
    k_min: int = 10,
    k_max: int = 200,
    k_step: int = 10,
    block_size: int | None = None,
    device: str | None = None,
) -> dict[str, float]:
    """Quality of the embedding ``Z`` of ``X`` as in the TopoAE tables (spec §3.3–3.4).

    Args:
        X, Z: arrays or tensors of shape (n, ...); trailing dimensions are flattened.
        sigmas: the KL_σ bandwidths (σ divides the squared normalised distance).
        k_min, k_max, k_step: neighbourhood sizes ``range(k_min, k_max + 1, k_step)``.
        block_size: rows per block (default: about 8M distances per block).
        device: ``None`` or ``"cpu"``: this module's numba path; a CUDA device: the block work
            on the GPU (:func:`topoexp.evaluation.nldr_device.nldr_curves_torch`).

    Returns:
        ``{"kl_<σ:g>": ..., "mrre": ..., "trust": ..., "cont": ..., "rmse": ...}``.
    """
    kw = dict(sigmas=sigmas, k_min=k_min, k_max=k_max, k_step=k_step, block_size=block_size)
    if device is not None and not str(device).startswith("cpu"):
        from topoexp.evaluation.nldr_device import nldr_curves_torch

        return nldr_curves_torch(X, Z, device=device, **kw).summary()
    return nldr_curves(X, Z, **kw).summary()


def nldr_curves(
    X: object,
    Z: object,
    *,
    sigmas: Sequence[float] = DEFAULT_SIGMAS,
    k_min: int = 10,
    k_max: int = 200,
    k_step: int = 10,
    block_size: int | None = None,
) -> NLDRCurves:
    """All measures of :func:`nldr_metrics`, with T, C and both MRRE directions per k."""
    x, z = _as_points(X, "X"), _as_points(Z, "Z")
    ks = _neighbourhood_sizes(k_min, k_max, k_step)
    sigmas = _check_sigmas(sigmas)
    _check_sizes(x, z, int(ks[-1]))
    n = len(x)
    block = _check_block_size(block_size, n)
    space_x, space_z = _Space(x, block), _Space(z, block)
    maxima = (space_x.max_distance(), space_z.max_distance())
    for name, m in zip("XZ", maxima, strict=True):
        if m == 0.0:
            raise ValueError(f"all points of {name} coincide; KL_σ is undefined")
    acc = _Accumulator(n, ks, len(sigmas))
    inv_sigmas = 1.0 / np.asarray(sigmas)
    blocks = zip(range(0, n, block), space_x.blocks(), space_z.blocks(), strict=True)
    for start, dx, dz in blocks:
        acc.add_block(start, dx, dz, maxima, inv_sigmas)
    return acc.result(sigmas)


class _Accumulator:
    """Running sums over row blocks: rank-based sums per k, density row sums, squared errors."""

    def __init__(self, n: int, ks: np.ndarray, n_sigmas: int) -> None:
        self.n, self.ks, k = n, ks, int(ks[-1])
        self.trust = np.zeros(len(ks), np.int64)  # Σ (r^X - k) over N_k^Z \ N_k^X
        self.cont = np.zeros(len(ks), np.int64)
        self.mrre_zx = np.zeros(k)  # per neighbour position: Σ_i |r^X - r^Z| / r^Z
        self.mrre_xz = np.zeros(k)
        self.px = np.empty((n, n_sigmas))
        self.pz = np.empty((n, n_sigmas))
        self.sq = np.empty(n)

    def add_block(
        self,
        start: int,
        dx: np.ndarray,
        dz: np.ndarray,
        maxima: tuple[float, float],
        inv_sigmas: np.ndarray,
    ) -> None:
        """Add the distance rows ``start .. start + len(dx)`` of both spaces."""
        rows = slice(start, start + len(dx))
        k = int(self.ks[-1])
        rx_of_z = np.empty((len(dx), k), np.int64)
        rz_of_x = np.empty((len(dx), k), np.int64)
        n_buckets = max(16, self.n // 2)
        _block_kernel(
            dx,
            dz,
            start,
            k,
            n_buckets,
            1.0 / maxima[0],
            1.0 / maxima[1],
            inv_sigmas,
            self.px[rows],
            self.pz[rows],
            self.sq[rows],
            rx_of_z,
            rz_of_x,
        )
        self.add_ranks(rx_of_z, rz_of_x)

    def add_ranks(self, rx_of_z: np.ndarray, rz_of_x: np.ndarray) -> None:
        """Add a block's ranks: ``rx_of_z[i, p - 1]`` is ``r^X`` of row i's p-th nearest
        neighbour in Z, ``rz_of_x`` the converse (int64, ``k_max`` columns)."""
        k = int(self.ks[-1])
        position = np.arange(1, k + 1)
        self.mrre_zx += (np.abs(rx_of_z - position) / position).sum(axis=0)
        self.mrre_xz += (np.abs(rz_of_x - position) / position).sum(axis=0)
        for t, kt in enumerate(self.ks):
            self.trust[t] += np.maximum(rx_of_z[:, :kt] - kt, 0).sum()
            self.cont[t] += np.maximum(rz_of_x[:, :kt] - kt, 0).sum()

    def result(self, sigmas: tuple[float, ...]) -> NLDRCurves:
        """The finished measures."""
        n, ks = self.n, self.ks
        scale = 2.0 / (n * ks * (2.0 * n - 3.0 * ks - 1.0))
        j = np.arange(1, int(ks[-1]) + 1)
        norm = n * np.cumsum(np.abs(2.0 * j - n - 1.0) / j)[ks - 1]
        p = self.px / self.px.sum(axis=0)
        q = self.pz / self.pz.sum(axis=0)
        kl = (p * (np.log(p) - np.log(q))).sum(axis=0)
        return NLDRCurves(
            ks=ks.copy(),
            trust=1.0 - scale * self.trust,
            cont=1.0 - scale * self.cont,
            mrre_zx=np.cumsum(self.mrre_zx)[ks - 1] / norm,
            mrre_xz=np.cumsum(self.mrre_xz)[ks - 1] / norm,
            kl={s: float(v) for s, v in zip(sigmas, kl, strict=True)},
            rmse=float(np.sqrt(self.sq.sum() / (float(n) * n))),
        )


# --------------------------------------------------------------------------------------------
# input checks


def _as_points(a: object, name: str) -> np.ndarray:
    """A float64 (n, D) array from an array or tensor of shape (n, ...); finite values only."""
    if hasattr(a, "detach"):  # torch.Tensor, without importing torch
        a = a.detach().cpu()
        if a.is_complex():
            raise ValueError(f"{name} must be real-valued")
        a = a.double().numpy()
    arr = np.asarray(a)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    if arr.ndim == 0:
        raise ValueError(f"{name} must have shape (n, ...), got a scalar")
    arr = np.asarray(arr.reshape(len(arr), -1), dtype=np.float64)
    if arr.shape[1] == 0:
        raise ValueError(f"{name} has no features (shape {arr.shape})")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _neighbourhood_sizes(k_min: int, k_max: int, k_step: int) -> np.ndarray:
    """``range(k_min, k_max + 1, k_step)`` after checking the arguments."""
    for name, value in (("k_min", k_min), ("k_max", k_max), ("k_step", k_step)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if k_max < k_min:
        raise ValueError(f"k_max ({k_max}) must be at least k_min ({k_min})")
    return np.arange(int(k_min), int(k_max) + 1, int(k_step), dtype=np.int64)


def _check_sigmas(sigmas: Sequence[float]) -> tuple[float, ...]:
    """Positive, finite bandwidths with distinct result keys."""
    values = tuple(float(s) for s in np.atleast_1d(np.asarray(sigmas, dtype=np.float64)))
    if not values or not all(math.isfinite(s) and s > 0.0 for s in values):
        raise ValueError(f"sigmas must be a non-empty sequence of positive numbers, got {sigmas!r}")
    if len({f"{s:g}" for s in values}) != len(values):
        raise ValueError(f"sigmas must be distinct (as formatted with :g), got {sigmas!r}")
    return values


def _check_sizes(x: np.ndarray, z: np.ndarray, k: int) -> None:
    """Same number of points, and enough of them for neighbourhoods of size k."""
    n = len(x)
    if len(z) != n:
        raise ValueError(f"X and Z must have the same number of points, got {n} and {len(z)}")
    if n <= k + 1:
        raise ValueError(f"need more than k_max + 1 = {k + 1} points, got {n}")
    if 2 * n - 3 * k - 1 <= 0:
        raise ValueError(f"trustworthiness needs 2n - 3k - 1 > 0; got n = {n}, k = {k}")


def _check_block_size(block_size: int | None, n: int) -> int:
    """Rows per block: the given positive integer, or about ``_BLOCK_ELEMENTS / n``."""
    if block_size is None:
        return max(1, min(n, _BLOCK_ELEMENTS // n))
    if isinstance(block_size, bool) or not isinstance(block_size, int | np.integer):
        raise ValueError(f"block_size must be a positive integer or None, got {block_size!r}")
    if block_size < 1:
        raise ValueError(f"block_size must be a positive integer or None, got {block_size!r}")
    return min(int(block_size), n)

"""Triton kernels of :mod:`topoexp.topology.pairing_triton` (see there for the algorithm)."""

import triton
import triton.language as tl


@triton.jit
def prim(D, W, C, OK, m, stride_b, stride_r, BLOCK: tl.constexpr, BIG: tl.constexpr):
    """Dense Prim of matrix ``program_id`` of D: its tree edges (weight, code) by vertex 1..m−1."""
    pid = tl.program_id(0)
    base = D + pid.to(tl.int64) * stride_b
    idx = tl.arange(0, BLOCK)
    m1 = m + 1
    inf = float("inf")
    key = tl.full([BLOCK], inf, D.dtype.element_ty)
    par = tl.zeros([BLOCK], tl.int32) + m  # sentinel m: loses every tie with a real edge
    active = (idx < m) & (idx != 0)
    v = pid * 0  # the vertex added last
    bad = pid * 0
    for _ in range(0, m - 1):
        lo = tl.minimum(idx, v)
        w = tl.load(base + lo * stride_r + (idx + v - lo), mask=active, other=inf)
        upd = active & ((w < key) | ((w == key) & (v < par)))
        key = tl.where(upd, w, key)
        par = tl.where(upd, v, par)
        # the next edge: least weight, then least code; the code's low bit says which end is u
        kmin = tl.min(tl.where(active, key, inf), axis=0)
        code = (tl.minimum(idx, par) * m1 + tl.maximum(idx, par)) * 2 + (idx > par).to(tl.int32)
        cmin = tl.min(tl.where(active & (key == kmin), code, BIG), axis=0)
        lo = (cmin >> 1) // m1
        hi = (cmin >> 1) % m1
        u = tl.where((cmin & 1) == 1, hi, lo)
        fail = hi == m  # only NaN edges reach the tree: close it through {u, v}
        p = tl.where(fail, v, lo + hi - u)
        bad = tl.maximum(bad, fail.to(tl.int32))
        par = tl.where(idx == u, p, par)
        active = active & (idx != u)
        v = u
    k = m - 1
    out = (idx < m) & (idx > 0)
    offs = pid.to(tl.int64) * k + idx - 1
    tl.store(W + offs, key, mask=out)
    tl.store(C + offs, tl.minimum(idx, par) * m1 + tl.maximum(idx, par), mask=out)
    tl.store(OK + pid, (bad == 0).to(tl.int8))


@triton.jit
def rank(W, C, P, k, m1, BE: tl.constexpr, BF: tl.constexpr):
    """Write the k edges of matrix ``program_id(0)`` (block ``program_id(1)``) at their ranks."""
    pid_b = tl.program_id(0)
    e = tl.program_id(1) * BE + tl.arange(0, BE)
    me = e < k
    base = pid_b.to(tl.int64) * k
    we = tl.load(W + base + e, mask=me, other=0.0)
    ce = tl.load(C + base + e, mask=me, other=0)
    n_before = tl.zeros([BE], tl.int32)
    for f0 in range(0, k, BF):
        f = f0 + tl.arange(0, BF)
        mf = f < k
        wf = tl.load(W + base + f, mask=mf, other=0.0)
        cf = tl.load(C + base + f, mask=mf, other=0)
        before = (wf[None, :] < we[:, None]) | (
            (wf[None, :] == we[:, None]) & (cf[None, :] < ce[:, None])
        )
        n_before += tl.sum((before & mf[None, :]).to(tl.int32), axis=1)
    dst = P + (base + n_before) * 2
    tl.store(dst, (ce // m1).to(tl.int64), mask=me)
    tl.store(dst + 1, (ce % m1).to(tl.int64), mask=me)

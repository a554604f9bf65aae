"""0-dim persistence pairs of a batch of distance matrices on the device: a Triton dense Prim.

The same edge list as :func:`topoexp.topology.pairing.pairing0` (the MST under the strict order
``(D[i, j], i, j)``, upper triangle read, listed in that order), computed without leaving the
device. Two kernels:

1. ``prim``: one program per matrix. The tree grows from vertex 0; every vertex ``u`` outside it
   holds in registers the weight ``key[u]`` and the other end ``par[u]`` of its best edge into the
   tree, updated with the same rule as the numba kernel (``w < key``, or ``w == key`` and a
   smaller tree end; NaN never wins). The next vertex comes from two ``tl.min`` reductions: the
   least key, then among those the least ``code = (min(u, par)·(m + 1) + max(u, par))·2 + [u >
   par]``, which orders equal weights by ``(i, j)`` and names ``u`` in its low bit. When a vertex
   joins, its ``(key, par)`` is its tree edge.
2. ``rank``: the m − 1 tree edges sorted by ``(weight, i, j)``: every edge counts the edges before
   it (a block loop over them; the edges are distinct, so the counts are a permutation) and is
   written there.

The only difference from the numba path (documented in :func:`~topoexp.topology.pairing.pairing0`):
no ``ValueError`` when NaN distances are needed to connect the points, since checking would cost a
round trip to the host. The tree is closed through a NaN edge instead, so the death time gathered
there is NaN and the loss non-finite; :func:`prim_pairs` also returns a per-matrix flag, False
exactly where the numba kernel fails. Matrices of up to :data:`MAX_POINTS` points.

Triton's interpreter runs the same kernels on CPU tensors; in triton 3.8 ``TRITON_INTERPRET=1`` must
be set before ``triton`` is first imported (see :func:`interpreting`).
"""

from __future__ import annotations

import functools
from types import ModuleType

import torch

__all__ = ["MAX_POINTS", "available", "interpreting", "prim_pairs"]

#: Largest matrix the register-resident Prim handles (its state is three vectors of this length).
MAX_POINTS = 4096

_BIG_CODE = 2**31 - 1  # above every edge code (< 2 (m + 1)² ≤ 2 · 4097²)


@functools.cache
def available() -> bool:
    """Is Triton importable?"""
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def interpreting() -> bool:
    """Does Triton run in its interpreter?

    In triton 3.8 ``triton.jit`` reads ``TRITON_INTERPRET`` when it decorates, and Triton's own
    library (``tl.zeros``, ``tl.min``, ...) is decorated when ``triton`` is imported: the variable
    must be set before that import, and this reports the mode it fixed.
    """
    if not available():
        return False
    import triton.language.standard as standard
    from triton.runtime.interpreter import InterpretedFunction

    return isinstance(standard.zeros, InterpretedFunction)


def _kernels() -> ModuleType:
    """The kernels module, decorated in the mode of Triton's import."""
    import triton

    if bool(triton.knobs.runtime.interpret) != interpreting():
        raise RuntimeError(
            "TRITON_INTERPRET changed after triton was imported: set it before the first import"
        )
    from topoexp.topology import _pairing_kernels

    return _pairing_kernels


def _num_warps(block: int) -> int:
    """Warps of the Prim program: one up to 256 points (reductions without barriers)."""
    return max(1, min(8, block // 256))


def prim_pairs(D: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """MST edges of a (b, m, m) stack in (weight, i, j) order, on ``D``'s device.

    Args:
        D: float32 or float64, C-contiguous, on a CUDA device (or on the CPU with Triton's
            interpreter on); 2 ≤ m ≤ :data:`MAX_POINTS`. Only the upper triangle is read.

    Returns:
        ``(pairs, ok)``: int64 (b, m − 1, 2) rows (i, j), i < j, and a (b,) bool tensor, False
        where NaN distances were needed to connect the points (the tree then uses NaN edges).
    """
    b, m, _ = D.shape
    if not 2 <= m <= MAX_POINTS:
        raise ValueError(f"the Triton pairing handles 2 ≤ m ≤ {MAX_POINTS} points, got m = {m}")
    if D.dtype not in (torch.float32, torch.float64) or not D.is_contiguous():
        raise ValueError("the Triton pairing expects a contiguous float32/float64 tensor")
    import triton

    mod = _kernels()
    k = m - 1
    W = torch.empty((b, k), dtype=D.dtype, device=D.device)
    C = torch.empty((b, k), dtype=torch.int32, device=D.device)
    ok = torch.empty((b,), dtype=torch.int8, device=D.device)
    pairs = torch.empty((b, k, 2), dtype=torch.int64, device=D.device)
    if b == 0:
        return pairs, ok.view(torch.bool)
    block = triton.next_power_of_2(m)
    mod.prim[(b,)](
        D, W, C, ok, m, m * m, m, BLOCK=block, BIG=_BIG_CODE, num_warps=_num_warps(block)
    )
    be = min(64, triton.next_power_of_2(k))
    mod.rank[(b, triton.cdiv(k, be))](W, C, pairs, k, m + 1, BE=be, BF=be, num_warps=4)
    return pairs, ok.view(torch.bool)

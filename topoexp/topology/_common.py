"""Small helpers shared by the filtrations: detaching to NumPy, gathering values at cells."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from topoexp.topology.barcode import Barcode


def detached_numpy(x: Tensor, name: str = "input") -> np.ndarray:
    """C-contiguous NumPy copy of ``x`` (float32 or float64, CPU, no grad); finite values only."""
    x = x.detach()
    if not x.is_floating_point():
        x = x.to(torch.float64)
    elif x.dtype not in (torch.float32, torch.float64):
        x = x.to(torch.float32)
    a = np.ascontiguousarray(x.cpu().numpy())
    if not np.isfinite(a).all():
        raise ValueError(f"{name} has NaN or infinite values")
    return a


def gather_or_inf(values: Tensor, cells: Tensor, sublevel: bool) -> Tensor:
    """``values[..., cells]`` where ``cells >= 0``, else ``+inf`` (sublevel) / ``-inf``.

    ``values`` is ``(B, V)`` and ``cells`` ``(B, k)`` (indices into the last axis); the infinite
    entries get no gradient.
    """
    picked = values.gather(-1, cells.clamp(min=0))
    inf = torch.full_like(picked, float("inf") if sublevel else float("-inf"))
    return torch.where(cells >= 0, picked, inf)


def edge_lengths(x: Tensor, edges: Tensor) -> Tensor:
    """Euclidean lengths ``‖x[i] − x[j]‖`` of ``edges (k, 2)``; gradient 0 at coincident points."""
    ends = edges.T.contiguous()
    return torch.linalg.vector_norm(x.index_select(0, ends[0]) - x.index_select(0, ends[1]), dim=1)


def flag_barcodes(
    lengths: Callable[[np.ndarray], Tensor],
    edges: np.ndarray,
    pairs: list[tuple[np.ndarray, np.ndarray]],
    like: Tensor,
) -> list[Barcode]:
    """Flag-filtration barcodes of dimensions ``0..len(pairs) - 1`` from critical cells.

    Args:
        lengths: differentiable lengths of the edges with the given ids (one call for all bars).
        edges: ``(E, 2)`` vertices of the complex's edges.
        pairs: per dimension ``(birth, death)`` int arrays ``(k,)``: in dimension 0 ``birth``
            holds vertex ids (value 0, cells ``(v, v)``), otherwise edge ids; ``death`` holds edge
            ids, ``-1`` (infinite) rows last.
        like: a tensor with the output's dtype and device.
    """
    ids, sizes, n_fin = [], [], []
    for dim, (birth, death) in enumerate(pairs):
        fin = int((death >= 0).sum())
        if (death[fin:] >= 0).any():
            raise RuntimeError("infinite bars must come last")
        part = death[:fin] if dim == 0 else np.concatenate([birth, death[:fin]])
        ids.append(part)
        sizes.append(len(part))
        n_fin.append(fin)
    all_ids = np.concatenate(ids).astype(np.int64)
    values = lengths(all_ids).split(sizes)
    out = []
    for dim, ((birth, death), vals, fin) in enumerate(zip(pairs, values, n_fin, strict=True)):
        k = len(birth)
        deaths = vals if dim == 0 else vals[k:]
        if fin < k:
            pad = torch.full((k - fin,), float("inf"), dtype=like.dtype, device=like.device)
            deaths = torch.cat([deaths, pad])
        if dim == 0:
            births = torch.zeros(k, dtype=like.dtype, device=like.device)
            bcells = np.stack([birth, birth], 1)
        else:
            births = vals[:k]
            bcells = edges[birth].reshape(k, 2)
        dcells = np.concatenate([edges[death[:fin]].reshape(fin, 2), np.full((k - fin, 2), -1)])
        out.append(
            Barcode(
                births,
                deaths,
                dim,
                torch.from_numpy(np.ascontiguousarray(bcells, dtype=np.int64)).to(like.device),
                torch.from_numpy(np.ascontiguousarray(dcells, dtype=np.int64)).to(like.device),
                sublevel=True,
            )
        )
    return out

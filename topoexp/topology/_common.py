"""Small helpers shared by the filtrations: detaching to NumPy, gathering values at cells."""

from __future__ import annotations

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
    diff = x[edges[:, 0]] - x[edges[:, 1]]
    sq = diff.square().sum(-1)
    pos = sq > 0
    return torch.where(pos, sq.clamp(min=torch.finfo(sq.dtype).tiny).sqrt(), torch.zeros_like(sq))


def flag_barcode(
    edge_values: Tensor,
    edges: np.ndarray,
    dim: int,
    birth: np.ndarray,
    death: np.ndarray,
) -> Barcode:
    """A flag-filtration barcode from critical cells given as indices.

    Args:
        edge_values: ``(E,)`` differentiable lengths of the complex's edges.
        edges: ``(E, 2)`` their vertices.
        dim: homology dimension; in dimension 0, ``birth`` holds vertex ids (value 0, cells
            ``(v, v)``), otherwise edge ids.
        birth, death: ``(k,)`` int arrays; ``death`` edge ids, ``-1`` (infinite) rows last.

    All finite values are gathered with one indexing call.
    """
    birth = np.asarray(birth, np.int64)
    death = np.asarray(death, np.int64)
    k = len(birth)
    n_fin = int((death >= 0).sum())
    if (death[n_fin:] >= 0).any():
        raise RuntimeError("infinite bars must come last")
    device, dtype = edge_values.device, edge_values.dtype
    if dim == 0:
        idx = torch.from_numpy(death[:n_fin]).to(device)
        births = torch.zeros(k, dtype=dtype, device=device)
        deaths_fin = edge_values[idx]
        bcells = np.stack([birth, birth], 1)
    else:
        idx = torch.from_numpy(np.concatenate([birth, death[:n_fin]])).to(device)
        vals = edge_values[idx]
        births, deaths_fin = vals[:k], vals[k:]
        bcells = edges[birth].reshape(k, 2)
    deaths = torch.cat(
        [deaths_fin, torch.full((k - n_fin,), float("inf"), dtype=dtype, device=device)]
    )
    dcells = np.concatenate([edges[death[:n_fin]].reshape(n_fin, 2), np.full((k - n_fin, 2), -1)])
    return Barcode(
        births,
        deaths,
        dim,
        torch.from_numpy(np.ascontiguousarray(bcells, dtype=np.int64)).to(device),
        torch.from_numpy(np.ascontiguousarray(dcells, dtype=np.int64)).to(device),
        sublevel=True,
    )

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
    diff = x[edges[:, 0]] - x[edges[:, 1]]
    sq = diff.square().sum(-1)
    pos = sq > 0
    return torch.where(pos, sq.clamp(min=torch.finfo(sq.dtype).tiny).sqrt(), torch.zeros_like(sq))


def flag_barcode(
    lengths: Callable[[Tensor], Tensor],
    dim: int,
    birth_edges: np.ndarray,
    death_edges: np.ndarray,
    like: Tensor,
) -> Barcode:
    """A flag-filtration barcode from critical edges ``(k, 2)`` (``-1`` rows: infinite death).

    ``lengths(edges)`` returns the differentiable lengths of ``(m, 2)`` edges. Dimension 0 births
    are vertices (rows ``(v, v)``, value 0). All cells are gathered with one call.
    """
    k = len(birth_edges)
    bc = torch.from_numpy(np.ascontiguousarray(birth_edges, dtype=np.int64)).to(like.device)
    dc = torch.from_numpy(np.ascontiguousarray(death_edges, dtype=np.int64)).to(like.device)
    finite = dc[:, 0] >= 0
    if dim == 0:
        births = torch.zeros(k, dtype=like.dtype, device=like.device)
        deaths_finite = lengths(dc[finite])
    else:
        both = lengths(torch.cat([bc, dc[finite]]))
        births, deaths_finite = both[:k], both[k:]
    deaths = torch.full((k,), float("inf"), dtype=like.dtype, device=like.device)
    deaths = deaths.masked_scatter(finite, deaths_finite)
    return Barcode(births, deaths, dim, bc.reshape(k, 2), dc.reshape(k, 2), sublevel=True)
